//! SQL for the `sessions` table, on either engine ([`crate::db::conn`]).

use rusqlite::params;

use crate::db::conn::{Conn, Optional, SqlResult};

/// A session row joined with what authorisation needs from its user.
#[derive(Debug, Clone)]
pub struct SessionRow {
    pub id: String,
    pub user_id: String,
    pub role: String,
    /// The account proved an email or a phone (only such accounts have sessions).
    pub email_verified: bool,
    pub remember_me: bool,
    pub created_at: i64,
    pub last_seen_at: i64,
    pub expires_at: i64,
    /// How the sign-in was proved (RFC 8176 values, see [`super::Amr`]).
    pub amr: String,
}

/// A session as its owner sees it in the list.
#[derive(Debug, Clone)]
pub struct SessionListing {
    pub id: String,
    pub remember_me: bool,
    pub created_at: i64,
    pub last_seen_at: i64,
    pub expires_at: i64,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
}

pub struct NewSession<'a> {
    pub id: &'a str,
    pub token_hash: &'a [u8],
    pub user_id: &'a str,
    pub remember_me: bool,
    pub now: i64,
    pub expires_at: i64,
    pub ip: Option<&'a str>,
    pub user_agent: Option<&'a str>,
    pub amr: &'a str,
}

pub fn insert(conn: &Conn, s: &NewSession<'_>) -> SqlResult<()> {
    conn.execute(
        "INSERT INTO sessions (id, token_hash, user_id, remember_me, created_at, last_seen_at,
                               expires_at, ip, user_agent, amr)
         VALUES (?1, ?2, ?3, ?4, ?5, ?5, ?6, ?7, ?8, ?9)",
        params![
            s.id,
            s.token_hash,
            s.user_id,
            s.remember_me,
            s.now,
            s.expires_at,
            s.ip,
            s.user_agent,
            s.amr
        ],
    )?;
    Ok(())
}

pub fn find_by_token(conn: &Conn, token_hash: &[u8]) -> SqlResult<Option<SessionRow>> {
    conn.query_row(
        "SELECT s.id, s.user_id, u.role,
                u.email_verified_at IS NOT NULL OR u.phone_verified_at IS NOT NULL, s.remember_me,
                s.created_at, s.last_seen_at, s.expires_at, s.amr
         FROM sessions s JOIN users u ON u.id = s.user_id
         WHERE s.token_hash = ?1 AND u.disabled_at IS NULL",
        [token_hash],
        |r| {
            Ok(SessionRow {
                id: r.get(0)?,
                user_id: r.get(1)?,
                role: r.get(2)?,
                email_verified: r.get(3)?,
                remember_me: r.get(4)?,
                created_at: r.get(5)?,
                last_seen_at: r.get(6)?,
                expires_at: r.get(7)?,
                amr: r.get(8)?,
            })
        },
    )
    .optional()
}

pub fn list_for_user(conn: &Conn, user_id: &str) -> SqlResult<Vec<SessionListing>> {
    conn.query_map(
        "SELECT id, remember_me, created_at, last_seen_at, expires_at, ip, user_agent
         FROM sessions WHERE user_id = ?1 ORDER BY last_seen_at DESC",
        [user_id],
        |r| {
            Ok(SessionListing {
                id: r.get(0)?,
                remember_me: r.get(1)?,
                created_at: r.get(2)?,
                last_seen_at: r.get(3)?,
                expires_at: r.get(4)?,
                ip: r.get(5)?,
                user_agent: r.get(6)?,
            })
        },
    )
}

/// Deletes one session of `user_id`; returns its token hash when it existed.
pub fn delete(conn: &Conn, user_id: &str, id: &str) -> SqlResult<Option<Vec<u8>>> {
    conn.query_row(
        "DELETE FROM sessions WHERE user_id = ?1 AND id = ?2 RETURNING token_hash",
        params![user_id, id],
        |r| r.get(0),
    )
    .optional()
}

/// Deletes one session of `user_id`; returns its id and token hash when it existed.
pub fn delete_with_id(
    conn: &Conn,
    user_id: &str,
    id: &str,
) -> SqlResult<Option<(String, Vec<u8>)>> {
    conn.query_row(
        "DELETE FROM sessions WHERE user_id = ?1 AND id = ?2 RETURNING id, token_hash",
        params![user_id, id],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )
    .optional()
}

/// Deletes every session of `user_id` except `keep`; returns their ids and token hashes.
pub fn delete_all_with_ids(
    conn: &Conn,
    user_id: &str,
    keep: Option<&str>,
) -> SqlResult<Vec<(String, Vec<u8>)>> {
    conn.query_map(
        "DELETE FROM sessions WHERE user_id = ?1 AND id IS DISTINCT FROM ?2
         RETURNING id, token_hash",
        params![user_id, keep],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )
}

/// Deletes every session of `user_id` except `keep`; returns the deleted token hashes.
pub fn delete_all(conn: &Conn, user_id: &str, keep: Option<&str>) -> SqlResult<Vec<Vec<u8>>> {
    conn.query_map(
        "DELETE FROM sessions WHERE user_id = ?1 AND id IS DISTINCT FROM ?2 RETURNING token_hash",
        params![user_id, keep],
        |r| r.get(0),
    )
}

pub fn exists(conn: &Conn, id: &str) -> SqlResult<bool> {
    conn.query_row("SELECT EXISTS(SELECT 1 FROM sessions WHERE id = ?1)", [id], |r| r.get(0))
}

pub fn delete_by_token(conn: &Conn, token_hash: &[u8]) -> SqlResult<()> {
    conn.execute("DELETE FROM sessions WHERE token_hash = ?1", [token_hash])?;
    Ok(())
}

pub fn touch(conn: &Conn, id: &str, at: i64, ip: Option<&str>) -> SqlResult<()> {
    conn.execute(
        "UPDATE sessions
         SET last_seen_at = CASE WHEN last_seen_at > ?2 THEN last_seen_at ELSE ?2 END,
             ip = coalesce(?3, ip)
         WHERE id = ?1",
        params![id, at, ip],
    )?;
    Ok(())
}
