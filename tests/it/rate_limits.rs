//! Rate-limit tiers through the real app: per (address, account), per address, anonymous, per
//! user; the 429 answer and its headers; client addresses from trusted proxies only.

use serde_json::json;

use crate::support::harness::{PASSWORD, TestServer, problem};

fn limited(c: &mut gatehouse::config::Config) {
    c.rate_limit.enabled = true;
    c.server.trusted_proxies = vec!["127.0.0.1/32".parse().unwrap()];
}

async fn login_from(
    server: &TestServer,
    ip: &str,
    email: &str,
    password: &str,
) -> reqwest::Response {
    server
        .new_user(email)
        .client
        .post(server.url("/api/v1/auth/login"))
        .header("x-forwarded-for", ip)
        .json(&json!({"email": email, "password": password}))
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn an_attacker_behind_a_dorm_address_does_not_lock_out_the_other_students() {
    let server = TestServer::start_with(limited).await;
    server.add_campus("North", &["north.edu"]);
    server.signed_in_user("victim@north.edu").await;
    server.signed_in_user("student@north.edu").await;
    let dorm = "203.0.113.50";
    for _ in 0..5 {
        problem(
            login_from(&server, dorm, "victim@north.edu", "Guess-Pass-11").await,
            401,
            "invalid_credentials",
        )
        .await;
    }
    let refused = login_from(&server, dorm, "victim@north.edu", "Guess-Pass-11").await;
    let headers = refused.headers().clone();
    problem(refused, 429, "rate_limited").await;
    let retry_after: u64 = headers["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=180).contains(&retry_after), "{retry_after}");
    assert_eq!(headers["ratelimit-limit"], "5");
    assert_eq!(headers["ratelimit-remaining"], "0");
    assert!(headers["ratelimit-reset"].to_str().unwrap().parse::<u64>().unwrap() >= retry_after);
    // Another student at the same address signs in.
    assert_eq!(login_from(&server, dorm, "student@north.edu", PASSWORD).await.status(), 200);
    // The victim's account itself is paused by the lockout, from every address.
    let elsewhere = login_from(&server, "198.51.100.9", "victim@north.edu", PASSWORD).await;
    problem(elsewhere, 429, "account_throttled").await;
}

#[tokio::test]
async fn an_address_gets_a_bounded_number_of_sensitive_requests() {
    let server = TestServer::start_with(|c| {
        limited(c);
        c.rate_limit.auth_per_ip = 10;
    })
    .await;
    server.add_campus("North", &["north.edu"]);
    for i in 0..10 {
        let response =
            login_from(&server, "192.0.2.1", &format!("s{i}@north.edu"), "Guess-Pass-11").await;
        assert_eq!(response.status(), 401);
    }
    problem(
        login_from(&server, "192.0.2.1", "s99@north.edu", "Guess-Pass-11").await,
        429,
        "rate_limited",
    )
    .await;
    assert_eq!(
        login_from(&server, "192.0.2.2", "s99@north.edu", "Guess-Pass-11").await.status(),
        401
    );
}

#[tokio::test]
async fn a_spoofed_forwarded_for_from_an_untrusted_peer_changes_nothing() {
    let server = TestServer::start_with(|c| {
        c.rate_limit.enabled = true;
        c.rate_limit.auth_per_account = 2;
    })
    .await;
    server.add_campus("North", &["north.edu"]);
    for i in 0..2 {
        let response =
            login_from(&server, &format!("10.9.9.{i}"), "ada@north.edu", "Guess-Pass-11").await;
        assert_eq!(response.status(), 401);
    }
    let spoofed = login_from(&server, "10.9.9.99", "ada@north.edu", "Guess-Pass-11").await;
    problem(spoofed, 429, "rate_limited").await;
}

#[tokio::test]
async fn anonymous_and_authenticated_tiers() {
    let server = TestServer::start_with(|c| {
        limited(c);
        c.rate_limit.anonymous_per_ip = 3;
        c.rate_limit.authenticated_per_minute = 4;
    })
    .await;
    server.add_campus("North", &["north.edu"]);
    let user = server.signed_in_user("ada@north.edu").await;
    let anonymous = || {
        server
            .client
            .get(server.url("/api/v1/auth/session"))
            .header("x-forwarded-for", "192.0.2.77")
            .send()
    };
    for _ in 0..3 {
        assert_eq!(anonymous().await.unwrap().status(), 401);
    }
    let refused = anonymous().await.unwrap();
    assert!(refused.headers().contains_key("retry-after"));
    problem(refused, 429, "rate_limited").await;
    // Probes and pages are not API requests.
    for _ in 0..5 {
        let health =
            server.client.get(server.url("/health")).header("x-forwarded-for", "192.0.2.77").send();
        assert_eq!(health.await.unwrap().status(), 200);
    }
    // A signed-in user is counted as a user, not as an address.
    let mut statuses = Vec::new();
    for _ in 0..6 {
        statuses.push(user.get("/api/v1/auth/session").await.status().as_u16());
    }
    assert_eq!(statuses.iter().filter(|s| **s == 200).count(), 4, "{statuses:?}");
    assert_eq!(*statuses.last().unwrap(), 429);
}

/// The per-user limit is one per user, whichever credential a request carries: a second
/// session and an access token count against it with the first session (each cached
/// credential holds the user's limiter key), and another user keeps their own.
#[tokio::test]
async fn a_users_sessions_and_tokens_share_one_limit() {
    let server = TestServer::start_with(|c| {
        limited(c);
        c.rate_limit.authenticated_per_minute = 6;
    })
    .await;
    server.add_campus("North", &["north.edu"]);
    let laptop = server.signed_in_user("ada@north.edu").await;
    let phone = server.new_user("ada@north.edu");
    assert_eq!(phone.login(PASSWORD, true).await.status(), 200);
    let tokens = server
        .post("/api/v1/auth/token", json!({"email": "ada@north.edu", "password": PASSWORD}))
        .await;
    assert_eq!(tokens.status(), 200);
    let tokens: serde_json::Value = tokens.json().await.unwrap();
    let bearer = format!("Bearer {}", tokens["access_token"].as_str().unwrap());
    let other = server.signed_in_user("grace@north.edu").await;
    let mut statuses = Vec::new();
    for _ in 0..3 {
        statuses.push(laptop.get("/api/v1/auth/session").await.status().as_u16());
        statuses.push(phone.get("/api/v1/auth/session").await.status().as_u16());
        let app = server
            .client
            .get(server.url("/api/v1/auth/session"))
            .header("authorization", &bearer)
            .send()
            .await
            .unwrap();
        statuses.push(app.status().as_u16());
    }
    assert_eq!(statuses, [200, 200, 200, 200, 200, 200, 429, 429, 429]);
    assert_eq!(other.get("/api/v1/auth/session").await.status(), 200);
}

#[tokio::test]
async fn the_allowance_comes_back_after_the_window() {
    let server = TestServer::start_with(|c| {
        limited(c);
        c.rate_limit.window_seconds = 2;
        c.rate_limit.auth_per_account = 1;
    })
    .await;
    server.add_campus("North", &["north.edu"]);
    assert_eq!(
        login_from(&server, "192.0.2.5", "ada@north.edu", "Guess-Pass-11").await.status(),
        401
    );
    problem(
        login_from(&server, "192.0.2.5", "ada@north.edu", "Guess-Pass-11").await,
        429,
        "rate_limited",
    )
    .await;
    tokio::time::sleep(std::time::Duration::from_millis(2100)).await;
    assert_eq!(
        login_from(&server, "192.0.2.5", "ada@north.edu", "Guess-Pass-11").await.status(),
        401
    );
}

#[tokio::test]
async fn a_forwarded_for_chain_with_garbage_is_read_safely() {
    let server = TestServer::start_with(|c| {
        limited(c);
        c.rate_limit.anonymous_per_ip = 2;
    })
    .await;
    let get = |xff: &'static str| {
        server.client.get(server.url("/api/v1/auth/session")).header("x-forwarded-for", xff).send()
    };
    // The nearest readable untrusted hop is the client, whatever junk lies beyond it.
    for xff in ["junk, 192.0.2.10", "<script>alert(1)</script>, ,, 192.0.2.10"] {
        problem(get(xff).await.unwrap(), 401, "unauthenticated").await;
    }
    problem(get("anything, 192.0.2.10").await.unwrap(), 429, "rate_limited").await;
    // Junk nearer than any address: the request counts against the proxy itself, and
    // other clients behind it are unaffected.
    for _ in 0..2 {
        problem(get("192.0.2.11, not-an-ip").await.unwrap(), 401, "unauthenticated").await;
    }
    problem(get("192.0.2.12, not-an-ip").await.unwrap(), 429, "rate_limited").await;
    problem(get("192.0.2.11").await.unwrap(), 401, "unauthenticated").await;
}

async fn post_from(server: &TestServer, ip: &str, path: &str, body: serde_json::Value) -> u16 {
    let response = server
        .client
        .post(server.url(path))
        .header("x-forwarded-for", ip)
        .json(&body)
        .send()
        .await
        .unwrap();
    response.status().as_u16()
}

/// A credential counts only when it authenticates: a forged `Authorization` header or a made-up
/// session cookie leaves a request in the anonymous per-address tier.
#[tokio::test]
async fn a_forged_credential_does_not_lift_the_address_limit() {
    let server = TestServer::start_with(|c| {
        limited(c);
        c.rate_limit.anonymous_per_ip = 4;
    })
    .await;
    let forged: [(&str, &str); 4] = [
        ("authorization", "x"),
        ("authorization", "Bearer eyJhbGciOiJFZERTQSJ9.e30.c2ln"),
        ("cookie", "gatehouse_session=made-up-session-token"),
        ("cookie", "gatehouse_session="),
    ];
    let send = |(name, value): (&str, &str)| {
        server
            .client
            .get(server.url("/api/v1/policies/current"))
            .header("x-forwarded-for", "192.0.2.60")
            .header(name, value)
            .send()
    };
    for credential in forged {
        assert_ne!(send(credential).await.unwrap().status(), 429, "{credential:?}");
    }
    for credential in forged {
        problem(send(credential).await.unwrap(), 429, "rate_limited").await;
    }
}

/// Students behind one dormitory address each verify their email and reset their password: the
/// link endpoints are counted per link, not under one key for everyone.
#[tokio::test]
async fn students_behind_one_address_each_verify_and_reset() {
    let server = TestServer::start_with(limited).await;
    server.add_campus("North", &["north.edu"]);
    let dorm = "203.0.113.80";
    for i in 0..7 {
        let email = format!("s{i}@north.edu");
        let body = json!({"email": email, "password": PASSWORD, "display_name": "Student"});
        assert_eq!(post_from(&server, dorm, "/api/v1/auth/register", body).await, 202);
        let token = server.mail_to(&email, "Confirm").await.link_token("/verify-email");
        let verified =
            post_from(&server, dorm, "/api/v1/auth/verify-email", json!({"token": token})).await;
        assert_eq!(verified, 200, "student {i}");
    }
    for i in 0..7 {
        let email = format!("s{i}@north.edu");
        let forgot =
            post_from(&server, dorm, "/api/v1/auth/password/forgot", json!({"email": email}));
        assert_eq!(forgot.await, 202);
        let token = server.mail_to(&email, "Reset").await.link_token("/reset-password");
        let body = json!({"token": token, "new_password": "Fresh-Start-77"});
        assert_eq!(post_from(&server, dorm, "/api/v1/auth/password/reset", body).await, 200, "{i}");
    }
    // Guessing at one link is still limited per (address, link).
    let statuses: Vec<u16> = guesses_at_one_link(&server, dorm).await;
    assert_eq!(statuses.iter().filter(|s| **s == 429).count(), 2, "{statuses:?}");
}

async fn guesses_at_one_link(server: &TestServer, ip: &str) -> Vec<u16> {
    let mut statuses = Vec::new();
    for _ in 0..7 {
        let body = json!({"token": "a-guessed-token"});
        statuses.push(post_from(server, ip, "/api/v1/auth/verify-email", body).await);
    }
    statuses
}

/// Only failures use up the (address, account) allowance: a student signing in on a seventh
/// device within the window is let in.
#[tokio::test]
async fn successful_sign_ins_do_not_use_up_the_allowance() {
    let server = TestServer::start_with(limited).await;
    server.add_campus("North", &["north.edu"]);
    server.signed_in_user("ada@north.edu").await;
    for device in 0..7 {
        let response = login_from(&server, "203.0.113.81", "ada@north.edu", PASSWORD).await;
        assert_eq!(response.status(), 200, "device {device}");
    }
    // Tokens likewise.
    for app in 0..7 {
        let body = json!({"email": "ada@north.edu", "password": PASSWORD});
        assert_eq!(
            post_from(&server, "203.0.113.81", "/api/v1/auth/token", body).await,
            200,
            "{app}"
        );
    }
}

/// An IPv6 client is counted by its /64: rotating through its addresses gains nothing.
#[tokio::test]
async fn an_ipv6_client_is_counted_per_network() {
    let server = TestServer::start_with(|c| {
        limited(c);
        c.rate_limit.anonymous_per_ip = 3;
    })
    .await;
    let get = |ip: String| {
        server
            .client
            .get(server.url("/api/v1/policies/current"))
            .header("x-forwarded-for", ip)
            .send()
    };
    for i in 1..=3 {
        assert_ne!(get(format!("2001:db8:1:2::{i:x}")).await.unwrap().status(), 429);
    }
    problem(get("2001:db8:1:2:ffff::9".into()).await.unwrap(), 429, "rate_limited").await;
    assert_ne!(get("2001:db8:1:3::1".into()).await.unwrap().status(), 429, "another /64");
}

/// The bootstrap page checks its link before it hashes a password, refuses once an admin
/// exists, and is limited like a sign-in.
#[tokio::test]
async fn the_bootstrap_link_is_checked_first_and_guesses_are_limited() {
    let server = TestServer::start_with(limited).await;
    let guess = |token: &str, password: &str| json!({"token": token, "email": "it@north.edu", "password": password});
    // A forged link with a weak password: the link is refused, the password never looked at.
    let answer = server
        .client
        .post(server.url("/api/v1/bootstrap"))
        .header("x-forwarded-for", "192.0.2.90")
        .json(&guess("forged", "weak"))
        .send()
        .await
        .unwrap();
    problem(answer, 400, "invalid_token").await;
    let mut statuses = Vec::new();
    for _ in 0..5 {
        statuses.push(
            post_from(&server, "192.0.2.90", "/api/v1/bootstrap", guess("forged", PASSWORD)).await,
        );
    }
    assert_eq!(statuses, [400, 400, 400, 400, 429]);
    // The real link works from another address, once; afterwards it is refused.
    let link = server.bootstrap_link.clone().unwrap();
    let token = link.split("token=").nth(1).unwrap();
    assert_eq!(
        post_from(&server, "192.0.2.91", "/api/v1/bootstrap", guess(token, PASSWORD)).await,
        201
    );
    let again = json!({"token": token, "email": "other@north.edu", "password": PASSWORD});
    assert_eq!(post_from(&server, "192.0.2.92", "/api/v1/bootstrap", again).await, 400);
}
