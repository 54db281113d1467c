//! The lockout on both engines (SQLite, and PostgreSQL when the tests have a server), and
//! the query plan that keeps a sign-in's count to one account's rows on SQLite.

use rusqlite::params;

use super::*;
use crate::db::conn_tests::on_both_engines;

/// Runs `test` on each engine with the account "u" in the database.
fn with_user(test: impl Fn(&Conn)) {
    on_both_engines(|conn| {
        conn.execute(
            "INSERT INTO users (id, email_index, email, display_name, role, created_at)
             VALUES ('u', ?1, 'a@b.edu', 'A', 'user', 0)",
            params![vec![1_u8]],
        )
        .unwrap();
        test(conn);
    });
}

fn account() -> Subject {
    Subject::Account("u".into())
}

fn unknown() -> Subject {
    Subject::UnknownEmail(vec![7; 32])
}

fn rows(conn: &Conn, table: &str) -> i64 {
    conn.query_row(&format!("SELECT count(*) FROM {table}"), params![], |r| r.get(0)).unwrap()
}

/// The lengths of eight further locks, a quiet while apart.
fn lock_lengths(conn: &Conn, subject: &Subject, mut now: i64) -> Vec<i64> {
    let mut lengths = Vec::new();
    for _ in 0..8 {
        now += 10_000;
        for _ in 0..4 {
            record_failure(conn, subject, now).unwrap();
        }
        let (until, _) = record_failure(conn, subject, now).unwrap().unwrap();
        lengths.push(until - now);
    }
    lengths
}

#[test]
fn counting_an_accounts_failures_reads_that_accounts_rows_only() {
    let mut conn = rusqlite::Connection::open_in_memory().unwrap();
    crate::db::migrate(&mut conn).unwrap();
    let plan: Vec<String> = conn
        .prepare(&format!("EXPLAIN QUERY PLAN {ACCOUNT_FAILURES}"))
        .unwrap()
        .query_map(params!["u", 0], |r| r.get(3))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    let plan = plan.join("; ");
    assert!(
        plan.contains("audit_log_subject_action (subject_id=? AND action=? AND at>?)"),
        "{plan}"
    );
}

#[test]
fn locks_after_five_failures_for_a_minute_then_doubles_up_to_an_hour() {
    with_user(|conn| {
        for subject in [account(), unknown()] {
            let now = 1_000;
            for _ in 0..4 {
                assert_eq!(record_failure(conn, &subject, now).unwrap(), None);
            }
            assert_eq!(record_failure(conn, &subject, now).unwrap(), Some((now + 60, 1)));
            let paused = standing(conn, &subject, now + 59).unwrap();
            assert_eq!(
                paused,
                Standing { paused_until: Some(now + 60), capped_until: None, was_locked: true },
                "{subject:?}"
            );
            let after = standing(conn, &subject, now + 60).unwrap();
            assert_eq!(after, Standing { was_locked: true, ..Default::default() });
            let lengths = lock_lengths(conn, &subject, now);
            assert_eq!(lengths, vec![120, 240, 480, 960, 1920, 3600, 3600, 3600], "{subject:?}");
        }
        assert!(clear(conn, "u").unwrap());
        assert_eq!(standing(conn, &account(), 100_000).unwrap(), Standing::default());
        assert!(!clear(conn, "u").unwrap(), "nothing left to clear");
    });
}

#[test]
fn an_unknown_email_starts_clean_and_stores_only_its_index() {
    with_user(|conn| {
        assert_eq!(standing(conn, &unknown(), 0).unwrap(), Standing::default());
        record_failure(conn, &unknown(), 10).unwrap();
        let stored: Vec<u8> = conn
            .query_row("SELECT email_index FROM unknown_email_lockouts", params![], |r| r.get(0))
            .unwrap();
        assert_eq!(stored, vec![7; 32]);
    });
}

#[test]
fn a_hundred_failures_in_an_hour_stop_evaluation() {
    with_user(|conn| {
        for i in 0..100 {
            conn.execute(
                "INSERT INTO audit_log (at, action, subject_id, outcome)
                 VALUES (?1, 'login', 'u', 'failure')",
                [5_000 + i],
            )
            .unwrap();
        }
        let capped = standing(conn, &account(), 5_200).unwrap();
        assert_eq!(capped.capped_until, Some(5_000 + 3600));
        assert_eq!(capped.refused_until(), Some(5_000 + 3600));
        assert_eq!(standing(conn, &account(), 8_700).unwrap().capped_until, None);

        // An unknown email: its own failures, counted the same way.
        for i in 0..100 {
            record_failure(conn, &unknown(), 5_000 + i).unwrap();
        }
        assert_eq!(standing(conn, &unknown(), 5_200).unwrap().capped_until, Some(5_000 + 3600));
        assert_eq!(standing(conn, &unknown(), 8_700).unwrap().capped_until, None);
    });
}

#[test]
fn quiet_series_are_forgotten_alike_and_unknown_rows_deleted() {
    with_user(|conn| {
        for subject in [account(), unknown()] {
            for _ in 0..5 {
                record_failure(conn, &subject, 1_000).unwrap();
            }
            record_failure(conn, &subject, 2_000).unwrap();
        }
        let day = 86_400;
        let early = forget_stale(conn, 2_000 + 30 * day - 1).unwrap();
        assert_eq!(early, Forgotten { accounts: 0, unknown_emails: 0 });
        let due = forget_stale(conn, 2_000 + 30 * day).unwrap();
        assert_eq!(due, Forgotten { accounts: 1, unknown_emails: 1 });
        for subject in [account(), unknown()] {
            assert_eq!(standing(conn, &subject, 2_000 + 30 * day).unwrap(), Standing::default());
        }
        assert_eq!(rows(conn, "unknown_email_lockouts"), 0);
        assert_eq!(rows(conn, "unknown_email_failures"), 0);
    });
}

#[test]
fn a_paused_series_is_never_forgotten_while_paused() {
    with_user(|conn| {
        conn.execute(
            "UPDATE users SET lock_level = 3, locked_until = 10000000 WHERE id = 'u'",
            params![],
        )
        .unwrap();
        assert_eq!(forget_stale(conn, 5_000_000).unwrap().accounts, 0);
    });
}

#[test]
fn ten_wrong_codes_in_an_hour_pause_second_factors_doubling_up_to_a_day() {
    with_user(|conn| {
        // Nine in an hour, then the window starts again: no pause.
        for i in 0..9 {
            assert_eq!(record_mfa_failure(conn, "u", 1_000 + i).unwrap(), None);
        }
        assert_eq!(record_mfa_failure(conn, "u", 1_000 + 3600).unwrap(), None);
        assert_eq!(mfa_paused_until(conn, "u", 5_000).unwrap(), None);
        let mut now = 10_000;
        for _ in 0..9 {
            assert_eq!(record_mfa_failure(conn, "u", now).unwrap(), None);
        }
        assert_eq!(record_mfa_failure(conn, "u", now).unwrap(), Some((now + 3600, 1)));
        assert_eq!(mfa_paused_until(conn, "u", now + 3599).unwrap(), Some(now + 3600));
        assert_eq!(mfa_paused_until(conn, "u", now + 3600).unwrap(), None);
        let mut lengths = Vec::new();
        for _ in 0..6 {
            now += 100_000;
            for _ in 0..9 {
                record_mfa_failure(conn, "u", now).unwrap();
            }
            lengths.push(record_mfa_failure(conn, "u", now).unwrap().unwrap().0 - now);
        }
        assert_eq!(lengths, vec![7_200, 14_400, 28_800, 57_600, 86_400, 86_400]);
        assert!(clear(conn, "u").unwrap());
        assert_eq!(mfa_paused_until(conn, "u", now).unwrap(), None);
        for _ in 0..9 {
            record_mfa_failure(conn, "u", now).unwrap();
        }
        assert_eq!(
            record_mfa_failure(conn, "u", now).unwrap(),
            Some((now + 3600, 1)),
            "a cleared account starts a new series"
        );
    });
}

#[test]
fn failures_counted_from_two_postgres_connections_at_once_all_count() {
    use crate::db::conn_tests::{drop_schema, postgres_client, postgres_client_in};
    use std::sync::Barrier;
    let Some((mut client, schema)) = postgres_client() else { return };
    crate::db::migrate_postgres(&mut client).unwrap();
    Conn::Postgres(std::cell::RefCell::new(&mut client))
        .execute(
            "INSERT INTO users (id, email_index, email, display_name, role, created_at)
             VALUES ('u', ?1, 'a@b.edu', 'A', 'user', 0)",
            params![vec![1_u8]],
        )
        .unwrap();
    // Two nodes each count 20 failures of one account and of one unknown email, each in its
    // own transaction: 40 of each, five to a lock, so eight locks of each between them.
    let barrier = Barrier::new(2);
    let locks: usize = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..2)
            .map(|_| {
                scope.spawn(|| {
                    let mut client = postgres_client_in(&schema);
                    let conn = Conn::Postgres(std::cell::RefCell::new(&mut client));
                    barrier.wait();
                    let mut locks = 0;
                    for _ in 0..20 {
                        for subject in [account(), unknown()] {
                            let tx = conn.transaction().unwrap();
                            locks += usize::from(
                                record_failure(&tx, &subject, 1_000).unwrap().is_some(),
                            );
                            tx.commit().unwrap();
                        }
                    }
                    locks
                })
            })
            .collect();
        workers.into_iter().map(|w| w.join().unwrap()).sum()
    });
    assert_eq!(locks, 16, "a failure counted on one node was lost on the other");
    drop_schema(&mut client, &schema);
}
