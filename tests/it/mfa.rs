//! Two-step sign-in: TOTP enrolment and confirmation, the second sign-in step with a TOTP or
//! recovery code, codes accepted once, API tokens with `totp_code`, turning it off, and the
//! production rule that admins need TOTP.

use serde_json::{Value, json};

use crate::support::harness::{PASSWORD, TestServer, problem};
use crate::support::totp::{code, enrol, next_step, pending_login, second_step};

#[tokio::test]
async fn enrolment_gives_secret_uri_and_qr_and_confirmation_turns_it_on() {
    let server = TestServer::start().await;
    server.add_campus("North", &["north.edu"]);
    let user = server.signed_in_user("ada@north.edu").await;
    let status: Value = user.get("/api/v1/account/mfa").await.json().await.unwrap();
    assert_eq!(status["totp_enabled"], false);

    let started: Value =
        user.post("/api/v1/account/mfa/totp", json!({})).await.json().await.unwrap();
    let secret = started["secret"].as_str().unwrap();
    assert_eq!(secret.len(), 32, "160 bits in base32");
    let uri = started["otpauth_uri"].as_str().unwrap();
    assert!(uri.starts_with("otpauth://totp/Gatehouse:ada%40north.edu?"), "{uri}");
    assert!(uri.contains(&format!("secret={secret}")) && uri.contains("issuer=Gatehouse"), "{uri}");
    let svg = started["qr_svg"].as_str().unwrap();
    assert!(svg.contains("<svg") && svg.contains("</svg>"), "{svg}");

    // Not on until confirmed: sign-in still takes a password alone.
    assert_eq!(server.new_user("ada@north.edu").login(PASSWORD, false).await.status(), 200);
    let body: Value =
        server.new_user("ada@north.edu").login(PASSWORD, false).await.json().await.unwrap();
    assert_eq!(body["mfa_required"], false);

    for bad in ["000000", "abcdef", "12345", ""] {
        let wrong = user.post("/api/v1/account/mfa/totp/confirm", json!({"code": bad})).await;
        problem(wrong, 422, "validation_failed").await;
    }
    let confirmed = user
        .post("/api/v1/account/mfa/totp/confirm", json!({"code": code(&server, secret, 0)}))
        .await;
    assert_eq!(confirmed.status(), 200);
    let confirmed: Value = confirmed.json().await.unwrap();
    let codes = confirmed["recovery_codes"].as_array().unwrap();
    assert_eq!(codes.len(), 10);
    // Stored hashed: no recovery code appears in the database.
    let stored = server.query_i64("SELECT count(*) FROM recovery_codes WHERE used_at IS NULL");
    assert_eq!(stored, 10);
    let hashes: Vec<Vec<u8>> = server.blocking_conn(|conn| {
        conn.query_map("SELECT code_hash FROM recovery_codes", [] as [i64; 0], |r| r.get(0))
            .unwrap()
    });
    for c in codes {
        assert!(!hashes.iter().any(|h| h == c.as_str().unwrap().as_bytes()));
    }

    let status: Value = user.get("/api/v1/account/mfa").await.json().await.unwrap();
    assert_eq!(status, json!({"totp_enabled": true, "recovery_codes_left": 10}));
    problem(user.post("/api/v1/account/mfa/totp", json!({})).await, 409, "totp_already_enabled")
        .await;
    server.mail_to("ada@north.edu", "Two-step sign-in was turned on").await;
    assert_eq!(server.query_i64("SELECT count(*) FROM audit_log WHERE action = 'totp.enabled'"), 1);
}

#[tokio::test]
async fn confirming_without_an_enrolment_is_refused() {
    let server = TestServer::start().await;
    server.add_campus("North", &["north.edu"]);
    let user = server.signed_in_user("ada@north.edu").await;
    let answer = user.post("/api/v1/account/mfa/totp/confirm", json!({"code": "123456"})).await;
    problem(answer, 409, "totp_not_started").await;
    let answer = user
        .post("/api/v1/account/mfa/recovery-codes", json!({"password": PASSWORD, "code": "123456"}))
        .await;
    problem(answer, 409, "totp_not_enabled").await;
    problem(server.post("/api/v1/account/mfa/totp", json!({})).await, 401, "unauthenticated").await;
}

#[tokio::test]
async fn sign_in_needs_a_code_once_per_step_with_one_step_of_tolerance() {
    let server = TestServer::start().await;
    server.add_campus("North", &["north.edu"]);
    let user = server.signed_in_user("ada@north.edu").await;
    let (secret, _) = enrol(&server, &user).await;
    // Two steps on, so that the step before "now" was not the one used to confirm.
    next_step(&server);
    next_step(&server);

    let student = server.new_user("ada@north.edu");
    let token = pending_login(&student).await;
    // Two steps away either way, non-numeric, wrong length: refused.
    for bad in [code(&server, &secret, -2), code(&server, &secret, 2), "abcdef".into(), "12".into()]
    {
        problem(second_step(&student, &token, &bad).await, 401, "invalid_mfa_code").await;
    }
    // One step behind (a slow phone clock) is accepted.
    let signed_in = second_step(&student, &token, &code(&server, &secret, -1)).await;
    assert_eq!(signed_in.status(), 200);
    let body: Value = signed_in.json().await.unwrap();
    assert_eq!(body["user"]["email"], "ada@north.edu");
    assert_eq!(body["mfa_required"], false);
    assert_eq!(student.get("/api/v1/auth/session").await.status(), 200);
    // The pending sign-in is spent.
    problem(
        second_step(&student, &token, &code(&server, &secret, 0)).await,
        401,
        "mfa_token_invalid",
    )
    .await;

    // The current code still works once (a later step than the one used) ...
    let other = server.new_user("ada@north.edu");
    let token = pending_login(&other).await;
    assert_eq!(second_step(&other, &token, &code(&server, &secret, 0)).await.status(), 200);
    // ... and not twice, nor can an earlier step come back.
    let third = server.new_user("ada@north.edu");
    let token = pending_login(&third).await;
    problem(second_step(&third, &token, &code(&server, &secret, 0)).await, 401, "invalid_mfa_code")
        .await;
    problem(
        second_step(&third, &token, &code(&server, &secret, -1)).await,
        401,
        "invalid_mfa_code",
    )
    .await;
    let replays = server.query_i64(
        "SELECT count(*) FROM audit_log WHERE action = 'login.second_factor'
         AND outcome = 'failure' AND details LIKE '%replayed%'",
    );
    assert_eq!(replays, 2, "replays are audited");
    // One step ahead (a fast phone clock) is accepted.
    assert_eq!(second_step(&third, &token, &code(&server, &secret, 1)).await.status(), 200);
}

#[tokio::test]
async fn a_pending_sign_in_ends_after_five_wrong_codes_or_five_minutes() {
    let server = TestServer::start().await;
    server.add_campus("North", &["north.edu"]);
    let user = server.signed_in_user("ada@north.edu").await;
    let (secret, _) = enrol(&server, &user).await;
    next_step(&server);
    let student = server.new_user("ada@north.edu");
    let token = pending_login(&student).await;
    for _ in 0..5 {
        problem(second_step(&student, &token, "000000").await, 401, "invalid_mfa_code").await;
    }
    problem(
        second_step(&student, &token, &code(&server, &secret, 0)).await,
        401,
        "mfa_token_invalid",
    )
    .await;

    let token = pending_login(&student).await;
    server.clock.advance(chrono::Duration::seconds(301));
    problem(
        second_step(&student, &token, &code(&server, &secret, 0)).await,
        401,
        "mfa_token_invalid",
    )
    .await;
    problem(second_step(&student, "not-a-token", "123456").await, 401, "mfa_token_invalid").await;
    problem(second_step(&student, &"x".repeat(500), "123456").await, 401, "mfa_token_invalid")
        .await;
}

#[tokio::test]
async fn a_recovery_code_signs_in_once_and_is_emailed() {
    let server = TestServer::start().await;
    server.add_campus("North", &["north.edu"]);
    let user = server.signed_in_user("ada@north.edu").await;
    let (_, codes) = enrol(&server, &user).await;
    let student = server.new_user("ada@north.edu");
    let token = pending_login(&student).await;
    let typed = codes[3].to_uppercase().replace('-', " ");
    assert_eq!(second_step(&student, &token, &typed).await.status(), 200);
    server.mail_to("ada@north.edu", "A recovery code was used").await;
    let status: Value = user.get("/api/v1/account/mfa").await.json().await.unwrap();
    assert_eq!(status["recovery_codes_left"], 9);

    let token = pending_login(&student).await;
    problem(second_step(&student, &token, &codes[3]).await, 401, "invalid_mfa_code").await;
    problem(second_step(&student, &token, "aaaaa-bbbbb").await, 401, "invalid_mfa_code").await;
    assert_eq!(
        server.query_i64("SELECT count(*) FROM audit_log WHERE action = 'recovery_code.used'"),
        1
    );
}

#[tokio::test]
async fn regenerating_recovery_codes_replaces_the_old_ones() {
    let server = TestServer::start().await;
    server.add_campus("North", &["north.edu"]);
    let user = server.signed_in_user("ada@north.edu").await;
    let (secret, old) = enrol(&server, &user).await;
    next_step(&server);
    let regenerate = |password: &str, code: &str| {
        user.post("/api/v1/account/mfa/recovery-codes", json!({"password": password, "code": code}))
    };
    let wrong = regenerate(PASSWORD, "000000").await;
    let body = problem(wrong, 422, "validation_failed").await;
    assert_eq!(body["errors"][0]["field"], "code");
    // The password is needed as well as a code (only an account without one may leave it out).
    let now = code(&server, &secret, 0);
    let without = user.post("/api/v1/account/mfa/recovery-codes", json!({"code": now})).await;
    let body = problem(without, 422, "validation_failed").await;
    assert_eq!(body["errors"][0]["field"], "password");
    let body = problem(regenerate("Wrong-Pass-1", &now).await, 422, "validation_failed").await;
    assert_eq!(body["errors"][0]["field"], "password");
    let fresh = regenerate(PASSWORD, &now).await;
    assert_eq!(fresh.status(), 200);
    let fresh: Value = fresh.json().await.unwrap();
    let fresh: Vec<String> = serde_json::from_value(fresh["recovery_codes"].clone()).unwrap();
    assert_eq!(fresh.len(), 10);
    server.mail_to("ada@north.edu", "New recovery codes were made").await;
    let student = server.new_user("ada@north.edu");
    let token = pending_login(&student).await;
    problem(second_step(&student, &token, &old[0]).await, 401, "invalid_mfa_code").await;
    assert_eq!(second_step(&student, &token, &fresh[0]).await.status(), 200);
}

#[tokio::test]
async fn turning_it_off_needs_the_password_and_a_code() {
    let server = TestServer::start().await;
    server.add_campus("North", &["north.edu"]);
    let user = server.signed_in_user("ada@north.edu").await;
    let (secret, _) = enrol(&server, &user).await;
    next_step(&server);
    let disable = |body: Value| {
        user.send(reqwest::Method::DELETE, "/api/v1/account/mfa/totp").json(&body).send()
    };
    let now = code(&server, &secret, 0);
    let answer = disable(json!({"password": "Wrong-Pass-1", "code": now})).await.unwrap();
    let body = problem(answer, 422, "validation_failed").await;
    assert_eq!(body["errors"][0]["field"], "password");
    let answer = disable(json!({"password": PASSWORD, "code": "000000"})).await.unwrap();
    let body = problem(answer, 422, "validation_failed").await;
    assert_eq!(body["errors"][0]["field"], "code");
    let answer = disable(json!({"password": PASSWORD, "code": now})).await.unwrap();
    assert_eq!(answer.status(), 204);
    server.mail_to("ada@north.edu", "Two-step sign-in was turned off").await;
    assert_eq!(
        server.query_i64("SELECT count(*) FROM audit_log WHERE action = 'totp.disabled'"),
        1
    );
    assert_eq!(server.query_i64("SELECT count(*) FROM recovery_codes"), 0);
    let body: Value =
        server.new_user("ada@north.edu").login(PASSWORD, false).await.json().await.unwrap();
    assert_eq!(body["mfa_required"], false);
    let answer = disable(json!({"password": PASSWORD, "code": now})).await.unwrap();
    problem(answer, 409, "totp_not_enabled").await;
}

#[tokio::test]
async fn api_tokens_need_a_totp_code_once_it_is_on() {
    let server = TestServer::start().await;
    server.add_campus("North", &["north.edu"]);
    let user = server.signed_in_user("ada@north.edu").await;
    let (secret, codes) = enrol(&server, &user).await;
    next_step(&server);
    let grant = |totp: Option<String>| {
        let mut body = json!({"email": "ada@north.edu", "password": PASSWORD});
        if let Some(totp) = totp {
            body["totp_code"] = json!(totp);
        }
        server.post("/api/v1/auth/token", body)
    };
    problem(grant(None).await, 401, "totp_required").await;
    problem(grant(Some("000000".into())).await, 401, "invalid_mfa_code").await;
    problem(grant(Some("12a456".into())).await, 401, "invalid_mfa_code").await;
    problem(grant(Some(codes[0].clone())).await, 401, "invalid_mfa_code").await;
    let now = code(&server, &secret, 0);
    let granted = grant(Some(now.clone())).await;
    assert_eq!(granted.status(), 200);
    let body: Value = granted.json().await.unwrap();
    assert!(body["access_token"].is_string());
    problem(grant(Some(now)).await, 401, "invalid_mfa_code").await;
    // A wrong password is still just that, whatever the code.
    let wrong = server
        .post(
            "/api/v1/auth/token",
            json!({"email": "ada@north.edu", "password": "Wrong-Pass-1", "totp_code": "123456"}),
        )
        .await;
    problem(wrong, 401, "invalid_credentials").await;
}

/// The audit log (a table, kept a year) never holds a code or the secret. (What reaches the
/// log files is swept through the real binary in `secrecy.rs`: only the binary installs a
/// logger, so a log check on this in-process server would read nothing.)
#[tokio::test]
async fn secrets_and_codes_stay_out_of_the_audit_log() {
    let server = TestServer::start().await;
    server.add_campus("North", &["north.edu"]);
    let user = server.signed_in_user("ada@north.edu").await;
    let (secret, codes) = enrol(&server, &user).await;
    let student = server.new_user("ada@north.edu");
    let token = pending_login(&student).await;
    assert_eq!(second_step(&student, &token, &codes[0]).await.status(), 200);
    let audit: String = server.blocking_conn(|conn| {
        conn.query_map("SELECT details FROM audit_log", [] as [i64; 0], |r| r.get::<String>(0))
            .unwrap()
            .concat()
    });
    assert!(audit.contains("recovery_code"), "the sign-in is audited: {audit}");
    assert!(!audit.contains(&secret));
    assert!(!audit.contains(&token));
    for c in &codes {
        assert!(!audit.contains(c.as_str()));
    }
}

#[tokio::test]
async fn in_production_admin_operations_need_an_admin_with_totp() {
    let server = TestServer::start_with(|c| {
        c.server.mode = gatehouse::config::Mode::Production;
        c.server.public_url = "https://id.north.edu".into();
        c.rate_limit.enabled = true;
    })
    .await;
    server.add_campus("North", &["north.edu"]);
    assert_eq!(server.register("it@north.edu").await.status(), 202);
    let token = server.mail_to("it@north.edu", "Confirm").await.link_token("/verify-email");
    server.post("/api/v1/auth/verify-email", json!({"token": token})).await;
    server.blocking_conn(|conn| {
        conn.execute("UPDATE users SET role = 'admin'", [] as [i64; 0]).unwrap()
    });
    let granted: Value = server
        .post("/api/v1/auth/token", json!({"email": "it@north.edu", "password": PASSWORD}))
        .await
        .json()
        .await
        .unwrap();
    let access = granted["access_token"].as_str().unwrap().to_string();
    let admin_get = |access: String| {
        server.client.get(server.url("/api/v1/admin/campuses")).bearer_auth(access).send()
    };
    problem(admin_get(access.clone()).await.unwrap(), 403, "admin_mfa_required").await;
    let unlock = server
        .client
        .post(server.url("/api/v1/admin/users/nobody/unlock"))
        .bearer_auth(&access)
        .send()
        .await
        .unwrap();
    problem(unlock, 403, "admin_mfa_required").await;

    let started: Value = server
        .client
        .post(server.url("/api/v1/account/mfa/totp"))
        .bearer_auth(&access)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let secret = started["secret"].as_str().unwrap().to_string();
    let confirmed = server
        .client
        .post(server.url("/api/v1/account/mfa/totp/confirm"))
        .bearer_auth(&access)
        .json(&json!({"code": code(&server, &secret, 0)}))
        .send()
        .await
        .unwrap();
    assert_eq!(confirmed.status(), 200);
    // Enrolled now, but this token was granted by the password alone: one factor.
    problem(admin_get(access).await.unwrap(), 403, "admin_mfa_required").await;
    server.clock.advance(chrono::Duration::seconds(30));
    let granted: Value = server
        .post(
            "/api/v1/auth/token",
            json!({"email": "it@north.edu", "password": PASSWORD, "totp_code": code(&server, &secret, 0)}),
        )
        .await
        .json()
        .await
        .unwrap();
    let two_step = granted["access_token"].as_str().unwrap().to_string();
    assert_eq!(admin_get(two_step).await.unwrap().status(), 200);
}

#[tokio::test]
async fn in_development_admins_need_no_totp() {
    let server = TestServer::start().await;
    server.add_campus("North", &["north.edu"]);
    let admin = server.signed_in_user("it@north.edu").await;
    server.blocking_conn(|conn| {
        conn.execute("UPDATE users SET role = 'admin'", [] as [i64; 0]).unwrap()
    });
    admin.login(PASSWORD, false).await;
    assert_eq!(admin.get("/api/v1/admin/campuses").await.status(), 200);
}

#[tokio::test]
async fn a_password_reset_ends_a_pending_sign_in() {
    let server = TestServer::start().await;
    server.add_campus("North", &["north.edu"]);
    let user = server.signed_in_user("ada@north.edu").await;
    let (secret, _) = enrol(&server, &user).await;
    next_step(&server);
    let attacker = server.new_user("ada@north.edu");
    let token = pending_login(&attacker).await;
    server.clock.advance(chrono::Duration::seconds(1));
    server.post("/api/v1/auth/password/forgot", json!({"email": "ada@north.edu"})).await;
    let reset =
        server.mail_to("ada@north.edu", "Reset your password").await.link_token("/reset-password");
    let answer = server
        .post(
            "/api/v1/auth/password/reset",
            json!({"token": reset, "new_password": "Fresh-Start-77"}),
        )
        .await;
    assert_eq!(answer.status(), 200);
    problem(
        second_step(&attacker, &token, &code(&server, &secret, 0)).await,
        401,
        "mfa_token_invalid",
    )
    .await;
}

#[tokio::test]
async fn students_behind_one_address_each_finish_their_second_step() {
    let server = TestServer::start_with(|c| {
        c.rate_limit.enabled = true;
        c.rate_limit.auth_per_account = 4;
    })
    .await;
    server.add_campus("North", &["north.edu"]);
    // Three students, two sign-ins each, all from 127.0.0.1: six second steps, more than the
    // four a shared per-address key would allow.
    let mut students = Vec::new();
    for email in ["a@north.edu", "b@north.edu", "c@north.edu"] {
        let user = server.signed_in_user(email).await;
        let (_, codes) = enrol(&server, &user).await;
        students.push((email, codes));
    }
    for (email, codes) in &students {
        for code in codes.iter().take(2) {
            let student = server.new_user(email);
            let token = pending_login(&student).await;
            assert_eq!(second_step(&student, &token, code).await.status(), 200);
        }
    }
}

#[tokio::test]
async fn the_secret_is_sealed_at_rest_and_the_export_shows_the_state_only() {
    let server = TestServer::start().await;
    server.add_campus("North", &["north.edu"]);
    let user = server.signed_in_user("sealed@north.edu").await;
    let (secret, codes) = enrol(&server, &user).await;
    let raw = totp_rs::Secret::try_from_base32(&secret).unwrap().as_bytes().to_vec();

    let stored: Vec<u8> = server.blocking_conn(|conn| {
        conn.query_row("SELECT secret FROM totp_credentials", [] as [i64; 0], |r| r.get(0)).unwrap()
    });
    assert_ne!(stored, raw);
    assert!(!stored.windows(raw.len()).any(|w| w == raw.as_slice()), "the raw secret is stored");

    let export = user.get("/api/v1/account/export").await;
    assert_eq!(export.status(), 200);
    let text = export.text().await.unwrap();
    let document: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(document["mfa"]["totp_enabled"], true, "{document}");
    assert_eq!(document["mfa"]["recovery_codes_unused"], 10);
    assert!(!text.contains(&secret), "the export holds the secret");
    assert!(codes.iter().all(|c| !text.contains(c.as_str())), "the export holds recovery codes");
}

/// A token request with a TOTP code.
async fn token_with_code(server: &TestServer, totp: &str) -> reqwest::Response {
    let body = json!({"email": "ada@north.edu", "password": PASSWORD, "totp_code": totp});
    server.post("/api/v1/auth/token", body).await
}

fn retry_after(response: &reqwest::Response) -> u64 {
    response.headers()["retry-after"].to_str().unwrap().parse().unwrap()
}

#[tokio::test]
async fn wrong_codes_count_per_account_over_pending_sign_ins_and_tokens() {
    let server = TestServer::start().await;
    server.add_campus("North", &["north.edu"]);
    let user = server.signed_in_user("ada@north.edu").await;
    let (secret, codes) = enrol(&server, &user).await;
    next_step(&server);
    let attacker = server.new_user("ada@north.edu");
    // Ten wrong codes over two pending sign-ins and the token endpoint, in under an hour.
    let first = pending_login(&attacker).await;
    for _ in 0..5 {
        problem(second_step(&attacker, &first, "000000").await, 401, "invalid_mfa_code").await;
    }
    server.clock.advance(chrono::Duration::minutes(20));
    let second = pending_login(&attacker).await;
    for wrong in ["111111", "222222", "aaaaa-bbbbb"] {
        problem(second_step(&attacker, &second, wrong).await, 401, "invalid_mfa_code").await;
    }
    for wrong in ["333333", "444444"] {
        problem(token_with_code(&server, wrong).await, 401, "invalid_mfa_code").await;
    }

    // The eleventh is not evaluated: a right code gets the same answer as a wrong one, on a
    // pending sign-in that still has attempts left, a new one, and the token endpoint.
    let right = code(&server, &secret, 0);
    let third = pending_login(&attacker).await;
    let answers = [
        second_step(&attacker, &second, &right).await,
        second_step(&attacker, &third, "000000").await,
        second_step(&attacker, &third, &codes[0]).await,
        token_with_code(&server, &right).await,
    ];
    let mut bodies = Vec::new();
    for answer in answers {
        let retry = retry_after(&answer);
        assert!((3590..=3600).contains(&retry), "paused for an hour: {retry}");
        bodies.push(problem(answer, 429, "mfa_throttled").await);
    }
    assert!(bodies.windows(2).all(|pair| pair[0] == pair[1]), "{bodies:?}");
    assert_eq!(
        server.query_i64("SELECT count(*) FROM audit_log WHERE action = 'account.mfa_paused'"),
        1
    );
    server.mail_to("ada@north.edu", "Two-step sign-in to your account is paused").await;
    // Nothing was spent while paused: the recovery code and the current step still work later.
    assert_eq!(server.query_i64("SELECT count(*) FROM recovery_codes WHERE used_at IS NULL"), 10);

    // After the pause, ten more wrong codes pause it again, twice as long, with no new email.
    server.clock.advance(chrono::Duration::seconds(3601));
    for _ in 0..2 {
        let pending = pending_login(&attacker).await;
        for _ in 0..5 {
            problem(second_step(&attacker, &pending, "000000").await, 401, "invalid_mfa_code")
                .await;
        }
    }
    let pending = pending_login(&attacker).await;
    let paused = second_step(&attacker, &pending, &code(&server, &secret, 0)).await;
    let retry = retry_after(&paused);
    assert!((7190..=7200).contains(&retry), "the second pause is two hours: {retry}");
    problem(paused, 429, "mfa_throttled").await;
    server.flush_outbox().await;
    let notices = server.mails().iter().filter(|m| m.subject.contains("is paused")).count();
    assert_eq!(notices, 1, "one email per series of pauses");

    // Once it ends, the owner's right code signs in.
    server.clock.advance(chrono::Duration::seconds(7201));
    let pending = pending_login(&attacker).await;
    assert_eq!(second_step(&attacker, &pending, &code(&server, &secret, 0)).await.status(), 200);
}

#[tokio::test]
async fn wrong_codes_at_the_account_checks_count_and_a_pause_refuses_them() {
    let server = TestServer::start().await;
    server.add_campus("North", &["north.edu"]);
    let user = server.signed_in_user("ada@north.edu").await;
    let (secret, _) = enrol(&server, &user).await;
    next_step(&server);
    // A stolen session guessing codes: at new recovery codes and at turning TOTP off.
    for _ in 0..5 {
        let wrong = json!({"password": PASSWORD, "code": "000000"});
        let answer = user.post("/api/v1/account/mfa/recovery-codes", wrong.clone()).await;
        problem(answer, 422, "validation_failed").await;
        let answer = user
            .send(reqwest::Method::DELETE, "/api/v1/account/mfa/totp")
            .json(&wrong)
            .send()
            .await
            .unwrap();
        problem(answer, 422, "validation_failed").await;
    }
    let right = json!({"password": PASSWORD, "code": code(&server, &secret, 0)});
    let answer = user.post("/api/v1/account/mfa/recovery-codes", right.clone()).await;
    problem(answer, 429, "mfa_throttled").await;
    let answer = user
        .send(reqwest::Method::DELETE, "/api/v1/account/mfa/totp")
        .json(&right)
        .send()
        .await
        .unwrap();
    problem(answer, 429, "mfa_throttled").await;
    // The sign-in's second step is paused too.
    let other = server.new_user("ada@north.edu");
    let pending = pending_login(&other).await;
    problem(second_step(&other, &pending, &code(&server, &secret, 0)).await, 429, "mfa_throttled")
        .await;
    let status: Value = user.get("/api/v1/account/mfa").await.json().await.unwrap();
    assert_eq!(status["totp_enabled"], true);
    server.mail_to("ada@north.edu", "Two-step sign-in to your account is paused").await;
    let export: Value = user.get("/api/v1/account/export").await.json().await.unwrap();
    assert!(export["mfa"]["paused_until"].is_string(), "{}", export["mfa"]);

    // A password reset ends the pause (and the session that guessed).
    server.post("/api/v1/auth/password/forgot", json!({"email": "ada@north.edu"})).await;
    let reset =
        server.mail_to("ada@north.edu", "Reset your password").await.link_token("/reset-password");
    let body = json!({"token": reset, "new_password": "Fresh-Start-77"});
    assert_eq!(server.post("/api/v1/auth/password/reset", body).await.status(), 200);
    let owner = server.new_user("ada@north.edu");
    let response = owner.login("Fresh-Start-77", false).await;
    let pending: Value = response.json().await.unwrap();
    let pending = pending["mfa_token"].as_str().unwrap();
    assert_eq!(second_step(&owner, pending, &code(&server, &secret, 0)).await.status(), 200);
}
