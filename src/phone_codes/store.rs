//! SQL for `phone_codes` (the codes, with the account that asked for a link code, for the
//! per-account daily cap) and `phone_code_checks` (verification attempts, for the per-phone and
//! per-IP limits), on either engine ([`crate::db::conn`]).

use rusqlite::params;

use crate::db::conn::{Conn, Optional, SqlResult};

/// What a cap counts, for [`take_turn`]. Turns are always taken in this order (account, then
/// phone, then address), so two transactions never wait for each other's.
pub enum CapKey<'a> {
    /// The signed-in account asking for link codes.
    Account(&'a str),
    /// A phone, by its blind index.
    Phone(&'a [u8]),
    /// A client address, as the verification limit counts it.
    Address(&'a str),
}

/// Makes the open transaction wait for every other that counts against the same cap, until
/// it ends ([`Conn::serialize_on`]): the caps count rows and then insert one, which two
/// PostgreSQL transactions (READ COMMITTED) could both pass. Nothing on SQLite, whose write
/// transactions already take turns.
pub fn take_turn(conn: &Conn, key: CapKey<'_>) -> SqlResult<()> {
    if !conn.is_postgres() {
        return Ok(());
    }
    conn.serialize_on(&match key {
        CapKey::Account(id) => format!("phone_codes.account:{id}"),
        CapKey::Phone(index) => format!("phone_codes.phone:{}", hex::encode(index)),
        CapKey::Address(ip) => format!("phone_codes.address:{ip}"),
    })
}

/// How many rows fall in a window (strictly after its start), and the oldest and newest.
pub struct Window {
    pub count: i64,
    pub oldest: Option<i64>,
    pub newest: Option<i64>,
}

fn window(conn: &Conn, sql: &str, key: &dyn rusqlite::ToSql, since: i64) -> SqlResult<Window> {
    conn.query_row(sql, params![key, since], |r| {
        Ok(Window { count: r.get(0)?, oldest: r.get(1)?, newest: r.get(2)? })
    })
}

/// Codes created for a phone since `since` (for the cooldown and the 3-per-15-minutes limit).
pub fn codes_since(conn: &Conn, phone_index: &[u8], since: i64) -> SqlResult<Window> {
    window(
        conn,
        "SELECT count(*), min(created_at), max(created_at) FROM phone_codes
         WHERE phone_index = ?1 AND created_at > ?2",
        &phone_index,
        since,
    )
}

/// Kills every live code of the phone: a new code replaces the older ones.
pub fn kill_live_codes(conn: &Conn, phone_index: &[u8], now: i64) -> SqlResult<()> {
    conn.execute(
        "UPDATE phone_codes SET dead_at = ?2
         WHERE phone_index = ?1 AND used_at IS NULL AND dead_at IS NULL",
        params![phone_index, now],
    )?;
    Ok(())
}

/// Codes requested since `since` by the signed-in account `user_id` (link codes), for the
/// per-account daily cap.
pub fn link_codes_since(conn: &Conn, user_id: &str, since: i64) -> SqlResult<Window> {
    window(
        conn,
        "SELECT count(*), min(created_at), max(created_at) FROM phone_codes
         WHERE requested_by = ?1 AND created_at > ?2",
        &user_id,
        since,
    )
}

pub struct NewCode<'a> {
    pub phone_index: &'a [u8],
    pub code_hash: &'a [u8],
    /// The signed-in account that asked for it (a link code); None for a sign-in code.
    pub requested_by: Option<&'a str>,
}

pub fn insert_code(conn: &Conn, code: &NewCode<'_>, now: i64, expires_at: i64) -> SqlResult<()> {
    conn.execute(
        "INSERT INTO phone_codes (phone_index, code_hash, requested_by, created_at, expires_at)
         VALUES (?1, ?2, ?3, ?4, ?5)",
        params![code.phone_index, code.code_hash, code.requested_by, now, expires_at],
    )?;
    Ok(())
}

pub struct LiveCode {
    pub id: i64,
    pub code_hash: Vec<u8>,
    pub expires_at: i64,
}

/// The phone's newest code that is neither used nor dead (expired ones included).
pub fn live_code(conn: &Conn, phone_index: &[u8]) -> SqlResult<Option<LiveCode>> {
    conn.query_row(
        "SELECT id, code_hash, expires_at FROM phone_codes
         WHERE phone_index = ?1 AND used_at IS NULL AND dead_at IS NULL
         ORDER BY id DESC LIMIT 1",
        [phone_index],
        |r| Ok(LiveCode { id: r.get(0)?, code_hash: r.get(1)?, expires_at: r.get(2)? }),
    )
    .optional()
}

/// Counts a wrong attempt; the code dies at `max_attempts`. PostgreSQL types a parameter
/// that is all a CASE yields as text, hence the cast; `ELSE dead_at` keeps a code that
/// something else killed meanwhile dead.
pub fn wrong_attempt(conn: &Conn, id: i64, max_attempts: i64, now: i64) -> SqlResult<()> {
    conn.execute(
        "UPDATE phone_codes SET attempts = attempts + 1,
                dead_at = CASE WHEN attempts + 1 >= ?2 THEN CAST(?3 AS BIGINT) ELSE dead_at END
         WHERE id = ?1",
        params![id, max_attempts, now],
    )?;
    Ok(())
}

/// Spends a code; false when another request spent or killed it first.
pub fn consume_code(conn: &Conn, id: i64, now: i64) -> SqlResult<bool> {
    let changed = conn.execute(
        "UPDATE phone_codes SET used_at = ?2 WHERE id = ?1 AND used_at IS NULL AND dead_at IS NULL",
        params![id, now],
    )?;
    Ok(changed == 1)
}

pub fn checks_by_phone(conn: &Conn, phone_index: &[u8], since: i64) -> SqlResult<Window> {
    window(
        conn,
        "SELECT count(*), min(at), max(at) FROM phone_code_checks WHERE phone_index = ?1 AND at > ?2",
        &phone_index,
        since,
    )
}

/// Checks from one client address (an IPv6 client's network, as the rate limits count it).
pub fn checks_by_ip(conn: &Conn, ip: &str, since: i64) -> SqlResult<Window> {
    window(
        conn,
        "SELECT count(*), min(at), max(at) FROM phone_code_checks WHERE ip = ?1 AND at > ?2",
        &ip,
        since,
    )
}

pub fn insert_check(conn: &Conn, phone_index: &[u8], ip: Option<&str>, now: i64) -> SqlResult<()> {
    conn.execute(
        "INSERT INTO phone_code_checks (phone_index, ip, at) VALUES (?1, ?2, ?3)",
        params![phone_index, ip, now],
    )?;
    Ok(())
}

/// Deletes a phone's codes and checks (the erasure of its only owner).
pub fn delete_for_phone(conn: &Conn, phone_index: &[u8]) -> SqlResult<()> {
    conn.execute("DELETE FROM phone_codes WHERE phone_index = ?1", [phone_index])?;
    conn.execute("DELETE FROM phone_code_checks WHERE phone_index = ?1", [phone_index])?;
    Ok(())
}

/// Deletes codes that expired and checks made at or before `before`: (codes, checks).
pub fn purge(conn: &Conn, before: i64) -> SqlResult<(usize, usize)> {
    let codes = conn.execute("DELETE FROM phone_codes WHERE expires_at <= ?1", [before])?;
    let checks = conn.execute("DELETE FROM phone_code_checks WHERE at <= ?1", [before])?;
    Ok((codes, checks))
}
