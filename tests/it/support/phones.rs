//! Phone codes with the `file` SMS provider: the test phone, the codes the provider wrote, a
//! student who has linked the phone, and the step past the resend cooldown.

use std::path::Path;
use std::time::Duration;

use serde_json::{Value, json};

use crate::support::harness::{TestServer, User};

pub const PHONE: &str = "+91 98765 43210";

pub const E164: &str = "+919876543210";

/// Every SMS the `file` provider wrote.
pub fn sms_lines(file: &Path) -> Vec<Value> {
    std::fs::read_to_string(file)
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str(l).expect("a JSON line"))
        .collect()
}

/// The 6-digit code in the `n`th SMS (1-based) to `to`, waiting for it to be written.
pub async fn wait_for_code(file: &Path, to: &str, n: usize) -> String {
    for _ in 0..400 {
        let lines: Vec<Value> = sms_lines(file).into_iter().filter(|l| l["to"] == to).collect();
        if let Some(line) = lines.get(n - 1) {
            return code_in(line["body"].as_str().unwrap());
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("no SMS number {n} to {to}: {:?}", sms_lines(file));
}

pub fn code_in(body: &str) -> String {
    let digits: Vec<&str> =
        body.split(|c: char| !c.is_ascii_digit()).filter(|w| w.len() == 6).collect();
    assert_eq!(digits.len(), 1, "one 6-digit code in {body:?}");
    digits[0].to_string()
}

pub async fn code(server: &TestServer, n: usize) -> String {
    server.state.outbox_wake.notify_one();
    wait_for_code(&server.data_dir().join("sms.jsonl"), E164, n).await
}

pub async fn request(server: &TestServer, phone: &str) -> reqwest::Response {
    server.post("/api/v1/auth/otp/request", json!({"phone": phone})).await
}

pub async fn verify(server: &TestServer, phone: &str, code: &str) -> reqwest::Response {
    server.post("/api/v1/auth/otp/verify", json!({"phone": phone, "code": code})).await
}

/// A signed-in student who has linked PHONE with the first code.
pub async fn phone_owner(server: &TestServer) -> User {
    server.add_campus("North", &["north.edu"]);
    let ada = server.signed_in_user("ada@north.edu").await;
    let response = ada.post("/api/v1/auth/otp/request", json!({"phone": PHONE})).await;
    assert_eq!(response.status(), 202);
    let code = code(server, 1).await;
    let response = ada.post("/api/v1/auth/otp/verify", json!({"phone": PHONE, "code": code})).await;
    assert_eq!(response.status(), 200, "{}", response.text().await.unwrap());
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["outcome"], "linked");
    assert_eq!(body["user"]["phone"], E164);
    assert_eq!(body["user"]["phone_verified"], true);
    ada
}

pub fn minutes(n: i64) -> chrono::Duration {
    chrono::Duration::seconds(n * 60 + 1)
}
