//! The SQL of `webhook_endpoints` and `webhook_deliveries`: private to webhooks.

use rusqlite::{Connection, OptionalExtension, Row, params};

use super::endpoint::Endpoint;
use super::events::Event;

const ENDPOINT_COLUMNS: &str = "id, url, events, created_at, secret_rotated_at";

fn endpoint(r: &Row<'_>) -> rusqlite::Result<Endpoint> {
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
    conn: &Connection,
    id: &str,
    url: &str,
    events: &str,
    sealed_secret: &str,
    created_by: Option<&str>,
    now: i64,
) -> rusqlite::Result<()> {
    conn.execute(
        "INSERT INTO webhook_endpoints (id, url, events, secret, created_at, created_by)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        params![id, url, events, sealed_secret, now, created_by],
    )?;
    Ok(())
}

pub fn find_endpoint(conn: &Connection, id: &str) -> rusqlite::Result<Option<Endpoint>> {
    conn.query_row(
        &format!("SELECT {ENDPOINT_COLUMNS} FROM webhook_endpoints WHERE id = ?1"),
        [id],
        endpoint,
    )
    .optional()
}

pub fn list_endpoints(conn: &Connection) -> rusqlite::Result<Vec<Endpoint>> {
    let mut stmt = conn.prepare(&format!(
        "SELECT {ENDPOINT_COLUMNS} FROM webhook_endpoints ORDER BY created_at"
    ))?;
    let rows = stmt.query_map([], endpoint)?;
    rows.collect()
}

pub fn delete_endpoint(conn: &Connection, id: &str) -> rusqlite::Result<()> {
    conn.execute("DELETE FROM webhook_endpoints WHERE id = ?1", [id])?;
    Ok(())
}

pub fn sealed_secret(conn: &Connection, id: &str) -> rusqlite::Result<Option<String>> {
    conn.query_row("SELECT secret FROM webhook_endpoints WHERE id = ?1", [id], |r| r.get(0))
        .optional()
}

pub fn rotate_secret(
    conn: &Connection,
    id: &str,
    sealed_secret: &str,
    sealed_previous: &str,
    previous_until: i64,
    now: i64,
) -> rusqlite::Result<()> {
    conn.execute(
        "UPDATE webhook_endpoints SET secret = ?2, previous_secret = ?3,
             previous_secret_until = ?4, secret_rotated_at = ?5
         WHERE id = ?1",
        params![id, sealed_secret, sealed_previous, previous_until, now],
    )?;
    Ok(())
}

/// One delivery per endpoint taking the event's type (an exact name among its space-separated
/// types: `instr`, not `LIKE`, whose `_` would match any character).
pub fn queue(conn: &Connection, event: &Event, now: i64) -> rusqlite::Result<usize> {
    let body = event.body(now);
    let mut stmt = conn.prepare_cached(
        "SELECT id FROM webhook_endpoints WHERE instr(' ' || events || ' ', ?1) > 0",
    )?;
    let ids: Vec<String> = stmt
        .query_map([format!(" {} ", event.kind.name())], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    let mut insert = conn.prepare_cached(
        "INSERT INTO webhook_deliveries (message_id, endpoint_id, event_type, payload,
             created_at, next_attempt_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?5)",
    )?;
    for id in &ids {
        let message_id = format!("msg_{}", crate::crypto::base64url(&rand::random::<[u8; 16]>()));
        insert.execute(params![message_id, id, event.kind.name(), body, now])?;
    }
    Ok(ids.len())
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
}

pub fn due(conn: &Connection, now: i64, limit: i64) -> rusqlite::Result<Vec<DueDelivery>> {
    let mut stmt = conn.prepare_cached(
        "SELECT d.id, d.message_id, d.endpoint_id, d.event_type, d.payload, d.created_at,
                d.attempts, e.url, e.secret,
                CASE WHEN e.previous_secret_until > ?1 THEN e.previous_secret END
         FROM webhook_deliveries d JOIN webhook_endpoints e ON e.id = d.endpoint_id
         WHERE d.sent_at IS NULL AND d.failed_at IS NULL AND d.next_attempt_at <= ?1
         ORDER BY d.next_attempt_at, d.id LIMIT ?2",
    )?;
    let rows = stmt.query_map(params![now, limit], |r| {
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
        })
    })?;
    rows.collect()
}

/// Records one try: delivered, to be tried again at `next`, or given up.
pub fn record_try(
    conn: &Connection,
    id: i64,
    now: i64,
    status: Option<u16>,
    error: Option<&str>,
    outcome: TryOutcome,
) -> rusqlite::Result<()> {
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
pub fn recent(
    conn: &Connection,
    endpoint_id: &str,
    limit: i64,
) -> rusqlite::Result<Vec<DeliveryRow>> {
    let mut stmt = conn.prepare(
        "SELECT id, message_id, endpoint_id, event_type, created_at, attempts, next_attempt_at,
                sent_at, failed_at, last_status, last_error
         FROM webhook_deliveries WHERE endpoint_id = ?1 ORDER BY id DESC LIMIT ?2",
    )?;
    let rows = stmt.query_map(params![endpoint_id, limit], |r| {
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
    })?;
    rows.collect()
}

/// "Send again": a delivered or failed delivery of `endpoint_id` is due again now, with the
/// same `webhook-id` (a receiver that took it already sees a duplicate it can drop). False
/// when there is no such delivery.
pub fn redeliver(
    conn: &Connection,
    endpoint_id: &str,
    id: i64,
    now: i64,
) -> rusqlite::Result<bool> {
    let changed = conn.execute(
        "UPDATE webhook_deliveries SET sent_at = NULL, failed_at = NULL, next_attempt_at = ?3,
             attempts = 0, created_at = ?3
         WHERE id = ?2 AND endpoint_id = ?1",
        params![endpoint_id, id, now],
    )?;
    Ok(changed == 1)
}

/// Deletes delivered and failed deliveries created before `before`.
pub fn purge(conn: &Connection, before: i64) -> rusqlite::Result<usize> {
    conn.execute(
        "DELETE FROM webhook_deliveries
         WHERE coalesce(sent_at, failed_at) IS NOT NULL AND created_at < ?1",
        [before],
    )
}
