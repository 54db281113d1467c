//! Account lockout (OWASP ASVS 2.2.1).
//!
//! **Passwords.** After [`FAILURES_TO_LOCK`] consecutive failed passwords an account is paused
//! for a minute, doubling with each further lock up to an hour; at most [`FAILURES_PER_HOUR`]
//! failures an hour are evaluated at all (the hard cap). The owner is emailed at the first lock
//! of a series; a successful sign-in, a password reset or an admin unlock clears the state.
//! While paused, the answer does not depend on the password, except for a web sign-in that
//! brings a solved captcha: it is evaluated (a right password signs in, a wrong one counts), so
//! that wrong guesses cannot keep the owner out for ever (token grants keep refusing). The hard
//! cap holds whatever comes with the request. Wrong current passwords at the account's own checks (password change,
//! deletion, second-factor changes) count here too.
//!
//! An email that no account has keeps the same state ([`Subject::UnknownEmail`], in
//! `unknown_email_lockouts`, keyed by the email's blind index), so that a locked account and
//! an unknown email answer alike. Both forget a quiet series after [`FORGET_AFTER_SECONDS`]
//! (the retention job, [`forget_stale`]), which also bounds the rows kept for unknown emails.
//!
//! **Second factors.** Wrong TOTP and recovery codes are counted per account, whichever
//! pending sign-in, token request or account check they came with: [`MFA_FAILURES_TO_PAUSE`]
//! in an hour pause the account's second factors for an hour, doubling up to a day; while
//! paused no code is evaluated. The same events as the password lockout clear it.
//!
//! The state lives in the database on either engine, so every node of a campus sees one
//! lockout. Each function takes any connection or transaction ([`AsConn`]): the callers count
//! a failure inside the transaction that audits it. Counting needs no turn of its own: each
//! failure is one `UPDATE ... RETURNING` (or an upsert) of one row, which PostgreSQL applies
//! one at a time, so two failures at once on two nodes count two.

use rusqlite::params;

use crate::db::conn::{AsConn, Conn, Optional};

pub const FAILURES_TO_LOCK: i64 = 5;
pub const FAILURES_PER_HOUR: i64 = 100;
const FIRST_LOCK_SECONDS: i64 = 60;
const LONGEST_LOCK_SECONDS: i64 = 3600;
const HOUR: i64 = 3600;
/// A lockout series with no failed password for this long is forgotten (30 days).
pub const FORGET_AFTER_SECONDS: i64 = 30 * 86_400;

pub const MFA_FAILURES_TO_PAUSE: i64 = 10;
const MFA_WINDOW_SECONDS: i64 = 3600;
const FIRST_MFA_PAUSE_SECONDS: i64 = 3600;
const LONGEST_MFA_PAUSE_SECONDS: i64 = 86_400;

/// Whose password lockout state: an account's, or that of an email no account has.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Subject {
    Account(String),
    /// The blind index of a normalised email that no account has.
    UnknownEmail(Vec<u8>),
}

/// Where a subject stands with the password lockout now.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Standing {
    /// The end of the current pause, if it is paused.
    pub paused_until: Option<i64>,
    /// When evaluation may start again, if the hard cap of failures an hour is reached.
    pub capped_until: Option<i64>,
    /// Locked since its last successful sign-in ("being throttled": sign-ins need a captcha).
    pub was_locked: bool,
}

impl Standing {
    /// When to try again, if a request that cannot get through a pause is refused now.
    pub fn refused_until(&self) -> Option<i64> {
        self.paused_until.or(self.capped_until)
    }
}

/// One account's failed sign-ins since ?2: every password sign-in runs it, so it must read
/// that account's rows only (index `audit_log_subject_action`, migration 0020), never every
/// account's sign-ins of the hour.
const ACCOUNT_FAILURES: &str = "SELECT count(*), min(at) FROM audit_log
     WHERE subject_id = ?1 AND action = 'login' AND outcome = 'failure' AND at > ?2";

/// The subject's lockout standing now.
pub fn standing(conn: &impl AsConn, subject: &Subject, now: i64) -> rusqlite::Result<Standing> {
    Ok(conn.with_conn(|conn| standing_on(conn, subject, now))?)
}

fn standing_on(conn: &Conn, subject: &Subject, now: i64) -> crate::db::conn::SqlResult<Standing> {
    let state: Option<(Option<i64>, i64)> = match subject {
        Subject::Account(id) => conn
            .query_row("SELECT locked_until, lock_level FROM users WHERE id = ?1", [id], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })
            .optional()?,
        Subject::UnknownEmail(index) => conn
            .query_row(
                "SELECT locked_until, lock_level FROM unknown_email_lockouts WHERE email_index = ?1",
                [index],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?,
    };
    let (locked_until, level) = state.unwrap_or((None, 0));
    let (failures, oldest): (i64, Option<i64>) = match subject {
        Subject::Account(id) => conn.query_row(
            ACCOUNT_FAILURES,
            params![id, now - HOUR],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )?,
        Subject::UnknownEmail(index) => conn.query_row(
            "SELECT count(*), min(at) FROM unknown_email_failures WHERE email_index = ?1 AND at > ?2",
            params![index, now - HOUR],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )?,
    };
    Ok(Standing {
        paused_until: locked_until.filter(|until| *until > now),
        capped_until: (failures >= FAILURES_PER_HOUR).then(|| oldest.unwrap_or(now) + HOUR),
        was_locked: level > 0,
    })
}

/// Counts a failed password; returns the lock's end and level when this failure locked it.
/// An account's failure is also counted towards the hard cap by its audit row (the caller
/// records it); an unknown email's is counted here.
pub fn record_failure(
    conn: &impl AsConn,
    subject: &Subject,
    now: i64,
) -> rusqlite::Result<Option<(i64, i64)>> {
    Ok(conn.with_conn(|conn| record_failure_on(conn, subject, now))?)
}

fn record_failure_on(
    conn: &Conn,
    subject: &Subject,
    now: i64,
) -> crate::db::conn::SqlResult<Option<(i64, i64)>> {
    let (failed, level): (i64, i64) = match subject {
        Subject::Account(id) => conn.query_row(
            "UPDATE users SET failed_logins = failed_logins + 1, last_failed_login_at = ?2
             WHERE id = ?1 RETURNING failed_logins, lock_level",
            params![id, now],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )?,
        Subject::UnknownEmail(index) => {
            conn.execute(
                "DELETE FROM unknown_email_failures WHERE email_index = ?1 AND at <= ?2",
                params![index, now - HOUR],
            )?;
            conn.execute(
                "INSERT INTO unknown_email_failures (email_index, at) VALUES (?1, ?2)",
                params![index, now],
            )?;
            conn.query_row(
                "INSERT INTO unknown_email_lockouts (email_index, failed_logins, last_failure_at)
                 VALUES (?1, 1, ?2)
                 ON CONFLICT (email_index) DO UPDATE
                 SET failed_logins = unknown_email_lockouts.failed_logins + 1,
                     last_failure_at = excluded.last_failure_at
                 RETURNING failed_logins, lock_level",
                params![index, now],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )?
        }
    };
    if failed < FAILURES_TO_LOCK {
        return Ok(None);
    }
    let level = level + 1;
    let seconds = (FIRST_LOCK_SECONDS << (level - 1).min(10)).min(LONGEST_LOCK_SECONDS);
    let until = now + seconds;
    match subject {
        Subject::Account(id) => conn.execute(
            "UPDATE users SET failed_logins = 0, lock_level = ?2, locked_until = ?3 WHERE id = ?1",
            params![id, level, until],
        )?,
        Subject::UnknownEmail(index) => conn.execute(
            "UPDATE unknown_email_lockouts SET failed_logins = 0, lock_level = ?2, locked_until = ?3
             WHERE email_index = ?1",
            params![index, level, until],
        )?,
    };
    Ok(Some((until, level)))
}

/// Forgets an account's failures, locks and second-factor pauses (a successful sign-in, a
/// reset, an admin unlock); true when there was something to forget.
pub fn clear(conn: &impl AsConn, user_id: &str) -> rusqlite::Result<bool> {
    let changed = conn.with_conn(|conn| {
        conn.execute(
            "UPDATE users SET failed_logins = 0, lock_level = 0, locked_until = NULL,
                          mfa_failures = 0, mfa_window_start = NULL, mfa_pause_level = 0,
                          mfa_paused_until = NULL
         WHERE id = ?1
           AND (failed_logins > 0 OR lock_level > 0 OR locked_until IS NOT NULL
                OR mfa_failures > 0 OR mfa_pause_level > 0 OR mfa_paused_until IS NOT NULL)",
            [user_id],
        )
    })?;
    Ok(changed > 0)
}

/// What one [`forget_stale`] run removed.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Forgotten {
    /// Accounts whose quiet lockout series was forgotten.
    pub accounts: usize,
    /// Unknown emails' rows deleted.
    pub unknown_emails: usize,
}

/// For the retention job: forgets every lockout series (an account's or an unknown email's
/// alike) whose last failed password is [`FORGET_AFTER_SECONDS`] old and which is not paused,
/// and deletes unknown emails' failures past the hour the cap counts.
pub fn forget_stale(conn: &impl AsConn, now: i64) -> rusqlite::Result<Forgotten> {
    Ok(conn.with_conn(|conn| forget_stale_on(conn, now))?)
}

fn forget_stale_on(conn: &Conn, now: i64) -> crate::db::conn::SqlResult<Forgotten> {
    let cutoff = now - FORGET_AFTER_SECONDS;
    let accounts = conn.execute(
        "UPDATE users SET failed_logins = 0, lock_level = 0, locked_until = NULL
         WHERE (failed_logins > 0 OR lock_level > 0 OR locked_until IS NOT NULL)
           AND coalesce(last_failed_login_at, 0) <= ?1 AND coalesce(locked_until, 0) <= ?2",
        params![cutoff, now],
    )?;
    let unknown_emails = conn.execute(
        "DELETE FROM unknown_email_lockouts
         WHERE last_failure_at <= ?1 AND coalesce(locked_until, 0) <= ?2",
        params![cutoff, now],
    )?;
    conn.execute("DELETE FROM unknown_email_failures WHERE at <= ?1", [now - HOUR])?;
    Ok(Forgotten { accounts, unknown_emails })
}

/// The end of the account's second-factor pause, if it is paused now.
pub fn mfa_paused_until(
    conn: &impl AsConn,
    user_id: &str,
    now: i64,
) -> rusqlite::Result<Option<i64>> {
    let until: Option<i64> = conn
        .with_conn(|conn| {
            conn.query_row("SELECT mfa_paused_until FROM users WHERE id = ?1", [user_id], |r| {
                r.get(0)
            })
            .optional()
        })?
        .flatten();
    Ok(until.filter(|until| *until > now))
}

/// Counts a wrong second-factor code; returns the pause's end and level when this failure
/// paused the account's second factors.
pub fn record_mfa_failure(
    conn: &impl AsConn,
    user_id: &str,
    now: i64,
) -> rusqlite::Result<Option<(i64, i64)>> {
    Ok(conn.with_conn(|conn| record_mfa_failure_on(conn, user_id, now))?)
}

fn record_mfa_failure_on(
    conn: &Conn,
    user_id: &str,
    now: i64,
) -> crate::db::conn::SqlResult<Option<(i64, i64)>> {
    // A window starts at its first failure and lasts an hour.
    let (failures, level): (i64, i64) = conn.query_row(
        "UPDATE users SET
             mfa_failures = CASE WHEN coalesce(mfa_window_start, 0) > ?2 - CAST(?3 AS BIGINT)
                                 THEN mfa_failures + 1 ELSE 1 END,
             mfa_window_start = CASE WHEN coalesce(mfa_window_start, 0) > ?2 - CAST(?3 AS BIGINT)
                                     THEN mfa_window_start ELSE ?2 END
         WHERE id = ?1 RETURNING mfa_failures, mfa_pause_level",
        params![user_id, now, MFA_WINDOW_SECONDS],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )?;
    if failures < MFA_FAILURES_TO_PAUSE {
        return Ok(None);
    }
    let level = level + 1;
    let seconds = (FIRST_MFA_PAUSE_SECONDS << (level - 1).min(10)).min(LONGEST_MFA_PAUSE_SECONDS);
    let until = now + seconds;
    conn.execute(
        "UPDATE users SET mfa_failures = 0, mfa_window_start = NULL, mfa_pause_level = ?2,
                          mfa_paused_until = ?3
         WHERE id = ?1",
        params![user_id, level, until],
    )?;
    Ok(Some((until, level)))
}

#[cfg(test)]
#[path = "lockout_tests.rs"]
mod tests;
