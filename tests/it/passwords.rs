//! Changing a password, and resetting a forgotten one by email.

use std::time::Duration;

use serde_json::json;

use crate::support::harness::{PASSWORD, TestServer, problem, raw_request};

const NEW_PASSWORD: &str = "Brand-New-Pass-2026";

#[tokio::test]
async fn changing_the_password_ends_other_sessions_and_notifies() {
    let server = TestServer::start().await;
    server.add_campus("North", &["north.edu"]);
    let laptop = server.signed_in_user("ada@north.edu").await;
    let phone = server.new_user("ada@north.edu");
    phone.login(PASSWORD, false).await;

    let change = |current: &str, new: &str| {
        laptop.post(
            "/api/v1/account/password",
            json!({"current_password": current, "new_password": new}),
        )
    };
    let body = problem(change("Wrong-Pass-99", NEW_PASSWORD).await, 422, "validation_failed").await;
    assert_eq!(body["errors"][0]["field"], "current_password");
    let body = problem(change(PASSWORD, "short1A").await, 422, "validation_failed").await;
    assert_eq!(body["errors"][0]["field"], "new_password");
    problem(change(PASSWORD, PASSWORD).await, 422, "validation_failed").await;
    assert_eq!(phone.get("/api/v1/auth/session").await.status(), 200, "refusals change nothing");

    let ok = change(PASSWORD, NEW_PASSWORD).await;
    assert_eq!(ok.status(), 200);
    let ok: serde_json::Value = ok.json().await.unwrap();
    assert!(ok["strength"].as_u64().unwrap() >= 3, "{ok}");
    assert_eq!(phone.get("/api/v1/auth/session").await.status(), 401);
    assert_eq!(laptop.get("/api/v1/auth/session").await.status(), 200);
    server.mail_to("ada@north.edu", "Your password was changed").await;
    let other = server.new_user("ada@north.edu");
    assert_eq!(other.login(PASSWORD, false).await.status(), 401);
    assert_eq!(other.login(NEW_PASSWORD, false).await.status(), 200);
    assert_eq!(
        server.query_i64("SELECT count(*) FROM audit_log WHERE action = 'password.changed'"),
        1
    );
}

#[tokio::test]
async fn forgot_answers_the_same_for_everyone_and_mails_only_owners() {
    let server = TestServer::start().await;
    server.add_campus("North", &["north.edu"]);
    server.signed_in_user("ada@north.edu").await;
    let known =
        server.post("/api/v1/auth/password/forgot", json!({"email": "ada@north.edu"})).await;
    let unknown =
        server.post("/api/v1/auth/password/forgot", json!({"email": "nobody@north.edu"})).await;
    assert_eq!(known.status(), 202);
    assert_eq!(unknown.status(), 202);
    assert_eq!(known.text().await.unwrap(), unknown.text().await.unwrap());
    let mail = server.mail_to("ada@north.edu", "Reset your password").await;
    assert!(mail.text.contains(&format!("{}/reset-password?token=", server.base)));
    server.flush_outbox().await;
    assert_eq!(server.mail_count("nobody@north.edu"), 0);
}

#[tokio::test]
async fn a_reset_sets_the_password_ends_every_session_and_works_once() {
    let server = TestServer::start().await;
    server.add_campus("North", &["north.edu"]);
    let user = server.signed_in_user("ada@north.edu").await;
    // Warm the session cache: the reset must beat it.
    assert_eq!(user.get("/api/v1/auth/session").await.status(), 200);
    server.post("/api/v1/auth/password/forgot", json!({"email": "ada@north.edu"})).await;
    let token =
        server.mail_to("ada@north.edu", "Reset your password").await.link_token("/reset-password");

    let reset = |token: &str, password: &str| {
        server
            .post("/api/v1/auth/password/reset", json!({"token": token, "new_password": password}))
    };
    problem(reset("forged", NEW_PASSWORD).await, 400, "invalid_token").await;
    let weak = problem(reset(&token, "password").await, 422, "validation_failed").await;
    assert_eq!(weak["errors"][0]["field"], "new_password");
    assert_eq!(
        reset(&token, NEW_PASSWORD).await.status(),
        200,
        "a refused password does not spend the link"
    );
    problem(reset(&token, "Another-Pass-77").await, 400, "token_already_used").await;
    problem(user.get("/api/v1/auth/session").await, 401, "unauthenticated").await;
    server.mail_to("ada@north.edu", "Your password was changed").await;
    assert_eq!(server.new_user("ada@north.edu").login(NEW_PASSWORD, false).await.status(), 200);
}

/// Links are built from `server.public_url`, never from the request: a forged `Host` (or a
/// forwarded host, even from a trusted proxy) would otherwise send the owner's reset token to
/// the attacker's site when the link is clicked.
#[tokio::test]
async fn a_forged_host_header_still_mails_a_public_url_link() {
    let server = TestServer::start_with(|c| {
        c.server.public_url = "https://id.north.edu".into();
        c.server.trusted_proxies = vec!["127.0.0.0/8".parse().unwrap()];
    })
    .await;
    server.add_campus("North", &["north.edu"]);
    server.signed_in_user("ada@north.edu").await;
    let post = |path: &str, body: &str, headers: &str| {
        let request = format!(
            "POST {path} HTTP/1.1\r\n{headers}Content-Type: application/json\r\n\
             Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        );
        let addr = server.addr;
        tokio::task::spawn_blocking(move || {
            raw_request(addr, &[request.into_bytes()], Duration::ZERO)
        })
    };
    let forgeries = [
        "Host: evil.example\r\n",
        "Host: evil.example:8443\r\nX-Forwarded-Host: evil.example\r\nX-Forwarded-Proto: http\r\n",
        "Host: id.north.edu\r\nX-Forwarded-Host: evil.example\r\nX-Forwarded-Port: 80\r\n",
        "Host: id.north.edu\r\nForwarded: for=127.0.0.1;host=evil.example;proto=http\r\n",
    ];
    for (n, headers) in forgeries.iter().enumerate() {
        // One reset link a minute per account.
        server.clock.advance(chrono::Duration::minutes(2));
        let body = r#"{"email":"ada@north.edu"}"#;
        let answer = post("/api/v1/auth/password/forgot", body, headers).await.unwrap();
        assert_eq!(answer.status, 202, "{}", answer.text);
        server.flush_outbox().await;
        let resets: Vec<_> = server
            .mails()
            .into_iter()
            .filter(|m| m.to == "ada@north.edu" && m.subject.contains("Reset your password"))
            .collect();
        assert_eq!(resets.len(), n + 1, "{headers}");
        for mail in &resets {
            assert!(
                mail.text.contains("https://id.north.edu/reset-password?token="),
                "{}",
                mail.text
            );
            assert!(!mail.text.contains("evil") && !mail.html.contains("evil"), "{headers}");
        }
    }

    // The same for a sign-up's verification link.
    let body =
        format!(r#"{{"email":"bob@north.edu","password":"{PASSWORD}","display_name":"Bob"}}"#);
    let answer = post("/api/v1/auth/register", &body, forgeries[1]).await.unwrap();
    assert_eq!(answer.status, 202, "{}", answer.text);
    let mail = server.mail_to("bob@north.edu", "Confirm your email").await;
    assert!(mail.text.contains("https://id.north.edu/verify-email?token="), "{}", mail.text);
    assert!(!mail.text.contains("evil") && !mail.html.contains("evil"));
}

#[tokio::test]
async fn reset_links_expire_after_an_hour_and_a_new_one_replaces_the_old() {
    let server = TestServer::start().await;
    server.add_campus("North", &["north.edu"]);
    server.signed_in_user("ada@north.edu").await;
    server.post("/api/v1/auth/password/forgot", json!({"email": "ada@north.edu"})).await;
    let first =
        server.mail_to("ada@north.edu", "Reset your password").await.link_token("/reset-password");
    server.clock.advance(chrono::Duration::minutes(61));
    let expired = server
        .post("/api/v1/auth/password/reset", json!({"token": first, "new_password": NEW_PASSWORD}));
    problem(expired.await, 400, "token_expired").await;

    server.post("/api/v1/auth/password/forgot", json!({"email": "ada@north.edu"})).await;
    server.flush_outbox().await;
    let mails: Vec<_> =
        server.mails().into_iter().filter(|m| m.subject.contains("Reset")).collect();
    assert_eq!(mails.len(), 2);
    let second = mails[1].link_token("/reset-password");
    assert_ne!(first, second);
    let ok = server.post(
        "/api/v1/auth/password/reset",
        json!({"token": second, "new_password": NEW_PASSWORD}),
    );
    assert_eq!(ok.await.status(), 200);
}

#[tokio::test]
async fn the_strength_meter_reports_policy_and_score() {
    let server = TestServer::start().await;
    let rate = |password: &str| {
        server.post(
            "/api/v1/auth/password/strength",
            json!({"password": password, "email": "ada@north.edu"}),
        )
    };
    let weak: serde_json::Value = rate("Password1").await.json().await.unwrap();
    assert_eq!(weak["acceptable"], false);
    assert!(weak["problem"].as_str().unwrap().contains("common"));
    let strong: serde_json::Value = rate("Violet-Kettle-Harbor-88").await.json().await.unwrap();
    assert_eq!(strong["acceptable"], true);
    assert_eq!(strong["score"], 4);
}

#[tokio::test]
async fn a_sign_in_racing_a_reset_never_outlives_it() {
    let server = TestServer::start().await;
    server.add_campus("North", &["north.edu"]);
    server.signed_in_user("ada@north.edu").await;
    server.post("/api/v1/auth/password/forgot", json!({"email": "ada@north.edu"})).await;
    let token =
        server.mail_to("ada@north.edu", "Reset your password").await.link_token("/reset-password");
    // Sign-ins with the old password keep coming while the reset lands.
    let attackers: Vec<_> = (0..4)
        .map(|_| {
            let user = server.new_user("ada@north.edu");
            tokio::spawn(async move {
                let mut signed_in = Vec::new();
                for _ in 0..6 {
                    if user.login(PASSWORD, false).await.status() == 200 {
                        signed_in.push(user.cookie("gatehouse_session").unwrap());
                    }
                }
                signed_in
            })
        })
        .collect();
    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    let reset = server
        .post("/api/v1/auth/password/reset", json!({"token": token, "new_password": NEW_PASSWORD}));
    assert_eq!(reset.await.status(), 200);
    let reset_at =
        server.query_i64("SELECT max(id) FROM audit_log WHERE action = 'password.reset'");
    for attacker in attackers {
        attacker.await.unwrap();
    }
    // Every session that exists now was made after the reset, with the new password: none.
    let sessions_after = server.query_i64(&format!(
        "SELECT count(*) FROM audit_log WHERE action = 'login' AND outcome = 'success' AND id > {reset_at}"
    ));
    assert_eq!(sessions_after, 0, "a sign-in with the old password succeeded after the reset");
    assert_eq!(server.query_i64("SELECT count(*) FROM sessions"), 0);
}

#[tokio::test]
async fn one_reset_link_used_twice_at_once_works_once() {
    let server = TestServer::start().await;
    server.add_campus("North", &["north.edu"]);
    server.signed_in_user("ada@north.edu").await;
    server.post("/api/v1/auth/password/forgot", json!({"email": "ada@north.edu"})).await;
    let token =
        server.mail_to("ada@north.edu", "Reset your password").await.link_token("/reset-password");
    let tasks: Vec<_> = ["First-New-Pass-1", "Second-New-Pass-2"]
        .into_iter()
        .map(|password| {
            let (client, url) = (server.client.clone(), server.url("/api/v1/auth/password/reset"));
            let body = json!({"token": token, "new_password": password});
            tokio::spawn(async move {
                client.post(url).json(&body).send().await.unwrap().status().as_u16()
            })
        })
        .collect();
    let mut statuses = Vec::new();
    for task in tasks {
        statuses.push(task.await.unwrap());
    }
    statuses.sort();
    assert_eq!(statuses, vec![200, 400]);
}
