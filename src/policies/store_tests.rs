//! The policies store on both engines (SQLite, and PostgreSQL when the tests have a server),
//! and two PostgreSQL connections publishing one version at once.

use super::personal_data::export_acceptances;
use super::store;
use crate::db::conn_tests::insert_user as user;
use crate::db::conn_tests::{drop_schema, on_both_engines, postgres_client, race_on_postgres};

#[test]
fn versions_are_published_listed_and_accepted_alike_on_both_engines() {
    on_both_engines(|conn| {
        user(conn, "u1");
        user(conn, "u2");
        assert!(store::current(conn).unwrap().is_none());
        assert!(store::list(conn).unwrap().is_empty());
        assert_eq!(store::pending_for(conn, "u1").unwrap(), None, "nothing to accept yet");
        assert!(!store::version_exists(conn, "v1").unwrap());

        store::publish(conn, "v1", "First text.", "admin", 100).unwrap();
        assert!(store::version_exists(conn, "v1").unwrap());
        assert!(!store::version_exists(conn, "v2").unwrap());
        let twin = store::publish(conn, "v1", "Again.", "admin", 101).unwrap_err();
        assert!(twin.is_unique_violation(), "{twin}");
        let v1 = store::current(conn).unwrap().unwrap();
        assert_eq!(
            (v1.version.as_str(), v1.text.as_str(), v1.published_at),
            ("v1", "First text.", 100)
        );
        assert_eq!(store::pending_for(conn, "u1").unwrap().as_deref(), Some("v1"));

        store::accept(conn, "u1", v1.id, 110).unwrap();
        store::accept(conn, "u1", v1.id, 120).unwrap(); // again: no change
        assert_eq!(store::pending_for(conn, "u1").unwrap(), None);
        assert_eq!(store::pending_for(conn, "u2").unwrap().as_deref(), Some("v1"));

        store::publish(conn, "v2", "Second text.", "admin", 200).unwrap();
        let v2 = store::current(conn).unwrap().unwrap();
        assert_eq!(v2.version, "v2");
        assert!(v2.id > v1.id);
        assert_eq!(store::pending_for(conn, "u1").unwrap().as_deref(), Some("v2"));
        store::accept(conn, "u1", v2.id, 210).unwrap();
        store::accept(conn, "u2", v2.id, 220).unwrap();
        assert!(store::accept(conn, "nobody", v2.id, 230).is_err(), "no such account");

        let listed: Vec<_> = store::list(conn)
            .unwrap()
            .into_iter()
            .map(|p| (p.version, p.published_at, p.acceptances))
            .collect();
        assert_eq!(listed, [("v2".to_string(), 200, 2), ("v1".to_string(), 100, 1)]);

        let accepted: Vec<_> = store::acceptances_of(conn, "u1")
            .unwrap()
            .into_iter()
            .map(|a| (a.version, a.accepted_at))
            .collect();
        assert_eq!(accepted, [("v1".to_string(), 110), ("v2".to_string(), 210)]);
        assert!(store::acceptances_of(conn, "nobody").unwrap().is_empty());
        let exported = export_acceptances(conn, "u2").unwrap();
        assert_eq!(exported.len(), 1);
        assert_eq!(exported[0].version, "v2");
    });
}

/// Two admins publish the same version at once on two nodes: the second's check waits for
/// the first's transaction and finds the version, instead of passing and then failing on the
/// UNIQUE version.
#[test]
fn a_version_being_published_on_one_postgres_connection_exists_for_another() {
    let Some((mut client, schema)) = postgres_client() else { return };
    crate::db::migrate_postgres(&mut client).unwrap();
    let seen = race_on_postgres(
        &schema,
        |first| assert!(!store::version_exists(first, "v1").unwrap()),
        |second| {
            let exists = store::version_exists(second, "v1").unwrap();
            if !exists {
                let _ = store::publish(second, "v1", "Other text.", "admin-b", 101);
            }
            exists
        },
        |first| store::publish(first, "v1", "Text.", "admin-a", 100).unwrap(),
    );
    assert!(seen, "the second publisher's check passed while the first was publishing");
    drop_schema(&mut client, &schema);
}
