//! SQL for account administration, the audit log query and the outbox status. Personal fields
//! (email, phone, names) are never filtered or sorted on here: they may be encrypted at rest,
//! so an email search goes through its blind index, and views read users through
//! `accounts::store::find_by_id`, which owns how those fields are stored.

use rusqlite::{Connection, OptionalExtension, ToSql, params};

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
    conn: &Connection,
    filter: &UserFilter,
    now: i64,
    limit: i64,
    offset: i64,
) -> rusqlite::Result<(Vec<String>, i64)> {
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
    let total: i64 = conn.query_row(
        &format!("SELECT count(*) FROM users {filter_sql}"),
        values.as_slice(),
        |r| r.get(0),
    )?;
    let mut paged = values.clone();
    paged.push(&limit);
    paged.push(&offset);
    let mut stmt = conn.prepare(&format!(
        "SELECT id FROM users {filter_sql} ORDER BY created_at DESC, id LIMIT ? OFFSET ?"
    ))?;
    let ids = stmt.query_map(paged.as_slice(), |r| r.get(0))?.collect::<Result<_, _>>()?;
    Ok((ids, total))
}

pub fn facts(conn: &Connection, user_id: &str) -> rusqlite::Result<Option<AdminFacts>> {
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
}

/// Sets or clears `disabled_at`; true when that changed anything.
pub fn set_disabled(conn: &Connection, user_id: &str, at: Option<i64>) -> rusqlite::Result<bool> {
    let changed = conn.execute(
        "UPDATE users SET disabled_at = ?2
         WHERE id = ?1 AND (disabled_at IS NULL) != (?2 IS NULL)",
        params![user_id, at],
    )?;
    Ok(changed == 1)
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
    conn: &Connection,
    filter: &AuditFilter,
    limit: i64,
    offset: i64,
) -> rusqlite::Result<(Vec<AuditRow>, i64)> {
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
    let total: i64 = conn.query_row(
        &format!("SELECT count(*) FROM audit_log {filter_sql}"),
        values.as_slice(),
        |r| r.get(0),
    )?;
    let mut paged = values.clone();
    paged.push(&limit);
    paged.push(&offset);
    let mut stmt = conn.prepare(&format!(
        "SELECT id, at, actor_id, action, subject_id, ip, outcome, details FROM audit_log
         {filter_sql} ORDER BY at DESC, id DESC LIMIT ? OFFSET ?"
    ))?;
    let rows = stmt
        .query_map(paged.as_slice(), |r| {
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
        })?
        .collect::<Result<_, _>>()?;
    Ok((rows, total))
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

pub fn outbox_status(conn: &Connection) -> rusqlite::Result<OutboxStatus> {
    let (pending, failed, oldest_pending_at) = conn.query_row(
        "SELECT count(*) FILTER (WHERE sent_at IS NULL AND failed_at IS NULL),
                count(*) FILTER (WHERE failed_at IS NOT NULL),
                min(created_at) FILTER (WHERE sent_at IS NULL AND failed_at IS NULL)
         FROM outbox",
        [],
        |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
    )?;
    let mut stmt = conn.prepare(
        "SELECT id, channel, created_at, failed_at, attempts, last_error FROM outbox
         WHERE failed_at IS NOT NULL ORDER BY failed_at DESC, id DESC LIMIT 100",
    )?;
    let recent_failures = stmt
        .query_map([], |r| {
            Ok(FailedMessage {
                id: r.get(0)?,
                channel: r.get(1)?,
                created_at: r.get(2)?,
                failed_at: r.get(3)?,
                attempts: r.get(4)?,
                last_error: r.get(5)?,
            })
        })?
        .collect::<Result<_, _>>()?;
    Ok(OutboxStatus { pending, failed, oldest_pending_at, recent_failures })
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

/// Puts a failed message back in the queue, due now, with its attempts reset.
pub fn retry_message(conn: &Connection, id: i64, now: i64) -> rusqlite::Result<Retry> {
    let row: Option<(Option<i64>, String)> = conn
        .query_row("SELECT failed_at, body_text FROM outbox WHERE id = ?1", [id], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
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
}
