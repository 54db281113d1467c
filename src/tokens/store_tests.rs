//! The tokens store (and the SQL of its personal data) on both engines: SQLite, and
//! PostgreSQL when the tests have a server.

use super::ClientGrant;
use super::personal_data::{erase_families, export_token_families, purge_expired};
use super::store::{self, EndedGrant, LiveGrant};
use crate::db::conn::{Conn, SqlError};
use crate::db::conn_tests::insert_user as user;
use crate::db::conn_tests::{drop_schema, on_both_engines, postgres_client};
use crate::identity::Amr;

fn client(conn: &Conn, id: &str) {
    conn.execute(
        "INSERT INTO oidc_clients (id, name, public, redirect_uris, scopes, created_at)
         VALUES (?1, ?1, 1, '[]', '[\"openid\"]', 0)",
        [id],
    )
    .unwrap();
}

fn grant(client_id: &str, sid: &str) -> ClientGrant {
    ClientGrant {
        client_id: client_id.into(),
        scope: "openid profile".into(),
        sid: sid.into(),
        auth_time: 7,
    }
}

/// A family with one refresh token (`hash`) created at `now`, valid for 100 seconds.
fn family(
    conn: &Conn,
    id: &str,
    user_id: &str,
    grant: Option<&ClientGrant>,
    hash: &[u8],
    now: i64,
) {
    store::insert_family(conn, id, user_id, Amr::PASSWORD, now, grant).unwrap();
    store::insert_refresh(conn, hash, id, now, now + 100).unwrap();
}

/// `(logout_pending, revoked_at, revoked_reason)` of a family, as stored.
fn state(conn: &Conn, id: &str) -> (i64, Option<i64>, Option<String>) {
    conn.query_row(
        "SELECT logout_pending, revoked_at, revoked_reason FROM token_families WHERE id = ?1",
        [id],
        |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
    )
    .unwrap()
}

fn sorted(mut ids: Vec<String>) -> Vec<String> {
    ids.sort();
    ids
}

#[test]
fn refresh_tokens_are_found_spent_once_and_unique() {
    on_both_engines(|conn| {
        user(conn, "u1");
        client(conn, "app");
        family(conn, "f1", "u1", None, b"h1", 10);
        let amr = Amr::PASSWORD.with(Amr::ONE_TIME_CODE);
        store::insert_family(conn, "f2", "u1", amr, 20, Some(&grant("app", "s1"))).unwrap();
        store::insert_refresh(conn, b"h2", "f2", 20, 120).unwrap();

        let first = store::find_refresh(conn, b"h1").unwrap().unwrap();
        assert_eq!((first.family_id.as_str(), first.user_id.as_str()), ("f1", "u1"));
        assert_eq!((first.expires_at, first.spent_at, first.family_revoked), (110, None, false));
        assert_eq!((first.amr, first.grant), (Amr::PASSWORD, None));
        let second = store::find_refresh(conn, b"h2").unwrap().unwrap();
        assert_eq!((second.amr, second.grant), (amr, Some(grant("app", "s1"))));
        assert!(store::find_refresh(conn, b"nope").unwrap().is_none());

        {
            let tx = conn.transaction().unwrap();
            let locked = store::find_refresh_to_spend(&tx, b"h1").unwrap().unwrap();
            assert_eq!((locked.family_id.as_str(), locked.spent_at), ("f1", None));
            assert!(store::find_refresh_to_spend(&tx, b"nope").unwrap().is_none());
            assert!(store::spend(&tx, b"h1", 30).unwrap());
            tx.commit().unwrap();
        }
        assert!(!store::spend(conn, b"h1", 40).unwrap(), "already spent");
        assert!(!store::spend(conn, b"nope", 40).unwrap());
        assert_eq!(store::find_refresh(conn, b"h1").unwrap().unwrap().spent_at, Some(30));

        let again = store::insert_refresh(conn, b"h1", "f2", 50, 150).unwrap_err();
        assert!(again.is_unique_violation(), "{again}");
        let twin = store::insert_family(conn, "f1", "u1", Amr::PASSWORD, 50, None).unwrap_err();
        assert!(twin.is_unique_violation(), "{twin}");
        assert!(store::insert_refresh(conn, b"h9", "no-family", 50, 150).is_err());

        let (owner, app_grant, revoked) = store::family_grant(conn, "f2").unwrap().unwrap();
        assert_eq!((owner.as_str(), app_grant, revoked), ("u1", Some(grant("app", "s1")), false));
        assert_eq!(store::family_grant(conn, "f1").unwrap(), Some(("u1".into(), None, false)));
        assert_eq!(store::family_grant(conn, "nope").unwrap(), None);
    });
}

#[test]
fn revoking_a_family_marks_the_logouts_its_client_must_hear_of() {
    on_both_engines(|conn| {
        user(conn, "u1");
        client(conn, "app");
        family(conn, "api", "u1", None, b"h1", 10);
        family(conn, "app-a", "u1", Some(&grant("app", "s1")), b"h2", 10);
        family(conn, "app-b", "u1", Some(&grant("app", "s2")), b"h3", 10);
        assert!(!store::family_revoked(conn, "api").unwrap());
        assert!(store::family_revoked(conn, "nope").unwrap(), "an unknown family is revoked");

        store::revoke_family(conn, "api", 20, "signed_out").unwrap();
        store::revoke_family(conn, "app-a", 20, "signed_out").unwrap();
        store::revoke_family(conn, "app-b", 20, "client_revoked").unwrap();
        assert_eq!(state(conn, "api"), (0, Some(20), Some("signed_out".into())), "no client");
        assert_eq!(state(conn, "app-a"), (1, Some(20), Some("signed_out".into())));
        assert_eq!(state(conn, "app-b"), (0, Some(20), Some("client_revoked".into())));
        assert!(store::family_revoked(conn, "app-a").unwrap());
        assert!(store::find_refresh(conn, b"h2").unwrap().unwrap().family_revoked);
        assert!(store::family_grant(conn, "app-b").unwrap().unwrap().2);

        // A revoked family keeps its first revocation.
        store::revoke_family(conn, "app-b", 30, "admin").unwrap();
        assert_eq!(state(conn, "app-b"), (0, Some(20), Some("client_revoked".into())));
        store::revoke_family(conn, "nope", 30, "admin").unwrap();

        let ended = EndedGrant { client_id: "app".into(), user_id: "u1".into(), sid: "s1".into() };
        {
            // Inside a transaction (AsConn), as the back-channel logout takes them.
            let tx = conn.transaction().unwrap();
            assert_eq!(store::take_pending_logouts(&tx).unwrap(), [ended]);
            tx.commit().unwrap();
        }
        assert!(store::take_pending_logouts(conn).unwrap().is_empty(), "taken once");
        assert_eq!(state(conn, "app-a").0, 0);
    });
}

#[test]
fn user_session_and_client_revocations_end_only_live_families() {
    on_both_engines(|conn| {
        user(conn, "u1");
        user(conn, "u2");
        client(conn, "app");
        client(conn, "other");
        family(conn, "api", "u1", None, b"h1", 10);
        family(conn, "s1-app", "u1", Some(&grant("app", "s1")), b"h2", 10);
        family(conn, "s1-other", "u1", Some(&grant("other", "s1")), b"h3", 10);
        family(conn, "s2-app", "u1", Some(&grant("app", "s2")), b"h4", 10);
        family(conn, "u2-app", "u2", Some(&grant("app", "s9")), b"h5", 10);
        family(conn, "u2-api", "u2", None, b"h6", 10);
        store::revoke_family(conn, "s2-app", 15, "client_revoked").unwrap();

        // The first-party family has no session: signing out leaves it.
        let sessions = ["s1".to_string(), "s2".to_string(), "s0".to_string()];
        let ended = store::revoke_session_families(conn, &sessions, 20, "signed_out").unwrap();
        assert_eq!(sorted(ended), ["s1-app", "s1-other"]);
        assert_eq!(state(conn, "s1-app"), (1, Some(20), Some("signed_out".into())));
        assert_eq!(state(conn, "api").1, None);
        assert_eq!(store::revoke_session_families(conn, &[], 20, "signed_out").unwrap(), [""; 0]);
        let quiet = store::revoke_session_families(conn, &["s9".into()], 21, "expired").unwrap();
        assert_eq!(quiet, ["u2-app"]);
        assert_eq!(state(conn, "u2-app").0, 0, "expiry is not told");

        let ended = store::revoke_user_families(conn, "u1", 30, "password_changed").unwrap();
        assert_eq!(ended, ["api"], "the others were revoked already");
        assert_eq!(state(conn, "api"), (0, Some(30), Some("password_changed".into())));
        assert_eq!(store::revoke_user_families(conn, "nobody", 30, "admin").unwrap(), [""; 0]);

        family(conn, "u2-app-2", "u2", Some(&grant("app", "s8")), b"h7", 40);
        family(conn, "u2-other", "u2", Some(&grant("other", "s8")), b"h8", 40);
        let removed =
            store::revoke_client_families(conn, "u2", "app", 50, "access_removed").unwrap();
        assert_eq!(removed, ["u2-app-2"]);
        assert_eq!(state(conn, "u2-app-2"), (1, Some(50), Some("access_removed".into())));
        assert_eq!(state(conn, "u2-other").1, None);
        assert_eq!(state(conn, "u2-api").1, None);
        let by_client = store::revoke_client_families(conn, "u2", "other", 60, "client_revoked");
        assert_eq!(by_client.unwrap(), ["u2-other"]);
        assert_eq!(state(conn, "u2-other").0, 0, "the client revoked it itself");

        let mut pending = store::take_pending_logouts(conn).unwrap();
        pending.sort_by(|a, b| (&a.sid, &a.client_id).cmp(&(&b.sid, &b.client_id)));
        let sids: Vec<(&str, &str)> =
            pending.iter().map(|g| (g.client_id.as_str(), g.sid.as_str())).collect();
        assert_eq!(sids, [("app", "s1"), ("other", "s1"), ("app", "s8")]);
    });
}

#[test]
fn live_grants_are_client_grants_with_a_token_left_newest_first() {
    on_both_engines(|conn| {
        user(conn, "u1");
        user(conn, "u2");
        client(conn, "app");
        client(conn, "other");
        family(conn, "api", "u1", None, b"h1", 10);
        family(conn, "old", "u1", Some(&grant("app", "s1")), b"h2", 20);
        family(conn, "new", "u1", Some(&grant("other", "s1")), b"h3", 30);
        family(conn, "spent", "u1", Some(&grant("app", "s2")), b"h4", 40);
        family(conn, "revoked", "u1", Some(&grant("app", "s3")), b"h5", 50);
        family(conn, "theirs", "u2", Some(&grant("app", "s4")), b"h6", 60);
        assert!(store::spend(conn, b"h4", 45).unwrap());
        store::revoke_family(conn, "revoked", 55, "admin").unwrap();
        // A refreshed grant: its first token spent, its successor live.
        assert!(store::spend(conn, b"h2", 25).unwrap());
        store::insert_refresh(conn, b"h2-next", "old", 25, 125).unwrap();

        let live = store::live_grants(conn, "u1").unwrap();
        let scope = "openid profile".to_string();
        assert_eq!(
            live,
            [
                LiveGrant { client_id: "other".into(), scope: scope.clone(), created_at: 30 },
                LiveGrant { client_id: "app".into(), scope, created_at: 20 },
            ]
        );
        assert!(store::live_grants(conn, "nobody").unwrap().is_empty());
    });
}

#[test]
fn personal_data_is_exported_erased_and_purged() {
    on_both_engines(|conn| {
        user(conn, "u1");
        user(conn, "u2");
        client(conn, "app");
        family(conn, "api", "u1", None, b"h1", 10);
        assert!(store::spend(conn, b"h1", 20).unwrap());
        store::insert_refresh(conn, b"h1-next", "api", 20, 120).unwrap();
        family(conn, "app-f", "u1", Some(&grant("app", "s1")), b"h2", 30);
        store::revoke_family(conn, "app-f", 35, "access_removed").unwrap();
        family(conn, "theirs", "u2", None, b"h3", 40);

        let exported = export_token_families(conn, "u1").unwrap();
        let rows: Vec<_> = exported
            .iter()
            .map(|f| {
                let revoked = (f.revoked_at.is_some(), f.revoked_reason.as_deref());
                let client = (f.client_id.as_deref(), f.scope.as_deref());
                (f.id.as_str(), f.refresh_tokens_issued, revoked, client)
            })
            .collect();
        assert_eq!(
            rows,
            [
                ("api", 2, (false, None), (None, None)),
                ("app-f", 1, (true, Some("access_removed")), (Some("app"), Some("openid profile"))),
            ]
        );
        assert_eq!(exported[0].created_at, crate::clock::rfc3339(10));
        assert_eq!(exported[0].last_refreshed_at, Some(crate::clock::rfc3339(20)));
        assert!(export_token_families(conn, "nobody").unwrap().is_empty());

        // At 125 both of "api"'s tokens (to 110 and 120) have expired, and so has the family;
        // "app-f"'s token lasts to 130, revoked or not.
        let (refresh, families) = purge_expired(conn, 125).unwrap();
        assert_eq!((refresh, families), (2, 1));
        assert!(store::family_grant(conn, "api").unwrap().is_none());
        assert!(store::family_grant(conn, "app-f").unwrap().is_some());
        assert_eq!(purge_expired(conn, 125).unwrap(), (0, 0));

        assert_eq!(sorted(erase_families(conn, "u1").unwrap()), ["app-f"]);
        assert!(store::find_refresh(conn, b"h2").unwrap().is_none());
        assert!(store::family_revoked(conn, "app-f").unwrap(), "gone counts as revoked");
        assert_eq!(erase_families(conn, "u1").unwrap(), [""; 0]);
        assert!(store::find_refresh(conn, b"h3").unwrap().is_some(), "another user's");
    });
}

fn lock_timed_out(e: &SqlError) -> bool {
    matches!(e, SqlError::Postgres(e) if e.code() == Some(&postgres::error::SqlState::LOCK_NOT_AVAILABLE))
}

/// Spending takes the token's and family's row locks on PostgreSQL: a revocation from another
/// connection waits for the refresh instead of slipping in between its read and its write.
#[test]
fn spending_on_postgres_holds_the_family_until_the_refresh_ends() {
    let Some((mut client_a, schema)) = postgres_client() else { return };
    crate::db::migrate_postgres(&mut client_a).unwrap();
    let url = std::env::var("GATEHOUSE_TEST_POSTGRES_URL").unwrap();
    let mut client_b = postgres::Client::connect(&url, postgres::NoTls).unwrap();
    client_b
        .batch_execute(&format!("SET search_path TO {schema}; SET lock_timeout = '300ms'"))
        .unwrap();
    {
        let a = Conn::Postgres(std::cell::RefCell::new(&mut client_a));
        let b = Conn::Postgres(std::cell::RefCell::new(&mut client_b));
        user(&a, "u1");
        family(&a, "f1", "u1", None, b"h1", 10);

        let tx = a.transaction().unwrap();
        assert!(store::find_refresh_to_spend(&tx, b"h1").unwrap().is_some());
        let blocked = store::revoke_family(&b, "f1", 20, "admin").unwrap_err();
        assert!(lock_timed_out(&blocked), "the revocation waits for the refresh: {blocked}");
        let blocked = store::spend(&b, b"h1", 20).unwrap_err();
        assert!(lock_timed_out(&blocked), "and so does a second spend: {blocked}");
        assert!(store::spend(&tx, b"h1", 20).unwrap());
        tx.commit().unwrap();

        store::revoke_family(&b, "f1", 30, "admin").unwrap();
        let row = store::find_refresh(&b, b"h1").unwrap().unwrap();
        assert_eq!((row.spent_at, row.family_revoked), (Some(20), true));
    }
    drop_schema(&mut client_a, &schema);
}
