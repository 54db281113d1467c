//! Two deletions of one account at once on two PostgreSQL connections: the account's row is
//! read `FOR UPDATE`, so the second waits for the first and finds the account gone; the
//! deletion is recorded and announced once.

use rusqlite::params;

use crate::db::conn::Conn;
use crate::db::conn_tests::{drop_schema, postgres_client, race_on_postgres};
use crate::pii::DeleteReason;
use crate::pii::cipher::test_cipher;

#[test]
fn an_account_deleted_twice_at_once_is_erased_once_on_postgres() {
    let Some((mut client, schema)) = postgres_client() else { return };
    crate::db::migrate_postgres(&mut client).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (_keys, pii) = test_cipher();
    let erasure = super::test_registry::erasure(dir.path(), &pii);
    {
        let conn = Conn::Postgres(std::cell::RefCell::new(&mut client));
        conn.execute(
            "INSERT INTO users (id, email_index, email, display_name, created_at)
             VALUES ('u1', ?1, ?2, ?3, 0)",
            params![
                b"u1".to_vec(),
                pii.seal_text("users.email", "u1@north.edu"),
                pii.seal_text("users.display_name", "Ada")
            ],
        )
        .unwrap();
        conn.execute(
            "INSERT INTO webhook_endpoints (id, url, events, secret, created_at)
             VALUES ('w1', 'https://hooks.example', 'user.deleted', 'secret', 0)",
            [] as [i64; 0],
        )
        .unwrap();
    }
    let erase = |tx: &Conn| {
        erasure.erase_in(tx, "u1", DeleteReason::Admin, Some("a1"), None, 100).unwrap().is_some()
    };
    let second_erased = race_on_postgres(&schema, |tx| assert!(erase(tx)), |tx| erase(tx), |_| {});
    assert!(!second_erased, "the second deletion found the account still there");
    {
        let conn = Conn::Postgres(std::cell::RefCell::new(&mut client));
        let count =
            |sql: &str| -> i64 { conn.query_row(sql, [] as [i64; 0], |r| r.get(0)).unwrap() };
        assert_eq!(count("SELECT count(*) FROM audit_log WHERE action = 'account.deleted'"), 1);
        assert_eq!(count("SELECT count(*) FROM webhook_deliveries"), 1);
    }
    drop_schema(&mut client, &schema);
}
