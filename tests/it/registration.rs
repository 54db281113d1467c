//! Sign-up restricted to campus domains, email verification, resend.

use serde_json::json;

use crate::support::harness::{PASSWORD, TestServer, problem};

async fn register(server: &TestServer, email: &str, password: &str) -> reqwest::Response {
    server
        .post(
            "/api/v1/auth/register",
            json!({"email": email, "password": password, "display_name": "Ada"}),
        )
        .await
}

#[tokio::test]
async fn only_campus_domains_may_sign_up() {
    let server = TestServer::start().await;
    server.add_campus("North", &["north.edu"]);
    problem(register(&server, "ada@gmail.com", PASSWORD).await, 422, "campus_domain_not_allowed")
        .await;
    problem(
        register(&server, "ada@cs.north.edu", PASSWORD).await,
        422,
        "campus_domain_not_allowed",
    )
    .await;
    assert_eq!(register(&server, "ada@north.edu", PASSWORD).await.status(), 202);
    server.add_campus("CS", &["cs.north.edu"]);
    assert_eq!(register(&server, "bob@cs.north.edu", PASSWORD).await.status(), 202);
    assert_eq!(server.query_i64("SELECT count(*) FROM users"), 2);
}

#[tokio::test]
async fn bad_emails_are_refused_with_a_field_error() {
    let server = TestServer::start().await;
    server.add_campus("North", &["north.edu"]);
    let long = format!("{}@north.edu", "a".repeat(10_000));
    for email in [
        "ada lovelace@north.edu",
        "ada.north.edu",
        "",
        "adä@north.edu",
        long.as_str(),
        "ada@@north.edu",
    ] {
        let body =
            problem(register(&server, email, PASSWORD).await, 422, "validation_failed").await;
        assert_eq!(body["errors"][0]["field"], "email", "{email:?}: {body}");
    }
    // Spaces around and upper case are normalised, plus-addressing is an address of its own.
    assert_eq!(register(&server, "  Ada@North.EDU ", PASSWORD).await.status(), 202);
    assert_eq!(register(&server, "ada+rides@north.edu", PASSWORD).await.status(), 202);
    server.flush_outbox().await;
    assert_eq!(server.mail_count("ada@north.edu"), 1);
    assert_eq!(server.query_i64("SELECT count(*) FROM users"), 2);
}

#[tokio::test]
async fn passwords_are_checked_against_the_policy_and_never_truncated() {
    let server = TestServer::start().await;
    server.add_campus("North", &["north.edu"]);
    let cases = [
        (String::new(), "at least 8"),
        ("Abcdef7".to_string(), "at least 8"),
        (format!("Ab1{}", "z".repeat(126)), "at most 128"),
        (format!("Ab1{}", "z".repeat(9_997)), "at most 128"),
        ("Abc\u{0}defg12".to_string(), "Control"),
        ("password1".to_string(), "upper-case"),
        ("Password1".to_string(), "common"),
        ("Grace-2024x".to_string(), "email"),
    ];
    for (password, reason) in cases {
        let response = register(&server, "grace@north.edu", &password).await;
        let body = problem(response, 422, "validation_failed").await;
        assert_eq!(body["errors"][0]["field"], "password");
        let message = body["errors"][0]["message"].as_str().unwrap();
        assert!(message.contains(reason), "{password:?}: {message}");
    }
    let exactly_128 = format!("Ab1{}", "z".repeat(125));
    assert_eq!(register(&server, "max@north.edu", &exactly_128).await.status(), 202);
    assert_eq!(register(&server, "emoji@north.edu", "Ünïcödé1🔒🔒").await.status(), 202);
    // The 128th character matters: a 127-character prefix does not sign in.
    let mail = server.mail_to("max@north.edu", "Confirm").await;
    server
        .post("/api/v1/auth/verify-email", json!({"token": mail.link_token("/verify-email")}))
        .await;
    let user = server.new_user("max@north.edu");
    assert_eq!(user.login(&exactly_128[..127], false).await.status(), 401);
    assert_eq!(user.login(&exactly_128, false).await.status(), 200);
}

#[tokio::test]
async fn registering_an_existing_email_looks_the_same_and_warns_the_owner() {
    let server = TestServer::start().await;
    server.add_campus("North", &["north.edu"]);
    let first = register(&server, "ada@north.edu", PASSWORD).await;
    let (status, body) = (first.status(), first.text().await.unwrap());
    assert_eq!(status, 202);
    assert_eq!(body, r#"{"status":"verification_sent"}"#);
    server.mail_to("ada@north.edu", "Confirm your email").await;
    let again = register(&server, "ADA@north.edu", "Another-Pass-77").await;
    assert_eq!(again.status(), status);
    assert_eq!(again.text().await.unwrap(), body);
    let notice = server.mail_to("ada@north.edu", "Someone tried to sign up").await;
    assert!(notice.text.contains("reset"), "{}", notice.text);
    assert_eq!(server.query_i64("SELECT count(*) FROM users"), 1);
}

#[tokio::test]
async fn concurrent_sign_ups_with_one_email_make_one_account() {
    let server = TestServer::start().await;
    server.add_campus("North", &["north.edu"]);
    let tasks: Vec<_> = (0..8)
        .map(|_| {
            let (client, url) = (server.client.clone(), server.url("/api/v1/auth/register"));
            tokio::spawn(async move {
                let body =
                    json!({"email": "race@north.edu", "password": PASSWORD, "display_name": "R"});
                client.post(url).json(&body).send().await.unwrap().status()
            })
        })
        .collect();
    for task in tasks {
        assert_eq!(task.await.unwrap(), 202);
    }
    assert_eq!(server.query_i64("SELECT count(*) FROM users"), 1);
}

#[tokio::test]
async fn verification_links_work_once_and_expire() {
    let server = TestServer::start().await;
    server.add_campus("North", &["north.edu"]);
    let response = register(&server, "ada@north.edu", PASSWORD).await;
    let body = response.text().await.unwrap();
    let mail = server.mail_to("ada@north.edu", "Confirm your email").await;
    let token = mail.link_token("/verify-email");
    assert!(token.len() >= 43, "at least 256 bits: {token}");
    assert!(!body.contains(&token));
    assert!(
        mail.text.contains(&format!("{}/verify-email?token=", server.base)),
        "link from public_url"
    );
    assert!(mail.html.contains(&token));

    let user = server.new_user("ada@north.edu");
    problem(user.login("Wrong-Pass-99", false).await, 401, "invalid_credentials").await;
    problem(user.login(PASSWORD, false).await, 403, "email_not_verified").await;

    problem(
        server.post("/api/v1/auth/verify-email", json!({"token": "forged-token"})).await,
        400,
        "invalid_token",
    )
    .await;
    let truncated = &token[..token.len() - 1];
    problem(
        server.post("/api/v1/auth/verify-email", json!({"token": truncated})).await,
        400,
        "invalid_token",
    )
    .await;
    let ok = server.post("/api/v1/auth/verify-email", json!({"token": token})).await;
    assert_eq!(ok.status(), 200);
    problem(
        server.post("/api/v1/auth/verify-email", json!({"token": token})).await,
        400,
        "token_already_used",
    )
    .await;
    assert_eq!(user.login(PASSWORD, false).await.status(), 200);

    register(&server, "late@north.edu", PASSWORD).await;
    let late = server.mail_to("late@north.edu", "Confirm").await.link_token("/verify-email");
    server.clock.advance(chrono::Duration::hours(24) + chrono::Duration::seconds(1));
    problem(
        server.post("/api/v1/auth/verify-email", json!({"token": late})).await,
        400,
        "token_expired",
    )
    .await;
    assert_eq!(
        server.query_i64("SELECT count(*) FROM audit_log WHERE action = 'email.verified'"),
        1
    );
}

#[tokio::test]
async fn resend_answers_202_always_and_is_rate_limited() {
    let server = TestServer::start().await;
    server.add_campus("North", &["north.edu"]);
    register(&server, "ada@north.edu", PASSWORD).await;
    server.mail_to("ada@north.edu", "Confirm").await;
    let resend = |email: &'static str| {
        server.post("/api/v1/auth/verify-email/resend", json!({"email": email}))
    };
    let unknown = resend("nobody@north.edu").await;
    assert_eq!(unknown.status(), 202);
    let unknown_body = unknown.text().await.unwrap();
    // Within the first minute: answered the same, nothing sent.
    let early = resend("ada@north.edu").await;
    assert_eq!(early.status(), 202);
    assert_eq!(early.text().await.unwrap(), unknown_body);
    server.flush_outbox().await;
    assert_eq!(server.mail_count("ada@north.edu"), 1);
    server.clock.advance(chrono::Duration::seconds(61));
    assert_eq!(resend("ada@north.edu").await.status(), 202);
    server.flush_outbox().await;
    assert_eq!(server.mail_count("ada@north.edu"), 2);
    // The new link replaces the old one.
    let mails = server.mails();
    let first = mails[0].link_token("/verify-email");
    let second = mails[1].link_token("/verify-email");
    problem(
        server.post("/api/v1/auth/verify-email", json!({"token": first})).await,
        400,
        "token_already_used",
    )
    .await;
    assert_eq!(
        server.post("/api/v1/auth/verify-email", json!({"token": second})).await.status(),
        200
    );
    problem(resend("not an email").await, 422, "validation_failed").await;
}
