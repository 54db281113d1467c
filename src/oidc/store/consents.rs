//! The SQL of `oidc_consents`: the scopes a student granted an app; on either engine
//! ([`crate::db::conn`]).

use rusqlite::params;

use crate::db::conn::{Conn, Optional, SqlResult};

/// The scopes `user_id` granted `client_id`, if any.
pub fn find(conn: &Conn, user_id: &str, client_id: &str) -> SqlResult<Option<String>> {
    conn.query_row(
        "SELECT scope FROM oidc_consents WHERE user_id = ?1 AND client_id = ?2",
        [user_id, client_id],
        |r| r.get(0),
    )
    .optional()
}

/// The scopes granted so far, for a transaction that widens them ([`upsert`] with their
/// union). On PostgreSQL that transaction first takes its turn on the pair (there may be no
/// row yet to lock), so two grants at once on two nodes cannot both read the old scopes and
/// the second overwrite what the first added; SQLite's writers already take turns.
pub fn find_to_widen(conn: &Conn, user_id: &str, client_id: &str) -> SqlResult<Option<String>> {
    conn.serialize_on(&format!("oidc_consents:{user_id}:{client_id}"))?;
    find(conn, user_id, client_id)
}

pub fn upsert(conn: &Conn, user_id: &str, client_id: &str, scope: &str, now: i64) -> SqlResult<()> {
    conn.execute(
        "INSERT INTO oidc_consents (user_id, client_id, scope, granted_at) VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT (user_id, client_id) DO UPDATE SET scope = excluded.scope,
             granted_at = excluded.granted_at",
        params![user_id, client_id, scope, now],
    )?;
    Ok(())
}

pub fn delete(conn: &Conn, user_id: &str, client_id: &str) -> SqlResult<bool> {
    Ok(conn.execute(
        "DELETE FROM oidc_consents WHERE user_id = ?1 AND client_id = ?2",
        [user_id, client_id],
    )? == 1)
}

/// A consent, with its app's name, for the account page and the export.
pub struct ConsentRow {
    pub client_id: String,
    pub client_name: String,
    pub scope: String,
    pub granted_at: i64,
}

pub fn of_user(conn: &Conn, user_id: &str) -> SqlResult<Vec<ConsentRow>> {
    conn.query_map(
        "SELECT c.client_id, k.name, c.scope, c.granted_at
         FROM oidc_consents c JOIN oidc_clients k ON k.id = c.client_id
         WHERE c.user_id = ?1 ORDER BY k.name",
        [user_id],
        |r| {
            Ok(ConsentRow {
                client_id: r.get(0)?,
                client_name: r.get(1)?,
                scope: r.get(2)?,
                granted_at: r.get(3)?,
            })
        },
    )
}
