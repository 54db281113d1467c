//! The SQL of the passes over sealed data on both engines: the start-up key checks (the blind
//! index sample that skips sealed text), sealing plain text, re-sealing under a new key, the
//! counts a rotation reads and the key records; and, on two PostgreSQL connections, a batch
//! that cannot overwrite a change committed while it re-seals.

use rusqlite::params;
use rusqlite::types::Value;

use super::cipher::{FieldCipher, test_cipher};
use super::rotate::{mark_retired, newest_key_id};
use super::sealed::{self, Pass, SealedColumns};
use super::start_checks::{self, StartupError};
use crate::crypto;
use crate::db::conn::Conn;
use crate::db::conn_tests::{drop_schema, on_both_engines, postgres_client, postgres_client_in};

const INDEX_KEY: [u8; 32] = [9; 32];

/// The account row's sealed text (as the accounts declare it; the ground floor names no
/// feature).
const SEALED: SealedColumns =
    SealedColumns { table: "users", key: "id", columns: &["email", "display_name"] };

/// A user whose email is stored as `email` (plain or sealed) with the blind index of `plain`.
fn user(conn: &Conn, id: &str, email: &str, plain: &str) {
    conn.execute(
        "INSERT INTO users (id, email_index, email, display_name, created_at)
         VALUES (?1, ?2, ?3, 'Ada', 0)",
        params![id, crypto::keyed_hash(&INDEX_KEY, &[plain.as_bytes()]), email],
    )
    .unwrap();
}

fn email_of(conn: &Conn, pii: &FieldCipher, id: &str) -> (String, Option<u32>) {
    let stored: String =
        conn.query_row("SELECT email FROM users WHERE id = ?1", [id], |r| r.get(0)).unwrap();
    let key = sealed::value_key_id(&Value::Text(stored.clone())).unwrap();
    (pii.open_text("users.email", &stored).unwrap(), key)
}

#[test]
fn keys_are_checked_plain_text_sealed_and_values_resealed_on_both_engines() {
    on_both_engines(|conn| {
        let (_keys, pii) = test_cipher();
        // Sealed text is not a sample of the blind index: its index here is wrong on purpose.
        user(conn, "u0", &pii.seal_text("users.email", "zed@north.edu"), "other");
        start_checks::verify_keys(conn, &pii, &INDEX_KEY).unwrap();
        user(conn, "u1", "ada@north.edu", "ada@north.edu");
        start_checks::verify_keys(conn, &pii, &INDEX_KEY).unwrap();
        let wrong = start_checks::verify_keys(conn, &pii, &[8; 32]).unwrap_err();
        assert!(matches!(wrong, StartupError::WrongKey { id: 1 }), "{wrong}");

        start_checks::prepare(conn, &pii, &[SEALED], 100).unwrap();
        assert_eq!(email_of(conn, &pii, "u1"), ("ada@north.edu".into(), Some(1)));
        let per_key = sealed::values_per_key(conn, &[SEALED]).unwrap();
        assert_eq!(per_key.into_iter().collect::<Vec<_>>(), [(1, 4)], "emails and names");
        assert_eq!(sealed::total_rows(conn, &[SEALED]).unwrap(), 2);
        // Recorded: the check value of key 1, which now proves the key file.
        start_checks::verify_keys(conn, &pii, &[8; 32]).unwrap();
        start_checks::prepare(conn, &pii, &[SEALED], 100).unwrap();

        let id = pii.ring().add_key(newest_key_id(conn).unwrap()).unwrap();
        assert_eq!(id, 2);
        start_checks::record_keys(conn, &pii, 200).unwrap();
        assert_eq!(newest_key_id(conn).unwrap(), 2);
        // One row a batch: the second batch starts after the first's key.
        let changed =
            sealed::run_pass(conn, &pii, &[SEALED], Pass::Reseal { target: id }, 1, |_| {})
                .unwrap();
        assert_eq!(changed, 4);
        assert_eq!(email_of(conn, &pii, "u1"), ("ada@north.edu".into(), Some(2)));
        let per_key = sealed::values_per_key(conn, &[SEALED]).unwrap();
        assert_eq!(per_key.into_iter().collect::<Vec<_>>(), [(2, 4)]);

        // A retired key is no longer checked: its file may be gone.
        mark_retired(conn, id, 300).unwrap();
        let (_other, without_two) = test_cipher();
        start_checks::check_keys(conn, &without_two).unwrap();
        let retired: Option<i64> = conn
            .query_row("SELECT retired_at FROM pii_keys WHERE id = ?1", [id], |r| r.get(0))
            .unwrap();
        assert_eq!(retired, Some(300));
    });
}

/// On PostgreSQL a batch reads its rows `FOR UPDATE`: an email changed (and not yet
/// committed) on another connection while the batch re-seals is waited for and re-sealed,
/// not overwritten by the copy the batch would otherwise have read before it.
#[test]
fn a_batch_does_not_overwrite_a_change_committed_while_it_reseals_on_postgres() {
    let Some((mut client, schema)) = postgres_client() else { return };
    crate::db::migrate_postgres(&mut client).unwrap();
    let (_keys, pii) = test_cipher();
    {
        let conn = Conn::Postgres(std::cell::RefCell::new(&mut client));
        user(&conn, "u1", &pii.seal_text("users.email", "old@north.edu"), "old@north.edu");
    }
    let target = pii.ring().add_key(1).unwrap();
    let new_email = pii.seal_text("users.email", "new@north.edu");
    let changing = std::sync::Barrier::new(2);
    std::thread::scope(|scope| {
        scope.spawn(|| {
            let mut client = postgres_client_in(&schema);
            let conn = Conn::Postgres(std::cell::RefCell::new(&mut client));
            let tx = conn.transaction().unwrap();
            tx.execute("UPDATE users SET email = ?1 WHERE id = 'u1'", [&new_email]).unwrap();
            changing.wait();
            // Long enough for the batch to have read.
            std::thread::sleep(std::time::Duration::from_millis(300));
            tx.commit().unwrap();
        });
        scope.spawn(|| {
            let mut client = postgres_client_in(&schema);
            let conn = Conn::Postgres(std::cell::RefCell::new(&mut client));
            changing.wait();
            sealed::batch(&conn, &pii, &SEALED, None, 10, Pass::Reseal { target }).unwrap();
        });
    });
    {
        let conn = Conn::Postgres(std::cell::RefCell::new(&mut client));
        assert_eq!(email_of(&conn, &pii, "u1"), ("new@north.edu".into(), Some(target)));
    }
    drop_schema(&mut client, &schema);
}
