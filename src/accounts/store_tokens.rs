//! SQL for `email_tokens` (the emailed links) and `bootstrap_tokens` (the first admin's
//! link), on either engine; part of [`super`], whose paths (`store::insert_email_token`, ...)
//! its callers use.

use rusqlite::params;

use super::{admins, on};
use crate::db::conn::{AsConn, Optional};

pub const VERIFY_EMAIL: &str = "verify_email";
pub const RESET_PASSWORD: &str = "reset_password";

pub fn insert_email_token(
    conn: &impl AsConn,
    token_hash: &[u8],
    user_id: &str,
    purpose: &str,
    now: i64,
    expires_at: i64,
) -> rusqlite::Result<()> {
    on(conn, |conn| {
        conn.execute(
            "INSERT INTO email_tokens (token_hash, user_id, purpose, created_at, expires_at)
             VALUES (?1, ?2, ?3, ?4, ?5)",
            params![token_hash, user_id, purpose, now, expires_at],
        )?;
        Ok(())
    })
}

pub struct EmailToken {
    pub user_id: String,
    pub expires_at: i64,
    pub used_at: Option<i64>,
}

pub fn find_email_token(
    conn: &impl AsConn,
    token_hash: &[u8],
    purpose: &str,
) -> rusqlite::Result<Option<EmailToken>> {
    on(conn, |conn| {
        conn.query_row(
            "SELECT user_id, expires_at, used_at FROM email_tokens WHERE token_hash = ?1 AND purpose = ?2",
            params![token_hash, purpose],
            |r| Ok(EmailToken { user_id: r.get(0)?, expires_at: r.get(1)?, used_at: r.get(2)? }),
        )
        .optional()
    })
}

/// Marks a token used; false when another request used it first.
pub fn consume_email_token(
    conn: &impl AsConn,
    token_hash: &[u8],
    now: i64,
) -> rusqlite::Result<bool> {
    on(conn, |conn| {
        let changed = conn.execute(
            "UPDATE email_tokens SET used_at = ?2 WHERE token_hash = ?1 AND used_at IS NULL",
            params![token_hash, now],
        )?;
        Ok(changed == 1)
    })
}

/// Spends every unused token of this purpose (a new link replaces the old ones).
pub fn retire_email_tokens(
    conn: &impl AsConn,
    user_id: &str,
    purpose: &str,
    now: i64,
) -> rusqlite::Result<()> {
    on(conn, |conn| {
        conn.execute(
            "UPDATE email_tokens SET used_at = ?3 WHERE user_id = ?1 AND purpose = ?2 AND used_at IS NULL",
            params![user_id, purpose, now],
        )?;
        Ok(())
    })
}

/// Tokens of this purpose created for the user since `since` (for rate limiting emails). On
/// PostgreSQL it first takes the user's turn for the rest of the caller's transaction, so
/// that two requests on two nodes cannot both count room for one more link.
pub fn email_tokens_since(
    conn: &impl AsConn,
    user_id: &str,
    purpose: &str,
    since: i64,
) -> rusqlite::Result<(i64, Option<i64>)> {
    on(conn, |conn| {
        conn.serialize_on(&format!("email_tokens:{user_id}"))?;
        conn.query_row(
            "SELECT count(*), max(created_at) FROM email_tokens
             WHERE user_id = ?1 AND purpose = ?2 AND created_at >= ?3",
            params![user_id, purpose, since],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
    })
}

pub fn insert_bootstrap_token(
    conn: &impl AsConn,
    token_hash: &[u8],
    expires_at: i64,
) -> rusqlite::Result<()> {
    on(conn, |conn| {
        conn.execute("DELETE FROM bootstrap_tokens", params![])?;
        conn.execute(
            "INSERT INTO bootstrap_tokens (token_hash, expires_at) VALUES (?1, ?2)",
            params![token_hash, expires_at],
        )?;
        Ok(())
    })
}

pub fn delete_bootstrap_tokens(conn: &impl AsConn) -> rusqlite::Result<()> {
    on(conn, |conn| conn.execute("DELETE FROM bootstrap_tokens", params![]).map(drop))
}

/// Whether a bootstrap token could be spent now: known, unused, unexpired, and no admin yet.
pub fn bootstrap_token_usable(
    conn: &impl AsConn,
    token_hash: &[u8],
    now: i64,
) -> rusqlite::Result<bool> {
    on(conn, |conn| {
        let unspent: bool = conn.query_row(
            "SELECT EXISTS (SELECT 1 FROM bootstrap_tokens
                            WHERE token_hash = ?1 AND used_at IS NULL AND expires_at > ?2)",
            params![token_hash, now],
            |r| r.get(0),
        )?;
        Ok(unspent && admins(conn)? == 0)
    })
}

/// Spends a bootstrap token; false when it is unknown, used or expired.
pub fn consume_bootstrap_token(
    conn: &impl AsConn,
    token_hash: &[u8],
    now: i64,
) -> rusqlite::Result<bool> {
    on(conn, |conn| {
        let changed = conn.execute(
            "UPDATE bootstrap_tokens SET used_at = ?2
             WHERE token_hash = ?1 AND used_at IS NULL AND expires_at > ?2",
            params![token_hash, now],
        )?;
        Ok(changed == 1)
    })
}
