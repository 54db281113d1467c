//! SQL for `token_families` and `refresh_tokens`.

use crate::identity::Amr;
use rusqlite::{Connection, OptionalExtension, params};

pub fn insert_family(
    conn: &Connection,
    id: &str,
    user_id: &str,
    amr: Amr,
    now: i64,
) -> rusqlite::Result<()> {
    conn.execute(
        "INSERT INTO token_families (id, user_id, created_at, amr) VALUES (?1, ?2, ?3, ?4)",
        params![id, user_id, now, amr.to_db()],
    )?;
    Ok(())
}

pub fn insert_refresh(
    conn: &Connection,
    hash: &[u8],
    family_id: &str,
    now: i64,
    expires_at: i64,
) -> rusqlite::Result<()> {
    conn.execute(
        "INSERT INTO refresh_tokens (token_hash, family_id, created_at, expires_at) VALUES (?1, ?2, ?3, ?4)",
        params![hash, family_id, now, expires_at],
    )?;
    Ok(())
}

/// A refresh token with its family's state.
pub struct RefreshRow {
    pub family_id: String,
    pub user_id: String,
    pub expires_at: i64,
    pub spent_at: Option<i64>,
    pub family_revoked: bool,
    /// How the family's grant was proved; its refreshed tokens carry it on.
    pub amr: Amr,
}

pub fn find_refresh(conn: &Connection, hash: &[u8]) -> rusqlite::Result<Option<RefreshRow>> {
    conn.query_row(
        "SELECT r.family_id, f.user_id, r.expires_at, r.spent_at, f.revoked_at IS NOT NULL,
                f.amr
         FROM refresh_tokens r JOIN token_families f ON f.id = r.family_id
         WHERE r.token_hash = ?1",
        [hash],
        |r| {
            Ok(RefreshRow {
                family_id: r.get(0)?,
                user_id: r.get(1)?,
                expires_at: r.get(2)?,
                spent_at: r.get(3)?,
                family_revoked: r.get(4)?,
                amr: Amr::from_db(&r.get::<_, String>(5)?),
            })
        },
    )
    .optional()
}

/// Spends a token; false when it was already spent.
pub fn spend(conn: &Connection, hash: &[u8], now: i64) -> rusqlite::Result<bool> {
    let changed = conn.execute(
        "UPDATE refresh_tokens SET spent_at = ?2 WHERE token_hash = ?1 AND spent_at IS NULL",
        params![hash, now],
    )?;
    Ok(changed == 1)
}

pub fn revoke_family(
    conn: &Connection,
    family_id: &str,
    now: i64,
    reason: &str,
) -> rusqlite::Result<()> {
    conn.execute(
        "UPDATE token_families SET revoked_at = ?2, revoked_reason = ?3 WHERE id = ?1 AND revoked_at IS NULL",
        params![family_id, now, reason],
    )?;
    Ok(())
}

/// Revokes every live family of a user; returns their ids.
pub fn revoke_user_families(
    conn: &Connection,
    user_id: &str,
    now: i64,
    reason: &str,
) -> rusqlite::Result<Vec<String>> {
    let mut stmt = conn.prepare(
        "UPDATE token_families SET revoked_at = ?2, revoked_reason = ?3
         WHERE user_id = ?1 AND revoked_at IS NULL RETURNING id",
    )?;
    let rows = stmt.query_map(params![user_id, now, reason], |r| r.get(0))?;
    rows.collect()
}

pub fn family_revoked(conn: &Connection, family_id: &str) -> rusqlite::Result<bool> {
    conn.query_row(
        "SELECT coalesce((SELECT revoked_at IS NOT NULL FROM token_families WHERE id = ?1), 1)",
        [family_id],
        |r| r.get(0),
    )
}
