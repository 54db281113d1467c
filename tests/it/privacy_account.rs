//! The caller's data: export, deletion (own and by an admin), privacy-policy acceptance, and
//! retention driven by the manual clock.

use serde_json::{Value, json};

use crate::support::bootstrap::admin;
use crate::support::harness::{PASSWORD, TestServer, User, problem};

async fn user_id(user: &User) -> String {
    let me: Value = user.get("/api/v1/auth/session").await.json().await.unwrap();
    me["user"]["id"].as_str().unwrap().to_string()
}

async fn delete_own(user: &User, password: &str) -> reqwest::Response {
    user.send(reqwest::Method::DELETE, "/api/v1/account")
        .json(&json!({"password": password}))
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn the_export_holds_every_fact_about_the_caller_and_no_secret() {
    let server = TestServer::start().await;
    server.add_campus("North", &["north.edu"]);
    let ada = server.signed_in_user("ada@north.edu").await;
    let tokens: Value = server
        .post("/api/v1/auth/token", json!({"email": "ada@north.edu", "password": PASSWORD}))
        .await
        .json()
        .await
        .unwrap();
    let response = ada.get("/api/v1/account/export").await;
    assert_eq!(response.status(), 200);
    let text = response.text().await.unwrap();
    let export: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(export["format"], "gatehouse.account-export");
    assert_eq!(export["profile"]["email"], "ada@north.edu");
    assert_eq!(export["profile"]["display_name"], "Test Student");
    assert_eq!(export["profile"]["has_password"], true);
    assert_eq!(export["campus"]["name"], "North");
    assert_eq!(export["campus"]["domains"], json!(["north.edu"]));
    assert_eq!(export["sessions"].as_array().unwrap().len(), 1);
    assert_eq!(export["api_tokens"].as_array().unwrap().len(), 1);
    assert_eq!(export["email_links"][0]["purpose"], "verify_email");
    assert!(export["email_links"][0]["used_at"].is_string());
    let actions: Vec<&str> = export["audit_events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    for action in ["user.registered", "email.verified", "login"] {
        assert!(actions.contains(&action), "{action} in {actions:?}");
    }
    assert_eq!(export["audit_events"][0]["actor"], "self");
    assert_eq!(export["policy_acceptances"], json!([]));
    // No secret: password hash, session or refresh token.
    assert!(!text.contains("argon2"), "{text}");
    assert!(!text.contains(tokens["refresh_token"].as_str().unwrap()));
    assert!(!text.contains(&ada.cookie("gatehouse_session").unwrap()));
    // Unauthenticated: no export.
    problem(server.get("/api/v1/account/export").await, 401, "unauthenticated").await;
}

#[tokio::test]
async fn the_export_holds_the_driver_review_decisions_and_expiry_alerts() {
    let server = TestServer::start().await;
    server.add_campus("North", &["north.edu"]);
    let ada = server.signed_in_user("ada@north.edu").await;
    let id = user_id(&ada).await;
    let now = server.state.clock.unix();
    // A driver record as the driver feature leaves it: a licence approved by a reviewer,
    // two expiry reminders sent, then the driver suspended.
    let family_name = server.state.pii.seal_text("driver_licences.family_name", "Lovelace");
    server.blocking_conn(|conn| {
        conn.execute(
            "INSERT INTO driver_licences (id, user_id, status, source, family_name, expiry_date,
                                          name_score, review_notes, decision_reason, decided_at,
                                          created_at)
             VALUES (41, ?1, 'approved', 'barcode', ?2, '2027-05-01', 0.875,
                     'the name differs from the legal name', 'checked the name by hand', ?3, ?4)",
            rusqlite::params![id, family_name, now - 100, now - 200],
        )
        .unwrap();
        conn.execute(
            "INSERT INTO driver_profiles (user_id, status, licence_id, reason, updated_at)
             VALUES (?1, 'suspended', 41, 'the licence was reported stolen', ?2)",
            rusqlite::params![id, now],
        )
        .unwrap();
        conn.execute(
            "INSERT INTO driver_expiry_alerts (licence_id, days_before, sent_at)
             VALUES (41, 7, ?1), (41, 3, ?2)",
            rusqlite::params![now - 50, now - 10],
        )
        .unwrap();
    });

    let export: Value = ada.get("/api/v1/account/export").await.json().await.unwrap();
    let driver = &export["driver"];
    assert_eq!(driver["status"], "suspended");
    assert_eq!(driver["reason"], "the licence was reported stolen");
    let licence = &driver["licences"][0];
    assert_eq!(licence["family_name"], "Lovelace");
    assert_eq!(licence["name_score"], 0.875);
    assert_eq!(licence["review_notes"], "the name differs from the legal name");
    assert_eq!(licence["decision_reason"], "checked the name by hand");
    assert_eq!(licence["decided_at"], gatehouse::clock::rfc3339(now - 100));
    let alerts: Vec<(i64, String)> = licence["expiry_alerts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| (a["days_before"].as_i64().unwrap(), a["sent_at"].as_str().unwrap().into()))
        .collect();
    assert_eq!(
        alerts,
        vec![(7, gatehouse::clock::rfc3339(now - 50)), (3, gatehouse::clock::rfc3339(now - 10))]
    );
    assert!(export["profile"]["disabled_at"].is_null(), "not disabled");

    // A disabled account cannot sign in to ask, but its document says when it was disabled.
    let document = server.blocking_conn(|conn| {
        conn.execute("UPDATE users SET disabled_at = ?2 WHERE id = ?1", rusqlite::params![id, now])
            .unwrap();
        gatehouse::privacy::export::export(conn, &server.state.pii, &id, now).unwrap().unwrap()
    });
    assert_eq!(document.profile.disabled_at, Some(gatehouse::clock::rfc3339(now)));
}

#[tokio::test]
async fn deleting_an_account_removes_its_data_ends_its_access_and_frees_the_email() {
    let server = TestServer::start().await;
    server.add_campus("North", &["north.edu"]);
    let ada = server.signed_in_user("ada@north.edu").await;
    let id = user_id(&ada).await;
    let other_session = server.new_user("ada@north.edu");
    assert_eq!(other_session.login(PASSWORD, true).await.status(), 200);
    let tokens: Value = server
        .post("/api/v1/auth/token", json!({"email": "ada@north.edu", "password": PASSWORD}))
        .await
        .json()
        .await
        .unwrap();
    let bearer = format!("Bearer {}", tokens["access_token"].as_str().unwrap());
    let uploads = gatehouse::pii::erasure::user_upload_dir(&server.data_dir(), &id);
    std::fs::create_dir_all(&uploads).unwrap();
    std::fs::write(uploads.join("licence-front.jpg"), b"\xff\xd8\xff").unwrap();

    // Wrong or missing password: nothing happens.
    problem(delete_own(&ada, "Wrong-Password-1").await, 401, "invalid_credentials").await;
    let body = problem(delete_own(&ada, "").await, 422, "validation_failed").await;
    assert_eq!(body["errors"][0]["field"], "password");
    assert_eq!(server.query_i64("SELECT count(*) FROM users"), 1, "still there");

    assert_eq!(delete_own(&ada, PASSWORD).await.status(), 204);
    assert_eq!(server.query_i64("SELECT count(*) FROM users"), 0);
    assert!(!uploads.exists(), "uploads removed");
    // Every way in has ended at once: this session, the other one, the API token.
    problem(ada.get("/api/v1/account").await, 401, "unauthenticated").await;
    problem(other_session.get("/api/v1/account/export").await, 401, "unauthenticated").await;
    let by_token = server
        .client
        .get(server.url("/api/v1/account/export"))
        .header("authorization", &bearer)
        .send()
        .await
        .unwrap();
    problem(by_token, 401, "unauthenticated").await;
    problem(delete_own(&ada, PASSWORD).await, 401, "unauthenticated").await;
    for table in ["sessions", "token_families", "refresh_tokens", "email_tokens"] {
        assert_eq!(server.query_i64(&format!("SELECT count(*) FROM {table}")), 0, "{table}");
    }
    // Audit rows stay, pseudonymised and without addresses.
    let named: i64 = server.blocking_conn(|conn| {
        conn.query_row(
            "SELECT count(*) FROM audit_log WHERE actor_id = ?1 OR subject_id = ?1",
            [&id],
            |r| r.get(0),
        )
        .unwrap()
    });
    assert_eq!(named, 0);
    let kept = server.query_i64("SELECT count(*) FROM audit_log WHERE subject_id LIKE 'deleted:%'");
    assert!(kept >= 4, "{kept}");
    assert_eq!(
        server.query_i64(
            "SELECT count(*) FROM audit_log WHERE subject_id LIKE 'deleted:%' AND ip IS NOT NULL"
        ),
        0
    );
    assert_eq!(
        server.query_i64("SELECT count(*) FROM audit_log WHERE action = 'account.deleted'"),
        1
    );
    // The append-only rule still holds for anything else.
    let changed = server
        .blocking_conn(|conn| conn.execute("UPDATE audit_log SET action = 'x'", [] as [i64; 0]));
    assert!(changed.is_err(), "{changed:?}");

    // The address can sign up again.
    assert_eq!(server.register("ada@north.edu").await.status(), 202);
    assert_eq!(server.query_i64("SELECT count(*) FROM users"), 1);
}

/// Outbox rows whose (sealed) recipient is `to`, opened the way the worker opens them.
fn outbox_rows_to(server: &TestServer, to: &str) -> usize {
    let recipients: Vec<String> = server.blocking_conn(|conn| {
        conn.query_map("SELECT recipient FROM outbox", [] as [i64; 0], |r| r.get(0)).unwrap()
    });
    recipients
        .iter()
        .filter(|r| server.state.pii.open_text(gatehouse::notify::RECIPIENT, r).unwrap() == to)
        .count()
}

#[tokio::test]
async fn deleting_an_account_drops_its_queued_mail_so_it_is_never_sent() {
    let server = TestServer::start().await;
    server.add_campus("North", &["north.edu"]);
    let admin = admin(&server).await;
    let ada = server.signed_in_user("ada@north.edu").await;
    let carol = server.signed_in_user("carol@north.edu").await;
    server.signed_in_user("bob@north.edu").await;
    let carol_id = user_id(&carol).await;
    // The mail transport stalls: the maildir's tmp/ is a file, so every delivery fails and
    // the messages wait in the outbox for their next attempt.
    let maildir = server.data_dir().join("mail");
    std::fs::rename(maildir.join("tmp"), maildir.join("tmp.away")).unwrap();
    std::fs::write(maildir.join("tmp"), b"stalled").unwrap();
    for email in ["ada@north.edu", "bob@north.edu", "carol@north.edu"] {
        let forgot = server.post("/api/v1/auth/password/forgot", json!({"email": email})).await;
        assert_eq!(forgot.status(), 202);
    }
    let waiting = "SELECT count(*) FROM outbox WHERE sent_at IS NULL AND failed_at IS NULL \
                   AND attempts >= 1";
    for _ in 0..200 {
        server.state.outbox_wake.notify_one();
        if server.query_i64(waiting) == 3 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    assert_eq!(server.query_i64(waiting), 3, "three reset mails tried and waiting");
    assert!(outbox_rows_to(&server, "ada@north.edu") >= 2, "verification (sent) and reset");

    // The owner deletes one account, an admin another.
    assert_eq!(delete_own(&ada, PASSWORD).await.status(), 204);
    assert_eq!(admin.delete(&format!("/api/v1/admin/users/{carol_id}")).await.status(), 204);
    assert_eq!(outbox_rows_to(&server, "ada@north.edu"), 0, "sent and queued rows gone");
    assert_eq!(outbox_rows_to(&server, "carol@north.edu"), 0);
    assert_eq!(outbox_rows_to(&server, "bob@north.edu"), 2, "another account's mail stays");
    assert_eq!(server.query_i64(waiting), 1);

    // The transport comes back and the next attempts are due: only bob's reset goes out.
    std::fs::remove_file(maildir.join("tmp")).unwrap();
    std::fs::rename(maildir.join("tmp.away"), maildir.join("tmp")).unwrap();
    server.clock.advance(chrono::Duration::hours(2));
    server.mail_to("bob@north.edu", "Reset your password").await;
    server.flush_outbox().await;
    for email in ["ada@north.edu", "carol@north.edu"] {
        let resets = server
            .mails()
            .iter()
            .filter(|m| m.to == email && m.subject.contains("Reset your password"))
            .count();
        assert_eq!(resets, 0, "a reset mail went to the deleted {email}");
    }
}

#[tokio::test]
async fn the_last_admin_cannot_delete_itself_until_another_is_promoted() {
    let server = TestServer::start().await;
    server.add_campus("North", &["north.edu"]);
    let admin = admin(&server).await;
    let ada = server.signed_in_user("ada@north.edu").await;
    problem(delete_own(&admin, PASSWORD).await, 409, "last_admin").await;
    assert_eq!(admin.get("/api/v1/account").await.status(), 200, "nothing was deleted");

    let ada_id = user_id(&ada).await;
    let promoted =
        admin.put(&format!("/api/v1/admin/users/{ada_id}/role"), json!({"role": "admin"})).await;
    assert_eq!(promoted.status(), 200);
    assert_eq!(delete_own(&admin, PASSWORD).await.status(), 204);
    problem(admin.get("/api/v1/account").await, 401, "unauthenticated").await;
}

#[tokio::test]
async fn admins_delete_accounts_with_clear_answers_for_repeats_and_unknown_ids() {
    let server = TestServer::start().await;
    server.add_campus("North", &["north.edu"]);
    let admin = admin(&server).await;
    let ada = server.signed_in_user("ada@north.edu").await;
    let bob = server.signed_in_user("bob@north.edu").await;
    let ada_id = user_id(&ada).await;
    let path = format!("/api/v1/admin/users/{ada_id}");

    problem(bob.delete(&path).await, 403, "forbidden").await;
    problem(admin.delete("/api/v1/admin/users/nobody").await, 404, "user_not_found").await;
    let admin_id = user_id(&admin).await;
    problem(
        admin.delete(&format!("/api/v1/admin/users/{admin_id}")).await,
        409,
        "cannot_delete_self",
    )
    .await;

    assert_eq!(admin.delete(&path).await.status(), 204);
    problem(ada.get("/api/v1/auth/session").await, 401, "unauthenticated").await;
    problem(admin.delete(&path).await, 410, "account_deleted").await;
    let event: (String, Option<String>) = server.blocking_conn(|conn| {
        conn.query_row(
            "SELECT actor_id, ip FROM audit_log WHERE action = 'account.deleted'",
            [] as [i64; 0],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap()
    });
    assert_eq!(event.0, admin_id, "the admin is named as the actor");
    assert_eq!(server.new_user("ada@north.edu").login(PASSWORD, false).await.status(), 401);
    assert_eq!(bob.get("/api/v1/account").await.status(), 200, "others are untouched");
}

#[tokio::test]
async fn policy_versions_are_published_required_at_sign_up_and_accepted_after_sign_in() {
    let server = TestServer::start().await;
    server.add_campus("North", &["north.edu"]);
    // No policy yet: sign-up needs none, sign-in asks for none.
    let none = server.get("/api/v1/policies/current").await;
    assert_eq!(none.status(), 200, "no policy yet is a normal answer");
    let none: Value = none.json().await.unwrap();
    assert_eq!(none, json!({"published": false}));
    let ada = server.signed_in_user("ada@north.edu").await;
    let admin = admin(&server).await;

    let publish = |version: &str, text: &str| {
        admin.post("/api/v1/admin/policies", json!({"version": version, "text": text}))
    };
    problem(
        ada.post("/api/v1/admin/policies", json!({"version": "1", "text": "x"})).await,
        403,
        "forbidden",
    )
    .await;
    let body = problem(publish("", "text").await, 422, "validation_failed").await;
    assert_eq!(body["errors"][0]["field"], "version");
    let body = problem(publish("2026-09", "  ").await, 422, "validation_failed").await;
    assert_eq!(body["errors"][0]["field"], "text");
    let published = publish("2026-09", "We keep your data safe.").await;
    assert_eq!(published.status(), 201);
    problem(publish("2026-09", "again").await, 409, "policy_version_exists").await;
    let current: Value = server.get("/api/v1/policies/current").await.json().await.unwrap();
    assert_eq!(current["published"], true);
    assert_eq!(current["version"], "2026-09");
    assert_eq!(current["text"], "We keep your data safe.");

    // Registration must name the current version.
    let register = |email: &str, version: Option<&str>| {
        let mut body = json!({"email": email, "password": PASSWORD, "display_name": "Cy"});
        if let Some(v) = version {
            body["accepted_policy_version"] = json!(v);
        }
        server.post("/api/v1/auth/register", body)
    };
    let body = problem(register("cy@north.edu", None).await, 422, "validation_failed").await;
    assert_eq!(body["errors"][0]["field"], "accepted_policy_version");
    let body =
        problem(register("cy@north.edu", Some("2025-01")).await, 422, "validation_failed").await;
    assert!(body["errors"][0]["message"].as_str().unwrap().contains("2026-09"), "{body}");
    assert_eq!(register("cy@north.edu", Some("2026-09")).await.status(), 202);
    assert_eq!(server.query_i64("SELECT count(*) FROM policy_acceptances"), 1);

    // A user who has not accepted is told so at sign-in, until they accept.
    let again = server.new_user("ada@north.edu");
    let login: Value = again.login(PASSWORD, false).await.json().await.unwrap();
    assert_eq!(login["policy_acceptance_required"], true);
    assert_eq!(login["policy_version"], "2026-09");
    let status: Value = again.get("/api/v1/account/policy-acceptance").await.json().await.unwrap();
    assert_eq!(status["acceptance_required"], true);
    problem(
        again.post("/api/v1/account/policy-acceptance", json!({"version": "1999"})).await,
        409,
        "policy_version_not_current",
    )
    .await;
    let accepted =
        again.post("/api/v1/account/policy-acceptance", json!({"version": "2026-09"})).await;
    assert_eq!(accepted.status(), 200);
    let login: Value =
        server.new_user("ada@north.edu").login(PASSWORD, false).await.json().await.unwrap();
    assert_eq!(login["policy_acceptance_required"], false);
    assert!(login.get("policy_version").is_none());

    // A new version: asked again; the old one cannot be accepted any more.
    assert_eq!(publish("2027-01", "New terms.").await.status(), 201);
    let login: Value =
        server.new_user("ada@north.edu").login(PASSWORD, false).await.json().await.unwrap();
    assert_eq!(login["policy_acceptance_required"], true);
    assert_eq!(login["policy_version"], "2027-01");
    problem(
        again.post("/api/v1/account/policy-acceptance", json!({"version": "2026-09"})).await,
        409,
        "policy_version_not_current",
    )
    .await;
    server.clock.advance(chrono::Duration::minutes(5));
    assert_eq!(
        again
            .post("/api/v1/account/policy-acceptance", json!({"version": "2027-01"}))
            .await
            .status(),
        200
    );

    // Acceptances are exported with time and version, and counted for admins.
    let export: Value = ada.get("/api/v1/account/export").await.json().await.unwrap();
    let versions: Vec<&str> = export["policy_acceptances"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["version"].as_str().unwrap())
        .collect();
    assert_eq!(versions, vec!["2026-09", "2027-01"]);
    assert!(export["policy_acceptances"][1]["accepted_at"].is_string());
    let list: Value = admin.get("/api/v1/admin/policies").await.json().await.unwrap();
    assert_eq!(list[0]["version"], "2027-01");
    assert_eq!(list[0]["current"], true);
    assert_eq!(list[0]["acceptances"], 1);
    assert_eq!(list[1]["acceptances"], 2);
}

#[tokio::test]
async fn retention_purges_expired_rows_unverified_accounts_and_old_audit_rows() {
    let server = TestServer::start_with(|c| c.retention.unverified_account_days = 10).await;
    server.add_campus("North", &["north.edu"]);
    let ada = server.signed_in_user("ada@north.edu").await;
    assert_eq!(server.register("never@north.edu").await.status(), 202);
    server.flush_outbox().await;
    assert_eq!(server.query_i64("SELECT count(*) FROM users"), 2);
    let ada_id = user_id(&ada).await;
    // Tokens, codes and challenges, each one that is due at the second run below (11 days on)
    // and one that is not. (Phone codes and attempts are kept a day past expiry, for the
    // per-day sending limits.) The server's own bootstrap link expires in an hour.
    let (now, day) = (server.state.clock.unix(), 86_400);
    let seeded = format!(
        "INSERT INTO token_families (id, user_id, created_at) VALUES
                 ('family-due', '{ada_id}', {now}), ('family-kept', '{ada_id}', {now});
             INSERT INTO refresh_tokens (token_hash, family_id, created_at, expires_at) VALUES
                 (x'01', 'family-due', {now}, {now} + 5 * {day}),
                 (x'02', 'family-kept', {now}, {now} + 20 * {day});
             INSERT INTO phone_codes (phone_index, code_hash, created_at, expires_at) VALUES
                 (x'aa', x'01', {now}, {now} + 300),
                 (x'aa', x'02', {now}, {now} + 10 * {day} + 43200);
             INSERT INTO phone_code_checks (phone_index, ip, at) VALUES
                 (x'aa', '192.0.2.7', {now}), (x'aa', '192.0.2.7', {now} + 10 * {day} + 43200);
             INSERT INTO mfa_challenges (token_hash, user_id, remember_me, created_at, expires_at)
                 VALUES (x'01', '{ada_id}', 0, {now}, {now} + 300),
                        (x'02', '{ada_id}', 0, {now}, {now} + 20 * {day});
             INSERT INTO bootstrap_tokens (token_hash, expires_at) VALUES
                 (x'02', {now} + 20 * {day});"
    );
    server.blocking_conn(|conn| {
        // SQLite's blob literals, written as PostgreSQL's where that is the engine.
        let sql = if conn.is_postgres() {
            ["01", "02", "aa"].iter().fold(seeded.clone(), |sql, hex| {
                sql.replace(&format!("x'{hex}'"), &format!("'\\x{hex}'::bytea"))
            })
        } else {
            seeded.clone()
        };
        conn.execute_batch(&sql).unwrap()
    });
    let count = |table: &str| server.query_i64(&format!("SELECT count(*) FROM {table}"));
    assert_eq!(count("bootstrap_tokens"), 2, "the server's link and the seeded one");

    // Nothing is due yet.
    let report = server.state.privacy.run_retention().await.unwrap();
    assert_eq!(report.unverified_accounts, 0);
    assert_eq!(report.sessions, 0);
    // (Only the campus's creation, recorded at time 0 by the test harness, is old.)
    let nothing = gatehouse::privacy::RetentionReport { audit_rows: 1, ..Default::default() };
    assert_eq!(report, nothing, "nothing else is due yet");

    server.clock.advance(chrono::Duration::days(11));
    let report = server.state.privacy.run_retention().await.unwrap();
    assert_eq!(report.unverified_accounts, 1, "{report:?}");
    assert_eq!(report.sessions, 1, "the browser session is long idle: {report:?}");
    assert_eq!(report.email_links, 2, "both verification links: {report:?}");
    assert_eq!(report.refresh_tokens, 1, "{report:?}");
    assert_eq!(report.token_families, 1, "the family left without tokens: {report:?}");
    assert_eq!(report.phone_codes, 1, "{report:?}");
    assert_eq!(report.phone_code_checks, 1, "{report:?}");
    assert_eq!(report.mfa_challenges, 1, "{report:?}");
    assert_eq!(report.bootstrap_links, 1, "the server's own, an hour old: {report:?}");
    // The ones not due stay.
    for table in [
        "refresh_tokens",
        "token_families",
        "phone_codes",
        "phone_code_checks",
        "mfa_challenges",
        "bootstrap_tokens",
    ] {
        assert_eq!(count(table), 1, "{table}");
    }
    assert_eq!(server.query_i64("SELECT count(*) FROM token_families WHERE id = 'family-kept'"), 1);
    let kept: i64 = server.blocking_conn(|conn| {
        conn.query_row(
            "SELECT count(*) FROM mfa_challenges WHERE token_hash = ?1",
            [vec![2u8]],
            |r| r.get(0),
        )
        .unwrap()
    });
    assert_eq!(kept, 1);
    assert_eq!(server.query_i64("SELECT count(*) FROM users"), 1);
    assert_eq!(
        server.query_i64("SELECT count(*) FROM deleted_accounts WHERE reason = 'retention'"),
        1
    );
    problem(ada.get("/api/v1/account").await, 401, "unauthenticated").await;
    // The verified account stays.
    assert_eq!(server.new_user("ada@north.edu").login(PASSWORD, false).await.status(), 200);

    server.clock.advance(chrono::Duration::days(360));
    let before = server.query_i64("SELECT count(*) FROM audit_log");
    let report = server.state.privacy.run_retention().await.unwrap();
    let after = server.query_i64("SELECT count(*) FROM audit_log");
    assert!(report.audit_rows > 0 && after == before - report.audit_rows as i64, "{report:?}");
    assert!(
        server.query_i64("SELECT min(at) FROM audit_log")
            >= server.state.clock.unix() - 365 * 86400
    );
    // Ada's verification email; the unverified account's went with the account.
    assert_eq!(report.outbox_messages, 1, "{report:?}");
}

/// An account from before phone indexes (migration 0004) has a phone and no index: messages
/// queued to that phone go with the account too.
#[tokio::test]
async fn deleting_an_account_with_a_phone_but_no_index_drops_the_texts_to_it() {
    let server = TestServer::start().await;
    server.add_campus("North", &["north.edu"]);
    let ada = server.signed_in_user("ada@north.edu").await;
    let id = user_id(&ada).await;
    let phone = "+12025550188";
    let sealed = server.state.pii.seal_text("users.phone", phone);
    server.blocking_conn(|conn| {
        conn.execute(
            "UPDATE users SET phone = ?2, phone_index = NULL WHERE id = ?1",
            rusqlite::params![id, sealed],
        )
        .unwrap();
        gatehouse::notify::enqueue_sms(conn, &server.state.pii, phone, "Your code: 123456", 0)
            .unwrap();
    });
    assert_eq!(outbox_rows_to(&server, phone), 1);
    assert_eq!(delete_own(&ada, PASSWORD).await.status(), 204);
    assert_eq!(outbox_rows_to(&server, phone), 0, "the queued text is never sent");
}
