//! Account lockout: a pause after 5 failed passwords that tells nothing about the password,
//! a notice to the owner, and the ways out (time, a reset, an admin, a solved captcha with the
//! right password). An unknown email answers like a locked account, and the account's own
//! password checks (password change, deletion, second-factor changes) count in the lockout.

use serde_json::{Value, json};

use crate::support::harness::{PASSWORD, TestServer, User, problem};

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

const DIFFICULTY: u8 = 8;

/// A server with the captcha on, at a difficulty a test solves at once.
async fn with_captcha() -> TestServer {
    TestServer::start_with(|c| {
        c.captcha.enabled = true;
        c.captcha.difficulty = DIFFICULTY;
    })
    .await
}

/// A fresh challenge and a nonce that solves it.
async fn solved(server: &TestServer) -> Value {
    let challenge: Value = server.get("/api/v1/captcha").await.json().await.unwrap();
    let text = challenge["challenge"].as_str().unwrap();
    let difficulty = challenge["difficulty"].as_u64().unwrap() as u8;
    json!({"challenge": text, "nonce": gatehouse::captcha::solve(text, difficulty)})
}

/// Registers (with a solved captcha) and verifies an account on a server with the captcha on.
async fn verified_user(server: &TestServer, email: &str) -> User {
    let body = json!({"email": email, "password": PASSWORD, "display_name": "Ada",
                      "captcha": solved(server).await});
    assert_eq!(server.post("/api/v1/auth/register", body).await.status(), 202);
    let token = server.mail_to(email, "Confirm").await.link_token("/verify-email");
    let verified = server.post("/api/v1/auth/verify-email", json!({"token": token})).await;
    assert_eq!(verified.status(), 200);
    server.new_user(email)
}

/// A sign-in, with a solved captcha when `captcha` is set.
async fn login(
    server: &TestServer,
    email: &str,
    password: &str,
    captcha: bool,
) -> reqwest::Response {
    let mut body = json!({"email": email, "password": password});
    if captcha {
        body["captcha"] = solved(server).await;
    }
    server.post("/api/v1/auth/login", body).await
}

/// Status, `Retry-After` and body of an answer.
async fn answer(response: reqwest::Response) -> (u16, Option<String>, Value) {
    let status = response.status().as_u16();
    let retry = response.headers().get("retry-after").map(|v| v.to_str().unwrap().to_string());
    (status, retry, response.json().await.unwrap())
}

#[tokio::test]
async fn an_unknown_email_answers_like_a_locked_account() {
    let server = with_captcha().await;
    server.add_campus("North", &["north.edu"]);
    verified_user(&server, "ada@north.edu").await;
    let (real, unknown) = ("ada@north.edu", "nobody@north.edu");
    // Each step: the real account (with its right password once it is paused) and the unknown
    // email, at the same moment, must answer the same.
    let both = |password_for_real: &'static str, captcha: bool| {
        let server = &server;
        async move {
            let real = answer(login(server, real, password_for_real, captcha).await).await;
            let unknown = answer(login(server, unknown, WRONG, captcha).await).await;
            assert_eq!(real, unknown, "the answers tell the accounts apart");
            real
        }
    };
    for _ in 0..5 {
        assert_eq!(both(WRONG, false).await.0, 401);
    }
    let (status, retry, body) = both(PASSWORD, false).await;
    assert_eq!((status, body["code"].as_str()), (429, Some("account_throttled")));
    assert_eq!(retry.as_deref(), Some("60"));
    let tokens = |email: &str| {
        server.post("/api/v1/auth/token", json!({"email": email, "password": PASSWORD}))
    };
    assert_eq!(answer(tokens(real).await).await, answer(tokens(unknown).await).await);

    // After the pause, both are being throttled: a captcha is asked for.
    server.clock.advance(chrono::Duration::seconds(61));
    let (status, _, body) = both(WRONG, false).await;
    assert_eq!((status, body["code"].as_str()), (428, Some("captcha_required")));
    // With one, wrong passwords count alike: five more lock both for two minutes.
    for _ in 0..5 {
        assert_eq!(both(WRONG, true).await.0, 401);
    }
    let (status, retry, _) = both(PASSWORD, false).await;
    assert_eq!((status, retry.as_deref()), (429, Some("120")));

    // Only the email's blind index is kept.
    let index: Vec<u8> = server.blocking_conn(|conn| {
        conn.query_row("SELECT email_index FROM unknown_email_lockouts", [] as [i64; 0], |r| {
            r.get(0)
        })
        .unwrap()
    });
    assert_eq!(index, server.state.accounts.email_index(unknown));
}

#[tokio::test]
async fn unknown_emails_rows_are_forgotten_when_stale_like_an_accounts_series() {
    let server = TestServer::start().await;
    server.add_campus("North", &["north.edu"]);
    server.signed_in_user("ada@north.edu").await;
    for email in ["ada@north.edu", "nobody@north.edu"] {
        for _ in 0..5 {
            problem(server.new_user(email).login(WRONG, false).await, 401, "invalid_credentials")
                .await;
        }
    }
    let rows = || server.query_i64("SELECT count(*) FROM unknown_email_lockouts");
    assert_eq!(rows(), 1);
    assert_eq!(server.query_i64("SELECT count(*) FROM unknown_email_failures"), 5);
    server.clock.advance(chrono::Duration::days(1));
    server.state.privacy.run_retention().await.unwrap();
    assert_eq!(rows(), 1, "a day is not stale");
    assert_eq!(server.query_i64("SELECT count(*) FROM unknown_email_failures"), 0);
    server.clock.advance(chrono::Duration::days(30));
    server.state.privacy.run_retention().await.unwrap();
    assert_eq!(rows(), 0);
    assert_eq!(server.query_i64("SELECT lock_level FROM users"), 0, "the account's series too");
}

/// A check of the signed-in owner's password: who, the request, its body for a password, the
/// answer to a wrong one, and the name its failures are audited under.
struct PasswordCheck {
    email: &'static str,
    method: reqwest::Method,
    path: &'static str,
    body: fn(&str) -> Value,
    wrong_status: u16,
    audited_as: &'static str,
}

#[tokio::test]
async fn wrong_current_passwords_at_the_account_checks_lock_the_account() {
    let server = TestServer::start().await;
    server.add_campus("North", &["north.edu"]);
    let checks = [
        PasswordCheck {
            email: "a@north.edu",
            method: reqwest::Method::POST,
            path: "/api/v1/account/password",
            body: |p| json!({"current_password": p, "new_password": "Another-Pass-42"}),
            wrong_status: 422,
            audited_as: "change_password",
        },
        PasswordCheck {
            email: "b@north.edu",
            method: reqwest::Method::DELETE,
            path: "/api/v1/account",
            body: |p| json!({"password": p}),
            wrong_status: 401,
            audited_as: "delete_account",
        },
        PasswordCheck {
            email: "c@north.edu",
            method: reqwest::Method::DELETE,
            path: "/api/v1/account/mfa/totp",
            body: |p| json!({"password": p, "code": "123456"}),
            wrong_status: 422,
            audited_as: "disable_totp",
        },
        PasswordCheck {
            email: "d@north.edu",
            method: reqwest::Method::POST,
            path: "/api/v1/account/mfa/recovery-codes",
            body: |p| json!({"password": p, "code": "123456"}),
            wrong_status: 422,
            audited_as: "recovery_codes",
        },
    ];
    for check in checks {
        let (email, path) = (check.email, check.path);
        let session = server.signed_in_user(email).await;
        let send = |password: &str| {
            session.send(check.method.clone(), path).json(&(check.body)(password)).send()
        };
        for _ in 0..5 {
            assert_eq!(send(WRONG).await.unwrap().status(), check.wrong_status, "{path}");
        }
        // Locked: sign-ins and the check itself are refused, right password or not.
        let refused = send(PASSWORD).await.unwrap();
        assert_eq!(refused.headers()["retry-after"], "60", "{path}");
        problem(refused, 429, "account_throttled").await;
        problem(server.new_user(email).login(PASSWORD, false).await, 429, "account_throttled")
            .await;
        server.mail_to(email, "Sign-ins to your account are paused").await;
        // Audited as failed password checks, with where they were entered.
        let index = server.state.accounts.email_index(email);
        let details: Vec<Option<String>> = server.blocking_conn(|conn| {
            conn.query_map(
                "SELECT a.details FROM audit_log a JOIN users u ON u.id = a.subject_id
                 WHERE u.email_index = ?1 AND a.action = 'login' AND a.outcome = 'failure'",
                [&index],
                |r| r.get(0),
            )
            .unwrap()
        });
        let audited = details
            .iter()
            .flatten()
            .filter(|d| serde_json::from_str::<Value>(d).unwrap()["for"] == check.audited_as)
            .count();
        assert_eq!(audited, 5, "{path}");
    }
    assert_eq!(server.query_i64("SELECT count(*) FROM users"), 4, "nothing was deleted");
}

#[tokio::test]
async fn the_right_password_with_a_captcha_gets_through_a_pause() {
    let server = with_captcha().await;
    server.add_campus("North", &["north.edu"]);
    let ada = verified_user(&server, "ada@north.edu").await;
    for _ in 0..5 {
        problem(ada.login(WRONG, false).await, 401, "invalid_credentials").await;
    }
    // Paused: without a captcha, even the right password is refused; the token endpoint
    // keeps refusing during a pause, captcha or not.
    problem(ada.login(PASSWORD, false).await, 429, "account_throttled").await;
    let grant =
        json!({"email": "ada@north.edu", "password": PASSWORD, "captcha": solved(&server).await});
    problem(server.post("/api/v1/auth/token", grant).await, 429, "account_throttled").await;
    // With a captcha, a wrong password is evaluated and counts: five lock it again, longer.
    for _ in 0..5 {
        problem(login(&server, "ada@north.edu", WRONG, true).await, 401, "invalid_credentials")
            .await;
    }
    let paused = ada.login(PASSWORD, false).await;
    assert_eq!(paused.headers()["retry-after"], "120", "a second lock, while paused");
    problem(paused, 429, "account_throttled").await;
    // The right one signs in, and ends the lockout.
    assert_eq!(login(&server, "ada@north.edu", PASSWORD, true).await.status(), 200);
    assert_eq!(ada.login(PASSWORD, false).await.status(), 200, "no pause, no captcha now");
}

#[tokio::test]
async fn with_the_captcha_off_a_solution_does_not_get_through_a_pause() {
    let server = TestServer::start_with(|c| c.captcha.difficulty = DIFFICULTY).await;
    server.add_campus("North", &["north.edu"]);
    server.signed_in_user("ada@north.edu").await;
    lock(&server, "ada@north.edu").await;
    let challenge: Value = server.get("/api/v1/captcha").await.json().await.unwrap();
    assert_eq!(challenge["enabled"], false);
    let body =
        json!({"email": "ada@north.edu", "password": PASSWORD, "captcha": solved(&server).await});
    problem(server.post("/api/v1/auth/login", body).await, 429, "account_throttled").await;
}

#[tokio::test]
async fn the_hourly_cap_holds_even_with_a_captcha() {
    let server = with_captcha().await;
    server.add_campus("North", &["north.edu"]);
    let ada = verified_user(&server, "ada@north.edu").await;
    let id: String = server.blocking_conn(|conn| {
        conn.query_row("SELECT id FROM users", [] as [i64; 0], |r| r.get(0)).unwrap()
    });
    // 95 failed passwords in the last hour (the oldest 30 minutes ago), as the audit log
    // counts them; five more lock the account and reach the cap of 100.
    use gatehouse::clock::Clock;
    let now = server.clock.unix();
    server.blocking_conn(|conn| {
        for i in 0..95 {
            conn.execute(
                "INSERT INTO audit_log (at, action, subject_id, outcome) VALUES (?1, 'login', ?2, 'failure')",
                rusqlite::params![now - 1800 + i, id],
            )
            .unwrap();
        }
    });
    for _ in 0..5 {
        problem(ada.login(WRONG, false).await, 401, "invalid_credentials").await;
    }
    // A captcha would get the right password through the pause (a minute), but not past the
    // cap: refused until the oldest failure is an hour old.
    let refused = login(&server, "ada@north.edu", PASSWORD, true).await;
    assert_eq!(refused.headers()["retry-after"], "1800");
    problem(refused, 429, "account_throttled").await;
    server.clock.advance(chrono::Duration::seconds(1801));
    assert_eq!(login(&server, "ada@north.edu", PASSWORD, true).await.status(), 200);
}
