//! The SQL of `oidc_logouts`: back-channel logout tokens waiting to be delivered, delivered or
//! given up on. The token itself is not stored: it is signed afresh at each attempt (it lives
//! two minutes, and a key rotation in between must not leave a stale signature). On either
//! engine ([`crate::db::conn`]).

use rusqlite::params;

use crate::db::conn::{Conn, SqlResult};

/// One logout to deliver.
pub struct DueLogout {
    pub id: i64,
    pub client_id: String,
    pub user_id: String,
    pub sid: String,
    pub created_at: i64,
    pub attempts: i64,
    pub uri: String,
    pub id_token_alg: String,
}

/// Queues a logout for a client that has a back-channel URI (none for one without); a second
/// ending of the same session for the same client is the same logout.
pub fn queue(conn: &Conn, client_id: &str, user_id: &str, sid: &str, now: i64) -> SqlResult<bool> {
    let changed = conn.execute(
        "INSERT INTO oidc_logouts (client_id, user_id, sid, created_at, next_attempt_at)
         SELECT id, ?2, ?3, ?4, ?4 FROM oidc_clients
         WHERE id = ?1 AND backchannel_logout_uri IS NOT NULL
         ON CONFLICT (client_id, sid) DO NOTHING",
        params![client_id, user_id, sid, now],
    )?;
    Ok(changed == 1)
}

/// The logouts due at `now`, oldest first, at most `limit`.
pub fn due(conn: &Conn, now: i64, limit: i64) -> SqlResult<Vec<DueLogout>> {
    conn.query_map(
        "SELECT l.id, l.client_id, l.user_id, l.sid, l.created_at, l.attempts,
                c.backchannel_logout_uri, c.id_token_alg
         FROM oidc_logouts l JOIN oidc_clients c ON c.id = l.client_id
         WHERE l.sent_at IS NULL AND l.failed_at IS NULL AND l.next_attempt_at <= ?1
           AND c.backchannel_logout_uri IS NOT NULL
         ORDER BY l.next_attempt_at LIMIT ?2",
        params![now, limit],
        |r| {
            Ok(DueLogout {
                id: r.get(0)?,
                client_id: r.get(1)?,
                user_id: r.get(2)?,
                sid: r.get(3)?,
                created_at: r.get(4)?,
                attempts: r.get(5)?,
                uri: r.get(6)?,
                id_token_alg: r.get(7)?,
            })
        },
    )
}

pub fn mark_sent(conn: &Conn, id: i64, now: i64) -> SqlResult<()> {
    conn.execute(
        "UPDATE oidc_logouts SET sent_at = ?2, attempts = attempts + 1, last_error = NULL
         WHERE id = ?1",
        params![id, now],
    )?;
    Ok(())
}

/// Records a failed attempt: tried again at `next_attempt_at`, or given up (`failed`, at
/// `now`). The time given up is chosen here, not by a `CASE` on an untyped parameter, which
/// PostgreSQL cannot type.
pub fn mark_failed(
    conn: &Conn,
    id: i64,
    now: i64,
    next_attempt_at: i64,
    failed: bool,
    error: &str,
) -> SqlResult<()> {
    conn.execute(
        "UPDATE oidc_logouts SET attempts = attempts + 1, next_attempt_at = ?2, last_error = ?4,
             failed_at = ?3
         WHERE id = ?1",
        params![id, next_attempt_at, failed.then_some(now), error],
    )?;
    Ok(())
}
