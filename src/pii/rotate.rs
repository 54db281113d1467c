//! `gatehouse keys rotate`: a new PII key becomes active, then every sealed value is re-sealed
//! under it, a batch of rows per write transaction, while the server keeps serving (it opens
//! values under either key and follows the switch of the active key, see
//! [`crate::pii::keyring`]).
//!
//! Interrupted (Ctrl-C, crash), the command resumes where values remain under older keys: run
//! it again and it finishes the same rotation instead of starting another. A key file is
//! deleted only once a full scan finds nothing sealed under it, a few seconds after the last
//! re-sealing pass (a server that read the old active id just before the switch may still be
//! committing a value under it); `pii.key` (id 1) stays, as it roots the blind indexes.
//!
//! The column passes and the key records run on either engine ([`Conn`]); the command still
//! hands a rusqlite connection, which the sealed files' pass ([`SealedFiles`], the drivers')
//! takes.

use std::time::Duration;

use rusqlite::params;

use crate::db::conn::{Conn, SqlError, SqlResult};

use super::sealed::{self, FileSealError, Pass, SealError, SealedColumns, SealedFiles};
use super::start_checks;
use crate::keys::KeyError;
use crate::pii::cipher::FieldCipher;
use crate::pii::keyring::ROOT_KEY_ID;

pub const BATCH: usize = 500;

#[derive(Debug, thiserror::Error)]
pub enum RotateError {
    #[error(transparent)]
    Key(#[from] KeyError),
    #[error(transparent)]
    Startup(#[from] start_checks::StartupError),
    #[error(transparent)]
    Seal(#[from] SealError),
    #[error(transparent)]
    SealFile(#[from] FileSealError),
    #[error(transparent)]
    Sqlite(#[from] rusqlite::Error),
    #[error(transparent)]
    Sql(#[from] SqlError),
}

#[derive(Debug, Default)]
pub struct RotationReport {
    pub key_id: u32,
    /// true: an interrupted rotation to `key_id` was finished rather than a new key made.
    pub resumed: bool,
    pub values_resealed: usize,
    /// Licence images re-sealed.
    pub files_resealed: usize,
    /// Key files deleted because nothing is sealed under them any more.
    pub keys_removed: Vec<u32>,
    /// Old keys still in use (they stay; run the command again later).
    pub keys_kept: Vec<u32>,
}

/// Hooks for the command line: a progress bar (or nothing) and the pause before old keys go.
pub struct RotateOptions<'a> {
    pub on_start: &'a mut dyn FnMut(u64),
    pub on_progress: &'a mut dyn FnMut(u64),
    pub settle: Duration,
}

/// What each key id still seals: column values and files together.
fn in_use(
    conn: &Conn,
    sealed: &[SealedColumns],
    files: &dyn SealedFiles,
) -> Result<std::collections::BTreeMap<u32, u64>, RotateError> {
    let mut counts = sealed::values_per_key(conn, sealed)?;
    for (id, n) in files.per_key(conn)? {
        *counts.entry(id).or_insert(0) += n;
    }
    Ok(counts)
}

pub fn rotate(
    conn: &Conn,
    pii: &FieldCipher,
    (sealed, files): (&[SealedColumns], &dyn SealedFiles),
    now: i64,
    options: RotateOptions<'_>,
) -> Result<RotationReport, RotateError> {
    start_checks::check_keys(conn, pii)?;
    let ring = pii.ring();
    let active = ring.active_id();
    let in_use_before = in_use(conn, sealed, files)?;
    let unfinished = in_use_before.keys().any(|id| *id != active);
    let mut report = RotationReport::default();
    if unfinished && active != ROOT_KEY_ID {
        report.resumed = true;
        report.key_id = active;
    } else {
        let id = ring.add_key(newest_key_id(conn)?)?;
        // Recorded before it seals anything, so start-up can check it.
        start_checks::record_keys(conn, pii, now)?;
        ring.set_active(id)?;
        report.key_id = id;
    }
    let target = report.key_id;
    (options.on_start)(sealed::total_rows(conn, sealed)? + files.count(conn)?);
    loop {
        let n = sealed::run_pass(
            conn,
            pii,
            sealed,
            Pass::Reseal { target },
            BATCH,
            &mut *options.on_progress,
        )?;
        let resealed = files.reseal(conn, target, false, &mut *options.on_progress)?;
        report.values_resealed += n;
        report.files_resealed += resealed;
        if n + resealed == 0 {
            break;
        }
        // A value sealed by the server under the old key during the pass: go again.
        if in_use(conn, sealed, files)?.keys().all(|id| *id == target) {
            break;
        }
    }
    std::thread::sleep(options.settle);
    let (removed, kept) = retire_unused(conn, pii, (sealed, files), target, now)?;
    report.keys_removed = removed;
    report.keys_kept = kept;
    Ok(report)
}

/// Deletes the file of every key other than `target` and the root that nothing is sealed
/// under any more; returns the ids removed and the ids still in use (kept: a later run, once
/// they are re-sealed, removes them). The last step of [`rotate`].
pub fn retire_unused(
    conn: &Conn,
    pii: &FieldCipher,
    (sealed, files): (&[SealedColumns], &dyn SealedFiles),
    target: u32,
    now: i64,
) -> Result<(Vec<u32>, Vec<u32>), RotateError> {
    let ring = pii.ring();
    let in_use = in_use(conn, sealed, files)?;
    let (mut removed, mut kept) = (Vec::new(), Vec::new());
    for id in ring.ids() {
        if id == target || id == ROOT_KEY_ID {
            continue;
        }
        if in_use.contains_key(&id) {
            kept.push(id);
        } else {
            // Recorded as retired first: a crash before the file goes leaves a harmless file,
            // never a database that names a key whose file is gone.
            mark_retired(conn, id, now)?;
            if ring.remove_key(id)? {
                removed.push(id);
            }
        }
    }
    if in_use.contains_key(&ROOT_KEY_ID) {
        kept.push(ROOT_KEY_ID);
    }
    Ok((removed, kept))
}

/// The highest key id the database has recorded (1 before any): a new key takes the next.
pub(super) fn newest_key_id(conn: &Conn) -> SqlResult<u32> {
    conn.query_row("SELECT coalesce(max(id), 1) FROM pii_keys", [] as [i64; 0], |r| r.get(0))
}

/// Records that key `id` seals nothing any more.
pub(super) fn mark_retired(conn: &Conn, id: u32, now: i64) -> SqlResult<()> {
    conn.execute("UPDATE pii_keys SET retired_at = ?2 WHERE id = ?1", params![id, now])?;
    Ok(())
}
