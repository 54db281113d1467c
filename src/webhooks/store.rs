//! The SQL of `webhook_endpoints` and `webhook_deliveries`, on either engine
//! ([`crate::db::conn`]): private to webhooks. [`queue`] runs inside other features'
//! transactions, so it takes [`AsConn`]; the rest take [`Conn`].

use rusqlite::params;

use super::endpoint::Endpoint;
use super::events::Event;
use crate::db::conn::{AsConn, Conn, Optional, Row, SqlResult};

const ENDPOINT_COLUMNS: &str = "id, url, events, created_at, secret_rotated_at";

fn endpoint(r: &Row<'_>) -> SqlResult<Endpoint> {
    let events: String = r.get(2)?;
    Ok(Endpoint {
        id: r.get(0)?,
        url: r.get(1)?,
        events: events.split_ascii_whitespace().map(str::to_string).collect(),
        created_at: r.get(3)?,
        secret_rotated_at: r.get(4)?,
    })
}

pub fn insert_endpoint(
    conn: &Conn,
    id: &str,
    url: &str,
    events: &str,
    sealed_secret: &str,
    created_by: Option<&str>,
    now: i64,
) -> SqlResult<()> {
    conn.execute(
        "INSERT INTO webhook_endpoints (id, url, events, secret, created_at, created_by)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        params![id, url, events, sealed_secret, now, created_by],
    )?;
    Ok(())
}

pub fn find_endpoint(conn: &Conn, id: &str) -> SqlResult<Option<Endpoint>> {
    conn.query_row(
        &format!("SELECT {ENDPOINT_COLUMNS} FROM webhook_endpoints WHERE id = ?1"),
        [id],
        endpoint,
    )
    .optional()
}

/// An endpoint about to be removed: on PostgreSQL it stays locked until the transaction ends,
/// so that a second removal at once (another admin, another node) waits and finds it gone, as
/// under SQLite's single writer, instead of both removing it and both being audited.
pub fn find_endpoint_to_change(conn: &Conn, id: &str) -> SqlResult<Option<Endpoint>> {
    let lock = conn.for_update();
    conn.query_row(
        &format!("SELECT {ENDPOINT_COLUMNS} FROM webhook_endpoints WHERE id = ?1{lock}"),
        [id],
        endpoint,
    )
    .optional()
}

pub fn list_endpoints(conn: &Conn) -> SqlResult<Vec<Endpoint>> {
    conn.query_map(
        &format!("SELECT {ENDPOINT_COLUMNS} FROM webhook_endpoints ORDER BY created_at"),
        [] as [i64; 0],
        endpoint,
    )
}

pub fn delete_endpoint(conn: &Conn, id: &str) -> SqlResult<()> {
    conn.execute("DELETE FROM webhook_endpoints WHERE id = ?1", [id])?;
    Ok(())
}

/// The sealed secret of an endpoint whose secret is about to be replaced: on PostgreSQL the
/// endpoint stays locked until the transaction ends, so that a second rotation at once waits
/// and keeps this rotation's new secret as its previous one (instead of both keeping the
/// same old one, and the first one's new secret, shown once, never signing).
pub fn sealed_secret_to_rotate(conn: &Conn, id: &str) -> SqlResult<Option<String>> {
    let lock = conn.for_update();
    conn.query_row(
        &format!("SELECT secret FROM webhook_endpoints WHERE id = ?1{lock}"),
        [id],
        |r| r.get(0),
    )
    .optional()
}

pub fn rotate_secret(
    conn: &Conn,
    id: &str,
    sealed_secret: &str,
    sealed_previous: &str,
    previous_until: i64,
    now: i64,
) -> SqlResult<()> {
    conn.execute(
        "UPDATE webhook_endpoints SET secret = ?2, previous_secret = ?3,
             previous_secret_until = ?4, secret_rotated_at = ?5
         WHERE id = ?1",
        params![id, sealed_secret, sealed_previous, previous_until, now],
    )?;
    Ok(())
}

/// One delivery per endpoint taking the event's type: an exact name among its space-separated
/// types. The match is made here rather than in SQL: SQLite's `instr` does not exist on
/// PostgreSQL (nor `strpos` on SQLite), and `LIKE` would read a `_` in a name as any
/// character; endpoints are a handful of admin-registered rows, so reading them all is cheap.
pub fn queue(conn: &impl AsConn, event: &Event, now: i64) -> SqlResult<usize> {
    conn.with_conn(|conn| {
        let body = event.body(now);
        let kind = event.kind.name();
        let endpoints: Vec<(String, String)> =
            conn.query_map("SELECT id, events FROM webhook_endpoints", [] as [i64; 0], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })?;
        let mut queued = 0;
        for (id, events) in &endpoints {
            if !events.split_ascii_whitespace().any(|e| e == kind) {
                continue;
            }
            let message_id =
                format!("msg_{}", crate::crypto::base64url(&rand::random::<[u8; 16]>()));
            conn.execute(
                "INSERT INTO webhook_deliveries (message_id, endpoint_id, event_type, payload,
                     created_at, next_attempt_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?5)",
                params![message_id, id, kind, body, now],
            )?;
            queued += 1;
        }
        Ok(queued)
    })
}

/// A delivery to make, with its endpoint's URL and sealed secrets.
pub struct DueDelivery {
    pub id: i64,
    pub message_id: String,
    pub endpoint_id: String,
    pub event_type: String,
    pub payload: String,
    pub created_at: i64,
    pub attempts: i64,
    pub url: String,
    pub secret: String,
    /// The rotated-out secret while it still signs.
    pub previous_secret: Option<String>,
    /// When it was due.
    pub due_at: i64,
    /// On PostgreSQL, until when this node holds it ([`claim_due`]); None on SQLite.
    pub claimed_until: Option<i64>,
}

const DUE: &str = "SELECT d.id, d.message_id, d.endpoint_id, d.event_type, d.payload, d.created_at,
        d.attempts, e.url, e.secret,
        CASE WHEN e.previous_secret_until > ?1 THEN e.previous_secret END, d.next_attempt_at
     FROM webhook_deliveries d JOIN webhook_endpoints e ON e.id = d.endpoint_id
     WHERE d.sent_at IS NULL AND d.failed_at IS NULL AND d.next_attempt_at <= ?1
     ORDER BY d.next_attempt_at, d.id LIMIT ?2";

/// The deliveries due at `now`, at most `limit`, for this node to make.
///
/// On SQLite one process runs the job, and what it has in flight it knows itself: this is a
/// read. On PostgreSQL several nodes run it at once, so the deliveries are claimed: read
/// `FOR UPDATE SKIP LOCKED` (another node claiming at the same moment skips them rather than
/// waiting for them or reading them too), and made due again only at `claimed_until`, past
/// the try ([`record_try`] sets the real next time). A node that stops mid-try leaves its
/// claim to expire, and another node tries again: still at least once.
pub fn claim_due(
    conn: &Conn,
    now: i64,
    limit: i64,
    claimed_until: i64,
) -> SqlResult<Vec<DueDelivery>> {
    if !conn.is_postgres() {
        return read_due(conn, DUE, now, limit, None);
    }
    let tx = conn.transaction()?;
    // OF d: the endpoint's row stays free (deliveries of one endpoint go to several nodes).
    let claimed = read_due(
        &tx,
        &format!("{DUE} FOR UPDATE OF d SKIP LOCKED"),
        now,
        limit,
        Some(claimed_until),
    )?;
    for delivery in &claimed {
        tx.execute(
            "UPDATE webhook_deliveries SET next_attempt_at = ?2 WHERE id = ?1",
            params![delivery.id, claimed_until],
        )?;
    }
    tx.commit()?;
    Ok(claimed)
}

fn read_due(
    conn: &Conn,
    sql: &str,
    now: i64,
    limit: i64,
    claimed_until: Option<i64>,
) -> SqlResult<Vec<DueDelivery>> {
    conn.query_map(sql, params![now, limit], |r| {
        Ok(DueDelivery {
            id: r.get(0)?,
            message_id: r.get(1)?,
            endpoint_id: r.get(2)?,
            event_type: r.get(3)?,
            payload: r.get(4)?,
            created_at: r.get(5)?,
            attempts: r.get(6)?,
            url: r.get(7)?,
            secret: r.get(8)?,
            previous_secret: r.get(9)?,
            due_at: r.get(10)?,
            claimed_until,
        })
    })
}

/// Gives back a claimed delivery this node did not start (its endpoint had no free slot):
/// due again when it was, for the next run here or on another node. Nothing on SQLite, where
/// nothing is claimed, nor when the delivery changed since (tried, or sent again by an admin).
pub fn release(conn: &Conn, delivery: &DueDelivery) -> SqlResult<()> {
    let Some(claimed_until) = delivery.claimed_until else { return Ok(()) };
    conn.execute(
        "UPDATE webhook_deliveries SET next_attempt_at = ?2
         WHERE id = ?1 AND next_attempt_at = ?3 AND sent_at IS NULL AND failed_at IS NULL",
        params![delivery.id, delivery.due_at, claimed_until],
    )?;
    Ok(())
}

/// Records one try: delivered, to be tried again at `next`, or given up.
pub fn record_try(
    conn: &Conn,
    id: i64,
    now: i64,
    status: Option<u16>,
    error: Option<&str>,
    outcome: TryOutcome,
) -> SqlResult<()> {
    let (sent, failed, next) = match outcome {
        TryOutcome::Sent => (Some(now), None, now),
        TryOutcome::Retry(next) => (None, None, next),
        TryOutcome::Failed => (None, Some(now), now),
    };
    conn.execute(
        "UPDATE webhook_deliveries SET attempts = attempts + 1, sent_at = ?2, failed_at = ?3,
             next_attempt_at = ?4, last_status = ?5, last_error = ?6
         WHERE id = ?1",
        params![id, sent, failed, next, status, error],
    )?;
    Ok(())
}

#[derive(Debug, Clone, Copy)]
pub enum TryOutcome {
    Sent,
    Retry(i64),
    Failed,
}

/// A delivery as the admin page shows it.
pub struct DeliveryRow {
    pub id: i64,
    pub message_id: String,
    pub endpoint_id: String,
    pub event_type: String,
    pub created_at: i64,
    pub attempts: i64,
    pub next_attempt_at: i64,
    pub sent_at: Option<i64>,
    pub failed_at: Option<i64>,
    pub last_status: Option<i64>,
    pub last_error: Option<String>,
}

/// The newest deliveries of an endpoint, at most `limit`.
pub fn recent(conn: &Conn, endpoint_id: &str, limit: i64) -> SqlResult<Vec<DeliveryRow>> {
    conn.query_map(
        "SELECT id, message_id, endpoint_id, event_type, created_at, attempts, next_attempt_at,
                sent_at, failed_at, last_status, last_error
         FROM webhook_deliveries WHERE endpoint_id = ?1 ORDER BY id DESC LIMIT ?2",
        params![endpoint_id, limit],
        |r| {
            Ok(DeliveryRow {
                id: r.get(0)?,
                message_id: r.get(1)?,
                endpoint_id: r.get(2)?,
                event_type: r.get(3)?,
                created_at: r.get(4)?,
                attempts: r.get(5)?,
                next_attempt_at: r.get(6)?,
                sent_at: r.get(7)?,
                failed_at: r.get(8)?,
                last_status: r.get(9)?,
                last_error: r.get(10)?,
            })
        },
    )
}

/// "Send again": a delivered or failed delivery of `endpoint_id` is due again now, with the
/// same `webhook-id` (a receiver that took it already sees a duplicate it can drop). False
/// when there is no such delivery.
pub fn redeliver(conn: &Conn, endpoint_id: &str, id: i64, now: i64) -> SqlResult<bool> {
    let changed = conn.execute(
        "UPDATE webhook_deliveries SET sent_at = NULL, failed_at = NULL, next_attempt_at = ?3,
             attempts = 0, created_at = ?3
         WHERE id = ?2 AND endpoint_id = ?1",
        params![endpoint_id, id, now],
    )?;
    Ok(changed == 1)
}

/// Deletes delivered and failed deliveries created before `before`.
pub fn purge(conn: &Conn, before: i64) -> SqlResult<usize> {
    conn.execute(
        "DELETE FROM webhook_deliveries
         WHERE coalesce(sent_at, failed_at) IS NOT NULL AND created_at < ?1",
        [before],
    )
}
