//! SQL for `token_families` and `refresh_tokens`.

use crate::identity::Amr;
use rusqlite::{Connection, OptionalExtension, Row, params};

use super::ClientGrant;

/// Revocation reasons a client is told of by a back-channel logout: the student or an admin
/// ended the grant or its session. (Not `client_revoked`, the client's own revocation, nor
/// `expired`.)
const LOGOUT_REASONS: &str = "'signed_out', 'session_revoked', 'disabled', 'role_changed',
    'admin', 'password_changed', 'password_reset', 'access_removed', 'reuse', 'code_reused'";

/// The client grant in columns `at..at+4` (client_id, scope, sid, auth_time).
fn grant_of(r: &Row<'_>, at: usize) -> rusqlite::Result<Option<ClientGrant>> {
    let Some(client_id) = r.get::<_, Option<String>>(at)? else { return Ok(None) };
    Ok(Some(ClientGrant {
        client_id,
        scope: r.get::<_, Option<String>>(at + 1)?.unwrap_or_default(),
        sid: r.get::<_, Option<String>>(at + 2)?.unwrap_or_default(),
        auth_time: r.get::<_, Option<i64>>(at + 3)?.unwrap_or_default(),
    }))
}

pub fn insert_family(
    conn: &Connection,
    id: &str,
    user_id: &str,
    amr: Amr,
    now: i64,
    grant: Option<&ClientGrant>,
) -> rusqlite::Result<()> {
    conn.execute(
        "INSERT INTO token_families (id, user_id, created_at, amr, client_id, scope, sid, auth_time)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        params![
            id,
            user_id,
            now,
            amr.to_db(),
            grant.map(|g| &g.client_id),
            grant.map(|g| &g.scope),
            grant.map(|g| &g.sid),
            grant.map(|g| g.auth_time)
        ],
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
    /// The client whose grant this is (None: the first-party token API).
    pub grant: Option<ClientGrant>,
}

pub fn find_refresh(conn: &Connection, hash: &[u8]) -> rusqlite::Result<Option<RefreshRow>> {
    conn.query_row(
        "SELECT r.family_id, f.user_id, r.expires_at, r.spent_at, f.revoked_at IS NOT NULL,
                f.amr, f.client_id, f.scope, f.sid, f.auth_time
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
                grant: grant_of(r, 6)?,
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
        &format!(
            "UPDATE token_families SET revoked_at = ?2, revoked_reason = ?3,
                 logout_pending = (client_id IS NOT NULL AND sid IS NOT NULL
                                   AND ?3 IN ({LOGOUT_REASONS}))
             WHERE id = ?1 AND revoked_at IS NULL"
        ),
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
    let mut stmt = conn.prepare(&format!(
        "UPDATE token_families SET revoked_at = ?2, revoked_reason = ?3,
             logout_pending = (client_id IS NOT NULL AND sid IS NOT NULL
                               AND ?3 IN ({LOGOUT_REASONS}))
         WHERE user_id = ?1 AND revoked_at IS NULL RETURNING id"
    ))?;
    let rows = stmt.query_map(params![user_id, now, reason], |r| r.get(0))?;
    rows.collect()
}

/// Revokes the client grants opened from the sessions `session_ids` (a sign-out, a session
/// revoked); returns their ids.
pub fn revoke_session_families(
    conn: &Connection,
    session_ids: &[String],
    now: i64,
    reason: &str,
) -> rusqlite::Result<Vec<String>> {
    let mut stmt = conn.prepare_cached(&format!(
        "UPDATE token_families SET revoked_at = ?2, revoked_reason = ?3,
             logout_pending = (?3 IN ({LOGOUT_REASONS}))
         WHERE sid = ?1 AND client_id IS NOT NULL AND revoked_at IS NULL RETURNING id"
    ))?;
    let mut ended = Vec::new();
    for sid in session_ids {
        let rows = stmt.query_map(params![sid, now, reason], |r| r.get::<_, String>(0))?;
        for row in rows {
            ended.push(row?);
        }
    }
    Ok(ended)
}

/// Revokes every grant of `user_id` to `client_id` ("remove access"); returns their ids.
pub fn revoke_client_families(
    conn: &Connection,
    user_id: &str,
    client_id: &str,
    now: i64,
    reason: &str,
) -> rusqlite::Result<Vec<String>> {
    let mut stmt = conn.prepare(&format!(
        "UPDATE token_families SET revoked_at = ?3, revoked_reason = ?4,
             logout_pending = (sid IS NOT NULL AND ?4 IN ({LOGOUT_REASONS}))
         WHERE user_id = ?1 AND client_id = ?2 AND revoked_at IS NULL RETURNING id"
    ))?;
    let rows = stmt.query_map(params![user_id, client_id, now, reason], |r| r.get(0))?;
    rows.collect()
}

/// A client grant that ended and whose client is to hear of it.
pub struct EndedGrant {
    pub client_id: String,
    pub user_id: String,
    pub sid: String,
}

/// Takes the grants whose back-channel logout is pending (clearing the mark): the caller
/// queues their logout tokens in the same transaction.
pub fn take_pending_logouts(conn: &Connection) -> rusqlite::Result<Vec<EndedGrant>> {
    let mut stmt = conn.prepare(
        "UPDATE token_families SET logout_pending = 0 WHERE logout_pending = 1
         RETURNING client_id, user_id, sid",
    )?;
    let rows = stmt.query_map([], |r| {
        Ok(EndedGrant { client_id: r.get(0)?, user_id: r.get(1)?, sid: r.get(2)? })
    })?;
    rows.collect()
}

/// A live client grant of a user: for "connected apps".
pub struct LiveGrant {
    pub client_id: String,
    pub scope: String,
    pub created_at: i64,
}

/// The live grants of `user_id` to clients, newest first.
pub fn live_grants(conn: &Connection, user_id: &str) -> rusqlite::Result<Vec<LiveGrant>> {
    let mut stmt = conn.prepare(
        "SELECT client_id, scope, created_at FROM token_families
         WHERE user_id = ?1 AND client_id IS NOT NULL AND revoked_at IS NULL
           AND EXISTS (SELECT 1 FROM refresh_tokens r
                       WHERE r.family_id = token_families.id AND r.spent_at IS NULL)
         ORDER BY created_at DESC",
    )?;
    let rows = stmt.query_map([user_id], |r| {
        Ok(LiveGrant {
            client_id: r.get(0)?,
            scope: r.get::<_, Option<String>>(1)?.unwrap_or_default(),
            created_at: r.get(2)?,
        })
    })?;
    rows.collect()
}

/// The client grant of a family, and whether it is revoked (None: no such family).
pub fn family_grant(
    conn: &Connection,
    family_id: &str,
) -> rusqlite::Result<Option<(String, Option<ClientGrant>, bool)>> {
    conn.query_row(
        "SELECT user_id, client_id, scope, sid, auth_time, revoked_at IS NOT NULL
         FROM token_families WHERE id = ?1",
        [family_id],
        |r| Ok((r.get(0)?, grant_of(r, 1)?, r.get(5)?)),
    )
    .optional()
}

pub fn family_revoked(conn: &Connection, family_id: &str) -> rusqlite::Result<bool> {
    conn.query_row(
        "SELECT coalesce((SELECT revoked_at IS NOT NULL FROM token_families WHERE id = ?1), 1)",
        [family_id],
        |r| r.get(0),
    )
}
