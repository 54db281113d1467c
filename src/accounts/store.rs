//! SQL for `users`, `email_tokens` and `bootstrap_tokens`. The email, names and phone of a user
//! are sealed ([`FieldCipher`], contexts `users.<column>`): they are sealed here on the way in
//! and opened here on the way out, so the rest of accounts sees plain values.
//!
//! On either engine ([`crate::db::conn`]). Every function takes any connection or
//! transaction ([`AsConn`]) and answers with rusqlite's error type, so that the callers, many
//! of them other features' transactions, need no change while the port goes on.

use rusqlite::params;

use crate::db::conn::{AsConn, Conn, Optional, Row, SqlError, SqlResult};
use crate::pii::FieldCipher;

#[path = "store_tokens.rs"]
mod tokens;
pub use tokens::*;

pub const EMAIL: &str = "users.email";
pub const DISPLAY_NAME: &str = "users.display_name";
pub const LEGAL_NAME: &str = "users.legal_name";
pub const PHONE: &str = "users.phone";

fn seal(pii: &FieldCipher, context: &str, value: Option<&str>) -> Option<String> {
    value.map(|v| pii.seal_text(context, v))
}

/// Runs `work` on the connection, with rusqlite's error for the callers.
fn on<T>(conn: &impl AsConn, work: impl FnOnce(&Conn) -> SqlResult<T>) -> rusqlite::Result<T> {
    Ok(conn.with_conn(work)?)
}

/// A sealed column of `row`, opened.
fn opened(
    pii: &FieldCipher,
    row: &Row<'_>,
    index: usize,
    context: &str,
) -> SqlResult<Option<String>> {
    let sealed: Option<String> = row.get(index)?;
    sealed
        .map(|s| {
            pii.open_text(context, &s)
                .map_err(|e| SqlError::Conversion { column: index, message: e.to_string() })
        })
        .transpose()
}

#[derive(Debug, Clone)]
pub struct User {
    pub id: String,
    /// None for a phone-only account.
    pub email: Option<String>,
    pub display_name: String,
    pub legal_name: Option<String>,
    pub phone: Option<String>,
    pub password_hash: Option<String>,
    pub campus_id: Option<i64>,
    pub campus_name: Option<String>,
    pub role: String,
    pub email_verified_at: Option<i64>,
    pub created_at: i64,
    pub phone_verified_at: Option<i64>,
    /// When the display name last changed (None: never since the account was made).
    pub profile_updated_at: Option<i64>,
}

const USER_COLUMNS: &str = "u.id, u.email, u.display_name, u.legal_name, u.phone, u.password_hash,
    u.campus_id, c.name, u.role, u.email_verified_at, u.created_at, u.phone_verified_at,
    u.profile_updated_at";

fn user_from_row(pii: &FieldCipher, r: &Row<'_>) -> SqlResult<User> {
    Ok(User {
        id: r.get(0)?,
        email: opened(pii, r, 1, EMAIL)?,
        display_name: opened(pii, r, 2, DISPLAY_NAME)?.unwrap_or_default(),
        legal_name: opened(pii, r, 3, LEGAL_NAME)?,
        phone: opened(pii, r, 4, PHONE)?,
        password_hash: r.get(5)?,
        campus_id: r.get(6)?,
        campus_name: r.get(7)?,
        role: r.get(8)?,
        email_verified_at: r.get(9)?,
        created_at: r.get(10)?,
        phone_verified_at: r.get(11)?,
        profile_updated_at: r.get(12)?,
    })
}

pub fn find_by_email_index(
    conn: &impl AsConn,
    pii: &FieldCipher,
    index: &[u8],
) -> rusqlite::Result<Option<User>> {
    on(conn, |conn| {
        conn.query_row(
            &format!(
                "SELECT {USER_COLUMNS} FROM users u LEFT JOIN campuses c ON c.id = u.campus_id
                 WHERE u.email_index = ?1"
            ),
            [index],
            |r| user_from_row(pii, r),
        )
        .optional()
    })
}

/// The account on which this phone is verified (there is at most one).
pub fn find_by_verified_phone(
    conn: &impl AsConn,
    pii: &FieldCipher,
    index: &[u8],
) -> rusqlite::Result<Option<User>> {
    on(conn, |conn| {
        conn.query_row(
            &format!(
                "SELECT {USER_COLUMNS} FROM users u LEFT JOIN campuses c ON c.id = u.campus_id
                 WHERE u.phone_index = ?1 AND u.phone_verified_at IS NOT NULL"
            ),
            [index],
            |r| user_from_row(pii, r),
        )
        .optional()
    })
}

/// Sets the account's phone and marks it verified (a code sent to it was entered).
pub fn set_verified_phone(
    conn: &impl AsConn,
    pii: &FieldCipher,
    user_id: &str,
    e164: &str,
    index: &[u8],
    now: i64,
) -> rusqlite::Result<()> {
    on(conn, |conn| {
        conn.execute(
            "UPDATE users SET phone = ?2, phone_index = ?3, phone_verified_at = ?4 WHERE id = ?1",
            params![user_id, pii.seal_text(PHONE, e164), index, now],
        )?;
        Ok(())
    })
}

pub fn find_by_id(
    conn: &impl AsConn,
    pii: &FieldCipher,
    id: &str,
) -> rusqlite::Result<Option<User>> {
    on(conn, |conn| {
        conn.query_row(
            &format!(
                "SELECT {USER_COLUMNS} FROM users u LEFT JOIN campuses c ON c.id = u.campus_id
                 WHERE u.id = ?1"
            ),
            [id],
            |r| user_from_row(pii, r),
        )
        .optional()
    })
}

/// The user's role, None when there is no such account.
/// The campus of an account (None: no campus, or no such account).
pub fn campus_of(conn: &impl AsConn, id: &str) -> rusqlite::Result<Option<i64>> {
    on(conn, |conn| {
        let found = conn.query_row("SELECT campus_id FROM users WHERE id = ?1", [id], |r| r.get(0));
        Ok(found.optional()?.flatten())
    })
}

pub fn role_of(conn: &impl AsConn, id: &str) -> rusqlite::Result<Option<String>> {
    on(conn, |conn| {
        conn.query_row("SELECT role FROM users WHERE id = ?1", [id], |r| r.get(0)).optional()
    })
}

pub struct NewUser<'a> {
    pub id: &'a str,
    pub email_index: &'a [u8],
    pub email: &'a str,
    pub display_name: &'a str,
    pub legal_name: Option<&'a str>,
    pub phone: Option<&'a str>,
    pub phone_index: Option<&'a [u8]>,
    /// None for an account that signs in with a passkey (or a phone code) instead.
    pub password_hash: Option<&'a str>,
    pub campus_id: Option<i64>,
    pub role: &'a str,
    pub email_verified_at: Option<i64>,
    pub now: i64,
}

#[cfg(test)]
impl<'a> NewUser<'a> {
    /// Ada's account `id` (its blind index the id's bytes), verified at time 1 and without a
    /// password, for other features' tests; change a field with `NewUser { .., ..ada(id) }`.
    pub fn ada(id: &'a str) -> Self {
        NewUser {
            id,
            email_index: id.as_bytes(),
            email: "ada@north.edu",
            display_name: "Ada",
            legal_name: None,
            phone: None,
            phone_index: None,
            password_hash: None,
            campus_id: None,
            role: "user",
            email_verified_at: Some(1),
            now: 1,
        }
    }
}

/// Inserts a user; false when the email is already taken (the unique index decided). `ON
/// CONFLICT DO NOTHING` rather than catching the violation: on PostgreSQL a failed statement
/// aborts its transaction, and sign-up goes on in it to warn the address's owner.
pub fn insert(conn: &impl AsConn, pii: &FieldCipher, u: &NewUser<'_>) -> rusqlite::Result<bool> {
    on(conn, |conn| {
        let inserted = conn.execute(
            "INSERT INTO users (id, email_index, email, display_name, legal_name, phone,
                                password_hash, campus_id, role, email_verified_at, created_at,
                                password_changed_at, phone_index)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?11, ?12)
             ON CONFLICT DO NOTHING",
            params![
                u.id,
                u.email_index,
                pii.seal_text(EMAIL, u.email),
                pii.seal_text(DISPLAY_NAME, u.display_name),
                seal(pii, LEGAL_NAME, u.legal_name),
                seal(pii, PHONE, u.phone),
                u.password_hash,
                u.campus_id,
                u.role,
                u.email_verified_at,
                u.now,
                u.phone_index
            ],
        )?;
        Ok(inserted == 1)
    })
}

/// The stored hash now: a sign-in checked against an older one must not start a session.
pub fn password_hash_of(conn: &impl AsConn, user_id: &str) -> rusqlite::Result<Option<String>> {
    on(conn, |conn| {
        conn.query_row("SELECT password_hash FROM users WHERE id = ?1", [user_id], |r| r.get(0))
            .optional()
            .map(Option::flatten)
    })
}

/// [`password_hash_of`] in a transaction that acts on it (a sign-in opening a session, a
/// token grant, a password change): on PostgreSQL the row stays locked until the transaction
/// ends, so a reset committing meanwhile on another node is either seen here (this read waits
/// for it) or waits for this commit and then ends the session made here. SQLite's writers
/// already take turns.
pub fn password_hash_for_update(
    conn: &impl AsConn,
    user_id: &str,
) -> rusqlite::Result<Option<String>> {
    on(conn, |conn| {
        let sql = format!("SELECT password_hash FROM users WHERE id = ?1{}", conn.for_update());
        conn.query_row(&sql, [user_id], |r| r.get(0)).optional().map(Option::flatten)
    })
}

/// When the password was last set (None: never since the account was made), read with the
/// row locked as [`password_hash_for_update`] is: the second step of a sign-in compares it
/// with its pending sign-in before opening a session.
pub fn password_changed_at_for_update(
    conn: &impl AsConn,
    user_id: &str,
) -> rusqlite::Result<Option<i64>> {
    on(conn, |conn| {
        let sql =
            format!("SELECT password_changed_at FROM users WHERE id = ?1{}", conn.for_update());
        conn.query_row(&sql, [user_id], |r| r.get(0)).optional().map(Option::flatten)
    })
}

pub fn set_password(
    conn: &impl AsConn,
    user_id: &str,
    hash: &str,
    now: i64,
) -> rusqlite::Result<()> {
    on(conn, |conn| {
        conn.execute(
            "UPDATE users SET password_hash = ?2, password_changed_at = ?3 WHERE id = ?1",
            params![user_id, hash, now],
        )?;
        Ok(())
    })
}

/// A phone-only account (`auth.phone_signup`): no email, no password, the phone verified by
/// the code that created it.
pub fn insert_phone_user(
    conn: &impl AsConn,
    pii: &FieldCipher,
    id: &str,
    phone: &str,
    phone_index: &[u8],
    display_name: &str,
    now: i64,
) -> rusqlite::Result<()> {
    on(conn, |conn| {
        conn.execute(
            "INSERT INTO users (id, display_name, phone, phone_index, phone_verified_at, role,
                                created_at)
             VALUES (?1, ?2, ?3, ?4, ?5, 'user', ?5)",
            params![
                id,
                pii.seal_text(DISPLAY_NAME, display_name),
                pii.seal_text(PHONE, phone),
                phone_index,
                now
            ],
        )?;
        Ok(())
    })
}

/// Replaces the hash only if it is still `old` (a parameter upgrade must not undo a change).
pub fn upgrade_password_hash(
    conn: &impl AsConn,
    user_id: &str,
    old: &str,
    new: &str,
) -> rusqlite::Result<()> {
    on(conn, |conn| {
        conn.execute(
            "UPDATE users SET password_hash = ?3 WHERE id = ?1 AND password_hash = ?2",
            params![user_id, old, new],
        )?;
        Ok(())
    })
}

/// Marks the account's email verified; true when it was not yet.
pub fn mark_email_verified(conn: &impl AsConn, user_id: &str, now: i64) -> rusqlite::Result<bool> {
    on(conn, |conn| {
        let changed = conn.execute(
            "UPDATE users SET email_verified_at = ?2 WHERE id = ?1 AND email_verified_at IS NULL",
            params![user_id, now],
        )?;
        Ok(changed == 1)
    })
}

pub fn set_role(conn: &impl AsConn, user_id: &str, role: &str) -> rusqlite::Result<()> {
    on(conn, |conn| {
        conn.execute("UPDATE users SET role = ?2 WHERE id = ?1", params![user_id, role])?;
        Ok(())
    })
}

pub fn update_profile(
    conn: &impl AsConn,
    pii: &FieldCipher,
    user_id: &str,
    display_name: Option<&str>,
    legal_name: Option<Option<&str>>,
    now: i64,
) -> rusqlite::Result<()> {
    on(conn, |conn| {
        if let Some(name) = display_name {
            let name = pii.seal_text(DISPLAY_NAME, name);
            // The app's clock, not the database's: tests set it, and PostgreSQL has no unixepoch().
            conn.execute(
                "UPDATE users SET display_name = ?2, profile_updated_at = ?3 WHERE id = ?1",
                params![user_id, name, now],
            )?;
        }
        if let Some(legal) = legal_name {
            let legal = seal(pii, LEGAL_NAME, legal);
            conn.execute(
                "UPDATE users SET legal_name = ?2 WHERE id = ?1",
                params![user_id, legal],
            )?;
        }
        Ok(())
    })
}

pub fn count_admins(conn: &impl AsConn) -> rusqlite::Result<i64> {
    on(conn, admins)
}

fn admins(conn: &Conn) -> SqlResult<i64> {
    conn.query_row("SELECT count(*) FROM users WHERE role = 'admin'", params![], |r| r.get(0))
}

pub fn is_disabled(conn: &impl AsConn, user_id: &str) -> rusqlite::Result<bool> {
    on(conn, |conn| {
        conn.query_row(
            "SELECT EXISTS(SELECT 1 FROM users WHERE id = ?1 AND disabled_at IS NOT NULL)",
            [user_id],
            |r| r.get(0),
        )
    })
}

#[cfg(test)]
#[path = "store_tests.rs"]
mod tests;
