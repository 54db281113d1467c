//! Account lockout: a pause after 5 failed passwords that tells nothing about the password,
//! a notice to the owner, and the ways out (time, a reset, an admin).

use serde_json::json;

use crate::harness::{PASSWORD, TestServer, problem};

const WRONG: &str = "Wrong-Pass-99";

async fn lock(server: &TestServer, email: &str) {
    let user = server.new_user(email);
    for _ in 0..5 {
        problem(user.login(WRONG, false).await, 401, "invalid_credentials").await;
    }
}

#[tokio::test]
async fn five_failures_pause_sign_ins_whatever_the_password() {
    let server = TestServer::start().await;
    server.add_campus("North", &["north.edu"]);
    server.signed_in_user("ada@north.edu").await;
    lock(&server, "ada@north.edu").await;
    let user = server.new_user("ada@north.edu");
    let right = user.login(PASSWORD, false).await;
    let wrong = user.login(WRONG, false).await;
    assert_eq!(right.headers()["retry-after"], wrong.headers()["retry-after"]);
    let retry: u64 = right.headers()["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((55..=60).contains(&retry), "{retry}");
    let right = problem(right, 429, "account_throttled").await;
    let wrong = problem(wrong, 429, "account_throttled").await;
    assert_eq!(right, wrong, "the answer must not tell whether the password was right");
    let tokens = server
        .post("/api/v1/auth/token", json!({"email": "ada@north.edu", "password": PASSWORD}))
        .await;
    problem(tokens, 429, "account_throttled").await;
    server.mail_to("ada@north.edu", "Sign-ins to your account are paused").await;
    assert_eq!(
        server.query_i64("SELECT count(*) FROM audit_log WHERE action = 'account.locked'"),
        1
    );

    server.clock.advance(chrono::Duration::seconds(61));
    assert_eq!(user.login(PASSWORD, false).await.status(), 200);
    // A success clears the count: four more failures do not lock.
    for _ in 0..4 {
        problem(user.login(WRONG, false).await, 401, "invalid_credentials").await;
    }
    assert_eq!(user.login(PASSWORD, false).await.status(), 200);
}

#[tokio::test]
async fn the_pause_doubles_and_a_reset_ends_it() {
    let server = TestServer::start().await;
    server.add_campus("North", &["north.edu"]);
    server.signed_in_user("ada@north.edu").await;
    lock(&server, "ada@north.edu").await;
    server.clock.advance(chrono::Duration::seconds(61));
    lock(&server, "ada@north.edu").await;
    let second = server.new_user("ada@north.edu").login(PASSWORD, false).await;
    let retry: u64 = second.headers()["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((115..=120).contains(&retry), "the second pause is two minutes: {retry}");
    server.flush_outbox().await;
    let notices = server.mails().iter().filter(|m| m.subject.contains("paused")).count();
    assert_eq!(notices, 1, "one notice per series");

    server.post("/api/v1/auth/password/forgot", json!({"email": "ada@north.edu"})).await;
    let token =
        server.mail_to("ada@north.edu", "Reset your password").await.link_token("/reset-password");
    let reset = server.post(
        "/api/v1/auth/password/reset",
        json!({"token": token, "new_password": "After-Reset-2026"}),
    );
    assert_eq!(reset.await.status(), 200, "a reset works for a locked account");
    assert_eq!(
        server.new_user("ada@north.edu").login("After-Reset-2026", false).await.status(),
        200
    );
}

#[tokio::test]
async fn an_admin_can_unlock_an_account() {
    let server = TestServer::start().await;
    server.add_campus("North", &["north.edu"]);
    let ada = server.signed_in_user("ada@north.edu").await;
    let ada_id = ada.get("/api/v1/auth/session").await.json::<serde_json::Value>().await.unwrap()["user"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    lock(&server, "ada@north.edu").await;

    let token = server.bootstrap_link.clone().unwrap().split("token=").nth(1).unwrap().to_string();
    server
        .post(
            "/api/v1/bootstrap",
            json!({"token": token, "email": "it@north.edu", "password": PASSWORD}),
        )
        .await;
    let admin = server.new_user("it@north.edu");
    assert_eq!(admin.login(PASSWORD, false).await.status(), 200);

    let bob = server.signed_in_user("bob@north.edu").await;
    problem(
        bob.post(&format!("/api/v1/admin/users/{ada_id}/unlock"), json!({})).await,
        403,
        "forbidden",
    )
    .await;
    problem(
        admin.post("/api/v1/admin/users/nobody/unlock", json!({})).await,
        404,
        "user_not_found",
    )
    .await;
    assert_eq!(
        admin.post(&format!("/api/v1/admin/users/{ada_id}/unlock"), json!({})).await.status(),
        204
    );
    assert_eq!(server.new_user("ada@north.edu").login(PASSWORD, false).await.status(), 200);
    assert_eq!(
        server.query_i64("SELECT count(*) FROM audit_log WHERE action = 'account.unlocked'"),
        1
    );
}

#[tokio::test]
async fn with_lockout_off_failures_are_audited_but_never_pause() {
    // Only for benchmarks and API fuzzing (production mode refuses it).
    let server = TestServer::start_with(|c| c.rate_limit.lockout = false).await;
    server.add_campus("North", &["north.edu"]);
    server.signed_in_user("ada@north.edu").await;
    let user = server.new_user("ada@north.edu");
    for _ in 0..12 {
        problem(user.login(WRONG, false).await, 401, "invalid_credentials").await;
    }
    assert_eq!(user.login(PASSWORD, false).await.status(), 200);
    assert_eq!(
        server.query_i64(
            "SELECT count(*) FROM audit_log WHERE action = 'login' AND outcome = 'failure'"
        ),
        12
    );
    assert_eq!(
        server.query_i64("SELECT count(*) FROM audit_log WHERE action = 'account.locked'"),
        0
    );
}
