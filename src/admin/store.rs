//! SQL for account administration, the audit log query and the outbox status. Personal fields
//! (email, phone, names) are never filtered or sorted on here: they may be encrypted at rest,
//! so an email search goes through its blind index, and views read users through
//! `accounts::store::find_by_id`, which owns how those fields are stored.
//!
//! On either engine ([`crate::db::conn`]); every function takes [`AsConn`], so the admin API's
//! transactions pass what they hold. Tests: `store_tests.rs`.

use rusqlite::{ToSql, params};

use crate::db::conn::{AsConn, Optional, SqlResult};

/// The account states an admin can filter on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// Enabled, verified (email or phone), not locked out now.
    Active,
    Disabled,
    /// In a lockout pause now.
    Locked,
    /// No verified email or phone yet.
    Unverified,
}

impl std::str::FromStr for Status {
    type Err = ();
    fn from_str(s: &str) -> Result<Self, ()> {
        match s {
            "active" => Ok(Self::Active),
            "disabled" => Ok(Self::Disabled),
            "locked" => Ok(Self::Locked),
            "unverified" => Ok(Self::Unverified),
            _ => Err(()),
        }
    }
}

#[derive(Debug, Default)]
pub struct UserFilter {
    pub email_index: Option<Vec<u8>>,
    pub role: Option<String>,
    pub status: Option<Status>,
    pub campus_id: Option<i64>,
}

/// What administration needs beyond the profile.
#[derive(Debug, Clone)]
pub struct AdminFacts {
    pub disabled_at: Option<i64>,
    pub locked_until: Option<i64>,
    pub failed_logins: i64,
    pub sessions: i64,
}

/// Ids of the users matching `filter`, newest first, and how many match in all.
pub fn search(
    conn: &impl AsConn,
    filter: &UserFilter,
    now: i64,
    limit: i64,
    offset: i64,
) -> SqlResult<(Vec<String>, i64)> {
    let mut clauses: Vec<&str> = Vec::new();
    let mut values: Vec<&dyn ToSql> = Vec::new();
    if let Some(index) = &filter.email_index {
        clauses.push("email_index = ?");
        values.push(index);
    }
    if let Some(role) = &filter.role {
        clauses.push("role = ?");
        values.push(role);
    }
    if let Some(campus) = &filter.campus_id {
        clauses.push("campus_id = ?");
        values.push(campus);
    }
    match filter.status {
        None => {}
        Some(Status::Disabled) => clauses.push("disabled_at IS NOT NULL"),
        Some(Status::Locked) => {
            clauses.push("disabled_at IS NULL AND locked_until > ?");
            values.push(&now);
        }
        Some(Status::Unverified) => clauses.push(
            "disabled_at IS NULL AND email_verified_at IS NULL AND phone_verified_at IS NULL",
        ),
        Some(Status::Active) => {
            clauses.push(
                "disabled_at IS NULL AND coalesce(locked_until, 0) <= ?
                 AND (email_verified_at IS NOT NULL OR phone_verified_at IS NOT NULL)",
            );
            values.push(&now);
        }
    }
    let filter_sql =
        if clauses.is_empty() { String::new() } else { format!("WHERE {}", clauses.join(" AND ")) };
    let mut paged = values.clone();
    paged.push(&limit);
    paged.push(&offset);
    conn.with_conn(|conn| {
        let total: i64 = conn.query_row(
            &format!("SELECT count(*) FROM users {filter_sql}"),
            values.as_slice(),
            |r| r.get(0),
        )?;
        let ids = conn.query_map(
            &format!(
                "SELECT id FROM users {filter_sql} ORDER BY created_at DESC, id LIMIT ? OFFSET ?"
            ),
            paged.as_slice(),
            |r| r.get(0),
        )?;
        Ok((ids, total))
    })
}

pub fn facts(conn: &impl AsConn, user_id: &str) -> SqlResult<Option<AdminFacts>> {
    conn.with_conn(|conn| {
        conn.query_row(
            "SELECT disabled_at, locked_until, failed_logins,
                (SELECT count(*) FROM sessions s WHERE s.user_id = u.id)
         FROM users u WHERE id = ?1",
            [user_id],
            |r| {
                Ok(AdminFacts {
                    disabled_at: r.get(0)?,
                    locked_until: r.get(1)?,
                    failed_logins: r.get(2)?,
                    sessions: r.get(3)?,
                })
            },
        )
        .optional()
    })
}

/// Sets or clears `disabled_at`; true when that changed anything. (The CAST: PostgreSQL
/// cannot tell a bare parameter's type from `IS NULL`.)
pub fn set_disabled(conn: &impl AsConn, user_id: &str, at: Option<i64>) -> SqlResult<bool> {
    conn.with_conn(|conn| {
        let changed = conn.execute(
            "UPDATE users SET disabled_at = ?2
             WHERE id = ?1 AND (disabled_at IS NULL) <> (CAST(?2 AS BIGINT) IS NULL)",
            params![user_id, at],
        )?;
        Ok(changed == 1)
    })
}

pub fn role_of(conn: &impl AsConn, user_id: &str) -> SqlResult<Option<String>> {
    conn.with_conn(|conn| {
        conn.query_row("SELECT role FROM users WHERE id = ?1", [user_id], |r| r.get(0)).optional()
    })
}

/// An account's role before a change that could leave no enabled admin.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoleCheck {
    pub role: String,
    /// Enabled admins other than this account.
    pub other_enabled_admins: i64,
}

impl RoleCheck {
    /// Whether demoting or disabling this account would leave no enabled admin.
    pub fn is_last_admin(&self) -> bool {
        self.role == "admin" && self.other_enabled_admins == 0
    }
}

/// The role of `user_id` (None: no such account) and how many other enabled admins there
/// are, for a demotion or a disabling in the same transaction. It takes the admins' turn
/// first (`serialize_on`, held to the end of the transaction): on PostgreSQL two admins
/// demoting or disabling each other at once would otherwise both count the other as
/// remaining and leave none. On SQLite the write transaction already takes turns.
pub fn role_before_change(conn: &impl AsConn, user_id: &str) -> SqlResult<Option<RoleCheck>> {
    conn.with_conn(|conn| {
        conn.serialize_on("admins")?;
        let Some(role) = role_of(conn, user_id)? else { return Ok(None) };
        let other_enabled_admins = conn.query_row(
            "SELECT count(*) FROM users
             WHERE role = 'admin' AND disabled_at IS NULL AND id <> ?1",
            [user_id],
            |r| r.get(0),
        )?;
        Ok(Some(RoleCheck { role, other_enabled_admins }))
    })
}

/// One audit row as admins see it.
#[derive(Debug, Clone)]
pub struct AuditRow {
    pub id: i64,
    pub at: i64,
    pub actor_id: Option<String>,
    pub action: String,
    pub subject_id: Option<String>,
    pub ip: Option<String>,
    pub outcome: String,
    pub details: String,
}

#[derive(Debug, Default)]
pub struct AuditFilter {
    /// Rows where this user is the actor or the subject.
    pub user_id: Option<String>,
    pub action: Option<String>,
    pub from: Option<i64>,
    /// Exclusive.
    pub to: Option<i64>,
}

/// Matching rows, newest first, and how many match in all.
pub fn audit(
    conn: &impl AsConn,
    filter: &AuditFilter,
    limit: i64,
    offset: i64,
) -> SqlResult<(Vec<AuditRow>, i64)> {
    let mut clauses: Vec<&str> = Vec::new();
    let mut values: Vec<&dyn ToSql> = Vec::new();
    if let Some(user) = &filter.user_id {
        // Two indexed lookups rather than an OR that would scan.
        clauses.push(
            "id IN (SELECT id FROM audit_log WHERE subject_id = ?
                    UNION SELECT id FROM audit_log WHERE actor_id = ?)",
        );
        values.push(user);
        values.push(user);
    }
    if let Some(action) = &filter.action {
        clauses.push("action = ?");
        values.push(action);
    }
    if let Some(from) = &filter.from {
        clauses.push("at >= ?");
        values.push(from);
    }
    if let Some(to) = &filter.to {
        clauses.push("at < ?");
        values.push(to);
    }
    let filter_sql =
        if clauses.is_empty() { String::new() } else { format!("WHERE {}", clauses.join(" AND ")) };
    let mut paged = values.clone();
    paged.push(&limit);
    paged.push(&offset);
    conn.with_conn(|conn| {
        let total: i64 = conn.query_row(
            &format!("SELECT count(*) FROM audit_log {filter_sql}"),
            values.as_slice(),
            |r| r.get(0),
        )?;
        let rows = conn.query_map(
            &format!(
                "SELECT id, at, actor_id, action, subject_id, ip, outcome, details FROM audit_log
                 {filter_sql} ORDER BY at DESC, id DESC LIMIT ? OFFSET ?"
            ),
            paged.as_slice(),
            |r| {
                Ok(AuditRow {
                    id: r.get(0)?,
                    at: r.get(1)?,
                    actor_id: r.get(2)?,
                    action: r.get(3)?,
                    subject_id: r.get(4)?,
                    ip: r.get(5)?,
                    outcome: r.get(6)?,
                    details: r.get(7)?,
                })
            },
        )?;
        Ok((rows, total))
    })
}

/// A message that will not be sent again unless an admin retries it.
#[derive(Debug, Clone)]
pub struct FailedMessage {
    pub id: i64,
    pub channel: String,
    pub created_at: i64,
    pub failed_at: i64,
    pub attempts: i64,
    pub last_error: Option<String>,
}

#[derive(Debug, Clone)]
pub struct OutboxStatus {
    pub pending: i64,
    pub failed: i64,
    pub oldest_pending_at: Option<i64>,
    /// The most recent failures (at most 100).
    pub recent_failures: Vec<FailedMessage>,
}

pub fn outbox_status(conn: &impl AsConn) -> SqlResult<OutboxStatus> {
    conn.with_conn(|conn| {
        let (pending, failed, oldest_pending_at) = conn.query_row(
            "SELECT count(*) FILTER (WHERE sent_at IS NULL AND failed_at IS NULL),
                    count(*) FILTER (WHERE failed_at IS NOT NULL),
                    min(created_at) FILTER (WHERE sent_at IS NULL AND failed_at IS NULL)
             FROM outbox",
            [] as [i64; 0],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )?;
        let recent_failures = conn.query_map(
            "SELECT id, channel, created_at, failed_at, attempts, last_error FROM outbox
             WHERE failed_at IS NOT NULL ORDER BY failed_at DESC, id DESC LIMIT 100",
            [] as [i64; 0],
            |r| {
                Ok(FailedMessage {
                    id: r.get(0)?,
                    channel: r.get(1)?,
                    created_at: r.get(2)?,
                    failed_at: r.get(3)?,
                    attempts: r.get(4)?,
                    last_error: r.get(5)?,
                })
            },
        )?;
        Ok(OutboxStatus { pending, failed, oldest_pending_at, recent_failures })
    })
}

/// What a retry found.
#[derive(Debug, PartialEq, Eq)]
pub enum Retry {
    Queued,
    NotFound,
    /// The message is not in the failed state (pending or sent).
    NotFailed,
    /// Its body was erased when it failed (before 0.1's retry support): nothing to send.
    Erased,
}

/// Puts a failed message back in the queue, due now, with its attempts reset. On PostgreSQL
/// the message is read `FOR UPDATE`, so a second retry at once (or an erasure of its body)
/// waits for this one and then reads what it left; SQLite's write transaction takes turns.
pub fn retry_message(conn: &impl AsConn, id: i64, now: i64) -> SqlResult<Retry> {
    conn.with_conn(|conn| {
        let lock = conn.for_update();
        let row: Option<(Option<i64>, String)> = conn
            .query_row(
                &format!("SELECT failed_at, body_text FROM outbox WHERE id = ?1{lock}"),
                [id],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?;
        match row {
            None => Ok(Retry::NotFound),
            Some((None, _)) => Ok(Retry::NotFailed),
            Some((Some(_), body)) if body.is_empty() => Ok(Retry::Erased),
            Some(_) => {
                conn.execute(
                    "UPDATE outbox SET failed_at = NULL, attempts = 0, next_attempt_at = ?2
                     WHERE id = ?1",
                    params![id, now],
                )?;
                Ok(Retry::Queued)
            }
        }
    })
}
