//! Clients, consents and back-channel logouts on both engines (SQLite, and PostgreSQL when the
//! tests have a server), and their read-then-write turns on two PostgreSQL connections.

use super::{clients, consents, logouts};
use crate::db::conn::Conn;
use crate::db::conn_tests::insert_user as user;
use crate::db::conn_tests::{drop_schema, on_both_engines, postgres_client, race_on_postgres};
use crate::oidc::client::NewClient;

fn new_client(name: &str, backchannel: Option<&str>) -> NewClient {
    NewClient {
        name: name.into(),
        redirect_uris: vec!["https://app.example/cb".into()],
        public: false,
        trusted: true,
        scopes: vec!["openid".into(), "email".into()],
        post_logout_redirect_uris: vec!["https://app.example/bye".into()],
        backchannel_logout_uri: backchannel.map(str::to_string),
        id_token_alg: Some("EdDSA".into()),
    }
}

#[test]
fn clients_are_stored_found_listed_rotated_and_removed_alike_on_both_engines() {
    on_both_engines(|conn| {
        assert!(clients::find(conn, "a").unwrap().is_none());
        clients::insert(conn, "b", &new_client("Rides", None), Some(b"h1"), Some("admin"), 100)
            .unwrap();
        let mut public = new_client("Library", Some("https://lib.example/logout"));
        (public.public, public.trusted, public.id_token_alg) = (true, false, None);
        clients::insert(conn, "a", &public, None, None, 101).unwrap();

        let b = clients::find(conn, "b").unwrap().unwrap();
        assert_eq!((b.name.as_str(), b.public, b.trusted), ("Rides", false, true));
        assert_eq!(b.redirect_uris, ["https://app.example/cb"]);
        assert_eq!(b.post_logout_redirect_uris, ["https://app.example/bye"]);
        assert_eq!(b.scopes, ["openid", "email"]);
        assert_eq!(
            (b.created_at, b.secret_rotated_at, b.id_token_alg.as_str()),
            (100, None, "EdDSA")
        );
        let a = clients::find_to_change(conn, "a").unwrap().unwrap();
        assert_eq!((a.public, a.trusted, a.id_token_alg.as_str()), (true, false, "RS256"));
        assert_eq!(a.backchannel_logout_uri.as_deref(), Some("https://lib.example/logout"));

        let (_, secret) = clients::find_with_secret(conn, "b").unwrap().unwrap();
        assert_eq!(secret.as_deref(), Some(&b"h1"[..]));
        assert_eq!(clients::find_with_secret(conn, "a").unwrap().unwrap().1, None);
        let names: Vec<String> = clients::list(conn).unwrap().into_iter().map(|c| c.name).collect();
        assert_eq!(names, ["Library", "Rides"], "ordered by name");

        clients::set_secret(conn, "b", b"h2", 130).unwrap();
        let (b, secret) = clients::find_with_secret(conn, "b").unwrap().unwrap();
        assert_eq!((b.secret_rotated_at, secret.as_deref()), (Some(130), Some(&b"h2"[..])));
        clients::delete(conn, "b").unwrap();
        assert!(clients::find_to_change(conn, "b").unwrap().is_none());
        assert_eq!(clients::list(conn).unwrap().len(), 1);
    });
}

#[test]
fn consents_are_granted_widened_listed_and_removed_alike_on_both_engines() {
    on_both_engines(|conn| {
        user(conn, "u");
        clients::insert(conn, "z", &new_client("Zoo", None), Some(b"h"), None, 0).unwrap();
        clients::insert(conn, "m", &new_client("Maps", None), Some(b"h"), None, 0).unwrap();
        assert_eq!(consents::find(conn, "u", "z").unwrap(), None);
        consents::upsert(conn, "u", "z", "openid", 100).unwrap();
        assert_eq!(consents::find_to_widen(conn, "u", "z").unwrap().as_deref(), Some("openid"));
        consents::upsert(conn, "u", "z", "openid email", 110).unwrap();
        consents::upsert(conn, "u", "m", "openid", 120).unwrap();
        let rows: Vec<_> = consents::of_user(conn, "u")
            .unwrap()
            .into_iter()
            .map(|r| (r.client_id, r.client_name, r.scope, r.granted_at))
            .collect();
        assert_eq!(
            rows,
            [
                ("m".into(), "Maps".into(), "openid".into(), 120),
                ("z".into(), "Zoo".into(), "openid email".into(), 110)
            ]
        );
        assert!(consents::delete(conn, "u", "z").unwrap());
        assert!(!consents::delete(conn, "u", "z").unwrap(), "gone already");
        assert_eq!(consents::of_user(conn, "u").unwrap().len(), 1);
    });
}

#[test]
fn logouts_are_queued_once_delivered_retried_and_given_up_alike_on_both_engines() {
    on_both_engines(|conn| {
        user(conn, "u");
        clients::insert(
            conn,
            "bc",
            &new_client("Rides", Some("https://r.example/l")),
            Some(b"h"),
            None,
            0,
        )
        .unwrap();
        clients::insert(conn, "quiet", &new_client("Maps", None), Some(b"h"), None, 0).unwrap();
        assert!(logouts::queue(conn, "bc", "u", "s1", 100).unwrap());
        assert!(!logouts::queue(conn, "bc", "u", "s1", 101).unwrap(), "the same logout");
        assert!(!logouts::queue(conn, "quiet", "u", "s1", 100).unwrap(), "no back channel");
        assert!(logouts::queue(conn, "bc", "u", "s2", 105).unwrap());

        assert!(logouts::due(conn, 99, 10).unwrap().is_empty());
        let due = logouts::due(conn, 105, 10).unwrap();
        let sids: Vec<&str> = due.iter().map(|d| d.sid.as_str()).collect();
        assert_eq!(sids, ["s1", "s2"]);
        assert_eq!(logouts::due(conn, 105, 1).unwrap().len(), 1, "at most the limit");
        let (first, second) = (&due[0], &due[1]);
        assert_eq!(
            (first.client_id.as_str(), first.user_id.as_str(), first.created_at, first.attempts),
            ("bc", "u", 100, 0)
        );
        assert_eq!(
            (first.uri.as_str(), first.id_token_alg.as_str()),
            ("https://r.example/l", "EdDSA")
        );

        logouts::mark_failed(conn, first.id, 110, 120, false, "503").unwrap();
        logouts::mark_sent(conn, second.id, 110).unwrap();
        assert!(logouts::due(conn, 119, 10).unwrap().is_empty(), "retried later; one sent");
        let again = logouts::due(conn, 120, 10).unwrap();
        assert_eq!((again.len(), again[0].attempts), (1, 1));
        let state = |id: i64| -> (Option<i64>, Option<i64>, Option<String>, i64) {
            conn.query_row(
                "SELECT sent_at, failed_at, last_error, attempts FROM oidc_logouts WHERE id = ?1",
                [id],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
            )
            .unwrap()
        };
        assert_eq!(state(first.id), (None, None, Some("503".into()), 1));
        assert_eq!(state(second.id), (Some(110), None, None, 1));
        logouts::mark_failed(conn, first.id, 130, 130, true, "timeout").unwrap();
        assert_eq!(state(first.id), (None, Some(130), Some("timeout".into()), 2));
        assert!(logouts::due(conn, 10_000, 10).unwrap().is_empty(), "given up");
    });
}

/// Two grants for one app at once on two nodes: the second must widen what the first stored,
/// not the nothing it would read beside it (and then overwrite the first's scopes).
#[test]
fn a_consent_being_widened_on_one_postgres_connection_is_read_widened_on_another() {
    let Some((mut client, schema)) = postgres_client() else { return };
    crate::db::migrate_postgres(&mut client).unwrap();
    {
        let conn = Conn::Postgres(std::cell::RefCell::new(&mut client));
        user(&conn, "u");
        clients::insert(&conn, "app", &new_client("App", None), Some(b"h"), None, 0).unwrap();
    }
    let seen = race_on_postgres(
        &schema,
        |tx| assert_eq!(consents::find_to_widen(tx, "u", "app").unwrap(), None),
        |tx| consents::find_to_widen(tx, "u", "app").unwrap(),
        |tx| consents::upsert(tx, "u", "app", "openid email", 100).unwrap(),
    );
    assert_eq!(seen.as_deref(), Some("openid email"), "the second grant read no consent");
    drop_schema(&mut client, &schema);
}

/// A client removed on one node while another rotates its secret: the rotation must find it
/// gone, not rotate (and then fail to read back) a client that no longer exists.
#[test]
fn a_client_being_removed_on_one_postgres_connection_is_read_gone_on_another() {
    let Some((mut client, schema)) = postgres_client() else { return };
    crate::db::migrate_postgres(&mut client).unwrap();
    {
        let conn = Conn::Postgres(std::cell::RefCell::new(&mut client));
        clients::insert(&conn, "app", &new_client("App", None), Some(b"h"), None, 0).unwrap();
    }
    let seen = race_on_postgres(
        &schema,
        |tx| assert!(clients::find_to_change(tx, "app").unwrap().is_some()),
        |tx| clients::find_to_change(tx, "app").unwrap(),
        |tx| clients::delete(tx, "app").unwrap(),
    );
    assert!(seen.is_none(), "the rotation read a client being removed");
    drop_schema(&mut client, &schema);
}
