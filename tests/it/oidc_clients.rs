//! OpenID Connect clients: registered by admins through `/api/v1/admin/clients` and
//! `gatehouse client ...`, secrets shown once and stored hashed, every change audited, bad
//! registrations refused field by field.

use std::process::Command;

use serde_json::{Value, json};

use crate::support::bootstrap::admin;
use crate::support::harness::{TestServer, problem};
use crate::support::process::{BIN, keys as run};

const RIDES: &str = "https://rides.north.edu/callback";

fn authenticates(server: &TestServer, id: &str, secret: &str) -> bool {
    server.blocking_conn(|conn| {
        gatehouse::oidc::clients::authenticate(conn, id, secret).unwrap().is_some()
    })
}

#[tokio::test]
async fn an_admin_registers_lists_rotates_and_removes_a_client() {
    let server = TestServer::start().await;
    let admin = admin(&server).await;
    let created = admin
        .post(
            "/api/v1/admin/clients",
            json!({
                "name": "North Rides",
                "redirect_uris": [RIDES],
                "scopes": ["email", "profile", "campus", "driver"],
                "post_logout_redirect_uris": ["https://rides.north.edu/"],
                "backchannel_logout_uri": "https://rides.north.edu/backchannel"
            }),
        )
        .await;
    assert_eq!(created.status(), 201);
    let created: Value = created.json().await.unwrap();
    let id = created["client_id"].as_str().unwrap().to_string();
    let secret = created["client_secret"].as_str().unwrap().to_string();
    assert!(secret.len() >= 43, "256 bits: {secret}");
    assert_eq!(created["scopes"], json!(["openid", "email", "profile", "campus", "driver"]));
    assert_eq!(created["public"], false);
    assert_eq!(created["trusted"], false);
    assert!(authenticates(&server, &id, &secret));
    assert!(!authenticates(&server, &id, "not-the-secret"));

    // The secret is never shown again, and is stored only as its hash.
    let listed: Value = admin.get("/api/v1/admin/clients").await.json().await.unwrap();
    assert_eq!(listed.as_array().unwrap().len(), 1);
    assert_eq!(listed[0]["client_id"], id.as_str());
    assert!(!listed.to_string().contains(&secret));
    let one: Value = admin.get(&format!("/api/v1/admin/clients/{id}")).await.json().await.unwrap();
    assert_eq!(one["redirect_uris"], json!([RIDES]));
    assert!(one.get("client_secret").is_none());
    let stored: i64 = server.query_i64(&format!(
        "SELECT count(*) FROM oidc_clients WHERE CAST(secret_hash AS TEXT) LIKE '%{secret}%'"
    ));
    assert_eq!(stored, 0);

    // A new secret: the old one stops working at once.
    let rotated: Value = admin
        .post(&format!("/api/v1/admin/clients/{id}/secret"), json!({}))
        .await
        .json()
        .await
        .unwrap();
    let new_secret = rotated["client_secret"].as_str().unwrap();
    assert_ne!(new_secret, secret);
    assert!(rotated["secret_rotated_at"].is_string());
    assert!(!authenticates(&server, &id, &secret));
    assert!(authenticates(&server, &id, new_secret));

    // Audited, with the client and never a secret.
    let audit: Vec<(String, String)> = server.blocking_conn(|conn| {
        conn.query_map(
            "SELECT action, details FROM audit_log WHERE action LIKE 'oidc.%' ORDER BY id",
            [] as [i64; 0],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap()
    });
    let actions: Vec<&str> = audit.iter().map(|(a, _)| a.as_str()).collect();
    assert_eq!(actions, vec!["oidc.client_added", "oidc.client_secret_rotated"]);
    for (_, details) in &audit {
        assert!(
            details.contains(&id) && !details.contains(&secret) && !details.contains(new_secret)
        );
    }

    let removed = admin.delete(&format!("/api/v1/admin/clients/{id}")).await;
    assert_eq!(removed.status(), 204);
    assert!(!authenticates(&server, &id, new_secret));
    problem(admin.get(&format!("/api/v1/admin/clients/{id}")).await, 404, "client_not_found").await;
    problem(admin.delete(&format!("/api/v1/admin/clients/{id}")).await, 404, "client_not_found")
        .await;
}

#[tokio::test]
async fn a_public_client_has_no_secret_and_bad_registrations_are_refused_by_field() {
    let server = TestServer::start().await;
    let admin = admin(&server).await;
    let public: Value = admin
        .post(
            "/api/v1/admin/clients",
            json!({"name": "Rides app", "redirect_uris": ["edu.north.rides:/callback",
                   "http://127.0.0.1:8765/callback"], "public": true}),
        )
        .await
        .json()
        .await
        .unwrap();
    assert!(public.get("client_secret").is_none(), "{public}");
    assert_eq!(public["scopes"], json!(["openid", "email", "profile"]), "the default scopes");
    let id = public["client_id"].as_str().unwrap();
    problem(
        admin.post(&format!("/api/v1/admin/clients/{id}/secret"), json!({})).await,
        409,
        "client_is_public",
    )
    .await;

    for (body, field) in [
        (json!({"name": "", "redirect_uris": [RIDES]}), "name"),
        (json!({"name": "X", "redirect_uris": []}), "redirect_uris"),
        (json!({"name": "X", "redirect_uris": ["http://rides.north.edu/cb"]}), "redirect_uris"),
        (json!({"name": "X", "redirect_uris": ["https://rides.north.edu/cb#x"]}), "redirect_uris"),
        (json!({"name": "X", "redirect_uris": ["edu.north.rides:/cb"]}), "redirect_uris"),
        (json!({"name": "X", "redirect_uris": [RIDES], "scopes": ["admin"]}), "scopes"),
        (
            json!({"name": "X", "redirect_uris": [RIDES], "post_logout_redirect_uris": ["nope"]}),
            "post_logout_redirect_uris",
        ),
        (
            json!({"name": "X", "redirect_uris": [RIDES], "backchannel_logout_uri": "http://x.edu/"}),
            "backchannel_logout_uri",
        ),
    ] {
        let answer = problem(
            admin.post("/api/v1/admin/clients", body.clone()).await,
            422,
            "validation_failed",
        )
        .await;
        assert_eq!(answer["errors"][0]["field"], field, "{body}: {answer}");
    }
    // A secret is always made by Gatehouse: one the request names is not taken.
    let chosen: Value = admin
        .post(
            "/api/v1/admin/clients",
            json!({"name": "X", "redirect_uris": [RIDES], "client_secret": "mine"}),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_ne!(chosen["client_secret"], "mine");
    assert!(!authenticates(&server, chosen["client_id"].as_str().unwrap(), "mine"));
    let listed: Value = admin.get("/api/v1/admin/clients").await.json().await.unwrap();
    assert_eq!(listed.as_array().unwrap().len(), 2, "nothing half-registered");
}

#[tokio::test]
async fn the_command_line_registers_lists_rotates_and_removes_clients() {
    let server = TestServer::start().await;
    let said = run(
        &server,
        &["client", "add", "--name", "Moodle", "--redirect-uri", RIDES, "--trusted", "--json"],
    );
    let added: Value = serde_json::from_str(said.trim()).unwrap();
    let id = added["client_id"].as_str().unwrap();
    let secret = added["client_secret"].as_str().unwrap();
    assert!(authenticates(&server, id, secret));

    let public = run(
        &server,
        &[
            "client",
            "add",
            "--name",
            "Lab CLI",
            "--redirect-uri",
            "http://127.0.0.1/cb",
            "--public",
        ],
    );
    assert!(public.contains("public client: no secret"), "{public}");

    let listed: Value =
        serde_json::from_str(run(&server, &["client", "list", "--json"]).trim()).unwrap();
    let names: Vec<&str> =
        listed.as_array().unwrap().iter().map(|c| c["name"].as_str().unwrap()).collect();
    assert_eq!(names, vec!["Lab CLI", "Moodle"]);
    assert!(!listed.to_string().contains(secret));
    assert_eq!(listed[1]["trusted"], true);

    let rotated = run(&server, &["client", "rotate-secret", id]);
    assert!(rotated.contains("client_secret:") && !rotated.contains(secret), "{rotated}");
    assert!(!authenticates(&server, id, secret));
    assert!(run(&server, &["client", "remove", id]).contains("removed client"));

    // A bad registration says what is wrong, exits non-zero and registers nothing.
    let output = Command::new(BIN)
        .args(["client", "add", "--name", "Bad", "--redirect-uri", "http://rides.north.edu/cb"])
        .env_clear()
        .env("GATEHOUSE_STORAGE__DATA_DIR", server.data_dir())
        .envs(crate::support::engine::process_env(&server.data_dir()))
        .output()
        .unwrap();
    assert!(!output.status.success());
    let error = String::from_utf8_lossy(&output.stderr);
    assert!(error.contains("use https"), "{error}");
    assert_eq!(server.query_i64("SELECT count(*) FROM oidc_clients"), 1, "only Lab CLI");
}
