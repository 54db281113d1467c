//! SQL for `passkeys` and `passkey_challenges`. A passkey's name is sealed
//! ([`FieldCipher`], context `passkeys.name`) here on the way in and opened here on the way out.

use rusqlite::{Connection, OptionalExtension, params};
use webauthn_rs::prelude::Passkey;

use crate::pii::FieldCipher;
use crate::pii::cipher::open_column;

pub const NAME: &str = "passkeys.name";
pub const REGISTER: &str = "register";
pub const SIGN_IN: &str = "sign_in";

/// A stored passkey.
pub struct StoredPasskey {
    pub id: String,
    pub user_id: String,
    pub name: String,
    pub passkey: Passkey,
    pub synced: bool,
    pub created_at: i64,
    pub last_used_at: Option<i64>,
}

const COLUMNS: &str = "id, user_id, name, credential, synced, created_at, last_used_at";

fn from_row(pii: &FieldCipher, r: &rusqlite::Row<'_>) -> rusqlite::Result<StoredPasskey> {
    let credential: String = r.get(3)?;
    let passkey = serde_json::from_str(&credential).map_err(|e| {
        rusqlite::Error::FromSqlConversionFailure(3, rusqlite::types::Type::Text, Box::new(e))
    })?;
    Ok(StoredPasskey {
        id: r.get(0)?,
        user_id: r.get(1)?,
        name: open_column(pii, r, 2, NAME)?.unwrap_or_default(),
        passkey,
        synced: r.get(4)?,
        created_at: r.get(5)?,
        last_used_at: r.get(6)?,
    })
}

pub fn for_user(
    conn: &Connection,
    pii: &FieldCipher,
    user_id: &str,
) -> rusqlite::Result<Vec<StoredPasskey>> {
    let mut stmt = conn.prepare(&format!(
        "SELECT {COLUMNS} FROM passkeys WHERE user_id = ?1 ORDER BY created_at, id"
    ))?;
    let rows = stmt.query_map([user_id], |r| from_row(pii, r))?;
    rows.collect()
}

pub fn by_credential_id(
    conn: &Connection,
    pii: &FieldCipher,
    credential_id: &[u8],
) -> rusqlite::Result<Option<StoredPasskey>> {
    conn.query_row(
        &format!("SELECT {COLUMNS} FROM passkeys WHERE credential_id = ?1"),
        [credential_id],
        |r| from_row(pii, r),
    )
    .optional()
}

pub fn count_for_user(conn: &Connection, user_id: &str) -> rusqlite::Result<i64> {
    conn.query_row("SELECT count(*) FROM passkeys WHERE user_id = ?1", [user_id], |r| r.get(0))
}

/// Stores a new passkey; false when its credential is already registered (to anyone).
pub fn insert(
    conn: &Connection,
    pii: &FieldCipher,
    stored: &StoredPasskey,
) -> rusqlite::Result<bool> {
    let credential = serde_json::to_string(&stored.passkey)
        .map_err(|e| rusqlite::Error::ToSqlConversionFailure(Box::new(e)))?;
    let inserted = conn.execute(
        "INSERT INTO passkeys (id, user_id, credential_id, name, credential, synced, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) ON CONFLICT (credential_id) DO NOTHING",
        params![
            stored.id,
            stored.user_id,
            stored.passkey.cred_id().as_slice(),
            pii.seal_text(NAME, &stored.name),
            credential,
            stored.synced,
            stored.created_at
        ],
    )?;
    Ok(inserted == 1)
}

/// After a sign-in: the passkey's new counter and backup flags, and when it was used.
pub fn record_use(
    conn: &Connection,
    id: &str,
    passkey: &Passkey,
    synced: bool,
    now: i64,
) -> rusqlite::Result<()> {
    let credential = serde_json::to_string(passkey)
        .map_err(|e| rusqlite::Error::ToSqlConversionFailure(Box::new(e)))?;
    conn.execute(
        "UPDATE passkeys SET credential = ?2, synced = ?3, last_used_at = ?4 WHERE id = ?1",
        params![id, credential, synced, now],
    )?;
    Ok(())
}

/// Renames one of `user_id`'s passkeys; false when it has no such passkey.
pub fn rename(
    conn: &Connection,
    pii: &FieldCipher,
    user_id: &str,
    id: &str,
    name: &str,
) -> rusqlite::Result<bool> {
    let changed = conn.execute(
        "UPDATE passkeys SET name = ?3 WHERE id = ?2 AND user_id = ?1",
        params![user_id, id, pii.seal_text(NAME, name)],
    )?;
    Ok(changed == 1)
}

pub fn delete(conn: &Connection, user_id: &str, id: &str) -> rusqlite::Result<bool> {
    let changed =
        conn.execute("DELETE FROM passkeys WHERE id = ?2 AND user_id = ?1", params![user_id, id])?;
    Ok(changed == 1)
}

/// A ceremony's kept state.
pub struct Challenge {
    pub purpose: String,
    pub user_id: Option<String>,
    pub state: String,
    pub expires_at: i64,
}

pub fn insert_challenge(
    conn: &Connection,
    id_hash: &[u8],
    purpose: &str,
    user_id: Option<&str>,
    state: &str,
    now: i64,
    expires_at: i64,
) -> rusqlite::Result<()> {
    conn.execute("DELETE FROM passkey_challenges WHERE expires_at <= ?1", [now])?;
    conn.execute(
        "INSERT INTO passkey_challenges (id_hash, purpose, user_id, state, created_at, expires_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        params![id_hash, purpose, user_id, state, now, expires_at],
    )?;
    Ok(())
}

/// Takes a challenge (it is gone afterwards, answered or not: single use).
pub fn take_challenge(conn: &Connection, id_hash: &[u8]) -> rusqlite::Result<Option<Challenge>> {
    let challenge = conn
        .query_row(
            "DELETE FROM passkey_challenges WHERE id_hash = ?1
             RETURNING purpose, user_id, state, expires_at",
            [id_hash],
            |r| {
                Ok(Challenge {
                    purpose: r.get(0)?,
                    user_id: r.get(1)?,
                    state: r.get(2)?,
                    expires_at: r.get(3)?,
                })
            },
        )
        .optional()?;
    Ok(challenge)
}
