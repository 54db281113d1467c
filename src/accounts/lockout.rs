//! Account lockout (SPEC section 6, ASVS 2.2.1): after [`FAILURES_TO_LOCK`] consecutive
//! failed passwords an account is throttled for a minute, doubling with each further lock up
//! to an hour; at most [`FAILURES_PER_HOUR`] failures an hour are evaluated at all. The owner
//! is emailed at the first lock of a series; a successful sign-in, a password reset or an
//! admin unlock clears the state. While throttled, the answer does not depend on the password.

use rusqlite::{Connection, params};

pub const FAILURES_TO_LOCK: i64 = 5;
pub const FAILURES_PER_HOUR: i64 = 100;
const FIRST_LOCK_SECONDS: i64 = 60;
const LONGEST_LOCK_SECONDS: i64 = 3600;

/// When the account may be tried again, if it is throttled now.
pub fn throttled_until(
    conn: &Connection,
    user_id: &str,
    now: i64,
) -> rusqlite::Result<Option<i64>> {
    let locked_until: Option<i64> =
        conn.query_row("SELECT locked_until FROM users WHERE id = ?1", [user_id], |r| r.get(0))?;
    if let Some(until) = locked_until.filter(|until| *until > now) {
        return Ok(Some(until));
    }
    let (failures, oldest): (i64, Option<i64>) = conn.query_row(
        "SELECT count(*), min(at) FROM audit_log
         WHERE subject_id = ?1 AND action = 'login' AND outcome = 'failure' AND at > ?2",
        params![user_id, now - 3600],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )?;
    Ok((failures >= FAILURES_PER_HOUR).then(|| oldest.unwrap_or(now) + 3600))
}

/// Whether the account was locked since its last successful sign-in (it is "being
/// throttled": sign-ins to it need a captcha).
pub fn was_locked(conn: &Connection, user_id: &str) -> rusqlite::Result<bool> {
    conn.query_row("SELECT lock_level > 0 FROM users WHERE id = ?1", [user_id], |r| r.get(0))
}

/// Counts a failed password; returns the lock's end and level when this failure locked it.
pub fn record_failure(
    conn: &Connection,
    user_id: &str,
    now: i64,
) -> rusqlite::Result<Option<(i64, i64)>> {
    let (failed, level): (i64, i64) = conn.query_row(
        "UPDATE users SET failed_logins = failed_logins + 1 WHERE id = ?1
         RETURNING failed_logins, lock_level",
        [user_id],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )?;
    if failed < FAILURES_TO_LOCK {
        return Ok(None);
    }
    let level = level + 1;
    let seconds = (FIRST_LOCK_SECONDS << (level - 1).min(10)).min(LONGEST_LOCK_SECONDS);
    let until = now + seconds;
    conn.execute(
        "UPDATE users SET failed_logins = 0, lock_level = ?2, locked_until = ?3 WHERE id = ?1",
        params![user_id, level, until],
    )?;
    Ok(Some((until, level)))
}

/// Forgets failures and locks (a successful sign-in, a reset, an admin unlock).
pub fn clear(conn: &Connection, user_id: &str) -> rusqlite::Result<bool> {
    let changed = conn.execute(
        "UPDATE users SET failed_logins = 0, lock_level = 0, locked_until = NULL
         WHERE id = ?1 AND (failed_logins > 0 OR lock_level > 0 OR locked_until IS NOT NULL)",
        [user_id],
    )?;
    Ok(changed > 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn db_with_user() -> Connection {
        let mut conn = Connection::open_in_memory().unwrap();
        crate::db::migrate(&mut conn).unwrap();
        conn.execute(
            "INSERT INTO users (id, email_index, email, display_name, role, created_at)
             VALUES ('u', x'01', 'a@b.edu', 'A', 'user', 0)",
            [],
        )
        .unwrap();
        conn
    }

    #[test]
    fn locks_after_five_failures_for_a_minute_then_doubles_up_to_an_hour() {
        let conn = db_with_user();
        let mut now = 1_000;
        for _ in 0..4 {
            assert_eq!(record_failure(&conn, "u", now).unwrap(), None);
        }
        assert_eq!(record_failure(&conn, "u", now).unwrap(), Some((now + 60, 1)));
        assert_eq!(throttled_until(&conn, "u", now + 59).unwrap(), Some(now + 60));
        assert_eq!(throttled_until(&conn, "u", now + 60).unwrap(), None);
        let mut lengths = Vec::new();
        for _ in 0..8 {
            now += 10_000;
            for _ in 0..4 {
                record_failure(&conn, "u", now).unwrap();
            }
            let (until, _) = record_failure(&conn, "u", now).unwrap().unwrap();
            lengths.push(until - now);
        }
        assert_eq!(lengths, vec![120, 240, 480, 960, 1920, 3600, 3600, 3600]);
        assert!(clear(&conn, "u").unwrap());
        assert_eq!(throttled_until(&conn, "u", now).unwrap(), None);
        assert!(!clear(&conn, "u").unwrap(), "nothing left to clear");
    }

    #[test]
    fn a_hundred_failures_in_an_hour_stop_evaluation() {
        let conn = db_with_user();
        for i in 0..100 {
            conn.execute(
                "INSERT INTO audit_log (at, action, subject_id, outcome) VALUES (?1, 'login', 'u', 'failure')",
                [5_000 + i],
            )
            .unwrap();
        }
        assert_eq!(throttled_until(&conn, "u", 5_200).unwrap(), Some(5_000 + 3600));
        assert_eq!(throttled_until(&conn, "u", 8_700).unwrap(), None);
    }
}
