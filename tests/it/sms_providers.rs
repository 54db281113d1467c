//! The webhook and Twilio-shaped SMS providers against a local HTTP server: the signature, the
//! basic auth and form fields, and a provider that fails twice before it accepts (the outbox
//! retries on the app clock and the message is delivered once).

use std::time::Duration;

use base64::Engine;
use hmac::{Hmac, KeyInit, Mac};
use serde_json::{Value, json};
use sha2::Sha256;

use crate::support::harness::TestServer;
use crate::support::http_sink::{http_sink as provider, wait_for};
use crate::support::phones::{E164, PHONE, code_in};

/// A signed-in student asks for a code to link PHONE; returns the student.
async fn ask_for_code(server: &TestServer) -> crate::support::harness::User {
    server.add_campus("North", &["north.edu"]);
    let ada = server.signed_in_user("ada@north.edu").await;
    let response = ada.post("/api/v1/auth/otp/request", json!({"phone": PHONE})).await;
    assert_eq!(response.status(), 202);
    ada
}

async fn link(server: &TestServer, ada: &crate::support::harness::User, code: &str) {
    let response = ada.post("/api/v1/auth/otp/verify", json!({"phone": PHONE, "code": code})).await;
    assert_eq!(response.status(), 200, "{}", response.text().await.unwrap());
    assert_eq!(
        server.query_i64("SELECT count(*) FROM users WHERE phone_verified_at IS NOT NULL"),
        1
    );
}

#[tokio::test]
async fn the_webhook_is_signed_and_retried_until_delivered_once() {
    let (base, received) = provider(2, 204).await;
    let server = TestServer::start_with(|c| {
        c.sms.provider = gatehouse::config::SmsProvider::Webhook;
        c.sms.webhook_url = format!("{base}/sms");
        c.sms.webhook_secret = gatehouse::config::Secret::new("hook-secret");
    })
    .await;
    let ada = ask_for_code(&server).await;
    server.state.outbox_wake.notify_one();
    wait_for(&received, 1).await;
    // Backoff is 10 s then 20 s on the app clock.
    for (advance, n) in [(11, 2), (21, 3)] {
        server.clock.advance(chrono::Duration::seconds(advance));
        server.state.outbox_wake.notify_one();
        wait_for(&received, n).await;
    }
    server.flush_outbox().await;
    assert_eq!(
        server
            .query_i64("SELECT attempts FROM outbox WHERE channel = 'sms' AND sent_at IS NOT NULL"),
        3
    );
    let got = received.lock().unwrap().clone();
    assert_eq!(got.len(), 3);
    for request in &got {
        assert!(request.head.starts_with("POST /sms HTTP/1.1"), "{}", request.head);
        assert_eq!(request.header("content-type").as_deref(), Some("application/json"));
        let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(b"hook-secret").unwrap();
        mac.update(request.body.as_bytes());
        let expected = format!("sha256={}", hex::encode(mac.finalize().into_bytes()));
        assert_eq!(request.header("x-gatehouse-signature"), Some(expected));
    }
    let body: Value = serde_json::from_str(&got[2].body).unwrap();
    assert_eq!(body["to"], E164);
    link(&server, &ada, &code_in(body["body"].as_str().unwrap())).await;
    // Delivered once: nothing more is sent, however long the worker runs.
    server.clock.advance(chrono::Duration::seconds(3600));
    server.state.outbox_wake.notify_one();
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(received.lock().unwrap().len(), 3);
}

#[tokio::test]
async fn twilio_gets_a_form_with_basic_auth() {
    let (base, received) = provider(0, 201).await;
    let server = TestServer::start_with(|c| {
        c.sms.provider = gatehouse::config::SmsProvider::Twilio;
        c.sms.twilio_base_url = base.clone();
        c.sms.twilio_account_sid = "AC0123".into();
        c.sms.twilio_auth_token = gatehouse::config::Secret::new("twilio-token");
        c.sms.twilio_from = "+15005550006".into();
    })
    .await;
    let ada = ask_for_code(&server).await;
    server.state.outbox_wake.notify_one();
    let got = wait_for(&received, 1).await;
    let request = &got[0];
    assert!(
        request.head.starts_with("POST /2010-04-01/Accounts/AC0123/Messages.json HTTP/1.1"),
        "{}",
        request.head
    );
    let credentials = base64::engine::general_purpose::STANDARD.encode("AC0123:twilio-token");
    assert_eq!(request.header("authorization"), Some(format!("Basic {credentials}")));
    assert_eq!(
        request.header("content-type").as_deref(),
        Some("application/x-www-form-urlencoded")
    );
    let form: Vec<(String, String)> =
        url::form_urlencoded::parse(request.body.as_bytes()).into_owned().collect();
    let field = |name: &str| form.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone());
    assert_eq!(field("To").as_deref(), Some(E164));
    assert_eq!(field("From").as_deref(), Some("+15005550006"));
    server.flush_outbox().await;
    link(&server, &ada, &code_in(&field("Body").unwrap())).await;
}
