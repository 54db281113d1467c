//! Licence images as sealed files (rows of `driver_uploads` with the key id of each file), for
//! the passes over sealed data ([`crate::pii::sealed`]): start-up seals files still stored
//! plain (from before uploads were sealed), key rotation re-seals files under its target key
//! and counts what each key still seals. Files are read and written only through
//! [`UploadStore`].
//!
//! Each file is re-sealed inside a write transaction that first checks its row still exists:
//! account deletion and superseded licences delete the rows in their own transaction and the
//! files after it commits, so a re-seal can never bring back a file that was being deleted.

use std::collections::BTreeMap;

use rusqlite::{Connection, OptionalExtension, params};

use super::uploads::UploadStore;
use crate::pii::sealed::{FileSealError, SealedFiles};

/// The licence images, through their store.
pub struct LicenceImages<'a>(pub &'a dyn UploadStore);

impl SealedFiles for LicenceImages<'_> {
    fn count(&self, conn: &Connection) -> rusqlite::Result<u64> {
        count(conn)
    }

    fn per_key(&self, conn: &Connection) -> rusqlite::Result<BTreeMap<u32, u64>> {
        files_per_key(conn)
    }

    fn reseal(
        &self,
        conn: &mut Connection,
        target: u32,
        only_plain: bool,
        progress: &mut dyn FnMut(u64),
    ) -> Result<usize, FileSealError> {
        let mut changed = 0;
        for name in files_to_reseal(conn, (!only_plain).then_some(target))? {
            changed += usize::from(reseal_one(conn, self.0, &name, target)?);
            progress(1);
        }
        Ok(changed)
    }
}

/// Files not sealed under `target` (None: the plain ones only).
fn files_to_reseal(conn: &Connection, target: Option<u32>) -> rusqlite::Result<Vec<String>> {
    let mut stmt = conn.prepare(
        "SELECT path FROM driver_uploads
         WHERE key_id IS NULL OR (?1 IS NOT NULL AND key_id != ?1) ORDER BY path",
    )?;
    let rows = stmt.query_map([target], |r| r.get(0))?;
    rows.collect()
}

/// Re-seals one file under `key_id` and records it; false when its row is gone.
fn reseal_one(
    conn: &mut Connection,
    uploads: &dyn UploadStore,
    name: &str,
    key_id: u32,
) -> Result<bool, FileSealError> {
    let tx = crate::db::write_tx(conn)?;
    let exists = tx
        .query_row("SELECT 1 FROM driver_uploads WHERE path = ?1", [name], |_| Ok(()))
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
fn files_per_key(conn: &Connection) -> rusqlite::Result<BTreeMap<u32, u64>> {
    let mut stmt = conn.prepare(
        "SELECT key_id, count(*) FROM driver_uploads WHERE key_id IS NOT NULL GROUP BY key_id",
    )?;
    let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get::<_, i64>(1)? as u64)))?;
    rows.collect()
}

/// Files in all (the progress bar's length).
fn count(conn: &Connection) -> rusqlite::Result<u64> {
    conn.query_row("SELECT count(*) FROM driver_uploads", [], |r| r.get::<_, i64>(0))
        .map(|n| n as u64)
}
