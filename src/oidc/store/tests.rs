//! Authorization and device codes on both engines (SQLite, and PostgreSQL when the tests have
//! a server), and a code spent on one PostgreSQL connection while another reads it.

use rusqlite::params;

use super::{codes, device_codes};
use crate::db::conn::Conn;
use crate::db::conn_tests::{drop_schema, on_both_engines, postgres_client, race_on_postgres};

/// The account "u" and the client "app" that codes belong to.
fn owners(conn: &Conn) {
    conn.execute(
        "INSERT INTO users (id, email_index, email, display_name, role, created_at)
         VALUES ('u', ?1, 'a@b.edu', 'A', 'user', 0)",
        params![vec![1_u8]],
    )
    .unwrap();
    conn.execute(
        "INSERT INTO oidc_clients (id, name, public, redirect_uris, scopes, created_at)
         VALUES ('app', 'App', 1, '[]', '[\"openid\"]', 0)",
        params![],
    )
    .unwrap();
}

fn code_row(expires_at: i64) -> codes::CodeRow {
    codes::CodeRow {
        client_id: "app".into(),
        user_id: "u".into(),
        session_id: "s1".into(),
        redirect_uri: "https://app.example/cb".into(),
        scope: "openid email".into(),
        nonce: None,
        code_challenge: "challenge".into(),
        auth_time: 90,
        amr: "pwd".into(),
        expires_at,
        used_at: None,
        family_id: None,
    }
}

#[test]
fn a_code_is_found_spent_once_and_purged_alike_on_both_engines() {
    on_both_engines(|conn| {
        owners(conn);
        assert!(codes::find_to_spend(conn, b"c1").unwrap().is_none(), "no code yet");
        let mut row = code_row(160);
        row.nonce = Some("n-1".into());
        codes::insert(conn, b"c1", &row, 100).unwrap();
        let found = codes::find_to_spend(conn, b"c1").unwrap().unwrap();
        assert_eq!(
            (found.scope.as_str(), found.nonce.as_deref(), found.auth_time, found.expires_at),
            ("openid email", Some("n-1"), 90, 160)
        );
        assert_eq!((found.used_at, found.family_id), (None, None));

        assert!(codes::spend(conn, b"c1", Some("fam-1"), 120).unwrap());
        assert!(!codes::spend(conn, b"c1", Some("fam-2"), 121).unwrap(), "spent once only");
        let spent = codes::find_to_spend(conn, b"c1").unwrap().unwrap();
        assert_eq!((spent.used_at, spent.family_id.as_deref()), (Some(120), Some("fam-1")));

        // Kept ten minutes past its expiry, so that a second use is still recognised.
        assert_eq!(codes::purge(conn, 160 + 600).unwrap(), 0);
        assert_eq!(codes::purge(conn, 160 + 601).unwrap(), 1);
        assert!(codes::find_to_spend(conn, b"c1").unwrap().is_none());
    });
}

#[test]
fn a_device_request_is_answered_polled_and_spent_once_on_both_engines() {
    on_both_engines(|conn| {
        owners(conn);
        let insert = |hash: &[u8], user_code: &str| {
            device_codes::insert(conn, hash, user_code, "app", "openid", 100, 700, 5).unwrap()
        };
        assert!(insert(b"d1", "BCDFGHJK"));
        assert!(!insert(b"d2", "BCDFGHJK"), "a user code taken is refused, not overwritten");

        let open = device_codes::open_by_user_code(conn, "BCDFGHJK", 200).unwrap().unwrap();
        assert_eq!((open.client_id.as_str(), open.decision), ("app", None));
        assert!(device_codes::open_by_user_code(conn, "BCDFGHJK", 700).unwrap().is_none());

        assert!(device_codes::decide(conn, "BCDFGHJK", true, "u", "s1", 90, "pwd", 200).unwrap());
        assert!(
            !device_codes::decide(conn, "BCDFGHJK", false, "u", "s1", 90, "pwd", 201).unwrap(),
            "answered once only"
        );
        assert!(device_codes::open_by_user_code(conn, "BCDFGHJK", 202).unwrap().is_none());

        device_codes::polled(conn, b"d1", 210, 10).unwrap();
        let polled = device_codes::find_to_poll(conn, b"d1").unwrap().unwrap();
        assert_eq!(
            (polled.decision.as_deref(), polled.user_id.as_deref(), polled.amr.as_deref()),
            (Some("approved"), Some("u"), Some("pwd"))
        );
        assert_eq!(
            (polled.last_polled_at, polled.poll_interval, polled.used_at),
            (Some(210), 10, None)
        );

        assert!(device_codes::spend(conn, b"d1", 220).unwrap());
        assert!(!device_codes::spend(conn, b"d1", 221).unwrap(), "spent once only");
        assert!(device_codes::find_to_poll(conn, b"d2").unwrap().is_none());
    });
}

/// Two nodes exchange one code at once: the second must read it spent (and so treat the
/// exchange as a reuse), not unused. It reads while the first holds the code, and waits.
#[test]
fn a_code_being_spent_on_one_postgres_connection_is_read_spent_on_another() {
    let Some((mut client, schema)) = postgres_client() else { return };
    crate::db::migrate_postgres(&mut client).unwrap();
    {
        let conn = Conn::Postgres(std::cell::RefCell::new(&mut client));
        owners(&conn);
        codes::insert(&conn, b"c1", &code_row(1_000), 100).unwrap();
    }
    let seen = race_on_postgres(
        &schema,
        |first| assert!(codes::find_to_spend(first, b"c1").unwrap().unwrap().used_at.is_none()),
        |second| codes::find_to_spend(second, b"c1").unwrap().unwrap(),
        |first| assert!(codes::spend(first, b"c1", Some("fam-1"), 120).unwrap()),
    );
    assert_eq!(
        (seen.used_at, seen.family_id.as_deref()),
        (Some(120), Some("fam-1")),
        "the second exchange read the code as unused while the first was spending it"
    );
    drop_schema(&mut client, &schema);
}
