//! The proof-of-work captcha through the real app: required on sign-up, asked for past an
//! address's sign-in allowance and for accounts that are being throttled; forged, expired,
//! reused and malformed solutions refused.

use serde_json::{Value, json};

use crate::support::harness::{PASSWORD, TestServer, problem};

const DIFFICULTY: u8 = 8;

fn with_captcha(c: &mut gatehouse::config::Config) {
    c.captcha.enabled = true;
    c.captcha.difficulty = DIFFICULTY;
}

/// A fresh challenge and a nonce that solves it.
async fn solved(server: &TestServer) -> Value {
    let challenge: Value = server.get("/api/v1/captcha").await.json().await.unwrap();
    let text = challenge["challenge"].as_str().unwrap();
    let difficulty = challenge["difficulty"].as_u64().unwrap() as u8;
    json!({"challenge": text, "nonce": gatehouse::captcha::solve(text, difficulty)})
}

fn registration(email: &str, captcha: Option<Value>) -> Value {
    let mut body = json!({"email": email, "password": PASSWORD, "display_name": "Ada"});
    if let Some(captcha) = captcha {
        body["captcha"] = captcha;
    }
    body
}

#[tokio::test]
async fn the_challenge_says_what_to_solve() {
    let server = TestServer::start_with(with_captcha).await;
    let response = server.get("/api/v1/captcha").await;
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["enabled"], true);
    assert_eq!(body["difficulty"], DIFFICULTY);
    assert_eq!(body["algorithm"], "sha256");
    assert_eq!(body["challenge"].as_str().unwrap().split('.').count(), 4);
    assert!(body["expires_at"].is_string());
    let other: Value = server.get("/api/v1/captcha").await.json().await.unwrap();
    assert_ne!(body["challenge"], other["challenge"]);
}

#[tokio::test]
async fn sign_up_needs_a_solution_that_works_once() {
    let server = TestServer::start_with(with_captcha).await;
    server.add_campus("North", &["north.edu"]);
    let missing = server.post("/api/v1/auth/register", registration("a@north.edu", None)).await;
    problem(missing, 428, "captcha_required").await;

    let good = solved(&server).await;
    let accepted =
        server.post("/api/v1/auth/register", registration("a@north.edu", Some(good.clone()))).await;
    assert_eq!(accepted.status(), 202);
    let reused =
        server.post("/api/v1/auth/register", registration("b@north.edu", Some(good))).await;
    problem(reused, 400, "captcha_already_used").await;
    assert_eq!(server.query_i64("SELECT count(*) FROM users"), 1);
}

#[tokio::test]
async fn forged_expired_and_malformed_solutions_are_refused() {
    let server = TestServer::start_with(with_captcha).await;
    server.add_campus("North", &["north.edu"]);
    let register = |captcha: Value| {
        server.post("/api/v1/auth/register", registration("a@north.edu", Some(captcha)))
    };
    let good = solved(&server).await;
    let challenge = good["challenge"].as_str().unwrap().to_string();
    let parts: Vec<&str> = challenge.split('.').collect();

    // Forged: a lower difficulty, a later expiry, or a made-up signature.
    let easier = format!("{}.{}.0.{}", parts[0], parts[1], parts[3]);
    problem(register(json!({"challenge": easier, "nonce": "0"})).await, 400, "captcha_invalid")
        .await;
    let later = format!("{}.{}.{}.{}", parts[0], 9_999_999_999i64, parts[2], parts[3]);
    let nonce = gatehouse::captcha::solve(&later, DIFFICULTY);
    problem(register(json!({"challenge": later, "nonce": nonce})).await, 400, "captcha_invalid")
        .await;
    let made_up = format!("{}.{}.{}.AAAA", parts[0], parts[1], parts[2]);
    let nonce = gatehouse::captcha::solve(&made_up, DIFFICULTY);
    problem(register(json!({"challenge": made_up, "nonce": nonce})).await, 400, "captcha_invalid")
        .await;
    // Not solved.
    let unsolved = (0..)
        .map(|n: u32| n.to_string())
        .find(|n| {
            use sha2::Digest;
            let hash = sha2::Sha256::digest(format!("{challenge}:{n}"));
            gatehouse::captcha::leading_zero_bits(&hash) < u32::from(DIFFICULTY)
        })
        .unwrap();
    problem(
        register(json!({"challenge": challenge, "nonce": unsolved})).await,
        400,
        "captcha_invalid",
    )
    .await;
    // Malformed.
    for bad in [
        json!({"challenge": "", "nonce": "1"}),
        json!({"challenge": "not.a.challenge", "nonce": "1"}),
        json!({"challenge": challenge, "nonce": ""}),
        json!({"challenge": challenge, "nonce": "../../etc"}),
        json!({"challenge": challenge, "nonce": "9".repeat(1000)}),
        json!({"challenge": "x".repeat(10_000), "nonce": "1"}),
    ] {
        problem(register(bad).await, 400, "captcha_invalid").await;
    }
    for wrong_shape in [json!("a string"), json!({"challenge": challenge}), json!(42)] {
        problem(register(wrong_shape).await, 400, "malformed_request").await;
    }
    // The good one still works: refused attempts spend nothing.
    assert_eq!(register(good.clone()).await.status(), 202);
    // Expired.
    let stale = solved(&server).await;
    server.clock.advance(chrono::Duration::seconds(300));
    problem(register(stale).await, 400, "captcha_expired").await;
}

#[tokio::test]
async fn past_an_address_allowance_sign_ins_need_a_captcha_instead_of_being_refused() {
    let server = TestServer::start_with(|c| {
        with_captcha(c);
        c.rate_limit.enabled = true;
        c.rate_limit.auth_per_ip = 3;
        c.server.trusted_proxies = vec!["127.0.0.1/32".parse().unwrap()];
    })
    .await;
    server.add_campus("North", &["north.edu"]);
    let login = |email: &str, captcha: Option<Value>| {
        let mut body = json!({"email": email, "password": "Guess-Pass-11"});
        if let Some(captcha) = captcha {
            body["captcha"] = captcha;
        }
        server
            .client
            .post(server.url("/api/v1/auth/login"))
            .header("x-forwarded-for", "198.51.100.9")
            .json(&body)
            .send()
    };
    for i in 0..3 {
        problem(login(&format!("s{i}@north.edu"), None).await.unwrap(), 401, "invalid_credentials")
            .await;
    }
    problem(login("s9@north.edu", None).await.unwrap(), 428, "captcha_required").await;
    let paid = login("s9@north.edu", Some(solved(&server).await)).await.unwrap();
    problem(paid, 401, "invalid_credentials").await;
    let forged = json!({"challenge": "a.1.8.b", "nonce": "1"});
    problem(login("s9@north.edu", Some(forged)).await.unwrap(), 400, "captcha_invalid").await;
}

#[tokio::test]
async fn with_the_captcha_off_the_address_allowance_is_a_plain_429() {
    let server = TestServer::start_with(|c| {
        c.rate_limit.enabled = true;
        c.rate_limit.auth_per_ip = 1;
    })
    .await;
    server.add_campus("North", &["north.edu"]);
    let body = |email: &str| json!({"email": email, "password": "Guess-Pass-11"});
    assert_eq!(server.post("/api/v1/auth/login", body("a@north.edu")).await.status(), 401);
    problem(server.post("/api/v1/auth/login", body("b@north.edu")).await, 429, "rate_limited")
        .await;
    // And sign-up needs no solution.
    server.add_campus("South", &["south.edu"]);
    let challenge: Value = server.get("/api/v1/captcha").await.json().await.unwrap();
    assert_eq!(challenge["enabled"], false);
}

#[tokio::test]
async fn an_account_that_was_locked_needs_a_captcha_until_it_signs_in() {
    let server = TestServer::start_with(with_captcha).await;
    server.add_campus("North", &["north.edu"]);
    let good = solved(&server).await;
    let registered =
        server.post("/api/v1/auth/register", registration("ada@north.edu", Some(good))).await;
    assert_eq!(registered.status(), 202);
    let token = server.mail_to("ada@north.edu", "Confirm").await.link_token("/verify-email");
    server.post("/api/v1/auth/verify-email", json!({"token": token})).await;
    let user = server.new_user("ada@north.edu");
    for _ in 0..5 {
        problem(user.login("Wrong-Pass-99", false).await, 401, "invalid_credentials").await;
    }
    problem(user.login(PASSWORD, false).await, 429, "account_throttled").await;
    server.clock.advance(chrono::Duration::seconds(61));
    // The pause is over, but the account is still being throttled: right and wrong passwords
    // alike are asked for a captcha.
    let right = problem(user.login(PASSWORD, false).await, 428, "captcha_required").await;
    let wrong = problem(user.login("Wrong-Pass-99", false).await, 428, "captcha_required").await;
    assert_eq!(right, wrong);
    let tokens = server
        .post("/api/v1/auth/token", json!({"email": "ada@north.edu", "password": PASSWORD}))
        .await;
    problem(tokens, 428, "captcha_required").await;
    let with_captcha = user
        .client
        .post(user.url("/api/v1/auth/login"))
        .json(&json!({"email": "ada@north.edu", "password": PASSWORD, "captcha": solved(&server).await}))
        .send()
        .await
        .unwrap();
    assert_eq!(with_captcha.status(), 200);
    // A successful sign-in ends it.
    assert_eq!(user.login(PASSWORD, false).await.status(), 200);
}
