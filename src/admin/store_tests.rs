//! The admin store on both engines (SQLite, and PostgreSQL when the tests have a server), and
//! two PostgreSQL connections taking away each other's admin role at once.

use rusqlite::params;

use super::store::{self, AuditFilter, Retry, Status, UserFilter};
use crate::db::conn::Conn;
use crate::db::conn_tests::{drop_schema, on_both_engines, postgres_client, race_on_postgres};

/// An account created at `created_at`, its email verified unless `verified` is false.
fn user(conn: &Conn, id: &str, role: &str, created_at: i64, verified: bool) {
    conn.execute(
        "INSERT INTO users (id, email_index, email, display_name, role, created_at,
                            email_verified_at)
         VALUES (?1, ?2, ?3, 'Ada', ?4, ?5, ?6)",
        params![
            id,
            id.as_bytes(),
            format!("{id}@north.edu"),
            role,
            created_at,
            verified.then_some(created_at)
        ],
    )
    .unwrap();
}

fn session(conn: &Conn, id: &str, user_id: &str) {
    conn.execute(
        "INSERT INTO sessions (id, token_hash, user_id, remember_me, created_at, last_seen_at,
                               expires_at)
         VALUES (?1, ?2, ?3, 0, 0, 0, 9999)",
        params![id, id.as_bytes(), user_id],
    )
    .unwrap();
}

fn search(conn: &Conn, filter: UserFilter, limit: i64, offset: i64) -> (Vec<String>, i64) {
    store::search(conn, &filter, 500, limit, offset).unwrap()
}

fn with_status(status: Status) -> UserFilter {
    UserFilter { status: Some(status), ..UserFilter::default() }
}

#[test]
fn accounts_are_searched_viewed_and_disabled_alike_on_both_engines() {
    on_both_engines(|conn| {
        user(conn, "u1", "admin", 10, true);
        user(conn, "u2", "user", 20, false);
        user(conn, "u3", "reviewer", 30, true);
        user(conn, "u4", "admin", 40, true);
        conn.execute(
            "UPDATE users SET locked_until = 1000, failed_logins = 5 WHERE id = 'u3'",
            [] as [i64; 0],
        )
        .unwrap();
        conn.execute("UPDATE users SET disabled_at = 5 WHERE id = 'u4'", [] as [i64; 0]).unwrap();
        session(conn, "s1", "u1");
        session(conn, "s2", "u1");

        let all = (["u4", "u3", "u2", "u1"].map(String::from).to_vec(), 4);
        assert_eq!(search(conn, UserFilter::default(), 10, 0), all);
        assert_eq!(search(conn, UserFilter::default(), 2, 1), (vec!["u3".into(), "u2".into()], 4));
        assert_eq!(search(conn, UserFilter::default(), 2, 8), (vec![], 4));
        let admins = UserFilter { role: Some("admin".into()), ..UserFilter::default() };
        assert_eq!(search(conn, admins, 10, 0), (vec!["u4".into(), "u1".into()], 2));
        let by_email = UserFilter { email_index: Some(b"u2".to_vec()), ..UserFilter::default() };
        assert_eq!(search(conn, by_email, 10, 0), (vec!["u2".into()], 1));
        let on_campus = UserFilter { campus_id: Some(1), ..UserFilter::default() };
        assert_eq!(search(conn, on_campus, 10, 0), (vec![], 0));
        assert_eq!(search(conn, with_status(Status::Active), 10, 0), (vec!["u1".into()], 1));
        assert_eq!(search(conn, with_status(Status::Locked), 10, 0), (vec!["u3".into()], 1));
        assert_eq!(search(conn, with_status(Status::Unverified), 10, 0), (vec!["u2".into()], 1));
        assert_eq!(search(conn, with_status(Status::Disabled), 10, 0), (vec!["u4".into()], 1));
        // After the pause, the locked account is active again.
        let later = store::search(conn, &with_status(Status::Active), 1000, 10, 0).unwrap();
        assert_eq!(later, (vec!["u3".into(), "u1".into()], 2));

        let facts = store::facts(conn, "u1").unwrap().unwrap();
        assert_eq!(
            (facts.disabled_at, facts.locked_until, facts.failed_logins, facts.sessions),
            (None, None, 0, 2)
        );
        let facts = store::facts(conn, "u3").unwrap().unwrap();
        assert_eq!((facts.locked_until, facts.failed_logins, facts.sessions), (Some(1000), 5, 0));
        assert!(store::facts(conn, "nobody").unwrap().is_none());

        assert!(store::set_disabled(conn, "u2", Some(7)).unwrap());
        assert!(!store::set_disabled(conn, "u2", Some(8)).unwrap(), "disabled already");
        assert_eq!(store::facts(conn, "u2").unwrap().unwrap().disabled_at, Some(7));
        assert!(store::set_disabled(conn, "u2", None).unwrap());
        assert!(!store::set_disabled(conn, "u2", None).unwrap(), "enabled already");
        assert_eq!(store::facts(conn, "u2").unwrap().unwrap().disabled_at, None);
        assert!(!store::set_disabled(conn, "nobody", Some(7)).unwrap());

        assert_eq!(store::role_of(conn, "u3").unwrap().as_deref(), Some("reviewer"));
        assert_eq!(store::role_of(conn, "nobody").unwrap(), None);
        // u4 is an admin but disabled: u1 is the last enabled one.
        let u1 = store::role_before_change(conn, "u1").unwrap().unwrap();
        assert_eq!(
            (u1.role.as_str(), u1.other_enabled_admins, u1.is_last_admin()),
            ("admin", 0, true)
        );
        let u4 = store::role_before_change(conn, "u4").unwrap().unwrap();
        assert_eq!((u4.other_enabled_admins, u4.is_last_admin()), (1, false));
        let u3 = store::role_before_change(conn, "u3").unwrap().unwrap();
        assert_eq!((u3.other_enabled_admins, u3.is_last_admin()), (1, false), "not an admin");
        assert!(store::set_disabled(conn, "u4", None).unwrap());
        assert!(!store::role_before_change(conn, "u1").unwrap().unwrap().is_last_admin());
        assert!(store::role_before_change(conn, "nobody").unwrap().is_none());
    });
}

fn audit_row(conn: &Conn, at: i64, actor: Option<&str>, action: &str, subject: Option<&str>) {
    conn.execute(
        "INSERT INTO audit_log (at, actor_id, action, subject_id, ip, outcome, details)
         VALUES (?1, ?2, ?3, ?4, '192.0.2.1', 'success', '{}')",
        params![at, actor, action, subject],
    )
    .unwrap();
}

fn audit(conn: &Conn, filter: AuditFilter, limit: i64, offset: i64) -> (Vec<i64>, i64) {
    let (rows, total) = store::audit(conn, &filter, limit, offset).unwrap();
    (rows.into_iter().map(|r| r.at).collect(), total)
}

#[test]
fn the_audit_log_is_filtered_and_paged_alike_on_both_engines() {
    on_both_engines(|conn| {
        audit_row(conn, 100, Some("a"), "account.disabled", Some("u"));
        audit_row(conn, 200, Some("u"), "session.created", Some("u"));
        audit_row(conn, 300, None, "session.created", Some("v"));
        audit_row(conn, 400, Some("a"), "role.changed", Some("v"));

        assert_eq!(audit(conn, AuditFilter::default(), 10, 0), (vec![400, 300, 200, 100], 4));
        assert_eq!(audit(conn, AuditFilter::default(), 2, 1), (vec![300, 200], 4));
        let of_u = AuditFilter { user_id: Some("u".into()), ..AuditFilter::default() };
        assert_eq!(audit(conn, of_u, 10, 0), (vec![200, 100], 2));
        let of_a = AuditFilter { user_id: Some("a".into()), ..AuditFilter::default() };
        assert_eq!(audit(conn, of_a, 10, 0), (vec![400, 100], 2));
        let action = AuditFilter { action: Some("session.created".into()), ..Default::default() };
        assert_eq!(audit(conn, action, 10, 0), (vec![300, 200], 2));
        let window = AuditFilter { from: Some(200), to: Some(400), ..AuditFilter::default() };
        assert_eq!(audit(conn, window, 10, 0), (vec![300, 200], 2));
        let all = AuditFilter {
            user_id: Some("v".into()),
            action: Some("role.changed".into()),
            from: Some(400),
            to: Some(401),
        };
        let (rows, total) = store::audit(conn, &all, 10, 0).unwrap();
        assert_eq!(total, 1);
        let row = &rows[0];
        assert_eq!(
            (row.actor_id.as_deref(), row.subject_id.as_deref(), row.ip.as_deref()),
            (Some("a"), Some("v"), Some("192.0.2.1"))
        );
        assert_eq!((row.outcome.as_str(), row.details.as_str()), ("success", "{}"));
    });
}

/// A message created at `at`; `failed` and `sent` set those times, `body` its text.
fn message(conn: &Conn, at: i64, body: &str, failed: Option<i64>, sent: Option<i64>) -> i64 {
    conn.query_row(
        "INSERT INTO outbox (channel, recipient, subject, body_text, created_at, attempts,
                             next_attempt_at, sent_at, failed_at, last_error)
         VALUES ('email', 'a@north.edu', 'Hi', ?1, ?2, 3, ?2, ?3, ?4, ?5) RETURNING id",
        params![body, at, sent, failed, failed.map(|_| "refused")],
        |r| r.get(0),
    )
    .unwrap()
}

#[test]
fn the_outbox_status_and_retries_alike_on_both_engines() {
    on_both_engines(|conn| {
        let empty = store::outbox_status(conn).unwrap();
        assert_eq!((empty.pending, empty.failed, empty.oldest_pending_at), (0, 0, None));
        let pending = message(conn, 30, "Text.", None, None);
        message(conn, 40, "Text.", None, None);
        message(conn, 10, "", None, Some(15));
        let failed = message(conn, 20, "Text.", Some(25), None);
        let erased = message(conn, 21, "", Some(26), None);

        let status = store::outbox_status(conn).unwrap();
        assert_eq!((status.pending, status.failed, status.oldest_pending_at), (2, 2, Some(30)));
        let failures: Vec<_> = status.recent_failures.iter().map(|m| m.id).collect();
        assert_eq!(failures, [erased, failed]);
        let first = &status.recent_failures[1];
        assert_eq!(
            (first.channel.as_str(), first.created_at, first.failed_at, first.attempts),
            ("email", 20, 25, 3)
        );
        assert_eq!(first.last_error.as_deref(), Some("refused"));

        assert_eq!(store::retry_message(conn, 9999, 50).unwrap(), Retry::NotFound);
        assert_eq!(store::retry_message(conn, pending, 50).unwrap(), Retry::NotFailed);
        assert_eq!(store::retry_message(conn, erased, 50).unwrap(), Retry::Erased);
        assert_eq!(store::retry_message(conn, failed, 50).unwrap(), Retry::Queued);
        assert_eq!(store::retry_message(conn, failed, 51).unwrap(), Retry::NotFailed);
        let (attempts, next): (i64, i64) = conn
            .query_row(
                "SELECT attempts, next_attempt_at FROM outbox WHERE id = ?1",
                [failed],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .unwrap();
        assert_eq!((attempts, next), (0, 50));
        let status = store::outbox_status(conn).unwrap();
        assert_eq!((status.pending, status.failed, status.oldest_pending_at), (3, 1, Some(20)));
    });
}

/// Two admins, each taking the other's admin role at once on two nodes (one disabling, one
/// demoting): the second's check waits for the first's transaction and finds itself the last
/// enabled admin, instead of counting the other as remaining and leaving no admin at all.
#[test]
fn two_admins_removing_each_other_on_two_postgres_connections_leave_one() {
    let Some((mut client, schema)) = postgres_client() else { return };
    crate::db::migrate_postgres(&mut client).unwrap();
    {
        let conn = Conn::Postgres(std::cell::RefCell::new(&mut client));
        user(&conn, "a", "admin", 1, true);
        user(&conn, "b", "admin", 2, true);
    }
    // Admin a disables b while admin b demotes a.
    let second_saw_last = race_on_postgres(
        &schema,
        |first| assert!(!store::role_before_change(first, "b").unwrap().unwrap().is_last_admin()),
        |second| {
            let last = store::role_before_change(second, "a").unwrap().unwrap().is_last_admin();
            if !last {
                second
                    .execute("UPDATE users SET role = 'user' WHERE id = 'a'", [] as [i64; 0])
                    .unwrap();
            }
            last
        },
        |first| assert!(store::set_disabled(first, "b", Some(100)).unwrap()),
    );
    let left: i64 = client
        .query_one("SELECT count(*) FROM users WHERE role = 'admin' AND disabled_at IS NULL", &[])
        .unwrap()
        .get(0);
    drop_schema(&mut client, &schema);
    assert!(second_saw_last, "the second admin's check passed while the first was disabling");
    assert_eq!(left, 1);
}
