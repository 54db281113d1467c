//! The SQL of `oidc_clients`.

use rusqlite::{Connection, OptionalExtension, Row, params};

use crate::oidc::client::{Client, NewClient};

const COLUMNS: &str = "id, name, public, trusted, redirect_uris, post_logout_redirect_uris,
    backchannel_logout_uri, scopes, created_at, secret_rotated_at, id_token_alg";

fn list_of(text: String) -> rusqlite::Result<Vec<String>> {
    serde_json::from_str(&text).map_err(|e| {
        rusqlite::Error::FromSqlConversionFailure(0, rusqlite::types::Type::Text, Box::new(e))
    })
}

fn client(r: &Row<'_>) -> rusqlite::Result<Client> {
    Ok(Client {
        id: r.get(0)?,
        name: r.get(1)?,
        public: r.get(2)?,
        trusted: r.get(3)?,
        redirect_uris: list_of(r.get(4)?)?,
        post_logout_redirect_uris: list_of(r.get(5)?)?,
        backchannel_logout_uri: r.get(6)?,
        scopes: list_of(r.get(7)?)?,
        created_at: r.get(8)?,
        secret_rotated_at: r.get(9)?,
        id_token_alg: r.get(10)?,
    })
}

fn json(list: &[String]) -> String {
    serde_json::to_string(list).expect("a list of strings is JSON")
}

pub fn insert(
    conn: &Connection,
    id: &str,
    new: &NewClient,
    secret_hash: Option<&[u8]>,
    created_by: Option<&str>,
    now: i64,
) -> rusqlite::Result<()> {
    conn.execute(
        "INSERT INTO oidc_clients (id, name, secret_hash, public, trusted, redirect_uris,
             post_logout_redirect_uris, backchannel_logout_uri, scopes, created_at, created_by,
             id_token_alg)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
        params![
            id,
            new.name,
            secret_hash,
            new.public,
            new.trusted,
            json(&new.redirect_uris),
            json(&new.post_logout_redirect_uris),
            new.backchannel_logout_uri,
            json(&new.scopes),
            now,
            created_by,
            new.id_token_alg.as_deref().unwrap_or("RS256")
        ],
    )?;
    Ok(())
}

pub fn find(conn: &Connection, id: &str) -> rusqlite::Result<Option<Client>> {
    conn.query_row(&format!("SELECT {COLUMNS} FROM oidc_clients WHERE id = ?1"), [id], client)
        .optional()
}

pub fn find_with_secret(
    conn: &Connection,
    id: &str,
) -> rusqlite::Result<Option<(Client, Option<Vec<u8>>)>> {
    conn.query_row(
        &format!("SELECT {COLUMNS}, secret_hash FROM oidc_clients WHERE id = ?1"),
        [id],
        |r| Ok((client(r)?, r.get(11)?)),
    )
    .optional()
}

pub fn list(conn: &Connection) -> rusqlite::Result<Vec<Client>> {
    let mut stmt =
        conn.prepare(&format!("SELECT {COLUMNS} FROM oidc_clients ORDER BY name, id"))?;
    stmt.query_map([], client)?.collect()
}

pub fn delete(conn: &Connection, id: &str) -> rusqlite::Result<()> {
    conn.execute("DELETE FROM oidc_clients WHERE id = ?1", [id])?;
    Ok(())
}

pub fn set_secret(conn: &Connection, id: &str, hash: &[u8], now: i64) -> rusqlite::Result<()> {
    conn.execute(
        "UPDATE oidc_clients SET secret_hash = ?2, secret_rotated_at = ?3 WHERE id = ?1",
        params![id, hash, now],
    )?;
    Ok(())
}
