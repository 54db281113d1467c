//! The SQL of `oidc_device_codes`: device authorization requests (RFC 8628), the device code
//! kept as its hash, the user code as typed (normalised: eight letters, no dash); on either
//! engine ([`crate::db::conn`]).

use rusqlite::params;

use crate::db::conn::{Conn, Optional, Row, SqlResult};

/// A device authorization request.
#[derive(Debug, Clone)]
pub struct DeviceRow {
    pub user_code: String,
    pub client_id: String,
    pub scope: String,
    pub expires_at: i64,
    pub poll_interval: i64,
    pub last_polled_at: Option<i64>,
    pub user_id: Option<String>,
    pub session_id: Option<String>,
    pub auth_time: Option<i64>,
    pub amr: Option<String>,
    /// `approved` or `denied`; None while the student has not answered.
    pub decision: Option<String>,
    pub used_at: Option<i64>,
}

const COLUMNS: &str = "user_code, client_id, scope, expires_at, poll_interval, last_polled_at,
    user_id, session_id, auth_time, amr, decision, used_at";

fn row(r: &Row<'_>) -> SqlResult<DeviceRow> {
    Ok(DeviceRow {
        user_code: r.get(0)?,
        client_id: r.get(1)?,
        scope: r.get(2)?,
        expires_at: r.get(3)?,
        poll_interval: r.get(4)?,
        last_polled_at: r.get(5)?,
        user_id: r.get(6)?,
        session_id: r.get(7)?,
        auth_time: r.get(8)?,
        amr: r.get(9)?,
        decision: r.get(10)?,
        used_at: r.get(11)?,
    })
}

/// Inserts a request; false when the user code is taken (the caller draws another).
#[allow(clippy::too_many_arguments)]
pub fn insert(
    conn: &Conn,
    hash: &[u8],
    user_code: &str,
    client_id: &str,
    scope: &str,
    now: i64,
    expires_at: i64,
    poll_interval: i64,
) -> SqlResult<bool> {
    let changed = conn.execute(
        "INSERT INTO oidc_device_codes (device_code_hash, user_code, client_id, scope,
             created_at, expires_at, poll_interval)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) ON CONFLICT (user_code) DO NOTHING",
        params![hash, user_code, client_id, scope, now, expires_at, poll_interval],
    )?;
    Ok(changed == 1)
}

/// A request, for a transaction that polls it (and may spend it). On PostgreSQL the row stays
/// locked until that transaction ends, so that two polls of an approved request on two nodes
/// take turns and only the first gets tokens, as under SQLite's single writer.
pub fn find_to_poll(conn: &Conn, hash: &[u8]) -> SqlResult<Option<DeviceRow>> {
    let lock = conn.for_update();
    conn.query_row(
        &format!("SELECT {COLUMNS} FROM oidc_device_codes WHERE device_code_hash = ?1{lock}"),
        params![hash],
        row,
    )
    .optional()
}

/// A request the student can still answer: not expired, not answered.
pub fn open_by_user_code(conn: &Conn, user_code: &str, now: i64) -> SqlResult<Option<DeviceRow>> {
    conn.query_row(
        &format!(
            "SELECT {COLUMNS} FROM oidc_device_codes
             WHERE user_code = ?1 AND expires_at > ?2 AND decision IS NULL"
        ),
        params![user_code, now],
        row,
    )
    .optional()
}

/// The student's answer; false when the request was answered or expired meanwhile.
#[allow(clippy::too_many_arguments)]
pub fn decide(
    conn: &Conn,
    user_code: &str,
    approved: bool,
    user_id: &str,
    session_id: &str,
    auth_time: i64,
    amr: &str,
    now: i64,
) -> SqlResult<bool> {
    let changed = conn.execute(
        "UPDATE oidc_device_codes SET decision = ?2, user_id = ?3, session_id = ?4,
             auth_time = ?5, amr = ?6
         WHERE user_code = ?1 AND decision IS NULL AND expires_at > ?7",
        params![
            user_code,
            if approved { "approved" } else { "denied" },
            user_id,
            session_id,
            auth_time,
            amr,
            now
        ],
    )?;
    Ok(changed == 1)
}

/// Records a poll, with the interval the client must keep from now on.
pub fn polled(conn: &Conn, hash: &[u8], now: i64, interval: i64) -> SqlResult<()> {
    conn.execute(
        "UPDATE oidc_device_codes SET last_polled_at = ?2, poll_interval = ?3
         WHERE device_code_hash = ?1",
        params![hash, now, interval],
    )?;
    Ok(())
}

/// Spends a request (exchanged for tokens, or its refusal told); false when already spent.
pub fn spend(conn: &Conn, hash: &[u8], now: i64) -> SqlResult<bool> {
    let changed = conn.execute(
        "UPDATE oidc_device_codes SET used_at = ?2 WHERE device_code_hash = ?1 AND used_at IS NULL",
        params![hash, now],
    )?;
    Ok(changed == 1)
}
