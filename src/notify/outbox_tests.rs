//! The outbox worker's SQL on both engines, and its backoff.

use super::*;
use crate::db::conn_tests::on_both_engines;
use crate::notify::{Email, enqueue_email};
use crate::pii::cipher::test_cipher;

#[test]
fn backoff_doubles_and_caps_at_an_hour() {
    assert_eq!(backoff_seconds(1), 10);
    assert_eq!(backoff_seconds(2), 20);
    assert_eq!(backoff_seconds(20), 3600);
}

#[test]
fn due_messages_are_sent_retried_and_given_up_alike_on_both_engines() {
    let (_keys, pii) = test_cipher();
    on_both_engines(|conn| {
        let email = |to: &str| Email {
            to: to.into(),
            subject: "Hello".into(),
            text: "text".into(),
            html: "<p>html</p>".into(),
        };
        let first = enqueue_email(conn, &pii, &email("a@north.edu"), 10).unwrap();
        let second = enqueue_email(conn, &pii, &email("b@north.edu"), 11).unwrap();
        let third = enqueue_email(conn, &pii, &email("c@north.edu"), 50).unwrap();
        let ids = |now| due(conn, now).unwrap().into_iter().map(|m| m.id).collect::<Vec<_>>();
        assert_eq!(ids(20), [first, second], "not yet due: the third");
        let opened = due(conn, 20).unwrap().remove(0).open(&pii).unwrap();
        assert_eq!((opened.recipient.as_str(), opened.text.as_str()), ("a@north.edu", "text"));
        assert_eq!(depth_in(conn).unwrap(), (3, 0));

        mark_sent(conn, first, 20).unwrap();
        let (sent_at, body, attempts): (Option<i64>, String, i64) = conn
            .query_row(
                "SELECT sent_at, body_text, attempts FROM outbox WHERE id = ?1",
                [first],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .unwrap();
        assert_eq!((sent_at, body.as_str(), attempts), (Some(20), "", 1), "the body is erased");

        let retry =
            Failure { attempts: 1, next_attempt_at: 60, error: "busy".into(), failed_at: None };
        mark_failed(conn, second, &retry).unwrap();
        assert_eq!(ids(59), [third], "the failed one waits for its next attempt");
        assert_eq!(ids(60), [third, second], "by next attempt: the third was due at 50");

        let give_up = Failure { attempts: MAX_ATTEMPTS, failed_at: Some(70), ..retry };
        mark_failed(conn, second, &give_up).unwrap();
        assert_eq!(ids(100), [third]);
        let (failed_at, error): (Option<i64>, Option<String>) = conn
            .query_row("SELECT failed_at, last_error FROM outbox WHERE id = ?1", [second], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })
            .unwrap();
        assert_eq!((failed_at, error.as_deref()), (Some(70), Some("busy")));
        assert_eq!(depth_in(conn).unwrap(), (1, 1), "pending, failed");
    });
}
