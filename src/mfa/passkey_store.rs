//! SQL for `passkeys` and `passkey_challenges`. A passkey's name is sealed
//! ([`FieldCipher`], context `passkeys.name`) here on the way in and opened here on the way out.
//! On either engine ([`crate::db::conn`]).

use rusqlite::params;
use webauthn_rs::prelude::Passkey;

use crate::db::conn::{AsConn, Conn, Optional, Row, SqlError, SqlResult};
use crate::pii::FieldCipher;

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

// The SQL below runs on either engine ([`crate::db::conn`]); every function takes the
// connection or transaction its caller holds ([`AsConn`]).

fn from_row(pii: &FieldCipher, r: &Row<'_>) -> SqlResult<StoredPasskey> {
    let credential: String = r.get(3)?;
    let passkey = serde_json::from_str(&credential)
        .map_err(|e| SqlError::Conversion { column: 3, message: e.to_string() })?;
    let name: Option<String> = r.get(2)?;
    let name = name
        .map(|sealed| pii.open_text(NAME, &sealed))
        .transpose()
        .map_err(|e| SqlError::Conversion { column: 2, message: e.to_string() })?;
    Ok(StoredPasskey {
        id: r.get(0)?,
        user_id: r.get(1)?,
        name: name.unwrap_or_default(),
        passkey,
        synced: r.get(4)?,
        created_at: r.get(5)?,
        last_used_at: r.get(6)?,
    })
}

fn of_user(
    conn: &Conn,
    pii: &FieldCipher,
    user_id: &str,
    lock: &str,
) -> SqlResult<Vec<StoredPasskey>> {
    conn.query_map(
        &format!("SELECT {COLUMNS} FROM passkeys WHERE user_id = ?1 ORDER BY created_at, id{lock}"),
        [user_id],
        |r| from_row(pii, r),
    )
}

pub fn for_user(
    conn: &impl AsConn,
    pii: &FieldCipher,
    user_id: &str,
) -> SqlResult<Vec<StoredPasskey>> {
    conn.with_conn(|conn| of_user(conn, pii, user_id, ""))
}

/// The account's passkeys, for a transaction that removes one unless it is the last way to
/// sign in. On PostgreSQL they stay locked until that transaction ends, so that two removals
/// at once on two nodes take turns and the second sees the first's (without the lock, each
/// would see two passkeys, and both would go).
pub fn for_user_to_change(
    conn: &impl AsConn,
    pii: &FieldCipher,
    user_id: &str,
) -> SqlResult<Vec<StoredPasskey>> {
    conn.with_conn(|conn| {
        let lock = conn.for_update();
        of_user(conn, pii, user_id, lock)
    })
}

/// A passkey by its credential id, for the sign-in transaction that checks an assertion
/// against it and then records its new counter. On PostgreSQL the row stays locked until that
/// transaction ends, so that two sign-ins with one passkey on two nodes take turns and the
/// second checks its counter against the first's.
pub fn by_credential_id(
    conn: &impl AsConn,
    pii: &FieldCipher,
    credential_id: &[u8],
) -> SqlResult<Option<StoredPasskey>> {
    conn.with_conn(|conn| {
        let lock = conn.for_update();
        conn.query_row(
            &format!("SELECT {COLUMNS} FROM passkeys WHERE credential_id = ?1{lock}"),
            [credential_id],
            |r| from_row(pii, r),
        )
        .optional()
    })
}

pub fn count_for_user(conn: &impl AsConn, user_id: &str) -> SqlResult<i64> {
    conn.with_conn(|conn| {
        conn.query_row("SELECT count(*) FROM passkeys WHERE user_id = ?1", [user_id], |r| r.get(0))
    })
}

/// Stores a new passkey; false when its credential is already registered (to anyone).
pub fn insert(conn: &impl AsConn, pii: &FieldCipher, stored: &StoredPasskey) -> SqlResult<bool> {
    let credential = serde_json::to_string(&stored.passkey)
        .map_err(|e| SqlError::Conversion { column: 0, message: e.to_string() })?;
    let inserted = conn.with_conn(|conn| {
        conn.execute(
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
        )
    })?;
    Ok(inserted == 1)
}

/// After a sign-in: the passkey's new counter and backup flags, and when it was used.
pub fn record_use(
    conn: &impl AsConn,
    id: &str,
    passkey: &Passkey,
    synced: bool,
    now: i64,
) -> SqlResult<()> {
    let credential = serde_json::to_string(passkey)
        .map_err(|e| SqlError::Conversion { column: 0, message: e.to_string() })?;
    conn.with_conn(|conn| {
        conn.execute(
            "UPDATE passkeys SET credential = ?2, synced = ?3, last_used_at = ?4 WHERE id = ?1",
            params![id, credential, synced, now],
        )
    })?;
    Ok(())
}

/// Renames one of `user_id`'s passkeys; false when it has no such passkey.
pub fn rename(
    conn: &impl AsConn,
    pii: &FieldCipher,
    user_id: &str,
    id: &str,
    name: &str,
) -> SqlResult<bool> {
    let changed = conn.with_conn(|conn| {
        conn.execute(
            "UPDATE passkeys SET name = ?3 WHERE id = ?2 AND user_id = ?1",
            params![user_id, id, pii.seal_text(NAME, name)],
        )
    })?;
    Ok(changed == 1)
}

pub fn delete(conn: &impl AsConn, user_id: &str, id: &str) -> SqlResult<bool> {
    let changed = conn.with_conn(|conn| {
        conn.execute("DELETE FROM passkeys WHERE id = ?2 AND user_id = ?1", params![user_id, id])
    })?;
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
    conn: &impl AsConn,
    id_hash: &[u8],
    purpose: &str,
    user_id: Option<&str>,
    state: &str,
    now: i64,
    expires_at: i64,
) -> SqlResult<()> {
    conn.with_conn(|conn| -> SqlResult<()> {
        conn.execute("DELETE FROM passkey_challenges WHERE expires_at <= ?1", [now])?;
        conn.execute(
            "INSERT INTO passkey_challenges (id_hash, purpose, user_id, state, created_at,
                                             expires_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![id_hash, purpose, user_id, state, now, expires_at],
        )?;
        Ok(())
    })?;
    Ok(())
}

/// Takes a challenge (it is gone afterwards, answered or not: single use). One statement, so
/// two answers at once cannot both take it, on either engine.
pub fn take_challenge(conn: &impl AsConn, id_hash: &[u8]) -> SqlResult<Option<Challenge>> {
    conn.with_conn(|conn| {
        conn.query_row(
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
        .optional()
    })
}

#[cfg(test)]
#[path = "passkey_store_tests.rs"]
mod tests;
