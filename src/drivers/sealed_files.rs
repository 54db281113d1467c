//! Licence images as sealed files (rows of `driver_uploads` with the key id of each file), for
//! the passes over sealed data ([`crate::pii::sealed`]): start-up seals files still stored
//! plain (from before uploads were sealed), key rotation re-seals files under its target key
//! and counts what each key still seals. Files are read and written only through
//! [`UploadStore`].
//!
//! Each file is re-sealed inside a write transaction that first checks its row still exists:
//! account deletion and superseded licences delete the rows in their own transaction and the
//! files after it commits, so a re-seal can never bring back a file that was being deleted
//! (on PostgreSQL the check reads the row `FOR UPDATE`, so a deletion on another node waits for
//! the re-seal to commit, then deletes the new file).
//!
//! On either engine ([`crate::db::conn`]).

use std::collections::BTreeMap;

use rusqlite::params;

use super::uploads::UploadStore;
use crate::db::conn::{AsConn, Conn, Optional, SqlError, SqlResult};
use crate::pii::sealed::{FileSealError, SealedFiles};

/// The licence images, through their store.
pub struct LicenceImages<'a>(pub &'a dyn UploadStore);

impl SealedFiles for LicenceImages<'_> {
    fn count(&self, conn: &Conn) -> SqlResult<u64> {
        Ok(count(conn)?)
    }

    fn per_key(&self, conn: &Conn) -> SqlResult<BTreeMap<u32, u64>> {
        Ok(files_per_key(conn)?)
    }

    fn reseal(
        &self,
        conn: &Conn,
        target: u32,
        only_plain: bool,
        progress: &mut dyn FnMut(u64),
    ) -> Result<usize, FileSealError> {
        let mut changed = 0;
        let names =
            files_to_reseal(conn, (!only_plain).then_some(target)).map_err(SqlError::from)?;
        for name in names {
            changed += usize::from(reseal_one(conn, self.0, &name, target)?);
            progress(1);
        }
        Ok(changed)
    }
}

/// Runs `work` on the connection, with rusqlite's error for the callers.
fn on<T>(conn: &impl AsConn, work: impl FnOnce(&Conn) -> SqlResult<T>) -> rusqlite::Result<T> {
    Ok(conn.with_conn(work)?)
}

/// Files not sealed under `target` (None: the plain ones only). The parameter is cast: alone
/// in `?1 IS NOT NULL`, PostgreSQL could not tell its type.
fn files_to_reseal(conn: &impl AsConn, target: Option<u32>) -> rusqlite::Result<Vec<String>> {
    on(conn, |conn| {
        conn.query_map(
            "SELECT path FROM driver_uploads
             WHERE key_id IS NULL OR (CAST(?1 AS BIGINT) IS NOT NULL AND key_id <> ?1)
             ORDER BY path",
            [target],
            |r| r.get(0),
        )
    })
}

/// Re-seals one file under `key_id` and records it; false when its row is gone.
fn reseal_one(
    conn: &Conn,
    uploads: &dyn UploadStore,
    name: &str,
    key_id: u32,
) -> Result<bool, FileSealError> {
    let tx = conn.transaction()?;
    let lock = tx.for_update();
    let exists = tx
        .query_row(&format!("SELECT 1 FROM driver_uploads WHERE path = ?1{lock}"), [name], |_| {
            Ok(())
        })
        .optional()?
        .is_some();
    if !exists {
        return Ok(false);
    }
    uploads
        .reseal(name, key_id)
        .map_err(|source| FileSealError::File { name: name.into(), source })?;
    tx.execute("UPDATE driver_uploads SET key_id = ?2 WHERE path = ?1", params![name, key_id])?;
    tx.commit()?;
    Ok(true)
}

/// How many files are sealed under each key id (plain files are not counted).
fn files_per_key(conn: &impl AsConn) -> rusqlite::Result<BTreeMap<u32, u64>> {
    let rows = on(conn, |conn| {
        conn.query_map(
            "SELECT key_id, count(*) FROM driver_uploads WHERE key_id IS NOT NULL GROUP BY key_id",
            [] as [i64; 0],
            |r| Ok((r.get(0)?, r.get::<i64>(1)? as u64)),
        )
    })?;
    Ok(rows.into_iter().collect())
}

/// Files in all (the progress bar's length).
fn count(conn: &impl AsConn) -> rusqlite::Result<u64> {
    on(conn, |conn| {
        conn.query_row("SELECT count(*) FROM driver_uploads", [] as [i64; 0], |r| r.get::<i64>(0))
    })
    .map(|n| n as u64)
}

#[cfg(test)]
#[path = "sealed_files_tests.rs"]
mod tests;
