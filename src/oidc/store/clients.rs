//! The SQL of `oidc_clients`; on either engine ([`crate::db::conn`]).

use rusqlite::params;

use crate::db::conn::{Conn, Optional, Row, SqlError, SqlResult};
use crate::oidc::client::{Client, NewClient};

const COLUMNS: &str = "id, name, public, trusted, redirect_uris, post_logout_redirect_uris,
    backchannel_logout_uri, scopes, created_at, secret_rotated_at, id_token_alg";

fn list_of(column: usize, text: String) -> SqlResult<Vec<String>> {
    serde_json::from_str(&text).map_err(|e| SqlError::Conversion { column, message: e.to_string() })
}

fn client(r: &Row<'_>) -> SqlResult<Client> {
    Ok(Client {
        id: r.get(0)?,
        name: r.get(1)?,
        public: r.get(2)?,
        trusted: r.get(3)?,
        redirect_uris: list_of(4, r.get(4)?)?,
        post_logout_redirect_uris: list_of(5, r.get(5)?)?,
        backchannel_logout_uri: r.get(6)?,
        scopes: list_of(7, r.get(7)?)?,
        created_at: r.get(8)?,
        secret_rotated_at: r.get(9)?,
        id_token_alg: r.get(10)?,
    })
}

fn json(list: &[String]) -> String {
    serde_json::to_string(list).expect("a list of strings is JSON")
}

pub fn insert(
    conn: &Conn,
    id: &str,
    new: &NewClient,
    secret_hash: Option<&[u8]>,
    created_by: Option<&str>,
    now: i64,
) -> SqlResult<()> {
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

pub fn find(conn: &Conn, id: &str) -> SqlResult<Option<Client>> {
    conn.query_row(&format!("SELECT {COLUMNS} FROM oidc_clients WHERE id = ?1"), [id], client)
        .optional()
}

/// A client, for a transaction that is about to change or remove it. On PostgreSQL the row
/// stays locked until that transaction ends, so that a rotation and a removal of one client
/// on two nodes take turns (the second reads the first's outcome) as under SQLite's single
/// writer.
pub fn find_to_change(conn: &Conn, id: &str) -> SqlResult<Option<Client>> {
    let lock = conn.for_update();
    conn.query_row(&format!("SELECT {COLUMNS} FROM oidc_clients WHERE id = ?1{lock}"), [id], client)
        .optional()
}

pub fn find_with_secret(conn: &Conn, id: &str) -> SqlResult<Option<(Client, Option<Vec<u8>>)>> {
    conn.query_row(
        &format!("SELECT {COLUMNS}, secret_hash FROM oidc_clients WHERE id = ?1"),
        [id],
        |r| Ok((client(r)?, r.get(11)?)),
    )
    .optional()
}

pub fn list(conn: &Conn) -> SqlResult<Vec<Client>> {
    conn.query_map(
        &format!("SELECT {COLUMNS} FROM oidc_clients ORDER BY name, id"),
        [] as [i64; 0],
        client,
    )
}

pub fn delete(conn: &Conn, id: &str) -> SqlResult<()> {
    conn.execute("DELETE FROM oidc_clients WHERE id = ?1", [id])?;
    Ok(())
}

pub fn set_secret(conn: &Conn, id: &str, hash: &[u8], now: i64) -> SqlResult<()> {
    conn.execute(
        "UPDATE oidc_clients SET secret_hash = ?2, secret_rotated_at = ?3 WHERE id = ?1",
        params![id, hash, now],
    )?;
    Ok(())
}
