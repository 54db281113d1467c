//! SQL for `token_families` and `refresh_tokens`, on either engine ([`crate::db::conn`]).
//! The functions other features call inside their own transactions take [`AsConn`], so their
//! callers keep passing rusqlite's connections and transactions.

use rusqlite::params;

use super::ClientGrant;
use crate::db::conn::{AsConn, Conn, Optional, Row, SqlResult};
use crate::identity::Amr;

/// Revocation reasons a client is told of by a back-channel logout: the student or an admin
/// ended the grant or its session. (Not `client_revoked`, the client's own revocation, nor
/// `expired`.)
const LOGOUT_REASONS: &str = "'signed_out', 'session_revoked', 'disabled', 'role_changed',
    'admin', 'password_changed', 'password_reset', 'access_removed', 'reuse', 'code_reused'";

/// The client grant in columns `at..at+4` (client_id, scope, sid, auth_time).
fn grant_of(r: &Row<'_>, at: usize) -> SqlResult<Option<ClientGrant>> {
    let Some(client_id) = r.get::<Option<String>>(at)? else { return Ok(None) };
    Ok(Some(ClientGrant {
        client_id,
        scope: r.get::<Option<String>>(at + 1)?.unwrap_or_default(),
        sid: r.get::<Option<String>>(at + 2)?.unwrap_or_default(),
        auth_time: r.get::<Option<i64>>(at + 3)?.unwrap_or_default(),
    }))
}

pub fn insert_family(
    conn: &Conn,
    id: &str,
    user_id: &str,
    amr: Amr,
    now: i64,
    grant: Option<&ClientGrant>,
) -> SqlResult<()> {
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
    conn: &Conn,
    hash: &[u8],
    family_id: &str,
    now: i64,
    expires_at: i64,
) -> SqlResult<()> {
    conn.execute(
        "INSERT INTO refresh_tokens (token_hash, family_id, created_at, expires_at) VALUES (?1, ?2, ?3, ?4)",
        params![hash, family_id, now, expires_at],
    )?;
    Ok(())
}

/// A refresh token with its family's state.
#[derive(Debug)]
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

const FIND_REFRESH: &str = "SELECT r.family_id, f.user_id, r.expires_at, r.spent_at,
        f.revoked_at IS NOT NULL, f.amr, f.client_id, f.scope, f.sid, f.auth_time
     FROM refresh_tokens r JOIN token_families f ON f.id = r.family_id
     WHERE r.token_hash = ?1";

pub fn find_refresh(conn: &Conn, hash: &[u8]) -> SqlResult<Option<RefreshRow>> {
    read_refresh(conn, FIND_REFRESH, hash)
}

/// [`find_refresh`] for a transaction that is about to spend the token. On PostgreSQL (READ
/// COMMITTED) the token and its family stay locked until it ends, so that a refresh, a
/// revocation or a purge running beside it waits and this one reads their outcome, as under
/// SQLite's single writer; without the lock a purge deleting the token in between would make
/// this refresh look like a reuse.
pub fn find_refresh_to_spend(conn: &Conn, hash: &[u8]) -> SqlResult<Option<RefreshRow>> {
    read_refresh(conn, &format!("{FIND_REFRESH}{}", conn.for_update()), hash)
}

fn read_refresh(conn: &Conn, sql: &str, hash: &[u8]) -> SqlResult<Option<RefreshRow>> {
    conn.query_row(sql, [hash], |r| {
        Ok(RefreshRow {
            family_id: r.get(0)?,
            user_id: r.get(1)?,
            expires_at: r.get(2)?,
            spent_at: r.get(3)?,
            family_revoked: r.get(4)?,
            amr: Amr::from_db(&r.get::<String>(5)?),
            grant: grant_of(r, 6)?,
        })
    })
    .optional()
}

/// Spends a token; false when it was already spent.
pub fn spend(conn: &Conn, hash: &[u8], now: i64) -> SqlResult<bool> {
    let changed = conn.execute(
        "UPDATE refresh_tokens SET spent_at = ?2 WHERE token_hash = ?1 AND spent_at IS NULL",
        params![hash, now],
    )?;
    Ok(changed == 1)
}

// `logout_pending` is a BIGINT on PostgreSQL, which stores no boolean expression: hence the
// CASEs below.

pub fn revoke_family(conn: &impl AsConn, family_id: &str, now: i64, reason: &str) -> SqlResult<()> {
    conn.with_conn(|conn| {
        conn.execute(
            &format!(
                "UPDATE token_families SET revoked_at = ?2, revoked_reason = ?3,
                     logout_pending = CASE WHEN client_id IS NOT NULL AND sid IS NOT NULL
                                            AND ?3 IN ({LOGOUT_REASONS}) THEN 1 ELSE 0 END
                 WHERE id = ?1 AND revoked_at IS NULL"
            ),
            params![family_id, now, reason],
        )?;
        Ok(())
    })
}

/// Revokes every live family of a user; returns their ids.
pub fn revoke_user_families(
    conn: &impl AsConn,
    user_id: &str,
    now: i64,
    reason: &str,
) -> SqlResult<Vec<String>> {
    conn.with_conn(|conn| {
        conn.query_map(
            &format!(
                "UPDATE token_families SET revoked_at = ?2, revoked_reason = ?3,
                     logout_pending = CASE WHEN client_id IS NOT NULL AND sid IS NOT NULL
                                            AND ?3 IN ({LOGOUT_REASONS}) THEN 1 ELSE 0 END
                 WHERE user_id = ?1 AND revoked_at IS NULL RETURNING id"
            ),
            params![user_id, now, reason],
            |r| r.get(0),
        )
    })
}

/// Revokes the client grants opened from the sessions `session_ids` (a sign-out, a session
/// revoked); returns their ids.
pub fn revoke_session_families(
    conn: &impl AsConn,
    session_ids: &[String],
    now: i64,
    reason: &str,
) -> SqlResult<Vec<String>> {
    let sql = format!(
        "UPDATE token_families SET revoked_at = ?2, revoked_reason = ?3,
             logout_pending = CASE WHEN ?3 IN ({LOGOUT_REASONS}) THEN 1 ELSE 0 END
         WHERE sid = ?1 AND client_id IS NOT NULL AND revoked_at IS NULL RETURNING id"
    );
    conn.with_conn(|conn| {
        let mut ended = Vec::new();
        for sid in session_ids {
            ended.extend(conn.query_map(&sql, params![sid, now, reason], |r| r.get(0))?);
        }
        Ok(ended)
    })
}

/// Revokes every grant of `user_id` to `client_id` ("remove access"); returns their ids.
pub fn revoke_client_families(
    conn: &impl AsConn,
    user_id: &str,
    client_id: &str,
    now: i64,
    reason: &str,
) -> SqlResult<Vec<String>> {
    conn.with_conn(|conn| {
        conn.query_map(
            &format!(
                "UPDATE token_families SET revoked_at = ?3, revoked_reason = ?4,
                     logout_pending = CASE WHEN sid IS NOT NULL AND ?4 IN ({LOGOUT_REASONS})
                                      THEN 1 ELSE 0 END
                 WHERE user_id = ?1 AND client_id = ?2 AND revoked_at IS NULL RETURNING id"
            ),
            params![user_id, client_id, now, reason],
            |r| r.get(0),
        )
    })
}

/// A client grant that ended and whose client is to hear of it.
#[derive(Debug, PartialEq, Eq)]
pub struct EndedGrant {
    pub client_id: String,
    pub user_id: String,
    pub sid: String,
}

/// Takes the grants whose back-channel logout is pending (clearing the mark): the caller
/// queues their logout tokens in the same transaction. On PostgreSQL two nodes taking at once
/// each get distinct grants: the second's UPDATE waits for the first's row locks and then
/// finds the mark cleared.
pub fn take_pending_logouts(conn: &impl AsConn) -> SqlResult<Vec<EndedGrant>> {
    conn.with_conn(|conn| {
        conn.query_map(
            "UPDATE token_families SET logout_pending = 0 WHERE logout_pending = 1
             RETURNING client_id, user_id, sid",
            [] as [i64; 0],
            |r| Ok(EndedGrant { client_id: r.get(0)?, user_id: r.get(1)?, sid: r.get(2)? }),
        )
    })
}

/// A live client grant of a user: for "connected apps".
#[derive(Debug, PartialEq, Eq)]
pub struct LiveGrant {
    pub client_id: String,
    pub scope: String,
    pub created_at: i64,
}

/// The live grants of `user_id` to clients, newest first.
pub fn live_grants(conn: &impl AsConn, user_id: &str) -> SqlResult<Vec<LiveGrant>> {
    conn.with_conn(|conn| {
        conn.query_map(
            "SELECT client_id, scope, created_at FROM token_families
             WHERE user_id = ?1 AND client_id IS NOT NULL AND revoked_at IS NULL
               AND EXISTS (SELECT 1 FROM refresh_tokens r
                           WHERE r.family_id = token_families.id AND r.spent_at IS NULL)
             ORDER BY created_at DESC",
            [user_id],
            |r| {
                Ok(LiveGrant {
                    client_id: r.get(0)?,
                    scope: r.get::<Option<String>>(1)?.unwrap_or_default(),
                    created_at: r.get(2)?,
                })
            },
        )
    })
}

/// The client grant of a family, and whether it is revoked (None: no such family).
pub fn family_grant(
    conn: &impl AsConn,
    family_id: &str,
) -> SqlResult<Option<(String, Option<ClientGrant>, bool)>> {
    conn.with_conn(|conn| {
        conn.query_row(
            "SELECT user_id, client_id, scope, sid, auth_time, revoked_at IS NOT NULL
             FROM token_families WHERE id = ?1",
            [family_id],
            |r| Ok((r.get(0)?, grant_of(r, 1)?, r.get(5)?)),
        )
        .optional()
    })
}

/// Whether a family is revoked; a family that does not exist (never did, or erased) counts
/// as revoked.
pub fn family_revoked(conn: &impl AsConn, family_id: &str) -> SqlResult<bool> {
    conn.with_conn(|conn| {
        conn.query_row(
            "SELECT NOT EXISTS (SELECT 1 FROM token_families WHERE id = ?1 AND revoked_at IS NULL)",
            [family_id],
            |r| r.get(0),
        )
    })
}
