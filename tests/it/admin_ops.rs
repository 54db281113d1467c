//! The admin API for campus IT: accounts (search, view, disable, role, sessions), the audit
//! log query, the outbox status and retry; and who may use it.

use serde_json::{Value, json};

use crate::support::harness::{PASSWORD, TestServer, User, problem};

async fn setup() -> (TestServer, User) {
    let server = TestServer::start().await;
    server.add_campus("North", &["north.edu"]);
    let admin = server.signed_in_admin("it@north.edu").await;
    (server, admin)
}

async fn json_of(response: reqwest::Response, status: u16) -> Value {
    assert_eq!(response.status(), status);
    response.json().await.unwrap()
}

async fn user_id(admin: &User, email: &str) -> String {
    let page = json_of(admin.get(&format!("/api/v1/admin/users?email={email}")).await, 200).await;
    page["items"][0]["id"].as_str().expect("one account").to_string()
}

#[tokio::test]
async fn non_admins_get_403_on_every_admin_operation() {
    let (server, _admin) = setup().await;
    let student = server.signed_in_user("ada@north.edu").await;
    for path in [
        "/api/v1/admin/users",
        "/api/v1/admin/users/x",
        "/api/v1/admin/audit",
        "/api/v1/admin/outbox",
        "/api/v1/admin/backups",
    ] {
        problem(student.get(path).await, 403, "forbidden").await;
        problem(server.get(path).await, 401, "unauthenticated").await;
    }
    for path in [
        "/api/v1/admin/users/x/disable",
        "/api/v1/admin/users/x/enable",
        "/api/v1/admin/outbox/1/retry",
        "/api/v1/admin/backups",
    ] {
        problem(student.post(path, json!({})).await, 403, "forbidden").await;
    }
    problem(
        student.put("/api/v1/admin/users/x/role", json!({"role": "admin"})).await,
        403,
        "forbidden",
    )
    .await;
    problem(student.delete("/api/v1/admin/users/x/sessions").await, 403, "forbidden").await;
    assert_eq!(server.query_i64("SELECT count(*) FROM users WHERE role = 'admin'"), 1);
}

#[tokio::test]
async fn accounts_are_found_by_exact_email_role_and_status_and_paged() {
    let (server, admin) = setup().await;
    for name in ["ada", "bob", "cy"] {
        server.signed_in_user(&format!("{name}@north.edu")).await;
    }
    assert_eq!(server.register("dee@north.edu").await.status(), 202);

    let found = json_of(admin.get("/api/v1/admin/users?email=ADA@North.edu").await, 200).await;
    assert_eq!(found["total"], 1);
    let ada = &found["items"][0];
    assert_eq!(ada["email"], "ada@north.edu");
    assert_eq!(ada["status"], "active");
    assert_eq!(ada["campus_name"], "North");
    assert_eq!(ada["sessions"], 1);
    // Exact only: a part of an address finds nothing.
    let partial = json_of(admin.get("/api/v1/admin/users?email=ada").await, 200).await;
    assert_eq!(partial["total"], 0);

    let admins = json_of(admin.get("/api/v1/admin/users?role=admin").await, 200).await;
    assert_eq!(admins["total"], 1);
    assert_eq!(admins["items"][0]["email"], "it@north.edu");
    let unverified = json_of(admin.get("/api/v1/admin/users?status=unverified").await, 200).await;
    assert_eq!(unverified["items"][0]["email"], "dee@north.edu");
    assert_eq!(unverified["total"], 1);

    let first = json_of(admin.get("/api/v1/admin/users?per_page=2").await, 200).await;
    assert_eq!(first["total"], 5);
    assert_eq!(first["items"].as_array().unwrap().len(), 2);
    let third = json_of(admin.get("/api/v1/admin/users?per_page=2&page=3").await, 200).await;
    assert_eq!(third["items"].as_array().unwrap().len(), 1);
    let past = json_of(admin.get("/api/v1/admin/users?per_page=2&page=9").await, 200).await;
    assert_eq!(past["items"], json!([]));
    assert_eq!(past["total"], 5);

    for bad in ["status=asleep", "role=king", "page=0", "per_page=1000"] {
        let body = problem(
            admin.get(&format!("/api/v1/admin/users?{bad}")).await,
            422,
            "validation_failed",
        )
        .await;
        assert!(!body["errors"].as_array().unwrap().is_empty());
    }
    problem(admin.get("/api/v1/admin/users/no-such-id").await, 404, "user_not_found").await;
    let one = json_of(
        admin.get(&format!("/api/v1/admin/users/{}", ada["id"].as_str().unwrap())).await,
        200,
    )
    .await;
    assert_eq!(one["email"], "ada@north.edu");
}

#[tokio::test]
async fn a_disabled_account_cannot_sign_in_or_use_its_sessions_and_tokens() {
    let (server, admin) = setup().await;
    let ada = server.signed_in_user("ada@north.edu").await;
    let token: Value = json_of(
        server
            .post("/api/v1/auth/token", json!({"email": "ada@north.edu", "password": PASSWORD}))
            .await,
        200,
    )
    .await;
    let access = token["access_token"].as_str().unwrap().to_string();
    let bearer = || server.client.get(server.url("/api/v1/auth/session")).bearer_auth(&access);
    assert_eq!(bearer().send().await.unwrap().status(), 200);
    assert_eq!(ada.get("/api/v1/auth/session").await.status(), 200);

    let id = user_id(&admin, "ada@north.edu").await;
    let disabled =
        json_of(admin.post(&format!("/api/v1/admin/users/{id}/disable"), json!({})).await, 200)
            .await;
    assert_eq!(disabled["status"], "disabled");
    assert_eq!(disabled["sessions"], 0);

    problem(ada.get("/api/v1/auth/session").await, 401, "unauthenticated").await;
    problem(bearer().send().await.unwrap(), 401, "unauthenticated").await;
    problem(ada.login(PASSWORD, false).await, 403, "account_disabled").await;
    let refreshed = server
        .post("/api/v1/auth/token/refresh", json!({"refresh_token": token["refresh_token"]}))
        .await;
    assert_eq!(refreshed.status(), 401);
    // A wrong password still answers as any wrong password does.
    problem(ada.login("Wrong-Password-1", false).await, 401, "invalid_credentials").await;
    let listed = json_of(admin.get("/api/v1/admin/users?status=disabled").await, 200).await;
    assert_eq!(listed["items"][0]["id"], id.as_str());

    let enabled =
        json_of(admin.post(&format!("/api/v1/admin/users/{id}/enable"), json!({})).await, 200)
            .await;
    assert_eq!(enabled["status"], "active");
    assert_eq!(ada.login(PASSWORD, false).await.status(), 200);
    assert_eq!(ada.get("/api/v1/auth/session").await.status(), 200);
    let actions = server.query_i64(&format!(
        "SELECT count(*) FROM audit_log WHERE subject_id = '{id}'
         AND action IN ('account.disabled', 'account.enabled')"
    ));
    assert_eq!(actions, 2);

    // Admins cannot disable themselves, nor the last admin.
    let me = user_id(&admin, "it@north.edu").await;
    problem(
        admin.post(&format!("/api/v1/admin/users/{me}/disable"), json!({})).await,
        409,
        "cannot_disable_self",
    )
    .await;
    problem(
        admin.post("/api/v1/admin/users/nobody/disable", json!({})).await,
        404,
        "user_not_found",
    )
    .await;
}

#[tokio::test]
async fn role_changes_apply_at_once_and_the_last_admin_stays() {
    let (server, admin) = setup().await;
    let ada = server.signed_in_user("ada@north.edu").await;
    let id = user_id(&admin, "ada@north.edu").await;
    let changed = json_of(
        admin.put(&format!("/api/v1/admin/users/{id}/role"), json!({"role": "admin"})).await,
        200,
    )
    .await;
    assert_eq!(changed["role"], "admin");
    // Her session ended so the new role cannot mix with the old one; she signs in again.
    problem(ada.get("/api/v1/auth/session").await, 401, "unauthenticated").await;
    assert_eq!(ada.login(PASSWORD, false).await.status(), 200);
    let me: Value = ada.get("/api/v1/auth/session").await.json().await.unwrap();
    assert_eq!(me["user"]["roles"], json!(["user", "admin"]));
    assert_eq!(ada.get("/api/v1/admin/users").await.status(), 200);

    // Two admins: one may step down; then the other is the last.
    let me_id = user_id(&admin, "it@north.edu").await;
    json_of(
        ada.put(&format!("/api/v1/admin/users/{me_id}/role"), json!({"role": "user"})).await,
        200,
    )
    .await;
    problem(
        ada.put(&format!("/api/v1/admin/users/{id}/role"), json!({"role": "reviewer"})).await,
        409,
        "last_admin",
    )
    .await;
    problem(
        ada.put(&format!("/api/v1/admin/users/{id}/role"), json!({"role": "root"})).await,
        422,
        "validation_failed",
    )
    .await;
    problem(admin.get("/api/v1/admin/users").await, 401, "unauthenticated").await;
    let audit = server.query_i64("SELECT count(*) FROM audit_log WHERE action = 'role.changed'");
    assert_eq!(audit, 2);
}

#[tokio::test]
async fn an_admin_ends_every_session_of_an_account() {
    let (server, admin) = setup().await;
    let ada = server.signed_in_user("ada@north.edu").await;
    let other_device = server.new_user("ada@north.edu");
    assert_eq!(other_device.login(PASSWORD, true).await.status(), 200);
    // Both sessions are cached by now.
    assert_eq!(ada.get("/api/v1/auth/session").await.status(), 200);
    assert_eq!(other_device.get("/api/v1/auth/session").await.status(), 200);
    let id = user_id(&admin, "ada@north.edu").await;
    let revoked =
        json_of(admin.delete(&format!("/api/v1/admin/users/{id}/sessions")).await, 200).await;
    assert_eq!(revoked["sessions"], 2);
    problem(ada.get("/api/v1/auth/session").await, 401, "unauthenticated").await;
    problem(other_device.get("/api/v1/auth/session").await, 401, "unauthenticated").await;
    assert_eq!(ada.login(PASSWORD, false).await.status(), 200);
}

#[tokio::test]
async fn the_audit_log_is_queried_by_user_action_and_time_and_paged() {
    let (server, admin) = setup().await;
    server.signed_in_user("ada@north.edu").await;
    let ada = user_id(&admin, "ada@north.edu").await;
    let mine = json_of(admin.get(&format!("/api/v1/admin/audit?user_id={ada}")).await, 200).await;
    let actions: Vec<&str> =
        mine["items"].as_array().unwrap().iter().map(|e| e["action"].as_str().unwrap()).collect();
    assert!(actions.contains(&"user.registered"), "{actions:?}");
    assert!(actions.contains(&"login"), "{actions:?}");
    assert_eq!(mine["total"], actions.len());
    assert!(
        mine["items"]
            .as_array()
            .unwrap()
            .iter()
            .all(|e| e["subject_id"] == ada.as_str() || e["actor_id"] == ada.as_str())
    );

    let logins = json_of(admin.get("/api/v1/admin/audit?action=login").await, 200).await;
    assert!(logins["items"].as_array().unwrap().iter().all(|e| e["action"] == "login"));
    assert_eq!(logins["total"], 2, "the admin's and ada's sign-ins");

    let now = chrono::DateTime::from_timestamp(server.state.clock.unix(), 0).unwrap();
    let later = (now + chrono::Duration::hours(1)).to_rfc3339();
    let earlier = (now - chrono::Duration::hours(1)).to_rfc3339();
    let none =
        json_of(admin.get(&format!("/api/v1/admin/audit?from={}", urlencode(&later))).await, 200)
            .await;
    assert_eq!(none["total"], 0);
    let all = json_of(
        admin
            .get(&format!(
                "/api/v1/admin/audit?from={}&to={}",
                urlencode(&earlier),
                urlencode(&later)
            ))
            .await,
        200,
    )
    .await;
    let total = all["total"].as_i64().unwrap();
    // (The harness adds its campus at time 0, outside the range.)
    assert_eq!(total, server.query_i64("SELECT count(*) FROM audit_log WHERE at > 0"));
    assert!(total < server.query_i64("SELECT count(*) FROM audit_log"));

    let past = json_of(admin.get("/api/v1/admin/audit?page=1000").await, 200).await;
    assert_eq!(past["items"], json!([]));
    assert_eq!(past["total"], total + 1);
    let body =
        problem(admin.get("/api/v1/admin/audit?from=yesterday").await, 422, "validation_failed")
            .await;
    assert_eq!(body["errors"][0]["field"], "from");
}

fn urlencode(text: &str) -> String {
    url::form_urlencoded::byte_serialize(text.as_bytes()).collect()
}

#[tokio::test]
async fn failed_messages_are_shown_and_can_be_retried() {
    let (server, admin) = setup().await;
    let now = server.state.clock.unix();
    let email = gatehouse::notify::Email {
        to: "lost@north.edu".into(),
        subject: "Hello again".into(),
        text: "the text".into(),
        html: "<p>the text</p>".into(),
    };
    server.blocking_conn(|conn| {
        gatehouse::notify::enqueue_email(conn, &server.state.pii, &email, now).unwrap()
    });
    let id = server.query_i64("SELECT max(id) FROM outbox");
    server.blocking_conn(|conn| {
        conn.execute(
            "UPDATE outbox SET attempts = 12, failed_at = ?1, last_error = 'relay said no'
             WHERE id = ?2",
            rusqlite::params![now, id],
        )
        .unwrap()
    });
    let status = json_of(admin.get("/api/v1/admin/outbox").await, 200).await;
    assert_eq!(status["failed"], 1);
    assert_eq!(status["recent_failures"][0]["id"], id);
    assert_eq!(status["recent_failures"][0]["last_error"], "relay said no");
    assert!(!status.to_string().contains("lost@north.edu"), "recipients are not listed");

    let retried = admin.post(&format!("/api/v1/admin/outbox/{id}/retry"), json!({})).await;
    assert_eq!(retried.status(), 202);
    let mail = server.mail_to("lost@north.edu", "Hello again").await;
    assert!(mail.text.contains("the text"));
    problem(
        admin.post(&format!("/api/v1/admin/outbox/{id}/retry"), json!({})).await,
        409,
        "message_not_failed",
    )
    .await;
    problem(
        admin.post("/api/v1/admin/outbox/999999/retry", json!({})).await,
        404,
        "message_not_found",
    )
    .await;
    let status = json_of(admin.get("/api/v1/admin/outbox").await, 200).await;
    assert_eq!(status["failed"], 0);
    assert_eq!(
        server.query_i64("SELECT count(*) FROM audit_log WHERE action = 'outbox.retried'"),
        1
    );
}

#[tokio::test]
async fn metrics_count_sign_ins_and_rate_limits_and_show_the_outbox_and_jobs() {
    let (server, admin) = setup().await;
    problem(admin.login("Wrong-Password-1", false).await, 401, "invalid_credentials").await;
    let text = server.get("/metrics").await.text().await.unwrap();
    assert!(
        text.contains("gatehouse_sign_ins_total{method=\"password\",outcome=\"success\"} 1"),
        "{text}"
    );
    assert!(text.contains("gatehouse_sign_ins_total{method=\"password\",outcome=\"failure\"} 1"));
    assert!(text.contains("gatehouse_outbox_messages{state=\"pending\"}"));
    assert!(text.contains("gatehouse_outbox_messages{state=\"failed\"} 0"));
    assert!(text.contains("gatehouse_job_runs_total{job=\"outbox\",outcome=\"success\"}"));
    assert!(text.contains("gatehouse_job_last_success_timestamp_seconds{job=\"backup\"} 0"));
    assert!(text.contains("gatehouse_db_pool_connections{state=\"idle\"}"));
    assert!(text.contains("gatehouse_http_request_duration_seconds_bucket{method=\"POST\",route=\"/api/v1/auth/login\""));
}

#[tokio::test]
async fn a_metrics_token_keeps_metrics_private() {
    let server = TestServer::start_with(|c| {
        c.metrics.token = gatehouse::config::Secret::new("scrape-me-42")
    })
    .await;
    problem(server.get("/metrics").await, 401, "unauthenticated").await;
    let wrong = server.client.get(server.url("/metrics")).bearer_auth("nope").send().await.unwrap();
    assert_eq!(wrong.status(), 401);
    let right =
        server.client.get(server.url("/metrics")).bearer_auth("scrape-me-42").send().await.unwrap();
    assert_eq!(right.status(), 200);
    assert!(right.text().await.unwrap().contains("gatehouse_http_requests_total"));
}

#[tokio::test]
async fn rate_limited_requests_are_counted() {
    let server = TestServer::start_with(|c| {
        c.rate_limit.enabled = true;
        c.rate_limit.auth_per_account = 1;
    })
    .await;
    for _ in 0..3 {
        server
            .post(
                "/api/v1/auth/login",
                json!({"email": "x@north.edu", "password": "Wrong-Password-1"}),
            )
            .await;
    }
    let text = server.get("/metrics").await.text().await.unwrap();
    let line = text
        .lines()
        .find(|l| {
            l.starts_with("gatehouse_rate_limited_requests_total{route=\"/api/v1/auth/login\"}")
        })
        .unwrap_or_else(|| panic!("{text}"));
    assert!(line.ends_with(" 2"), "{line}");
    // One (address, account) key and one address key are held; no signed-in user yet.
    for (tier, keys) in [("auth_account", 1), ("auth_ip", 1), ("authenticated", 0)] {
        let gauge = format!("gatehouse_rate_limit_keys{{tier=\"{tier}\"}} {keys}");
        assert!(text.lines().any(|l| l == gauge), "{gauge} in {text}");
    }
}
