//! After a privacy-policy version is published, every way in tells the client that the user
//! has to accept it: password sign-in (tested in privacy_account.rs), phone sign-in, token
//! grants and refreshes, and `GET /api/v1/auth/session` for a session that began before.

use serde_json::{Value, json};

use crate::support::bootstrap::admin;
use crate::support::harness::{PASSWORD, TestServer};
use crate::support::phones::{E164, PHONE, code, minutes, phone_owner, request, verify};

fn assert_pending(body: &Value, version: &str) {
    assert_eq!(body["policy_acceptance_required"], true, "{body}");
    assert_eq!(body["policy_version"], version, "{body}");
}

fn assert_nothing_pending(body: &Value) {
    assert_eq!(body["policy_acceptance_required"], false, "{body}");
    assert!(body.get("policy_version").is_none(), "{body}");
}

#[tokio::test]
async fn every_way_in_tells_of_a_policy_to_accept() {
    let server = TestServer::start().await;
    let ada = phone_owner(&server).await;
    let me: Value = ada.get("/api/v1/auth/session").await.json().await.unwrap();
    assert_nothing_pending(&me);
    let admin = admin(&server).await;
    let published =
        admin.post("/api/v1/admin/policies", json!({"version": "v2", "text": "Terms."})).await;
    assert_eq!(published.status(), 201);

    // A session from before the new version learns it (the cache is dropped on publishing).
    let me: Value = ada.get("/api/v1/auth/session").await.json().await.unwrap();
    assert_pending(&me, "v2");

    // API tokens: the grant and every refresh.
    let grant = server
        .post("/api/v1/auth/token", json!({"email": "ada@north.edu", "password": PASSWORD}))
        .await;
    assert_eq!(grant.status(), 200);
    let grant: Value = grant.json().await.unwrap();
    assert_pending(&grant, "v2");
    let refreshed: Value = server
        .post("/api/v1/auth/token/refresh", json!({"refresh_token": grant["refresh_token"]}))
        .await
        .json()
        .await
        .unwrap();
    assert_pending(&refreshed, "v2");

    // Phone sign-in.
    server.clock.advance(minutes(1));
    assert_eq!(request(&server, PHONE).await.status(), 202);
    let signed_in = verify(&server, E164, &code(&server, 2).await).await;
    assert_eq!(signed_in.status(), 200);
    let signed_in: Value = signed_in.json().await.unwrap();
    assert_eq!(signed_in["outcome"], "signed_in");
    assert_pending(&signed_in, "v2");

    // Once accepted, every answer says so at once.
    let accepted = ada.post("/api/v1/account/policy-acceptance", json!({"version": "v2"})).await;
    assert_eq!(accepted.status(), 200);
    let me: Value = ada.get("/api/v1/auth/session").await.json().await.unwrap();
    assert_nothing_pending(&me);
    let refreshed: Value = server
        .post("/api/v1/auth/token/refresh", json!({"refresh_token": refreshed["refresh_token"]}))
        .await
        .json()
        .await
        .unwrap();
    assert_nothing_pending(&refreshed);
}
