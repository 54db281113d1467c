//! The SQL of `oidc_codes`: authorization codes, kept as their hash; on either engine
//! ([`crate::db::conn`]).

use rusqlite::params;

use crate::db::conn::{Conn, Optional, SqlResult};

/// An authorization code as issued.
#[derive(Debug, Clone)]
pub struct CodeRow {
    pub client_id: String,
    pub user_id: String,
    pub session_id: String,
    pub redirect_uri: String,
    pub scope: String,
    pub nonce: Option<String>,
    pub code_challenge: String,
    pub auth_time: i64,
    pub amr: String,
    pub expires_at: i64,
    pub used_at: Option<i64>,
    /// The family the code was exchanged for.
    pub family_id: Option<String>,
}

pub fn insert(conn: &Conn, hash: &[u8], code: &CodeRow, now: i64) -> SqlResult<()> {
    conn.execute(
        "INSERT INTO oidc_codes (code_hash, client_id, user_id, session_id, redirect_uri, scope,
             nonce, code_challenge, auth_time, amr, created_at, expires_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
        params![
            hash,
            code.client_id,
            code.user_id,
            code.session_id,
            code.redirect_uri,
            code.scope,
            code.nonce,
            code.code_challenge,
            code.auth_time,
            code.amr,
            now,
            code.expires_at
        ],
    )?;
    Ok(())
}

const FIND: &str = "SELECT client_id, user_id, session_id, redirect_uri, scope, nonce,
        code_challenge, auth_time, amr, expires_at, used_at, family_id
     FROM oidc_codes WHERE code_hash = ?1";

/// A code, for a transaction that is about to spend it. On PostgreSQL (READ COMMITTED) the
/// row stays locked until that transaction ends, so that a second exchange of the same code
/// on another node waits and then reads it used (and revokes what the first opened), as under
/// SQLite's single writer; without the lock both would read it unused and both get tokens.
pub fn find_to_spend(conn: &Conn, hash: &[u8]) -> SqlResult<Option<CodeRow>> {
    let sql = format!("{FIND}{}", conn.for_update());
    conn.query_row(&sql, [hash], |r| {
        Ok(CodeRow {
            client_id: r.get(0)?,
            user_id: r.get(1)?,
            session_id: r.get(2)?,
            redirect_uri: r.get(3)?,
            scope: r.get(4)?,
            nonce: r.get(5)?,
            code_challenge: r.get(6)?,
            auth_time: r.get(7)?,
            amr: r.get(8)?,
            expires_at: r.get(9)?,
            used_at: r.get(10)?,
            family_id: r.get(11)?,
        })
    })
    .optional()
}

/// Marks a code used, for the family it opened. False when it was used already.
pub fn spend(conn: &Conn, hash: &[u8], family_id: Option<&str>, now: i64) -> SqlResult<bool> {
    let changed = conn.execute(
        "UPDATE oidc_codes SET used_at = ?2, family_id = ?3 WHERE code_hash = ?1 AND used_at IS NULL",
        params![hash, now, family_id],
    )?;
    Ok(changed == 1)
}

/// Deletes codes past use: expired a minute ago (a used one is kept that long, so a second
/// use is still recognised as one and revokes its tokens).
pub fn purge(conn: &Conn, now: i64) -> SqlResult<usize> {
    conn.execute("DELETE FROM oidc_codes WHERE expires_at < ?1", [now - 600])
}
