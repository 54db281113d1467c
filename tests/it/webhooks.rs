//! Webhooks through the real server to a local receiver: registration and its bad inputs, the
//! events of accounts (verified, updated, disabled, enabled, deleted) signed the Standard
//! Webhooks way and checked here with an HMAC written apart from the server's, a receiver that
//! fails twice getting the same `webhook-id` a third time, and a rotated secret signing beside
//! the new one. (The same deliveries checked by the `standardwebhooks` library are in
//! `tests/webhooks/`.)

use base64::Engine;
use hmac::{Hmac, KeyInit, Mac};
use serde_json::{Value, json};
use sha2::Sha256;

use crate::support::bootstrap::admin;
use crate::support::harness::{PASSWORD, TestServer, problem};
use crate::support::http_sink::{Received, http_sink, wait_for};

/// Checks a delivery's signature with `secret`; returns its body.
fn verified(received: &Received, secret: &str) -> Value {
    let id = received.header("webhook-id").unwrap();
    let timestamp = received.header("webhook-timestamp").unwrap();
    let key = base64::engine::general_purpose::STANDARD
        .decode(secret.strip_prefix("whsec_").unwrap())
        .unwrap();
    let mut mac = Hmac::<Sha256>::new_from_slice(&key).unwrap();
    mac.update(format!("{id}.{timestamp}.{}", received.body).as_bytes());
    let expected = format!(
        "v1,{}",
        base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
    );
    let signatures = received.header("webhook-signature").unwrap();
    assert!(signatures.split(' ').any(|s| s == expected), "{signatures} lacks {expected}");
    serde_json::from_str(&received.body).unwrap()
}

async fn poll_until(server: &TestServer, sql: &str, n: i64) {
    for _ in 0..400 {
        if server.query_i64(sql) == n {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    panic!("{sql} is {}, not {n}", server.query_i64(sql));
}

#[tokio::test]
async fn account_events_reach_the_receiver_signed_with_ids_and_states_only() {
    let server = TestServer::start().await;
    server.add_campus("North", &["north.edu"]);
    let root = admin(&server).await;
    let (base, received) = http_sink(0, 204).await;
    let created =
        root.post("/api/v1/admin/webhooks", json!({"url": format!("{base}/hooks")})).await;
    assert_eq!(created.status(), 201);
    let created: Value = created.json().await.unwrap();
    let secret = created["secret"].as_str().unwrap().to_string();
    assert!(secret.starts_with("whsec_"));
    assert_eq!(created["events"].as_array().unwrap().len(), 10);
    // Listed without the secret.
    let list: Value = root.get("/api/v1/admin/webhooks").await.json().await.unwrap();
    assert!(list[0].get("secret").is_none());
    assert!(!list.to_string().contains(&secret));

    let ada = server.signed_in_user("ada@north.edu").await;
    let me: Value = ada.get("/api/v1/auth/session").await.json().await.unwrap();
    let ada_id = me["user"]["id"].as_str().unwrap().to_string();
    let campus_id = server.query_i64("SELECT id FROM campuses");
    let patched = ada
        .send(reqwest::Method::PATCH, "/api/v1/account")
        .json(&json!({"display_name": "Ada L."}))
        .send()
        .await
        .unwrap();
    assert_eq!(patched.status(), 200);
    let disabled = root.post(&format!("/api/v1/admin/users/{ada_id}/disable"), json!({})).await;
    assert_eq!(disabled.status(), 200);
    let enabled = root.post(&format!("/api/v1/admin/users/{ada_id}/enable"), json!({})).await;
    assert_eq!(enabled.status(), 200);
    assert_eq!(ada.login(PASSWORD, false).await.status(), 200);
    let deleted = ada
        .send(reqwest::Method::DELETE, "/api/v1/account")
        .json(&json!({"password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert!(deleted.status().is_success(), "{}", deleted.status());

    let got = wait_for(&received, 5).await;
    let bodies: Vec<Value> = got.iter().map(|r| verified(r, &secret)).collect();
    let types: Vec<&str> = bodies.iter().map(|b| b["type"].as_str().unwrap()).collect();
    // In the order the changes happened (the root admin's own verification came first).
    let ada_types: Vec<&str> = bodies
        .iter()
        .filter(|b| b["data"]["user_id"] == ada_id.as_str())
        .map(|b| b["type"].as_str().unwrap())
        .collect();
    assert_eq!(
        ada_types,
        ["user.email_verified", "user.updated", "user.disabled", "user.enabled", "user.deleted"],
        "{types:?}"
    );
    for body in bodies.iter().filter(|b| b["data"]["user_id"] == ada_id.as_str()) {
        assert_eq!(body["data"]["campus_id"], campus_id);
        assert!(body["timestamp"].as_str().is_some());
        let text = body.to_string();
        for personal in ["ada@north.edu", "Ada L.", "Test Student"] {
            assert!(!text.contains(personal), "{text} names {personal}");
        }
    }
    let updated = bodies.iter().find(|b| b["type"] == "user.updated").unwrap();
    assert_eq!(updated["data"]["changed"], json!(["display_name"]));
    // Every delivery has its own id, and each was sent once.
    let mut ids: Vec<String> = got.iter().map(|r| r.header("webhook-id").unwrap()).collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), got.len());
    // The receiver answered before the delivery was marked: wait for the marks.
    poll_until(&server, "SELECT count(*) FROM webhook_deliveries WHERE sent_at IS NULL", 0).await;
    let deliveries: Value = root
        .get(&format!("/api/v1/admin/webhooks/{}/deliveries", created["id"].as_str().unwrap()))
        .await
        .json()
        .await
        .unwrap();
    assert!(deliveries.as_array().unwrap().iter().all(|d| d["state"] == "sent"));
}

#[tokio::test]
async fn a_failing_receiver_gets_the_same_id_again_and_send_again_resends_it() {
    let server = TestServer::start().await;
    server.add_campus("North", &["north.edu"]);
    let root = admin(&server).await;
    let (base, received) = http_sink(2, 200).await;
    let body = json!({"url": format!("{base}/hooks"), "events": ["user.email_verified"]});
    let created: Value = root.post("/api/v1/admin/webhooks", body).await.json().await.unwrap();
    let hook = created["id"].as_str().unwrap().to_string();
    server.signed_in_user("bo@north.edu").await;

    let attempts = "SELECT coalesce(max(attempts), 0) FROM webhook_deliveries";
    poll_until(&server, attempts, 1).await;
    server.clock.advance(chrono::Duration::seconds(6));
    poll_until(&server, attempts, 2).await;
    server.clock.advance(chrono::Duration::seconds(11));
    poll_until(&server, "SELECT count(*) FROM webhook_deliveries WHERE sent_at IS NOT NULL", 1)
        .await;
    let got = wait_for(&received, 3).await;
    let ids: Vec<String> = got.iter().map(|r| r.header("webhook-id").unwrap()).collect();
    assert!(ids.iter().all(|id| *id == ids[0]), "{ids:?}");
    let shown: Value =
        root.get(&format!("/api/v1/admin/webhooks/{hook}/deliveries")).await.json().await.unwrap();
    assert_eq!(
        (shown[0]["state"].as_str(), shown[0]["attempts"].as_i64()),
        (Some("sent"), Some(3))
    );

    // "Send again": the same id once more; an unknown delivery is refused.
    let delivery = shown[0]["id"].as_i64().unwrap();
    let again = root
        .post(&format!("/api/v1/admin/webhooks/{hook}/deliveries/{delivery}/redeliver"), json!({}))
        .await;
    assert_eq!(again.status(), 204);
    let got = wait_for(&received, 4).await;
    assert_eq!(got[3].header("webhook-id").unwrap(), ids[0]);
    let missing = root
        .post(&format!("/api/v1/admin/webhooks/{hook}/deliveries/999/redeliver"), json!({}))
        .await;
    problem(missing, 404, "delivery_not_found").await;
}

#[tokio::test]
async fn a_rotated_secret_signs_beside_the_new_one_for_a_day() {
    let server = TestServer::start().await;
    server.add_campus("North", &["north.edu"]);
    let root = admin(&server).await;
    let (base, received) = http_sink(0, 200).await;
    let body = json!({"url": format!("{base}/hooks"), "events": ["user.email_verified"]});
    let created: Value = root.post("/api/v1/admin/webhooks", body).await.json().await.unwrap();
    let (hook, old) = (created["id"].as_str().unwrap(), created["secret"].as_str().unwrap());
    let rotated: Value = root
        .post(&format!("/api/v1/admin/webhooks/{hook}/secret"), json!({}))
        .await
        .json()
        .await
        .unwrap();
    let new = rotated["secret"].as_str().unwrap();
    assert_ne!(old, new);
    server.signed_in_user("cy@north.edu").await;
    let got = wait_for(&received, 1).await;
    verified(&got[0], old);
    verified(&got[0], new);
    server.clock.advance(chrono::Duration::hours(25));
    server.signed_in_user("di@north.edu").await;
    let got = wait_for(&received, 2).await;
    verified(&got[1], new);
    assert_eq!(got[1].header("webhook-signature").unwrap().split(' ').count(), 1);
}

#[tokio::test]
async fn bad_registrations_are_refused_by_field_and_only_admins_may_register() {
    let server = TestServer::start().await;
    server.add_campus("North", &["north.edu"]);
    let root = admin(&server).await;
    for (body, field) in [
        (json!({"url": "http://rides.north.edu/hooks"}), "url"),
        (json!({"url": "not a url"}), "url"),
        (json!({"url": "https://rides.north.edu/h", "events": ["user.renamed"]}), "events"),
    ] {
        let refused =
            problem(root.post("/api/v1/admin/webhooks", body).await, 422, "validation_failed")
                .await;
        assert_eq!(refused["errors"][0]["field"], field, "{refused}");
    }
    problem(root.delete("/api/v1/admin/webhooks/wh_nope").await, 404, "webhook_not_found").await;
    problem(root.get("/api/v1/admin/webhooks/wh_nope/deliveries").await, 404, "webhook_not_found")
        .await;
    let student = server.signed_in_user("ed@north.edu").await;
    let body = json!({"url": "https://rides.north.edu/h"});
    assert_eq!(student.post("/api/v1/admin/webhooks", body).await.status(), 403);
    // Registrations and rotations are audited without the secret.
    let created: Value = root
        .post("/api/v1/admin/webhooks", json!({"url": "https://rides.north.edu/h"}))
        .await
        .json()
        .await
        .unwrap();
    let secret = created["secret"].as_str().unwrap();
    let audit = server.query_i64(&format!(
        "SELECT count(*) FROM audit_log WHERE action LIKE 'webhook.%' AND details LIKE '%{secret}%'"
    ));
    assert_eq!(audit, 0);
    assert_eq!(
        server.query_i64("SELECT count(*) FROM audit_log WHERE action = 'webhook.added'"),
        1
    );
}

#[tokio::test]
async fn driver_events_follow_a_licence_from_upload_to_suspension_without_its_fields() {
    use crate::support::drivers::{
        approved_driver_as, json_of, server as driver_server, today, upload,
    };
    use crate::support::licence_images::Person;
    use chrono::Duration;

    let server = driver_server(false).await;
    let (base, received) = http_sink(0, 200).await;
    let events: Vec<String> = gatehouse::webhooks::EventType::ALL
        .iter()
        .map(|t| t.name().to_string())
        .filter(|n| n.starts_with("driver."))
        .collect();
    let new = gatehouse::webhooks::NewEndpoint { url: format!("{base}/hooks"), events };
    let cli = gatehouse::audit::Actor { user_id: None, ip: None };
    let registered = server.blocking_conn(|conn| {
        gatehouse::webhooks::endpoints::add(conn, &server.state.pii, &new, &cli, 0).unwrap()
    });
    let person = Person::new("Ana", "Cruz", today(&server) + Duration::days(5));
    let ana = approved_driver_as(&server, "ana@north.edu", &person).await;
    server.state.drivers.run_expiry_job().await.unwrap();
    let renewal = Person { expiry: person.expiry + Duration::days(1800), ..person.clone() };
    json_of(upload(&ana, &renewal).await, 201).await;
    let renewal_id = server.query_i64("SELECT max(id) FROM driver_licences");
    let admin = server.new_user("admin@north.edu");
    assert_eq!(admin.login(PASSWORD, false).await.status(), 200);
    let path = format!("/api/v1/admin/driver-reviews/{renewal_id}/reject");
    assert_eq!(admin.post(&path, json!({"reason": "The photo is blurred."})).await.status(), 204);
    server.clock.advance(Duration::days(5));
    server.state.drivers.run_expiry_job().await.unwrap();

    let got = wait_for(&received, 6).await;
    let bodies: Vec<Value> = got.iter().map(|r| verified(r, &registered.secret)).collect();
    let seen: Vec<(&str, &str)> = bodies
        .iter()
        .map(|b| (b["type"].as_str().unwrap(), b["data"]["status"].as_str().unwrap()))
        .collect();
    assert_eq!(
        seen,
        [
            ("driver.submitted", "pending_review"),
            ("driver.approved", "approved"),
            ("driver.licence_expiring", "approved"),
            ("driver.submitted", "approved"),
            ("driver.rejected", "approved"),
            ("driver.suspended", "suspended"),
        ]
    );
    assert_eq!(bodies[2]["data"]["days_left"], 7);
    assert_eq!(bodies[3]["data"]["renewal"], true);
    assert_eq!(bodies[4]["data"]["licence_id"], renewal_id);
    // (The body's timestamp is the event's time, which may fall on the expiry day.)
    for body in &bodies {
        let text = body["data"].to_string();
        let expiry = person.expiry.to_string();
        for field in ["Ana", "Cruz", person.number.as_str(), expiry.as_str(), "blurred"] {
            assert!(!text.contains(field), "{text} holds {field}");
        }
    }
}
