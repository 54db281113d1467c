//! The device authorization grant (RFC 8628) through the real server: a device asks for codes
//! and polls, the student allows or refuses it on the device page's API, and every wrong turn
//! (polling too fast, a refused, expired, spent or foreign device code, a wrong user code, too
//! many tried) gets its own answer.

use serde_json::{Value, json};

use crate::support::harness::{TestServer, problem};
use crate::support::oidc::*;

const GRANT: &str = "urn:ietf:params:oauth:grant-type:device_code";

async fn start_device(server: &TestServer, app: &App, scope: &str) -> Value {
    let mut request = server.client.post(server.url("/oauth/device_authorization"));
    let mut form = vec![("scope", scope)];
    match &app.secret {
        Some(secret) => request = request.basic_auth(&app.id, Some(secret)),
        None => form.push(("client_id", &app.id)),
    }
    let response = request.form_body(&form).send().await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["cache-control"], "no-store");
    response.json().await.unwrap()
}

async fn poll(server: &TestServer, app: &App, device_code: &str) -> reqwest::Response {
    token(server, app, &[("grant_type", GRANT), ("device_code", device_code)]).await
}

#[tokio::test]
async fn a_device_polls_until_the_student_allows_it_then_gets_tokens_once() {
    let server = TestServer::start().await;
    let ada = student(&server).await;
    let app = register(&server, false, true, &["email"]);
    let discovery: Value =
        server.get("/.well-known/openid-configuration").await.json().await.unwrap();
    assert_eq!(
        discovery["device_authorization_endpoint"],
        format!("{}/oauth/device_authorization", server.base)
    );
    assert!(discovery["grant_types_supported"].as_array().unwrap().contains(&json!(GRANT)));

    let started = start_device(&server, &app, "openid email").await;
    let user_code = started["user_code"].as_str().unwrap();
    let device_code = started["device_code"].as_str().unwrap();
    assert!(user_code.len() == 9 && user_code.as_bytes()[4] == b'-', "{user_code}");
    assert_eq!(started["verification_uri"], format!("{}/device", server.base));
    assert_eq!(
        started["verification_uri_complete"],
        format!("{}/device?user_code={user_code}", server.base)
    );
    assert_eq!(
        (started["expires_in"].as_i64(), started["interval"].as_i64()),
        (Some(600), Some(5))
    );

    // Nobody has answered: pending; polling again at once: slow down, and each slow_down adds
    // five seconds to the interval (ten, then fifteen).
    oauth_error(poll(&server, &app, device_code).await, 400, "authorization_pending").await;
    oauth_error(poll(&server, &app, device_code).await, 400, "slow_down").await;
    server.clock.advance(chrono::Duration::seconds(6));
    oauth_error(poll(&server, &app, device_code).await, 400, "slow_down").await;
    server.clock.advance(chrono::Duration::seconds(15));
    oauth_error(poll(&server, &app, device_code).await, 400, "authorization_pending").await;

    // The student types the code (any case, without the dash), sees the app, and allows it.
    let typed = user_code.replace('-', "").to_lowercase();
    let view: Value =
        ada.get(&format!("/api/v1/oauth/device?user_code={typed}")).await.json().await.unwrap();
    assert_eq!(view["client_name"], "North Rides");
    assert_eq!(view["user_code"], user_code);
    let scopes: Vec<&str> =
        view["scopes"].as_array().unwrap().iter().map(|s| s["scope"].as_str().unwrap()).collect();
    assert_eq!(scopes, ["openid", "email"]);
    let allowed =
        ada.post("/api/v1/oauth/device", json!({"user_code": typed, "approve": true})).await;
    assert_eq!(allowed.status(), 204);
    // Answered: the code does not work on the page again.
    let again =
        ada.post("/api/v1/oauth/device", json!({"user_code": typed, "approve": false})).await;
    problem(again, 404, "device_code_unknown").await;

    server.clock.advance(chrono::Duration::seconds(15));
    let tokens: Value = poll(&server, &app, device_code).await.json().await.unwrap();
    let id = claims_of(tokens["id_token"].as_str().unwrap());
    let session: Value = ada.get("/api/v1/auth/session").await.json().await.unwrap();
    assert_eq!(id["sub"], session["user"]["id"]);
    assert_eq!(id["aud"], app.id);
    assert!(id.get("nonce").is_none());
    let info: Value =
        userinfo(&server, tokens["access_token"].as_str().unwrap()).await.json().await.unwrap();
    assert_eq!(info["email"], "ada@north.edu");
    // Once only.
    oauth_error(poll(&server, &app, device_code).await, 400, "invalid_grant").await;
    // Allowing was consent: the app shows on the account page; polls were not audited as
    // refusals.
    let apps: Value = ada.get("/api/v1/account/apps").await.json().await.unwrap();
    assert_eq!(apps[0]["client_id"], app.id);
    assert_eq!(
        server.query_i64(
            "SELECT count(*) FROM audit_log WHERE action = 'oidc.token_refused'
             AND (details LIKE '%pending%' OR details LIKE '%slow_down%')"
        ),
        0
    );
    // Signing out of Gatehouse ends the device's grant too.
    assert!(ada.post("/api/v1/auth/logout", json!({})).await.status().is_success());
    let refresh = [
        ("grant_type", "refresh_token"),
        ("refresh_token", tokens["refresh_token"].as_str().unwrap()),
    ];
    oauth_error(token(&server, &app, &refresh).await, 400, "invalid_grant").await;
}

#[tokio::test]
async fn refused_expired_foreign_and_unknown_codes_are_told_apart() {
    let server = TestServer::start().await;
    let ada = student(&server).await;
    let app = register(&server, true, false, &[]);
    let other = register(&server, true, false, &[]);

    // Refused by the student.
    let started = start_device(&server, &app, "openid").await;
    let code = started["user_code"].as_str().unwrap();
    let refused =
        ada.post("/api/v1/oauth/device", json!({"user_code": code, "approve": false})).await;
    assert_eq!(refused.status(), 204);
    let device_code = started["device_code"].as_str().unwrap();
    oauth_error(poll(&server, &app, device_code).await, 400, "access_denied").await;
    oauth_error(poll(&server, &app, device_code).await, 400, "invalid_grant").await;

    // Another client's device code.
    let started = start_device(&server, &app, "openid").await;
    let device_code = started["device_code"].as_str().unwrap();
    oauth_error(poll(&server, &other, device_code).await, 400, "invalid_grant").await;
    oauth_error(poll(&server, &app, "not-a-device-code").await, 400, "invalid_grant").await;

    // Expired after ten minutes: for the device and on the page.
    server.clock.advance(chrono::Duration::seconds(601));
    let code = started["user_code"].as_str().unwrap();
    problem(
        ada.get(&format!("/api/v1/oauth/device?user_code={code}")).await,
        404,
        "device_code_unknown",
    )
    .await;
    oauth_error(poll(&server, &app, device_code).await, 400, "expired_token").await;

    // Wrong codes on the page, and a scope the app may not have at the device endpoint.
    for wrong in ["BCDF-GHJK", "AAAA-AAAA", "short", &"B".repeat(41)] {
        let response = ada.get(&format!("/api/v1/oauth/device?user_code={wrong}")).await;
        assert!(matches!(response.status().as_u16(), 400 | 404), "{wrong}");
    }
    let response = server
        .client
        .post(server.url("/oauth/device_authorization"))
        .basic_auth(&app.id, app.secret.as_deref())
        .form_body(&[("scope", "openid driver")])
        .send()
        .await
        .unwrap();
    oauth_error(response, 400, "invalid_scope").await;
    // Not signed in: the page's API refuses.
    let stranger = server.new_user("nobody@north.edu");
    problem(stranger.get("/api/v1/oauth/device?user_code=BCDF-GHJK").await, 401, "unauthenticated")
        .await;
}

#[tokio::test]
async fn a_student_may_try_ten_user_codes_a_minute() {
    let server = TestServer::start_with(|c| c.rate_limit.enabled = true).await;
    let ada = student(&server).await;
    for _ in 0..10 {
        let response = ada.get("/api/v1/oauth/device?user_code=BCDF-GHJK").await;
        problem(response, 404, "device_code_unknown").await;
    }
    let response = ada.get("/api/v1/oauth/device?user_code=BCDF-GHJK").await;
    assert!(response.headers().contains_key("retry-after"));
    problem(response, 429, "rate_limited").await;
}
