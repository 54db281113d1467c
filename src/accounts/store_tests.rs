//! The accounts store on both engines (SQLite, and PostgreSQL when the tests have a server),
//! and the verification-link limit holding when two PostgreSQL connections race.

use std::sync::Barrier;

use rusqlite::params;

use super::*;
use crate::db::conn_tests::{
    drop_schema, on_both_engines, postgres_client, postgres_client_in, race_on_postgres,
};

fn new_user<'a>(id: &'a str, index: &'a [u8], email: &'a str) -> NewUser<'a> {
    NewUser {
        id,
        email_index: index,
        email,
        display_name: "Ada",
        legal_name: Some("Ada Lovelace"),
        phone: None,
        phone_index: None,
        password_hash: Some("hash-1"),
        campus_id: None,
        role: "user",
        email_verified_at: None,
        now: 10,
    }
}

#[test]
fn accounts_are_added_found_and_changed_alike_on_both_engines() {
    let (_keys, pii) = crate::pii::cipher::test_cipher();
    on_both_engines(|conn| {
        let campus: i64 = conn
            .query_row(
                "INSERT INTO campuses (name, created_at) VALUES ('North', 0) RETURNING id",
                params![],
                |r| r.get(0),
            )
            .unwrap();
        let mut ada = new_user("u1", &[1], "ada@north.edu");
        ada.campus_id = Some(campus);
        assert!(insert(conn, &pii, &ada).unwrap());
        assert!(
            !insert(conn, &pii, &new_user("u2", &[1], "ada@north.edu")).unwrap(),
            "the email is taken: refused by the unique index, not an error"
        );

        let found = find_by_email_index(conn, &pii, &[1]).unwrap().unwrap();
        assert_eq!(
            (found.id.as_str(), found.email.as_deref(), found.legal_name.as_deref()),
            ("u1", Some("ada@north.edu"), Some("Ada Lovelace"))
        );
        assert_eq!((found.campus_id, found.campus_name.as_deref()), (Some(campus), Some("North")));
        let stored: String = conn
            .query_row("SELECT email FROM users WHERE id = 'u1'", params![], |r| r.get(0))
            .unwrap();
        assert_ne!(stored, "ada@north.edu", "the email is sealed at rest");
        assert!(find_by_id(conn, &pii, "nobody").unwrap().is_none());
        assert_eq!(campus_of(conn, "u1").unwrap(), Some(campus));
        assert_eq!(campus_of(conn, "nobody").unwrap(), None);

        assert_eq!(role_of(conn, "u1").unwrap().as_deref(), Some("user"));
        assert_eq!(count_admins(conn).unwrap(), 0);
        set_role(conn, "u1", "admin").unwrap();
        assert_eq!(count_admins(conn).unwrap(), 1);

        assert!(mark_email_verified(conn, "u1", 20).unwrap());
        assert!(!mark_email_verified(conn, "u1", 21).unwrap(), "verified once");
        assert_eq!(find_by_id(conn, &pii, "u1").unwrap().unwrap().email_verified_at, Some(20));

        assert_eq!(password_hash_of(conn, "u1").unwrap().as_deref(), Some("hash-1"));
        upgrade_password_hash(conn, "u1", "not-the-hash", "hash-x").unwrap();
        assert_eq!(password_hash_of(conn, "u1").unwrap().as_deref(), Some("hash-1"));
        upgrade_password_hash(conn, "u1", "hash-1", "hash-2").unwrap();
        set_password(conn, "u1", "hash-3", 30).unwrap();
        assert_eq!(password_hash_of(conn, "u1").unwrap().as_deref(), Some("hash-3"));

        update_profile(conn, &pii, "u1", Some("Ada L."), Some(None), 1_000).unwrap();
        let changed = find_by_id(conn, &pii, "u1").unwrap().unwrap();
        assert_eq!(
            (changed.display_name.as_str(), changed.legal_name, changed.profile_updated_at),
            ("Ada L.", None, Some(1_000)),
            "dated by the app's clock"
        );

        assert!(find_by_verified_phone(conn, &pii, b"p1").unwrap().is_none());
        set_verified_phone(conn, &pii, "u1", "+15550100", b"p1", 40).unwrap();
        let by_phone = find_by_verified_phone(conn, &pii, b"p1").unwrap().unwrap();
        assert_eq!((by_phone.id.as_str(), by_phone.phone.as_deref()), ("u1", Some("+15550100")));
        insert_phone_user(conn, &pii, "u3", "+15550101", b"p2", "Phone", 50).unwrap();
        let phone_only = find_by_verified_phone(conn, &pii, b"p2").unwrap().unwrap();
        assert_eq!((phone_only.email, phone_only.phone_verified_at), (None, Some(50)));

        assert!(!is_disabled(conn, "u1").unwrap());
        conn.execute("UPDATE users SET disabled_at = 60 WHERE id = 'u1'", params![]).unwrap();
        assert!(is_disabled(conn, "u1").unwrap());
        assert!(!is_disabled(conn, "nobody").unwrap());
    });
}

#[test]
fn email_links_and_bootstrap_links_are_spent_once_on_both_engines() {
    let (_keys, pii) = crate::pii::cipher::test_cipher();
    on_both_engines(|conn| {
        assert!(insert(conn, &pii, &new_user("u1", &[1], "ada@north.edu")).unwrap());
        insert_email_token(conn, b"t1", "u1", VERIFY_EMAIL, 100, 200).unwrap();
        insert_email_token(conn, b"t2", "u1", VERIFY_EMAIL, 150, 250).unwrap();
        assert_eq!(email_tokens_since(conn, "u1", VERIFY_EMAIL, 100).unwrap(), (2, Some(150)));
        assert_eq!(email_tokens_since(conn, "u1", VERIFY_EMAIL, 151).unwrap(), (0, None));
        assert_eq!(email_tokens_since(conn, "u1", RESET_PASSWORD, 0).unwrap(), (0, None));
        assert!(find_email_token(conn, b"t1", RESET_PASSWORD).unwrap().is_none(), "other purpose");

        assert!(consume_email_token(conn, b"t1", 160).unwrap());
        assert!(!consume_email_token(conn, b"t1", 161).unwrap(), "spent once");
        let t1 = find_email_token(conn, b"t1", VERIFY_EMAIL).unwrap().unwrap();
        assert_eq!((t1.user_id.as_str(), t1.expires_at, t1.used_at), ("u1", 200, Some(160)));
        retire_email_tokens(conn, "u1", VERIFY_EMAIL, 170).unwrap();
        assert_eq!(
            find_email_token(conn, b"t2", VERIFY_EMAIL).unwrap().unwrap().used_at,
            Some(170)
        );

        insert_bootstrap_token(conn, b"b1", 500).unwrap();
        insert_bootstrap_token(conn, b"b2", 500).unwrap();
        assert!(!bootstrap_token_usable(conn, b"b1", 100).unwrap(), "a new link replaces the old");
        assert!(bootstrap_token_usable(conn, b"b2", 100).unwrap());
        assert!(!bootstrap_token_usable(conn, b"b2", 500).unwrap(), "expired");
        set_role(conn, "u1", "admin").unwrap();
        assert!(!bootstrap_token_usable(conn, b"b2", 100).unwrap(), "an admin exists");
        assert!(consume_bootstrap_token(conn, b"b2", 100).unwrap());
        assert!(!consume_bootstrap_token(conn, b"b2", 101).unwrap(), "spent once");
        delete_bootstrap_tokens(conn).unwrap();
        let left: i64 = conn
            .query_row("SELECT count(*) FROM bootstrap_tokens", params![], |r| r.get(0))
            .unwrap();
        assert_eq!(left, 0);
    });
}

/// Two nodes send a verification link for one account at once, with room for one more: the
/// count and the insert of each take turns, so only one gets through.
#[test]
fn two_postgres_connections_cannot_both_count_room_for_the_last_link() {
    let (_keys, pii) = crate::pii::cipher::test_cipher();
    let Some((mut client, schema)) = postgres_client() else { return };
    crate::db::migrate_postgres(&mut client).unwrap();
    {
        let conn = Conn::Postgres(std::cell::RefCell::new(&mut client));
        assert!(insert(&conn, &pii, &new_user("u1", &[1], "ada@north.edu")).unwrap());
    }
    let start = Barrier::new(2);
    let sent: usize = std::thread::scope(|scope| {
        let senders: Vec<_> = (0..2_u8)
            .map(|i| {
                let start = &start;
                let schema = &schema;
                scope.spawn(move || {
                    let mut client = postgres_client_in(schema);
                    let conn = Conn::Postgres(std::cell::RefCell::new(&mut client));
                    start.wait();
                    let tx = conn.transaction().unwrap();
                    // The first to count keeps its turn until it commits; the other waits at
                    // its count meanwhile, then sees the first one's link.
                    let (count, _) = email_tokens_since(&tx, "u1", VERIFY_EMAIL, 0).unwrap();
                    if count >= 1 {
                        return 0;
                    }
                    std::thread::sleep(std::time::Duration::from_millis(200));
                    insert_email_token(&tx, &[i], "u1", VERIFY_EMAIL, 100, 200).unwrap();
                    tx.commit().unwrap();
                    1
                })
            })
            .collect();
        senders.into_iter().map(|s| s.join().unwrap()).sum()
    });
    assert_eq!(sent, 1, "both counted room for the one link left");
    drop_schema(&mut client, &schema);
}

#[test]
fn the_password_read_before_a_session_is_opened_on_both_engines() {
    let (_keys, pii) = crate::pii::cipher::test_cipher();
    on_both_engines(|conn| {
        assert!(insert(conn, &pii, &new_user("u1", &[1], "ada@north.edu")).unwrap());
        let tx = conn.transaction().unwrap();
        assert_eq!(password_hash_for_update(&tx, "u1").unwrap().as_deref(), Some("hash-1"));
        assert_eq!(password_changed_at_for_update(&tx, "u1").unwrap(), Some(10), "made at 10");
        set_password(&tx, "u1", "hash-2", 50).unwrap();
        assert_eq!(password_hash_for_update(&tx, "u1").unwrap().as_deref(), Some("hash-2"));
        assert_eq!(password_changed_at_for_update(&tx, "u1").unwrap(), Some(50));
        assert_eq!(password_hash_for_update(&tx, "nobody").unwrap(), None);
        assert_eq!(password_changed_at_for_update(&tx, "nobody").unwrap(), None);
        tx.commit().unwrap();
    });
}

/// A password reset on one node while a sign-in on another checks the old password: the
/// sign-in's read waits for the reset and sees the new hash, so it opens no session that the
/// reset's "end every session" would have missed.
#[test]
fn a_sign_in_on_postgres_sees_a_reset_committing_meanwhile() {
    let (_keys, pii) = crate::pii::cipher::test_cipher();
    let Some((mut client, schema)) = postgres_client() else { return };
    crate::db::migrate_postgres(&mut client).unwrap();
    {
        let conn = Conn::Postgres(std::cell::RefCell::new(&mut client));
        assert!(insert(&conn, &pii, &new_user("u1", &[1], "ada@north.edu")).unwrap());
    }
    let (hash, changed) = race_on_postgres(
        &schema,
        |reset| set_password(reset, "u1", "hash-2", 50).unwrap(),
        |sign_in| {
            let hash = password_hash_for_update(sign_in, "u1").unwrap();
            (hash, password_changed_at_for_update(sign_in, "u1").unwrap())
        },
        |_| {},
    );
    drop_schema(&mut client, &schema);
    assert_eq!((hash.as_deref(), changed), (Some("hash-2"), Some(50)));
}
