//! The SQL of TOTP credentials, recovery codes and pending sign-ins on both engines (SQLite,
//! and PostgreSQL when the tests have a server), and their turns on two PostgreSQL
//! connections.

use super::*;
use crate::db::conn::Conn;
use crate::db::conn_tests::insert_user as user;
use crate::db::conn_tests::{drop_schema, on_both_engines, postgres_client, race_on_postgres};
use crate::pii::cipher::test_cipher;

fn codes(n: u8) -> Vec<Vec<u8>> {
    (0..10).map(|i| vec![n, i]).collect()
}

#[test]
fn a_credential_is_enrolled_confirmed_stepped_and_removed_alike_on_both_engines() {
    let (_keys, pii) = test_cipher();
    on_both_engines(|conn| {
        user(conn, "u");
        assert!(credential(conn, &pii, "u").unwrap().is_none());
        assert!(!enabled(conn, "u").unwrap());
        start_enrolment(conn, &pii, "u", b"secret-1", 100).unwrap();
        let started = credential(conn, &pii, "u").unwrap().unwrap();
        assert_eq!((started.secret.as_slice(), started.confirmed), (&b"secret-1"[..], false));
        assert!(!enabled(conn, "u").unwrap(), "off until confirmed");

        assert!(use_step(conn, "u", 10).unwrap());
        assert!(!use_step(conn, "u", 10).unwrap(), "a step once");
        assert!(!use_step(conn, "u", 9).unwrap(), "nor an earlier one");
        confirm(conn, "u", 110).unwrap();
        let on = credential(conn, &pii, "u").unwrap().unwrap();
        assert_eq!((on.confirmed, on.last_step), (true, Some(10)));
        assert!(enabled(conn, "u").unwrap());

        // Restarting replaces the secret and turns TOTP off until confirmed again.
        start_enrolment(conn, &pii, "u", b"secret-2", 120).unwrap();
        let again = credential(conn, &pii, "u").unwrap().unwrap();
        assert_eq!(
            (again.secret.as_slice(), again.confirmed, again.last_step),
            (&b"secret-2"[..], false, None)
        );

        replace_recovery_codes(conn, "u", &codes(1), 100).unwrap();
        create_challenge(conn, b"t", "u", false, Amr::PASSWORD, 100).unwrap();
        remove(conn, "u").unwrap();
        assert!(credential(conn, &pii, "u").unwrap().is_none());
        assert_eq!(unused_recovery_codes(conn, "u").unwrap(), 0);
        assert!(find_challenge(conn, b"t").unwrap().is_none());
    });
}

#[test]
fn recovery_codes_are_replaced_and_spent_once_alike_on_both_engines() {
    on_both_engines(|conn| {
        user(conn, "u");
        replace_recovery_codes(conn, "u", &codes(1), 100).unwrap();
        assert_eq!(unused_recovery_codes(conn, "u").unwrap(), 10);
        let mut twice = codes(2);
        twice.push(vec![2, 0]);
        replace_recovery_codes(conn, "u", &twice, 110).unwrap();
        assert_eq!(unused_recovery_codes(conn, "u").unwrap(), 10, "replaced; a repeat ignored");
        assert!(!use_recovery_code(conn, "u", &[1, 0], 120).unwrap(), "an old code");
        assert!(use_recovery_code(conn, "u", &[2, 0], 120).unwrap());
        assert!(!use_recovery_code(conn, "u", &[2, 0], 121).unwrap(), "spent once");
        assert_eq!(unused_recovery_codes(conn, "u").unwrap(), 9);
    });
}

#[test]
fn a_pending_sign_in_is_found_failed_ended_and_purged_alike_on_both_engines() {
    on_both_engines(|conn| {
        user(conn, "u");
        create_challenge(conn, b"old", "u", false, Amr::PASSWORD, 100).unwrap();
        create_challenge(conn, b"t", "u", true, Amr::PHONE_CODE, 100 + CHALLENGE_SECONDS).unwrap();
        assert!(find_challenge(conn, b"old").unwrap().is_none(), "expired ones purged");
        let found = find_challenge(conn, b"t").unwrap().unwrap();
        assert_eq!(
            (found.user_id.as_str(), found.remember_me, found.first_factor.to_db()),
            ("u", true, Amr::PHONE_CODE.to_db())
        );
        assert_eq!((found.created_at, found.expires_at, found.attempts), (400, 700, 0));
        for attempt in 1..CHALLENGE_ATTEMPTS {
            fail_challenge(conn, b"t").unwrap();
            assert_eq!(find_challenge(conn, b"t").unwrap().unwrap().attempts, attempt);
        }
        fail_challenge(conn, b"t").unwrap();
        assert!(find_challenge(conn, b"t").unwrap().is_none(), "ended after its attempts");
        create_challenge(conn, b"t2", "u", false, Amr::PASSWORD, 500).unwrap();
        delete_challenge(conn, b"t2").unwrap();
        assert!(find_challenge(conn, b"t2").unwrap().is_none());
    });
}

fn migrated_postgres(setup: impl FnOnce(&Conn)) -> Option<(postgres::Client, String)> {
    let (mut client, schema) = postgres_client()?;
    crate::db::migrate_postgres(&mut client).unwrap();
    setup(&Conn::Postgres(std::cell::RefCell::new(&mut client)));
    Some((client, schema))
}

/// Two answers to one pending sign-in at once (two recovery codes) on two nodes: the second
/// must find it ended by the first, not open a second session.
#[test]
fn a_pending_sign_in_being_answered_on_one_postgres_connection_is_read_ended_on_another() {
    let Some((mut client, schema)) = migrated_postgres(|conn| {
        user(conn, "u");
        create_challenge(conn, b"t", "u", false, Amr::PASSWORD, 100).unwrap();
    }) else {
        return;
    };
    let seen = race_on_postgres(
        &schema,
        |tx| assert!(find_challenge(tx, b"t").unwrap().is_some()),
        |tx| find_challenge(tx, b"t").unwrap(),
        |tx| delete_challenge(tx, b"t").unwrap(),
    );
    assert!(seen.is_none(), "the second answer read a pending sign-in being ended");
    drop_schema(&mut client, &schema);
}

/// Recovery codes replaced twice at once on two nodes: ten codes are left, the second set.
#[test]
fn recovery_codes_replaced_on_two_postgres_connections_at_once_are_ten() {
    let Some((mut client, schema)) = migrated_postgres(|conn| {
        user(conn, "u");
        replace_recovery_codes(conn, "u", &codes(1), 100).unwrap();
    }) else {
        return;
    };
    race_on_postgres(
        &schema,
        |tx| replace_recovery_codes(tx, "u", &codes(2), 110).unwrap(),
        |tx| replace_recovery_codes(tx, "u", &codes(3), 111).unwrap(),
        |_| {},
    );
    {
        let conn = Conn::Postgres(std::cell::RefCell::new(&mut client));
        assert_eq!(unused_recovery_codes(&conn, "u").unwrap(), 10, "two sets of codes were kept");
        assert!(use_recovery_code(&conn, "u", &[3, 0], 120).unwrap(), "the second set");
    }
    drop_schema(&mut client, &schema);
}

/// An enrolment restarted on one node while another confirms it: the confirmation, which
/// checked a code against the first secret, must not turn TOTP on with the second.
#[test]
fn an_enrolment_being_confirmed_on_one_postgres_connection_is_restarted_after_it() {
    let (_keys, pii) = test_cipher();
    let Some((mut client, schema)) = migrated_postgres(|conn| {
        user(conn, "u");
        start_enrolment(conn, &pii, "u", b"secret-1", 100).unwrap();
    }) else {
        return;
    };
    race_on_postgres(
        &schema,
        |tx| assert_eq!(credential(tx, &pii, "u").unwrap().unwrap().secret, b"secret-1"),
        |tx| start_enrolment(tx, &pii, "u", b"secret-2", 110).unwrap(),
        |tx| confirm(tx, "u", 105).unwrap(),
    );
    {
        let conn = Conn::Postgres(std::cell::RefCell::new(&mut client));
        let after = credential(&conn, &pii, "u").unwrap().unwrap();
        assert_eq!(
            (after.secret.as_slice(), after.confirmed),
            (&b"secret-2"[..], false),
            "TOTP was turned on with a secret no code was checked against"
        );
    }
    drop_schema(&mut client, &schema);
}
