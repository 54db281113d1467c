//! The SQL of `oidc_consents`: the scopes a student granted an app.

use rusqlite::{Connection, OptionalExtension, params};

/// The scopes `user_id` granted `client_id`, if any.
pub fn find(conn: &Connection, user_id: &str, client_id: &str) -> rusqlite::Result<Option<String>> {
    conn.query_row(
        "SELECT scope FROM oidc_consents WHERE user_id = ?1 AND client_id = ?2",
        [user_id, client_id],
        |r| r.get(0),
    )
    .optional()
}

pub fn upsert(
    conn: &Connection,
    user_id: &str,
    client_id: &str,
    scope: &str,
    now: i64,
) -> rusqlite::Result<()> {
    conn.execute(
        "INSERT INTO oidc_consents (user_id, client_id, scope, granted_at) VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT (user_id, client_id) DO UPDATE SET scope = excluded.scope,
             granted_at = excluded.granted_at",
        params![user_id, client_id, scope, now],
    )?;
    Ok(())
}

pub fn delete(conn: &Connection, user_id: &str, client_id: &str) -> rusqlite::Result<bool> {
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

pub fn of_user(conn: &Connection, user_id: &str) -> rusqlite::Result<Vec<ConsentRow>> {
    let mut stmt = conn.prepare(
        "SELECT c.client_id, k.name, c.scope, c.granted_at
         FROM oidc_consents c JOIN oidc_clients k ON k.id = c.client_id
         WHERE c.user_id = ?1 ORDER BY k.name",
    )?;
    stmt.query_map([user_id], |r| {
        Ok(ConsentRow {
            client_id: r.get(0)?,
            client_name: r.get(1)?,
            scope: r.get(2)?,
            granted_at: r.get(3)?,
        })
    })?
    .collect()
}
