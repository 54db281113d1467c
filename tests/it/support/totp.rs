//! TOTP for the two-step sign-in tests: the code an authenticator shows, enrolment, a fresh
//! time step, and the two steps of a sign-in.

use serde_json::{Value, json};

use crate::support::harness::{PASSWORD, TestServer, User};

/// The code an authenticator app shows now for a base32 secret (`offset` steps away).
pub fn code(server: &TestServer, secret: &str, offset: i64) -> String {
    use gatehouse::clock::Clock;
    let bytes = totp_rs::Secret::try_from_base32(secret).unwrap().as_bytes().to_vec();
    let at = server.clock.unix() + offset * 30;
    gatehouse::mfa::totp::totp(&bytes, "x").generate(at as u64).to_string()
}

/// Enrols and confirms TOTP for a signed-in user; returns the secret and recovery codes.
pub async fn enrol(server: &TestServer, user: &User) -> (String, Vec<String>) {
    let started = user.post("/api/v1/account/mfa/totp", json!({})).await;
    assert_eq!(started.status(), 200);
    let started: Value = started.json().await.unwrap();
    let secret = started["secret"].as_str().unwrap().to_string();
    let confirmed = user
        .post("/api/v1/account/mfa/totp/confirm", json!({"code": code(server, &secret, 0)}))
        .await;
    assert_eq!(confirmed.status(), 200);
    let confirmed: Value = confirmed.json().await.unwrap();
    let codes = confirmed["recovery_codes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap().to_string())
        .collect();
    (secret, codes)
}

/// Moves to the start of a fresh time step, so that a code of "now" was never used.
pub fn next_step(server: &TestServer) {
    server.clock.advance(chrono::Duration::seconds(30));
}

/// A password sign-in that must ask for a second factor; returns the mfa_token.
pub async fn pending_login(user: &User) -> String {
    let response = user.login(PASSWORD, false).await;
    assert_eq!(response.status(), 200);
    assert!(response.headers().get("set-cookie").is_none(), "no session before the second factor");
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["mfa_required"], true, "{body}");
    assert!(body.get("user").is_none_or(Value::is_null), "{body}");
    body["mfa_token"].as_str().unwrap().to_string()
}

pub async fn second_step(user: &User, token: &str, code: &str) -> reqwest::Response {
    user.client
        .post(user.url("/api/v1/auth/login/mfa"))
        .json(&json!({"mfa_token": token, "code": code}))
        .send()
        .await
        .unwrap()
}
