//! The webhooks store on both engines (SQLite, and PostgreSQL when the tests have a server),
//! and PostgreSQL connections claiming due deliveries at once, as several nodes do.

use std::collections::HashSet;

use super::events::{Event, EventType};
use super::store::{self, TryOutcome};
use crate::db::conn::Conn;
use crate::db::conn_tests::{
    drop_schema, on_both_engines, postgres_client, postgres_client_in, race_on_postgres,
};

fn event(kind: EventType) -> Event {
    Event::user(kind, "u1", Some(3), serde_json::json!({}))
}

fn endpoint(conn: &Conn, id: &str, events: &str, now: i64) {
    store::insert_endpoint(
        conn,
        id,
        &format!("https://{id}.example/h"),
        events,
        "sealed",
        None,
        now,
    )
    .unwrap();
}

/// (id, endpoint, event type) of the deliveries of `endpoint_id`, oldest first.
fn deliveries(conn: &Conn, endpoint_id: &str) -> Vec<(i64, String, String)> {
    let mut rows: Vec<_> = store::recent(conn, endpoint_id, 100)
        .unwrap()
        .into_iter()
        .map(|d| (d.id, d.endpoint_id, d.event_type))
        .collect();
    rows.reverse();
    rows
}

#[test]
fn endpoints_are_added_listed_rotated_and_removed_alike_on_both_engines() {
    on_both_engines(|conn| {
        endpoint(conn, "wh_a", "user.deleted driver.approved", 10);
        endpoint(conn, "wh_b", "user.updated", 20);
        let a = store::find_endpoint(conn, "wh_a").unwrap().unwrap();
        assert_eq!((a.url.as_str(), a.created_at), ("https://wh_a.example/h", 10));
        assert_eq!(a.events, ["user.deleted", "driver.approved"]);
        assert_eq!(a.secret_rotated_at, None);
        assert!(store::find_endpoint(conn, "nope").unwrap().is_none());
        let ids: Vec<_> = store::list_endpoints(conn).unwrap().into_iter().map(|e| e.id).collect();
        assert_eq!(ids, ["wh_a", "wh_b"]);

        {
            let tx = conn.transaction().unwrap();
            assert_eq!(store::sealed_secret_to_rotate(&tx, "wh_a").unwrap().unwrap(), "sealed");
            store::rotate_secret(&tx, "wh_a", "new", "old", 500, 60).unwrap();
            tx.commit().unwrap();
        }
        assert_eq!(store::sealed_secret_to_rotate(conn, "wh_a").unwrap().as_deref(), Some("new"));
        assert_eq!(store::sealed_secret_to_rotate(conn, "nope").unwrap(), None);
        assert_eq!(
            store::find_endpoint(conn, "wh_a").unwrap().unwrap().secret_rotated_at,
            Some(60)
        );

        let b = store::find_endpoint_to_change(conn, "wh_b").unwrap().unwrap();
        assert_eq!(
            (b.id.as_str(), b.events.as_slice()),
            ("wh_b", &["user.updated".to_string()][..])
        );
        store::delete_endpoint(conn, "wh_b").unwrap();
        assert!(store::find_endpoint(conn, "wh_b").unwrap().is_none());
        assert!(store::find_endpoint_to_change(conn, "wh_b").unwrap().is_none());
    });
}

/// Two admins removing one endpoint at once on two nodes: the second waits for the first and
/// finds it gone (one removal, one audit record).
#[test]
fn an_endpoint_being_removed_on_one_postgres_connection_is_read_gone_on_another() {
    let Some((mut client, schema)) = postgres_client() else { return };
    crate::db::migrate_postgres(&mut client).unwrap();
    endpoint(&Conn::Postgres(std::cell::RefCell::new(&mut client)), "wh_a", "user.deleted", 0);
    let seen = race_on_postgres(
        &schema,
        |tx| assert!(store::find_endpoint_to_change(tx, "wh_a").unwrap().is_some()),
        |tx| store::find_endpoint_to_change(tx, "wh_a").unwrap(),
        |tx| store::delete_endpoint(tx, "wh_a").unwrap(),
    );
    assert!(seen.is_none(), "the second removal read an endpoint being removed");
    drop_schema(&mut client, &schema);
}

#[test]
fn deliveries_are_queued_by_exact_type_claimed_tried_and_purged_on_both_engines() {
    on_both_engines(|conn| {
        endpoint(conn, "wh_a", "user.deleted driver.approved", 10);
        endpoint(conn, "wh_b", "user.email_verified", 10);
        endpoint(conn, "wh_c", "user.updated user.deleted", 10);
        // An exact name: `user.email_verified` is not a pattern ("user.emailXverified").
        assert_eq!(store::queue(conn, &event(EventType::UserUpdated), 100).unwrap(), 1);
        {
            // Queued in a caller's transaction, as features do.
            let tx = conn.transaction().unwrap();
            assert_eq!(store::queue(&tx, &event(EventType::UserDeleted), 100).unwrap(), 2);
            tx.commit().unwrap();
        }
        {
            let tx = conn.transaction().unwrap();
            assert_eq!(store::queue(&tx, &event(EventType::UserDisabled), 100).unwrap(), 0);
            assert_eq!(store::queue(&tx, &event(EventType::DriverApproved), 100).unwrap(), 1);
            // Rolled back: nothing queued.
        }
        let a = deliveries(conn, "wh_a");
        assert_eq!(a.len(), 1);
        assert_eq!((a[0].1.as_str(), a[0].2.as_str()), ("wh_a", "user.deleted"));
        assert!(deliveries(conn, "wh_b").is_empty());
        let c: Vec<_> = deliveries(conn, "wh_c").into_iter().map(|d| d.2).collect();
        assert_eq!(c, ["user.updated", "user.deleted"]);

        assert!(store::claim_due(conn, 99, 10, 399).unwrap().is_empty(), "not due yet");
        store::rotate_secret(conn, "wh_c", "new", "old", 150, 100).unwrap();
        let due = store::claim_due(conn, 100, 10, 400).unwrap();
        assert_eq!(due.len(), 3);
        let first = &due[0];
        assert_eq!(
            (first.endpoint_id.as_str(), first.event_type.as_str()),
            ("wh_c", "user.updated")
        );
        assert_eq!((first.secret.as_str(), first.previous_secret.as_deref()), ("new", Some("old")));
        assert_eq!((first.attempts, first.created_at, first.due_at), (0, 100, 100));
        assert!(first.payload.contains("\"user.updated\""), "{}", first.payload);
        let again = store::claim_due(conn, 100, 10, 400).unwrap();
        if conn.is_postgres() {
            assert_eq!(first.claimed_until, Some(400));
            assert!(again.is_empty(), "claimed deliveries are not due to another claim");
            store::release(conn, &due[1]).unwrap();
            store::release(conn, &due[2]).unwrap();
            let released: Vec<_> =
                store::claim_due(conn, 100, 10, 400).unwrap().into_iter().map(|d| d.id).collect();
            assert_eq!(released, [due[1].id, due[2].id]);
        } else {
            assert_eq!(first.claimed_until, None);
            assert_eq!(again.len(), 3, "SQLite claims nothing: the job knows what is in flight");
        }
        // The old secret signs no more after its time.
        let later = store::claim_due(conn, 400, 10, 700).unwrap();
        assert_eq!(later[0].previous_secret, None);

        let (sent, retried, failed) = (due[0].id, due[1].id, due[2].id);
        store::record_try(conn, sent, 401, Some(200), None, TryOutcome::Sent).unwrap();
        store::record_try(conn, retried, 402, None, Some("timeout"), TryOutcome::Retry(900))
            .unwrap();
        store::record_try(conn, failed, 403, Some(500), Some("500"), TryOutcome::Failed).unwrap();
        let mut rows = store::recent(conn, "wh_c", 10).unwrap();
        rows.extend(store::recent(conn, "wh_a", 10).unwrap());
        let row = |id| rows.iter().find(|r| r.id == id).unwrap();
        assert_eq!(
            (row(sent).sent_at, row(sent).attempts, row(sent).last_status),
            (Some(401), 1, Some(200))
        );
        assert_eq!(
            (row(retried).next_attempt_at, row(retried).last_error.as_deref()),
            (900, Some("timeout"))
        );
        assert_eq!(row(failed).failed_at, Some(403));
        // Released after it was tried: the try stands.
        store::release(conn, &due[1]).unwrap();
        let due_later: Vec<_> =
            store::claim_due(conn, 899, 10, 1200).unwrap().into_iter().map(|d| d.id).collect();
        assert!(!due_later.contains(&retried), "{due_later:?}");

        assert!(store::redeliver(conn, "wh_c", failed, 1000).unwrap());
        assert!(!store::redeliver(conn, "wh_a", failed, 1000).unwrap(), "another endpoint's");
        let redone = store::recent(conn, "wh_c", 10).unwrap();
        let redone = redone.iter().find(|r| r.id == failed).unwrap();
        assert_eq!((redone.failed_at, redone.attempts, redone.next_attempt_at), (None, 0, 1000));

        // Only delivered or failed deliveries, created before the cut.
        assert_eq!(store::purge(conn, 100).unwrap(), 0);
        assert_eq!(store::purge(conn, 101).unwrap(), 1);
        assert_eq!(deliveries(conn, "wh_c").len(), 1);
    });
}

fn queue_many(conn: &Conn, n: usize) -> HashSet<i64> {
    endpoint(conn, "wh_a", "user.updated", 10);
    for _ in 0..n {
        store::queue(conn, &event(EventType::UserUpdated), 100).unwrap();
    }
    store::recent(conn, "wh_a", 1000).unwrap().into_iter().map(|d| d.id).collect()
}

/// A node claiming while another holds a delivery (mid-claim) skips it, without waiting.
#[test]
fn a_claim_on_postgres_skips_what_another_connection_holds_without_waiting() {
    let Some((mut client, schema)) = postgres_client() else { return };
    crate::db::migrate_postgres(&mut client).unwrap();
    let all = {
        let conn = Conn::Postgres(std::cell::RefCell::new(&mut client));
        queue_many(&conn, 3)
    };
    let held = *all.iter().min().unwrap();
    let mut other = postgres_client_in(&schema);
    let mut holder = other.transaction().unwrap();
    holder.query("SELECT id FROM webhook_deliveries WHERE id = $1 FOR UPDATE", &[&held]).unwrap();
    let mut claimer = postgres_client_in(&schema);
    // Waiting for the held row would be refused after a second.
    claimer.batch_execute("SET lock_timeout = '1s'").unwrap();
    let claimed: HashSet<i64> = {
        let conn = Conn::Postgres(std::cell::RefCell::new(&mut claimer));
        store::claim_due(&conn, 100, 10, 400).unwrap().into_iter().map(|d| d.id).collect()
    };
    holder.rollback().unwrap();
    let mut expected = all.clone();
    expected.remove(&held);
    assert_eq!(claimed, expected);
    drop_schema(&mut client, &schema);
}

/// Four nodes claim at once, again and again, until nothing is due: every delivery is claimed
/// exactly once.
#[test]
fn postgres_connections_claiming_at_once_never_get_the_same_delivery() {
    let Some((mut client, schema)) = postgres_client() else { return };
    crate::db::migrate_postgres(&mut client).unwrap();
    let all = {
        let conn = Conn::Postgres(std::cell::RefCell::new(&mut client));
        queue_many(&conn, 200)
    };
    let start = std::sync::Barrier::new(4);
    let claims: Vec<Vec<i64>> = std::thread::scope(|scope| {
        let nodes: Vec<_> = (0..4)
            .map(|_| {
                scope.spawn(|| {
                    let mut client = postgres_client_in(&schema);
                    let conn = Conn::Postgres(std::cell::RefCell::new(&mut client));
                    start.wait();
                    let mut mine = Vec::new();
                    let mut empty = 0;
                    while empty < 3 {
                        let got = store::claim_due(&conn, 100, 7, 400).unwrap();
                        empty = if got.is_empty() { empty + 1 } else { 0 };
                        mine.extend(got.into_iter().map(|d| d.id));
                    }
                    mine
                })
            })
            .collect();
        nodes.into_iter().map(|n| n.join().unwrap()).collect()
    });
    let claimed: Vec<i64> = claims.concat();
    let distinct: HashSet<i64> = claimed.iter().copied().collect();
    assert_eq!(claimed.len(), distinct.len(), "a delivery was claimed twice");
    assert_eq!(distinct, all);
    drop_schema(&mut client, &schema);
}

/// Two admins rotate one secret at once on two nodes: the second waits for the first and keeps
/// the first's new secret as its previous one (so the secret the first admin was shown signs
/// for the day the receiver needs to switch).
#[test]
fn a_secret_being_rotated_on_one_postgres_connection_is_read_rotated_on_another() {
    let Some((mut client, schema)) = postgres_client() else { return };
    crate::db::migrate_postgres(&mut client).unwrap();
    {
        let conn = Conn::Postgres(std::cell::RefCell::new(&mut client));
        endpoint(&conn, "wh_a", "user.updated", 10);
    }
    let holding = std::sync::Barrier::new(2);
    let seen = std::thread::scope(|scope| {
        let first = scope.spawn(|| {
            let mut client = postgres_client_in(&schema);
            let conn = Conn::Postgres(std::cell::RefCell::new(&mut client));
            let tx = conn.transaction().unwrap();
            let old = store::sealed_secret_to_rotate(&tx, "wh_a").unwrap().unwrap();
            holding.wait();
            // Long enough for the second to have sent its read.
            std::thread::sleep(std::time::Duration::from_millis(300));
            store::rotate_secret(&tx, "wh_a", "first-new", &old, 500, 60).unwrap();
            tx.commit().unwrap();
        });
        let second = scope.spawn(|| {
            let mut client = postgres_client_in(&schema);
            let conn = Conn::Postgres(std::cell::RefCell::new(&mut client));
            holding.wait();
            let tx = conn.transaction().unwrap();
            let old = store::sealed_secret_to_rotate(&tx, "wh_a").unwrap().unwrap();
            tx.commit().unwrap();
            old
        });
        first.join().unwrap();
        second.join().unwrap()
    });
    assert_eq!(seen, "first-new", "the second rotation read the secret the first was replacing");
    drop_schema(&mut client, &schema);
}
