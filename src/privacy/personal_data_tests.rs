//! Every feature's personal data on both engines: one account seeded across all of them is
//! exported, then erased, through the registry the wiring builds (`state.erasure`); a second
//! one, never verified and with nothing but expired rows, is purged and lapses. So every
//! statement of every `PersonalData` implementation and export section runs on PostgreSQL.
//! And the export's snapshot: a change committed by another connection after its first read
//! is not in the document.

use rusqlite::params;

use super::export::{export, export_seeing};
use crate::config::RetentionConfig;
use crate::db::conn::{Conn, Optional};
use crate::db::conn_tests::{drop_schema, on_both_engines, postgres_client, postgres_client_in};
use crate::pii::cipher::test_cipher;
use crate::pii::{DeleteReason, FieldCipher, Purged};

const NOW: i64 = 1_800_000_000;
const DAY: i64 = 86_400;

/// webauthn-rs's stored passkey (a P-256 key from its own tests), credential id `cred1`.
const PASSKEY: &str = concat!(
    r#"{"cred":{"cred_id":"Y3JlZDE","cred":{"type_":"ES256","key":{"EC_EC2":{"curve":"#,
    r#""SECP256R1","x":[194,126,127,109,252,23,131,21,252,6,223,99,44,254,140,27,230,17,94,"#,
    r#"5,133,28,104,41,144,69,171,149,161,26,200,243],"y":[143,123,183,156,24,178,21,248,117,"#,
    r#"159,162,69,171,52,188,252,26,59,6,47,103,92,19,58,117,103,249,0,219,8,95,196]}}},"#,
    r#""counter":1,"user_verified":true,"backup_eligible":false,"backup_state":false,"#,
    r#""registration_policy":"required","extensions":{"cred_protect":"NotRequested","#,
    r#""hmac_create_secret":"NotRequested"},"attestation":{"data":"None","metadata":"None"},"#,
    r#""attestation_format":"None"}}"#
);

fn count(conn: &Conn, sql: &str, id: &str) -> i64 {
    conn.query_row(sql, [id], |r| r.get(0)).unwrap()
}

/// `u1`, verified, with a row in every table that can hold something of theirs.
fn seed_everything(conn: &Conn, pii: &FieldCipher) {
    use crate::accounts::{EMAIL, PHONE};
    const DISPLAY_NAME: &str = "users.display_name";
    let seal = |context: &str, text: &str| pii.seal_text(context, text);
    let n = NOW;
    let campus: i64 = conn
        .query_row(
            "INSERT INTO campuses (name, created_at) VALUES ('North', 0) RETURNING id",
            [] as [i64; 0],
            |r| r.get(0),
        )
        .unwrap();
    conn.execute(
        "INSERT INTO users (id, email_index, email, display_name, phone, phone_index,
                            password_hash, campus_id, email_verified_at, created_at,
                            mfa_paused_until)
         VALUES ('u1', ?1, ?2, ?3, ?4, ?5, 'hash', ?6, ?7, ?7, ?8)",
        params![
            b"u1".to_vec(),
            seal(EMAIL, "u1@north.edu"),
            seal(DISPLAY_NAME, "Ada"),
            seal(PHONE, "+15550001"),
            b"p1".to_vec(),
            campus,
            n - 1000,
            n + 60
        ],
    )
    .unwrap();
    let rows: &[(&str, &[&dyn rusqlite::ToSql])] = &[
        (
            "INSERT INTO email_tokens (token_hash, user_id, purpose, created_at, expires_at)
             VALUES (?1, 'u1', 'verify_email', ?2, ?3)",
            &[&b"e1".to_vec(), &(n - 100), &(n + 3600)],
        ),
        (
            "INSERT INTO sessions (id, token_hash, user_id, remember_me, created_at,
                                   last_seen_at, expires_at, ip, user_agent)
             VALUES ('s1', ?1, 'u1', 1, ?2, ?2, ?3, '192.0.2.1', 'Firefox')",
            &[&b"s1".to_vec(), &(n - 100), &(n + DAY)],
        ),
        (
            "INSERT INTO oidc_clients (id, name, public, redirect_uris, scopes, created_at,
                                       created_by)
             VALUES ('c1', 'App', 1, '[]', '[]', ?1, 'u1')",
            &[&(n - 500)],
        ),
        (
            "INSERT INTO token_families (id, user_id, created_at, client_id, scope)
             VALUES ('f1', 'u1', ?1, 'c1', 'openid')",
            &[&(n - 100)],
        ),
        (
            "INSERT INTO refresh_tokens (token_hash, family_id, created_at, expires_at)
             VALUES (?1, 'f1', ?2, ?3)",
            &[&b"r1".to_vec(), &(n - 100), &(n + DAY)],
        ),
        (
            "INSERT INTO oidc_consents (user_id, client_id, scope, granted_at)
             VALUES ('u1', 'c1', 'openid', ?1)",
            &[&(n - 50)],
        ),
        (
            "INSERT INTO oidc_codes (code_hash, client_id, user_id, session_id, redirect_uri,
                                     scope, code_challenge, auth_time, amr, created_at,
                                     expires_at)
             VALUES (?1, 'c1', 'u1', 's1', 'https://app', 'openid', 'c', ?2, 'pwd', ?2, ?3)",
            &[&b"oc1".to_vec(), &n, &(n + 60)],
        ),
        (
            "INSERT INTO oidc_device_codes (device_code_hash, user_code, client_id, scope,
                                            created_at, expires_at, poll_interval, user_id)
             VALUES (?1, 'ABCD', 'c1', 'openid', ?2, ?3, 5, 'u1')",
            &[&b"d1".to_vec(), &n, &(n + 600)],
        ),
        (
            "INSERT INTO oidc_logouts (client_id, user_id, sid, created_at, next_attempt_at)
             VALUES ('c1', 'u1', 'sid1', ?1, ?1)",
            &[&n],
        ),
        (
            "INSERT INTO totp_credentials (user_id, secret, created_at, confirmed_at)
             VALUES ('u1', ?1, ?2, ?3)",
            &[&vec![1_u8], &(n - 100), &(n - 90)],
        ),
        (
            "INSERT INTO recovery_codes (user_id, code_hash, created_at, used_at)
             VALUES ('u1', ?1, ?2, NULL), ('u1', ?3, ?2, ?4)",
            &[&b"rc1".to_vec(), &(n - 100), &b"rc2".to_vec(), &(n - 10)],
        ),
        (
            "INSERT INTO mfa_challenges (token_hash, user_id, remember_me, created_at, expires_at)
             VALUES (?1, 'u1', 0, ?2, ?3)",
            &[&b"m1".to_vec(), &n, &(n + 300)],
        ),
        (
            "INSERT INTO passkeys (id, user_id, credential_id, name, credential, created_at)
             VALUES ('pk1', 'u1', ?1, ?2, ?3, ?4)",
            &[
                &b"cred1".to_vec(),
                &seal(crate::mfa::passkey_store::NAME, "Phone"),
                &PASSKEY,
                &(n - 100),
            ],
        ),
        (
            "INSERT INTO passkey_challenges (id_hash, purpose, user_id, state, created_at,
                                             expires_at)
             VALUES (?1, 'register', 'u1', '{}', ?2, ?3)",
            &[&b"pc1".to_vec(), &n, &(n + 300)],
        ),
        (
            "INSERT INTO phone_codes (phone_index, code_hash, created_at, expires_at)
             VALUES (?1, ?2, ?3, ?4)",
            &[&b"p1".to_vec(), &b"h".to_vec(), &(n - 10), &(n + 300)],
        ),
        (
            "INSERT INTO phone_code_checks (phone_index, ip, at) VALUES (?1, '192.0.2.1', ?2)",
            &[&b"p1".to_vec(), &(n - 10)],
        ),
        (
            "INSERT INTO outbox (channel, recipient, subject, body_text, created_at,
                                 next_attempt_at)
             VALUES ('email', ?1, 'Hello', 'body', ?2, ?2)",
            &[&seal(crate::notify::RECIPIENT, "u1@north.edu"), &(n - 10)],
        ),
        (
            "INSERT INTO driver_profiles (user_id, status, enabled, available, ever_approved,
                                          updated_at)
             VALUES ('u1', 'approved', 1, 1, 1, ?1)",
            &[&n],
        ),
        ("INSERT INTO driver_upload_attempts (user_id, at) VALUES ('u1', ?1)", &[&(n - 10)]),
        (
            "INSERT INTO webhook_endpoints (id, url, events, secret, created_at, created_by)
             VALUES ('w1', 'https://hooks.example', 'user.deleted', 'secret', ?1, 'u1')",
            &[&(n - 100)],
        ),
        (
            "INSERT INTO audit_log (at, actor_id, action, subject_id, ip, outcome)
             VALUES (?1, 'u1', 'user.signed_in', 'u1', '192.0.2.1', 'success')",
            &[&(n - 100)],
        ),
    ];
    for (sql, values) in rows {
        conn.execute(sql, *values).unwrap();
    }
    let licence: i64 = conn
        .query_row(
            "INSERT INTO driver_licences (user_id, status, source, name_score, created_at)
             VALUES ('u1', 'approved', 'barcode', 0.5, ?1) RETURNING id",
            [n - 100],
            |r| r.get(0),
        )
        .unwrap();
    conn.execute(
        "INSERT INTO driver_uploads (licence_id, side, path, size, sha256, content_type, width,
                                     height, key_id)
         VALUES (?1, 'front', 'u1-front.jpg', 10, 'sha', 'image/jpeg', 1, 1, 1)",
        [licence],
    )
    .unwrap();
    conn.execute(
        "INSERT INTO driver_expiry_alerts (licence_id, days_before, sent_at) VALUES (?1, 7, ?2)",
        [licence, n - 5],
    )
    .unwrap();
    let policy: i64 = conn
        .query_row(
            "INSERT INTO privacy_policies (version, text, published_at, published_by)
             VALUES ('1', 'text', ?1, 'u1') RETURNING id",
            [n - 1000],
            |r| r.get(0),
        )
        .unwrap();
    conn.execute(
        "INSERT INTO policy_acceptances (user_id, policy_id, accepted_at) VALUES ('u1', ?1, ?2)",
        [policy, n - 900],
    )
    .unwrap();
}

/// `u2`, never verified and quiet for long, and rows of every kind retention purges, all old.
/// Every binary value is `?1` (bound: `x'..'` is a bit string on PostgreSQL).
fn seed_expired(conn: &Conn, pii: &FieldCipher) {
    conn.execute(
        "INSERT INTO users (id, email_index, email, display_name, created_at, failed_logins,
                            last_failed_login_at)
         VALUES ('u2', ?1, ?2, ?3, 1, 1, 1)",
        params![
            b"old".to_vec(),
            pii.seal_text(crate::accounts::EMAIL, "u2@north.edu"),
            pii.seal_text("users.display_name", "Bo")
        ],
    )
    .unwrap();
    let statements = [
        "INSERT INTO email_tokens (token_hash, user_id, purpose, created_at, expires_at)
         VALUES (?1, 'u2', 'verify_email', 1, 2)",
        "INSERT INTO bootstrap_tokens (token_hash, expires_at) VALUES (?1, 2)",
        "INSERT INTO unknown_email_lockouts (email_index, failed_logins, last_failure_at)
         VALUES (?1, 1, 1)",
        "INSERT INTO sessions (id, token_hash, user_id, remember_me, created_at, last_seen_at,
                               expires_at)
         VALUES ('s2', ?1, 'u2', 0, 1, 1, 2)",
        "INSERT INTO token_families (id, user_id, created_at) VALUES ('f2', 'u2', 1)",
        "INSERT INTO refresh_tokens (token_hash, family_id, created_at, expires_at)
         VALUES (?1, 'f2', 1, 2)",
        "INSERT INTO mfa_challenges (token_hash, user_id, remember_me, created_at, expires_at)
         VALUES (?1, 'u2', 0, 1, 2)",
        "INSERT INTO passkey_challenges (id_hash, purpose, state, created_at, expires_at)
         VALUES (?1, 'sign_in', '{}', 1, 2)",
        "INSERT INTO phone_codes (phone_index, code_hash, created_at, expires_at)
         VALUES (?1, ?1, 1, 2)",
        "INSERT INTO phone_code_checks (phone_index, at) VALUES (?1, 1)",
        "INSERT INTO outbox (channel, recipient, subject, body_text, created_at,
                             next_attempt_at, sent_at)
         VALUES ('email', 'x', 's', '', 1, 1, 2)",
        "INSERT INTO driver_upload_attempts (user_id, at) VALUES ('u2', 1)",
        "INSERT INTO oidc_clients (id, name, public, redirect_uris, scopes, created_at)
         VALUES ('c2', 'Old', 1, '[]', '[]', 1)",
        "INSERT INTO oidc_codes (code_hash, client_id, user_id, session_id, redirect_uri, scope,
                                 code_challenge, auth_time, amr, created_at, expires_at)
         VALUES (?1, 'c2', 'u2', 's2', 'https://app', 'openid', 'c', 1, 'pwd', 1, 2)",
        "INSERT INTO oidc_device_codes (device_code_hash, user_code, client_id, scope,
                                        created_at, expires_at, poll_interval)
         VALUES (?1, 'WXYZ', 'c2', 'openid', 1, 2, 5)",
        "INSERT INTO oidc_logouts (client_id, user_id, sid, created_at, next_attempt_at, sent_at)
         VALUES ('c2', 'u2', 'sid2', 1, 1, 2)",
        "INSERT INTO webhook_endpoints (id, url, events, secret, created_at)
         VALUES ('w2', 'https://old.example', 'user.created', 'secret', 1)",
        "INSERT INTO webhook_deliveries (message_id, endpoint_id, event_type, payload,
                                         created_at, next_attempt_at, sent_at)
         VALUES ('msg2', 'w2', 'user.created', '{}', 1, 1, 2)",
        "INSERT INTO audit_log (at, action, outcome) VALUES (1, 'old.thing', 'success')",
    ];
    for sql in statements {
        let blob = b"old".to_vec();
        let changed = if sql.contains("?1") {
            conn.execute(sql, [blob])
        } else {
            conn.execute(sql, [] as [i64; 0])
        };
        changed.unwrap();
    }
}

#[test]
fn every_feature_exports_erases_and_purges_on_both_engines() {
    let dir = tempfile::tempdir().unwrap();
    let (_keys, pii) = test_cipher();
    let erasure = super::test_registry::erasure(dir.path(), &pii);
    let (erasure, pii) = (&erasure, &pii);
    on_both_engines(|conn| {
        seed_everything(conn, pii);
        let doc = export(conn, pii, "u1", NOW).unwrap().expect("u1 exists");
        assert_eq!(doc.profile.email.as_deref(), Some("u1@north.edu"));
        assert_eq!(doc.campus.map(|c| c.name).as_deref(), Some("North"));
        assert_eq!((doc.sessions.len(), doc.api_tokens.len(), doc.app_consents.len()), (1, 1, 1));
        assert!(doc.sessions[0].remember_me);
        assert_eq!(doc.api_tokens[0].refresh_tokens_issued, 1);
        assert_eq!((doc.email_links.len(), doc.phone_codes.len()), (1, 1));
        assert_eq!((doc.audit_events.len(), doc.policy_acceptances.len()), (1, 1));
        assert!(doc.mfa.totp_enabled);
        assert_eq!((doc.mfa.recovery_codes_unused, doc.mfa.recovery_codes_used), (1, 1));
        assert_eq!(doc.mfa.passkeys[0].name, "Phone");
        assert_eq!((doc.driver.status.as_str(), doc.driver.enabled), ("approved", true));
        assert_eq!(doc.driver.licences[0].expiry_alerts.len(), 1);
        assert!(export(conn, pii, "nobody", NOW).unwrap().is_none());

        let tx = conn.transaction().unwrap();
        let reason = DeleteReason::Admin;
        let after = erasure.erase_in(&tx, "u1", reason, Some("a1"), Some("192.0.2.9"), NOW);
        let after = after.unwrap().expect("u1 exists");
        tx.commit().unwrap();
        after.run();
        for table in [
            "users WHERE id",
            "email_tokens WHERE user_id",
            "sessions WHERE user_id",
            "token_families WHERE user_id",
            "oidc_consents WHERE user_id",
            "oidc_codes WHERE user_id",
            "oidc_device_codes WHERE user_id",
            "oidc_logouts WHERE user_id",
            "totp_credentials WHERE user_id",
            "recovery_codes WHERE user_id",
            "mfa_challenges WHERE user_id",
            "passkeys WHERE user_id",
            "passkey_challenges WHERE user_id",
            "driver_profiles WHERE user_id",
            "driver_licences WHERE user_id",
            "driver_upload_attempts WHERE user_id",
            "policy_acceptances WHERE user_id",
            "oidc_clients WHERE created_by",
            "webhook_endpoints WHERE created_by",
            "privacy_policies WHERE published_by",
            "audit_log WHERE actor_id",
            "audit_log WHERE subject_id",
        ] {
            assert_eq!(
                count(conn, &format!("SELECT count(*) FROM {table} = ?1"), "u1"),
                0,
                "{table}"
            );
        }
        let p = erasure.pseudonym("u1");
        assert_eq!(
            count(conn, "SELECT count(*) FROM privacy_policies WHERE published_by = ?1", &p),
            1
        );
        let codes: i64 = conn
            .query_row("SELECT count(*) FROM phone_codes WHERE phone_index = ?1", [b"p1"], |r| {
                r.get(0)
            })
            .unwrap();
        assert_eq!(codes, 0, "codes sent to an unshared phone go");
        let left: i64 =
            conn.query_row("SELECT count(*) FROM outbox", [] as [i64; 0], |r| r.get(0)).unwrap();
        assert_eq!(left, 0, "the message to u1 went");
        let ip: Option<String> = conn
            .query_row(
                "SELECT ip FROM audit_log WHERE subject_id = ?1 AND action = 'user.signed_in'",
                [&p],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(ip, None, "pseudonymised rows lose their address");
        assert_eq!(count(conn, "SELECT count(*) FROM deleted_accounts WHERE id = ?1", "u1"), 1);
        assert_eq!(
            count(
                conn,
                "SELECT count(*) FROM webhook_deliveries WHERE event_type = ?1",
                "user.deleted"
            ),
            1
        );
        let tx = conn.transaction().unwrap();
        assert!(erasure.erase_in(&tx, "u1", reason, None, None, NOW).unwrap().is_none());
        drop(tx);

        seed_expired(conn, pii);
        let later = NOW + 400 * DAY;
        let retention = RetentionConfig::default();
        let tx = conn.transaction().unwrap();
        let mut purged = Purged::default();
        for part in erasure.parts() {
            part.purge_in(&tx, later, &retention, &mut purged).unwrap();
        }
        let mut lapsed = Vec::new();
        for part in erasure.parts() {
            lapsed.extend(part.lapsed_in(&tx, later, &retention, 10).unwrap());
        }
        assert_eq!(lapsed, ["u2"]);
        let after = erasure.erase_in(&tx, "u2", DeleteReason::Retention, None, None, later);
        assert!(after.unwrap().is_some());
        tx.commit().unwrap();
        for what in [
            "sessions",
            "refresh_tokens",
            "token_families",
            "email_links",
            "bootstrap_links",
            "lockout_series",
            "unknown_email_lockouts",
            "mfa_challenges",
            "passkey_challenges",
            "phone_codes",
            "phone_code_checks",
            "outbox_messages",
            "driver_upload_attempts",
            "oidc_codes",
            "oidc_device_codes",
            "oidc_logouts",
            "webhook_deliveries",
        ] {
            assert!(purged.get(what) > 0, "{what} purged: {purged:?}");
        }
        let gone: Option<i64> = conn
            .query_row("SELECT 1 FROM users WHERE id = 'u2'", [] as [i64; 0], |r| r.get(0))
            .optional()
            .unwrap();
        assert_eq!(gone, None);
    });
}

/// Seeds `u1` through `conn`, exports it while `second` adds a session between the export's
/// first read and the rest, and checks the document has none (a fresh export has it).
fn export_is_one_snapshot(conn: &Conn, second: &Conn, pii: &FieldCipher) {
    seed_everything(conn, pii);
    conn.execute("DELETE FROM sessions", [] as [i64; 0]).unwrap();
    let doc = export_seeing(conn, pii, "u1", NOW, &mut || {
        second
            .execute(
                "INSERT INTO sessions (id, token_hash, user_id, remember_me, created_at,
                                       last_seen_at, expires_at)
                 VALUES ('late', ?1, 'u1', 0, ?2, ?2, ?3)",
                params![b"late".to_vec(), NOW, NOW + DAY],
            )
            .unwrap();
    })
    .unwrap()
    .unwrap();
    assert!(doc.sessions.is_empty(), "the export saw a session added after its first read");
    let again = export(conn, pii, "u1", NOW).unwrap().unwrap();
    assert_eq!(again.sessions.len(), 1);
}

#[test]
fn the_export_is_one_snapshot_on_both_engines() {
    let dir = tempfile::tempdir().unwrap();
    let (_keys, pii) = test_cipher();
    // Two connections to one SQLite file (WAL: a reader does not block the writer).
    let path = dir.path().join("snapshot.db");
    let mut first = rusqlite::Connection::open(&path).unwrap();
    first.pragma_update(None, "journal_mode", "WAL").unwrap();
    crate::db::migrate(&mut first).unwrap();
    let second = rusqlite::Connection::open(&path).unwrap();
    export_is_one_snapshot(&Conn::Sqlite(&first), &Conn::Sqlite(&second), &pii);

    let Some((mut client, schema)) = postgres_client() else { return };
    crate::db::migrate_postgres(&mut client).unwrap();
    let mut other = postgres_client_in(&schema);
    {
        let conn = Conn::Postgres(std::cell::RefCell::new(&mut client));
        let second = Conn::Postgres(std::cell::RefCell::new(&mut other));
        export_is_one_snapshot(&conn, &second, &pii);
    }
    drop(other);
    drop_schema(&mut client, &schema);
}
