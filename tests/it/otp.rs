//! Phone sign-in codes with the `file` SMS provider: request and verify, bad numbers and
//! codes, expiry, dead and spent codes, the cooldown and the limits, unknown phones, linking.

use serde_json::{Value, json};

use crate::support::harness::{PASSWORD, TestServer, problem};
use crate::support::phones::{
    E164, PHONE, code, minutes, phone_owner, request, sms_lines, verify, wait_for_code,
};

fn wrong(code: &str) -> &'static str {
    if code == "000000" { "111111" } else { "000000" }
}

#[tokio::test]
async fn a_code_by_sms_signs_in_the_account_with_that_phone() {
    let server = TestServer::start().await;
    phone_owner(&server).await;
    server.clock.advance(minutes(1));
    let response = request(&server, "98765-43210").await;
    assert_eq!(response.status(), 202);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body, json!({"status": "accepted"}));
    let old = code(&server, 2).await;
    // A new code kills the older one.
    server.clock.advance(minutes(1));
    assert_eq!(server.post("/api/v1/auth/otp/resend", json!({"phone": PHONE})).await.status(), 202);
    let new = code(&server, 3).await;
    let line = &sms_lines(&server.data_dir().join("sms.jsonl"))[2];
    assert_eq!(line["to"], E164);
    assert!(line["sent_at"].as_str().is_some_and(|t| t.starts_with("20")), "{line}");
    if old != new {
        problem(verify(&server, PHONE, &old).await, 401, "invalid_code").await;
    }

    let browser = server.new_user("ada@north.edu");
    let response = browser
        .client
        .post(server.url("/api/v1/auth/otp/verify"))
        .json(&json!({"phone": "+91-98765-43210", "code": new}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["outcome"], "signed_in");
    assert_eq!(body["user"]["email"], "ada@north.edu");
    let me: Value = browser.get("/api/v1/auth/session").await.json().await.unwrap();
    assert_eq!(me["user"]["email"], "ada@north.edu");
    assert!(browser.cookie("gatehouse_csrf").is_some());
    // Single use.
    problem(verify(&server, PHONE, &new).await, 401, "invalid_code").await;

    let count = |sql: &str| server.query_i64(sql);
    assert_eq!(count("SELECT count(*) FROM audit_log WHERE action = 'phone.linked'"), 1);
    assert_eq!(
        count(
            "SELECT count(*) FROM audit_log WHERE action = 'login' AND details LIKE '%phone_code%'"
        ),
        1
    );
    assert_eq!(
        count(
            "SELECT count(*) FROM audit_log WHERE action = 'phone_code.verified' AND outcome = 'failure'"
        ),
        if old != new { 2 } else { 1 }
    );
    assert_eq!(count("SELECT count(*) FROM audit_log WHERE action = 'phone_code.requested'"), 3);
    // Codes are stored as 32-byte HMACs; a sent SMS's body is erased from the outbox.
    assert_eq!(count("SELECT count(*) FROM phone_codes WHERE length(code_hash) <> 32"), 0);
    assert_eq!(count("SELECT count(*) FROM outbox WHERE channel = 'sms' AND body_text <> ''"), 0);
}

#[tokio::test]
async fn bad_numbers_are_refused_with_the_phone_field() {
    let regions = ["IN", "DE", "US"].map(String::from).to_vec();
    let server = TestServer::start_with(|c| c.sms.allowed_regions = regions).await;
    for bad in [
        "",
        "98765 4321O",
        "+91 98765 ABCDE",
        "1-800-FLOWERS",
        "12345",
        "+91 98765 43210 98765",
        "+999 1234567",
        "0151 1234 5678",
        "+91_9876543210",
    ] {
        let body = problem(request(&server, bad).await, 422, "validation_failed").await;
        assert_eq!(body["errors"][0]["field"], "phone", "{bad}: {body}");
        let body = problem(verify(&server, bad, "123456").await, 422, "validation_failed").await;
        assert_eq!(body["errors"][0]["field"], "phone", "{bad}: {body}");
    }
    // Another allowed region's numbers work in international form.
    assert_eq!(request(&server, "+49 151 1234 5678").await.status(), 202);
    assert_eq!(request(&server, "+1 650-253-0000").await.status(), 202);

    // Registration stores the E.164 form and refuses what is not a number.
    server.add_campus("North", &["north.edu"]);
    let register = |email: &str, phone: &str| json!({"email": email, "password": PASSWORD, "display_name": "Ada", "phone": phone});
    let response =
        server.post("/api/v1/auth/register", register("ada@north.edu", "98765 43210")).await;
    assert_eq!(response.status(), 202);
    // (The phone is sealed at rest; its blind index is of the E.164 form.)
    let index = server.state.accounts.phone_index("+919876543210");
    let stored: i64 = server.blocking_conn(|conn| {
        conn.query_row("SELECT count(*) FROM users WHERE phone_index = ?1", [&index], |r| r.get(0))
            .unwrap()
    });
    assert_eq!(stored, 1);
    let response = server.post("/api/v1/auth/register", register("bob@north.edu", "call me")).await;
    let body = problem(response, 422, "validation_failed").await;
    assert_eq!(body["errors"][0]["field"], "phone");
}

#[tokio::test]
async fn malformed_codes_are_refused_with_the_code_field() {
    let server = TestServer::start().await;
    for bad in ["12345", "1234567", "12a456", "", " 123456", "12 456", "１２３４５６", "-12345"]
    {
        let body = problem(verify(&server, PHONE, bad).await, 422, "validation_failed").await;
        assert_eq!(body["errors"][0]["field"], "code", "{bad:?}: {body}");
    }
    // Leading zeros are digits like any other: well formed, just not right.
    problem(verify(&server, PHONE, "000123").await, 401, "invalid_code").await;
}

#[tokio::test]
async fn codes_die_when_expired_after_five_wrong_attempts_and_once_used() {
    let server = TestServer::start().await;
    phone_owner(&server).await;
    server.clock.advance(minutes(1));
    assert_eq!(request(&server, PHONE).await.status(), 202);
    let expired = code(&server, 2).await;
    server.clock.advance(minutes(10));
    problem(verify(&server, PHONE, &expired).await, 401, "invalid_code").await;

    server.clock.advance(minutes(15));
    assert_eq!(request(&server, PHONE).await.status(), 202);
    let right = code(&server, 3).await;
    for _ in 0..5 {
        problem(verify(&server, PHONE, wrong(&right)).await, 401, "invalid_code").await;
    }
    problem(verify(&server, PHONE, &right).await, 401, "invalid_code").await;

    server.clock.advance(minutes(15));
    assert_eq!(request(&server, PHONE).await.status(), 202);
    let right = code(&server, 4).await;
    for _ in 0..4 {
        problem(verify(&server, PHONE, wrong(&right)).await, 401, "invalid_code").await;
    }
    // A browser of its own: the sign-in sets cookies, and the shared client must stay a
    // client without a session.
    let browser = server.new_user("ada@north.edu");
    let body = json!({"phone": PHONE, "code": right});
    let response =
        browser.client.post(server.url("/api/v1/auth/otp/verify")).json(&body).send().await;
    assert_eq!(response.unwrap().status(), 200, "4 wrong attempts are fine");
    problem(verify(&server, PHONE, &right).await, 401, "invalid_code").await;
}

fn retry_after(response: &reqwest::Response) -> i64 {
    response.headers()["retry-after"].to_str().unwrap().parse().unwrap()
}

#[tokio::test]
async fn requests_have_a_cooldown_and_at_most_three_per_15_minutes() {
    let server = TestServer::start().await;
    assert_eq!(request(&server, PHONE).await.status(), 202);
    let response = request(&server, PHONE).await;
    assert_eq!(retry_after(&response), 60);
    problem(response, 429, "rate_limited").await;
    server.clock.advance(chrono::Duration::seconds(30));
    let response = server.post("/api/v1/auth/otp/resend", json!({"phone": PHONE})).await;
    assert_eq!(retry_after(&response), 30);
    problem(response, 429, "rate_limited").await;
    // Another phone is not held back.
    assert_eq!(request(&server, "+91 98765 43211").await.status(), 202);

    server.clock.advance(chrono::Duration::seconds(30));
    assert_eq!(request(&server, PHONE).await.status(), 202);
    server.clock.advance(chrono::Duration::seconds(60));
    assert_eq!(request(&server, PHONE).await.status(), 202);
    server.clock.advance(chrono::Duration::seconds(60));
    let response = request(&server, PHONE).await;
    assert_eq!(retry_after(&response), 900 - 180);
    problem(response, 429, "rate_limited").await;
    server.clock.advance(chrono::Duration::seconds(720));
    assert_eq!(request(&server, PHONE).await.status(), 202);
}

#[tokio::test]
async fn an_unknown_phone_gets_the_same_answer_and_no_sms() {
    let server = TestServer::start().await;
    let response = request(&server, PHONE).await;
    assert_eq!(response.status(), 202);
    assert_eq!(response.json::<Value>().await.unwrap(), json!({"status": "accepted"}));
    server.flush_outbox().await;
    assert_eq!(server.query_i64("SELECT count(*) FROM outbox WHERE channel = 'sms'"), 0);
    assert!(!server.data_dir().join("sms.jsonl").exists());
    // The same work as for a known phone: a code row and an audit row.
    assert_eq!(server.query_i64("SELECT count(*) FROM phone_codes"), 1);
    assert_eq!(
        server.query_i64(
            "SELECT count(*) FROM audit_log WHERE action = 'phone_code.requested'
             AND details = '{\"sms_sent\":false}' AND subject_id IS NULL"
        ),
        1
    );
    problem(verify(&server, PHONE, "123456").await, 401, "invalid_code").await;
}

#[tokio::test]
async fn a_signed_in_account_gets_at_most_5_link_codes_a_day_whatever_the_numbers() {
    let server = TestServer::start().await;
    server.add_campus("North", &["north.edu"]);
    let ada = server.signed_in_user("ada@north.edu").await;
    let phones = numbers(7);
    for phone in &phones[..5] {
        let response = ada.post("/api/v1/auth/otp/request", json!({"phone": phone})).await;
        assert_eq!(response.status(), 202, "{phone}");
    }
    // The sixth number is new (no per-number limit applies), but the account's day is used up.
    server.clock.advance(chrono::Duration::minutes(10));
    let response = ada.post("/api/v1/auth/otp/request", json!({"phone": &phones[5]})).await;
    assert_eq!(retry_after(&response), 86_400 - 600, "until the first code is a day old");
    problem(response, 429, "rate_limited").await;
    let resent = ada.post("/api/v1/auth/otp/resend", json!({"phone": &phones[6]})).await;
    problem(resent, 429, "rate_limited").await;
    let sms = "SELECT count(*) FROM outbox WHERE channel = 'sms'";
    assert_eq!(server.query_i64(sms), 5, "no SMS queued for the refused requests");
    assert_eq!(server.query_i64("SELECT count(*) FROM phone_codes"), 5);

    // Another account has its own allowance; a sign-in code (not signed in) is not a link code.
    let bob = server.signed_in_user("bob@north.edu").await;
    assert_eq!(
        bob.post("/api/v1/auth/otp/request", json!({"phone": &phones[5]})).await.status(),
        202
    );
    assert_eq!(request(&server, &phones[6]).await.status(), 202);

    // A day after the first code, Ada (signed in again) may send one again.
    server.clock.advance(chrono::Duration::seconds(86_400 - 600));
    assert_eq!(ada.login(PASSWORD, false).await.status(), 200);
    let response = ada.post("/api/v1/auth/otp/request", json!({"phone": &phones[6]})).await;
    assert_eq!(response.status(), 202);
    // Ada's five and this one, and Bob's; the unknown phone's sign-in code sent none.
    assert_eq!(server.query_i64(sms), 7);
}

#[tokio::test]
async fn numbers_outside_the_allowed_regions_are_refused_everywhere_and_get_no_sms() {
    let server = TestServer::start_with(|c| c.auth.phone_signup = true).await;
    server.add_campus("North", &["north.edu"]);
    let ada = server.signed_in_user("ada@north.edu").await;
    let refused = |body: &Value| {
        assert_eq!(body["errors"][0]["field"], "phone", "{body}");
        let message = body["errors"][0]["message"].as_str().unwrap();
        assert!(message.contains("regions") && message.contains("IN"), "{message}");
    };
    // A German mobile, a US number, and a Caribbean number sharing the US country code.
    for foreign in ["+49 151 1234 5678", "+1 650-253-0000", "+1 876 210 1234"] {
        let linking = ada.post("/api/v1/auth/otp/request", json!({"phone": foreign})).await;
        refused(&problem(linking, 422, "validation_failed").await);
        // With phone sign-up on, an unknown number would otherwise get a code.
        refused(&problem(request(&server, foreign).await, 422, "validation_failed").await);
        let resent = server.post("/api/v1/auth/otp/resend", json!({"phone": foreign})).await;
        refused(&problem(resent, 422, "validation_failed").await);
        let verifying =
            ada.post("/api/v1/auth/otp/verify", json!({"phone": foreign, "code": "123456"}));
        refused(&problem(verifying.await, 422, "validation_failed").await);
        refused(&problem(verify(&server, foreign, "123456").await, 422, "validation_failed").await);
        let register = json!({"email": "bob@north.edu", "password": PASSWORD, "display_name": "Bob", "phone": foreign});
        let registered = server.post("/api/v1/auth/register", register).await;
        refused(&problem(registered, 422, "validation_failed").await);
    }
    assert_eq!(server.query_i64("SELECT count(*) FROM outbox WHERE channel = 'sms'"), 0);
    assert_eq!(server.query_i64("SELECT count(*) FROM phone_codes"), 0);
    // The default region's numbers still work.
    assert_eq!(request(&server, PHONE).await.status(), 202);
    assert_eq!(server.query_i64("SELECT count(*) FROM outbox WHERE channel = 'sms'"), 1);
}

fn numbers(n: usize) -> Vec<String> {
    (0..n).map(|i| format!("+91 98765 43{:03}", 300 + i)).collect()
}

#[tokio::test]
async fn verifications_are_limited_per_phone_and_per_ip() {
    let server = TestServer::start_with(|c| {
        c.server.trusted_proxies = vec!["127.0.0.1/32".parse().unwrap()];
    })
    .await;
    let from = |ip: String, phone: &str| {
        server
            .client
            .post(server.url("/api/v1/auth/otp/verify"))
            .header("x-forwarded-for", ip)
            .json(&json!({"phone": phone, "code": "123456"}))
            .send()
    };
    // One phone, ten addresses.
    for i in 0..10 {
        problem(from(format!("10.0.0.{i}"), PHONE).await.unwrap(), 401, "invalid_code").await;
    }
    let response = from("10.0.0.99".into(), PHONE).await.unwrap();
    assert_eq!(retry_after(&response), 900);
    problem(response, 429, "rate_limited").await;
    // One address, ten phones.
    for phone in numbers(10) {
        problem(from("10.0.1.1".into(), &phone).await.unwrap(), 401, "invalid_code").await;
    }
    server.clock.advance(chrono::Duration::seconds(100));
    let response = from("10.0.1.1".into(), "+91 98765 43999").await.unwrap();
    assert_eq!(retry_after(&response), 800);
    problem(response, 429, "rate_limited").await;
    // Others are not held back, and the window ends.
    problem(from("10.0.2.1".into(), "+91 98765 43999").await.unwrap(), 401, "invalid_code").await;
    server.clock.advance(minutes(15));
    problem(from("10.0.1.1".into(), PHONE).await.unwrap(), 401, "invalid_code").await;
}

#[tokio::test]
async fn linking_needs_csrf_and_a_phone_verified_on_no_other_account() {
    let server = TestServer::start().await;
    phone_owner(&server).await;
    let bob = server.signed_in_user("bob@north.edu").await;
    server.clock.advance(minutes(1));
    assert_eq!(bob.post("/api/v1/auth/otp/request", json!({"phone": PHONE})).await.status(), 202);
    let code = code(&server, 2).await;
    let no_csrf = bob
        .client
        .post(server.url("/api/v1/auth/otp/verify"))
        .header("origin", &server.base)
        .json(&json!({"phone": PHONE, "code": code}))
        .send()
        .await
        .unwrap();
    problem(no_csrf, 403, "csrf_failed").await;
    let taken = bob.post("/api/v1/auth/otp/verify", json!({"phone": PHONE, "code": code})).await;
    problem(taken, 409, "phone_taken").await;

    // A bearer token links too (API clients carry no cookie and no CSRF token).
    let tokens: Value = server
        .post("/api/v1/auth/token", json!({"email": "bob@north.edu", "password": PASSWORD}))
        .await
        .json()
        .await
        .unwrap();
    let access = tokens["access_token"].as_str().unwrap();
    let other = "+91 91234 56789";
    let response = server
        .client
        .post(server.url("/api/v1/auth/otp/request"))
        .bearer_auth(access)
        .json(&json!({"phone": other}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 202);
    server.state.outbox_wake.notify_one();
    let code = wait_for_code(&server.data_dir().join("sms.jsonl"), "+919123456789", 1).await;
    let response = server
        .client
        .post(server.url("/api/v1/auth/otp/verify"))
        .bearer_auth(access)
        .json(&json!({"phone": other, "code": code}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert!(response.headers().get("set-cookie").is_none(), "linking starts no session");
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["outcome"], "linked");
    assert_eq!(body["user"]["email"], "bob@north.edu");
    assert_eq!(body["user"]["phone"], "+919123456789");
}

#[tokio::test]
async fn dev_echo_answers_with_the_code_in_development_only() {
    let server = TestServer::start_with(|c| c.sms.dev_echo = true).await;
    phone_owner(&server).await;
    server.clock.advance(minutes(1));
    let body: Value = request(&server, PHONE).await.json().await.unwrap();
    let echoed = body["dev_code"].as_str().expect("dev_code").to_string();
    assert_eq!(echoed, code(&server, 2).await);
    assert_eq!(verify(&server, PHONE, &echoed).await.status(), 200);

    let mut config = gatehouse::config::Config::default();
    config.server.mode = gatehouse::config::Mode::Production;
    config.server.public_url = "https://id.north.edu".into();
    config.sms.dev_echo = true;
    let error = config.finish().expect_err("dev_echo refused in production").to_string();
    assert!(error.contains("sms.dev_echo"), "{error}");
}

#[tokio::test]
async fn with_phone_signup_a_code_for_an_unknown_phone_makes_a_phone_only_account() {
    let server = TestServer::start_with(|c| c.auth.phone_signup = true).await;
    // Each verification from a new browser: no session cookie from the previous one.
    let verify = |phone: &'static str, code: String| {
        let client = server.new_user("").client;
        let url = server.url("/api/v1/auth/otp/verify");
        async move {
            client.post(url).json(&json!({"phone": phone, "code": code})).send().await.unwrap()
        }
    };
    assert_eq!(request(&server, PHONE).await.status(), 202);
    let first = code(&server, 1).await;
    problem(verify(PHONE, wrong(&first).to_string()).await, 401, "invalid_code").await;
    let response = verify(PHONE, first.clone()).await;
    assert_eq!(response.status(), 200);
    assert!(
        response
            .headers()
            .get_all("set-cookie")
            .iter()
            .any(|c| c.to_str().unwrap().starts_with("gatehouse_session="))
    );
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["outcome"], "signed_in");
    assert_eq!(body["user"]["email"], Value::Null);
    assert_eq!(body["user"]["phone"], E164);
    assert_eq!(
        server.query_i64(
            "SELECT count(*) FROM users WHERE email IS NULL AND phone_verified_at IS NOT NULL"
        ),
        1
    );

    // The same phone later signs in to the same account; the code is spent.
    problem(verify(PHONE, first.clone()).await, 401, "invalid_code").await;
    server.clock.advance(chrono::Duration::seconds(61));
    assert_eq!(request(&server, PHONE).await.status(), 202);
    let second = code(&server, 2).await;
    let again: Value = verify(PHONE, second.clone()).await.json().await.unwrap();
    assert_eq!(again["user"]["id"], body["user"]["id"]);
    assert_eq!(server.query_i64("SELECT count(*) FROM users"), 1);
}

#[tokio::test]
async fn a_disabled_account_cannot_sign_in_with_a_phone_code() {
    let server = TestServer::start().await;
    phone_owner(&server).await;
    let id: String = server.blocking_conn(|conn| {
        conn.query_row(
            "SELECT id FROM users WHERE email_index = ?1",
            [server.state.accounts.email_index("ada@north.edu")],
            |r| r.get(0),
        )
        .unwrap()
    });
    server.blocking_conn(|conn| {
        conn.execute("UPDATE users SET disabled_at = 1 WHERE id = ?1", [&id]).unwrap()
    });
    server.clock.advance(minutes(1));
    assert_eq!(request(&server, PHONE).await.status(), 202);
    let code = code(&server, 2).await;
    problem(verify(&server, PHONE, &code).await, 403, "account_disabled").await;
    let sessions =
        server.query_i64(&format!("SELECT count(*) FROM sessions WHERE user_id = '{id}'"));
    assert_eq!(sessions, 1, "only the session ada had before; none was added");
}
