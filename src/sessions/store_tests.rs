//! The sessions store on both engines (SQLite, and PostgreSQL when the tests have a server).

use rusqlite::params;

use super::store::{self, NewSession};
use crate::db::conn::Conn;
use crate::db::conn_tests::on_both_engines;

fn user(conn: &Conn, id: &str, disabled: bool) {
    conn.execute(
        "INSERT INTO users (id, email_index, email, display_name, role, created_at,
                            email_verified_at, disabled_at)
         VALUES (?1, ?2, ?3, 'Ada', 'user', 0, 5, ?4)",
        params![id, id.as_bytes(), format!("{id}@north.edu"), disabled.then_some(9_i64)],
    )
    .unwrap();
}

fn session(conn: &Conn, id: &str, user_id: &str, hash: &[u8], now: i64) {
    store::insert(
        conn,
        &NewSession {
            id,
            token_hash: hash,
            user_id,
            remember_me: true,
            now,
            expires_at: now + 100,
            ip: Some("10.0.0.1"),
            user_agent: None,
            amr: "pwd",
        },
    )
    .unwrap();
}

#[test]
fn sessions_are_found_touched_and_deleted_alike_on_both_engines() {
    on_both_engines(|conn| {
        user(conn, "u1", false);
        user(conn, "u2", true);
        session(conn, "s1", "u1", b"h1", 10);
        session(conn, "s2", "u1", b"h2", 20);
        session(conn, "s3", "u2", b"h3", 30);

        let found = store::find_by_token(conn, b"h1").unwrap().unwrap();
        assert_eq!((found.id.as_str(), found.role.as_str()), ("s1", "user"));
        assert!(found.email_verified && found.remember_me);
        assert_eq!((found.created_at, found.last_seen_at, found.expires_at), (10, 10, 110));
        assert!(store::find_by_token(conn, b"h3").unwrap().is_none(), "disabled user");
        assert!(store::find_by_token(conn, b"nope").unwrap().is_none());

        // Touching never moves last_seen_at back, and keeps the address when none is given.
        store::touch(conn, "s1", 50, None).unwrap();
        store::touch(conn, "s1", 40, Some("10.0.0.2")).unwrap();
        let listed = store::list_for_user(conn, "u1").unwrap();
        let ids: Vec<&str> = listed.iter().map(|s| s.id.as_str()).collect();
        assert_eq!(ids, ["s1", "s2"], "most recently seen first");
        assert_eq!((listed[0].last_seen_at, listed[0].ip.as_deref()), (50, Some("10.0.0.2")));

        assert!(store::exists(conn, "s2").unwrap());
        assert_eq!(store::delete(conn, "u2", "s2").unwrap(), None, "not u2's session");
        assert_eq!(store::delete(conn, "u1", "s2").unwrap(), Some(b"h2".to_vec()));
        assert!(!store::exists(conn, "s2").unwrap());

        session(conn, "s4", "u1", b"h4", 60);
        let mut kept_one = store::delete_all_with_ids(conn, "u1", Some("s1")).unwrap();
        kept_one.sort();
        assert_eq!(kept_one, [("s4".to_string(), b"h4".to_vec())]);
        assert_eq!(store::delete_all(conn, "u1", None).unwrap(), [b"h1".to_vec()]);
        store::delete_by_token(conn, b"h3").unwrap();
        assert!(!store::exists(conn, "s3").unwrap());
    });
}
