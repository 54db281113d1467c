//! What start-up does with the PII keys: before migrations, prove each key file is the one the
//! data was sealed with (a wrong or missing file stops start-up with a message naming it, and
//! nothing is written: [`verify_keys`]); after them, seal values still stored in plain text
//! (rows written before encryption existed; idempotent: [`prepare`]). A missing `pii.key` is
//! refused even earlier, before keys are loaded (see `keys::KeysInUse`).

use rusqlite::params;

use super::sealed::{self, Pass, SealError, SealedColumns};
use crate::crypto;
use crate::db::conn::{AsConn, Conn, Optional, SqlError, SqlResult};
use crate::pii::cipher::{self, CipherError, FieldCipher};

const CHECK_CONTEXT: &str = "pii_keys.check";
const CHECK_TEXT: &[u8] = b"gatehouse pii key check";

#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error(
        "PII key id {id} is recorded in the database but its key file is missing (keys/pii.key \
         or keys.pii_key_file for id 1, keys/pii/{id}.key otherwise); nothing was changed"
    )]
    MissingKey { id: u32 },
    #[error(
        "the PII key file for key id {id} is not the key the data was sealed with (wrong \
         keys/pii.key, keys.pii_key_file or keys/pii/{id}.key?); nothing was changed"
    )]
    WrongKey { id: u32 },
    #[error("cannot seal personal data stored in plain text: {0}")]
    Seal(#[from] SealError),
    #[error(transparent)]
    Sql(#[from] SqlError),
}

impl From<rusqlite::Error> for StartupError {
    fn from(e: rusqlite::Error) -> Self {
        Self::Sql(e.into())
    }
}

/// [`verify_keys`] on a read-only connection to `db_path` (nothing when there is no database
/// yet): start-up runs it before the database is opened for writing, so that a wrong key file
/// changes nothing, not even by the checkpoint of a closing connection.
pub fn verify_keys_read_only(
    db_path: &std::path::Path,
    pii: &FieldCipher,
    email_index_key: &[u8; 32],
) -> Result<(), StartupError> {
    if !db_path.exists() {
        return Ok(());
    }
    let flags = rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY;
    let conn = rusqlite::Connection::open_with_flags(db_path, flags)?;
    verify_keys(&conn, pii, email_index_key)
}

/// Proves each key file is the one the data was sealed with, reading only. A database from
/// before the tables it reads exist has nothing to check.
pub fn verify_keys(
    conn: &impl AsConn,
    pii: &FieldCipher,
    email_index_key: &[u8; 32],
) -> Result<(), StartupError> {
    conn.with_conn(|conn| {
        if conn.has_table("pii_keys")? {
            check_keys(conn, pii)?;
        }
        check_blind_index(conn, email_index_key)
    })
}

/// After migrations (and [`verify_keys`]): records the check values of new keys, then seals
/// values still stored in plain text, once for each set of sealed columns.
///
/// The pass reads every sealed column of every row (3 s at 1,000,000 accounts), and after it
/// has run nothing writes plain text there again, so it runs once: the columns it covered are
/// recorded in `instance` and the next start skips it while they are the same. A release
/// that seals another column changes the list, and the next start runs the pass again. (A
/// database restored from a backup carries its own record, or none if it is older than this.)
pub fn prepare(
    conn: &impl AsConn,
    pii: &FieldCipher,
    sealed: &[SealedColumns],
    now: i64,
) -> Result<(), StartupError> {
    conn.with_conn(|conn| prepare_on(conn, pii, sealed, now))
}

fn prepare_on(
    conn: &Conn,
    pii: &FieldCipher,
    sealed: &[SealedColumns],
    now: i64,
) -> Result<(), StartupError> {
    record_keys(conn, pii, now)?;
    let columns = sealed_columns_list(sealed);
    let done: Option<String> = conn
        .query_row("SELECT value FROM instance WHERE key = ?1", [SEALED_PASS_KEY], |r| r.get(0))
        .optional()?;
    if done.as_deref() == Some(columns.as_str()) {
        return Ok(());
    }
    let count = sealed::run_pass(conn, pii, sealed, Pass::SealPlain, 500, |_| {})?;
    if count > 0 {
        tracing::info!(values = count, "personal data stored in plain text is now sealed");
    }
    conn.execute(
        "INSERT INTO instance (key, value) VALUES (?1, ?2)
         ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        params![SEALED_PASS_KEY, columns],
    )?;
    Ok(())
}

/// The `instance` key recording which sealed columns the plain-text pass has covered.
const SEALED_PASS_KEY: &str = "plain_text_sealed_columns";

/// Every sealed column as `table.column`, sorted, space-separated.
fn sealed_columns_list(sealed: &[SealedColumns]) -> String {
    let mut names: Vec<String> = sealed
        .iter()
        .flat_map(|spec| spec.columns.iter().map(move |c| format!("{}.{c}", spec.table)))
        .collect();
    names.sort();
    names.join(" ")
}

/// Every key the database knows (not retired) must be present and open its check value.
pub fn check_keys(conn: &impl AsConn, pii: &FieldCipher) -> Result<(), StartupError> {
    let known: Vec<(u32, Vec<u8>)> = conn.with_conn(|conn| {
        conn.query_map(
            "SELECT id, check_value FROM pii_keys WHERE retired_at IS NULL ORDER BY id",
            [] as [i64; 0],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
    })?;
    for (id, check) in known {
        match pii.open(CHECK_CONTEXT, &check) {
            Ok(text) if text == CHECK_TEXT => {}
            Err(CipherError::UnknownKey(_)) => return Err(StartupError::MissingKey { id }),
            _ => return Err(StartupError::WrongKey { id }),
        }
    }
    Ok(())
}

/// Before the first key check exists (a database from before encryption), the blind index of
/// an email stored in plain text proves `pii.key` is the key the indexes were made with.
fn check_blind_index(conn: &Conn, email_index_key: &[u8; 32]) -> Result<(), StartupError> {
    if !conn.has_table("users")? {
        return Ok(());
    }
    if conn.has_table("pii_keys")? {
        let recorded: i64 =
            conn.query_row("SELECT count(*) FROM pii_keys", [] as [i64; 0], |r| r.get(0))?;
        if recorded > 0 {
            return Ok(());
        }
    }
    // Sealed text starts with `cipher::TEXT_MARK` (U+0001), bound: `char(1)` is SQLite's.
    let sample: Option<(String, Vec<u8>)> = conn
        .query_row(
            "SELECT email, email_index FROM users
             WHERE email IS NOT NULL AND substr(email, 1, 1) <> ?1 LIMIT 1",
            [cipher::TEXT_MARK.to_string()],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()?;
    if let Some((email, index)) = sample
        && crypto::keyed_hash(email_index_key, &[email.as_bytes()]) != index
    {
        return Err(StartupError::WrongKey { id: crate::pii::keyring::ROOT_KEY_ID });
    }
    Ok(())
}

/// Records a check value for every loaded key the database does not know yet.
pub fn record_keys(conn: &impl AsConn, pii: &FieldCipher, now: i64) -> SqlResult<()> {
    conn.with_conn(|conn| {
        for id in pii.ring().ids() {
            let Some(key) = pii.ring().key(id) else { continue };
            let check = cipher::seal_with(id, &key, CHECK_CONTEXT, CHECK_TEXT);
            conn.execute(
                "INSERT INTO pii_keys (id, check_value, created_at) VALUES (?1, ?2, ?3)
                 ON CONFLICT (id) DO NOTHING",
                params![id, check, now],
            )?;
        }
        Ok(())
    })
}
