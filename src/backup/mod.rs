//! Backups and restores.
//!
//! A backup is one gzip-compressed tar archive in `<data_dir>/backups/`, named
//! `gatehouse-<UTC time>.tar.gz`, holding:
//! - `gatehouse.db`: a snapshot taken with SQLite's online backup API in a single step, so it
//!   is one consistent read transaction (WAL mode: writers carry on meanwhile); or, on
//!   PostgreSQL, `gatehouse.pgdump`: a `pg_dump --format=custom` of the configured database
//!   (one snapshot too; see [`postgres`]);
//! - `uploads/...`: the uploaded files, when `<data_dir>/uploads` exists;
//! - `keys/...`: the keys in `<data_dir>/keys` (without them the encrypted columns and the
//!   password pepper are lost, so an archive is as sensitive as the data dir; key files named
//!   in the config outside the data dir are not included and must be kept separately);
//! - `manifest.json` (last): format, the engine (`sqlite` or `postgres`), Gatehouse version,
//!   time, newest migration, and each file's size and SHA-256.
//!
//! The archive is written under a temporary name and renamed once complete and synced, so a
//! failed backup (disk full, read-only directory) leaves no partial archive behind. After each
//! backup the oldest archives beyond `backup.keep` are deleted. One backup runs at a time.
//!
//! [`restore`] unpacks an archive into a staging directory inside the data dir, checks every
//! checksum and `PRAGMA integrity_check`, and only then moves the current database, keys and
//! uploads aside (into `<data_dir>/replaced-<time>/`) and the restored ones into place. It
//! refuses while a server holds the data dir's [`lock`]. A PostgreSQL archive is restored
//! into the configured PostgreSQL database with `pg_restore` in one transaction (refused while
//! any node is connected to it), then its keys and uploads as above; an archive of the other
//! engine is refused.

pub mod api;
mod archive;
pub mod lock;
pub mod postgres;
mod restore;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use indicatif::ProgressBar;
use serde::{Deserialize, Serialize};

pub use archive::{create, create_from};
pub use postgres::Storage;
pub use restore::{RestoreReport, restore, restore_to};

/// The archive format written in the manifest; restore refuses others.
pub const FORMAT: u32 = 1;
const PREFIX: &str = "gatehouse-";
const SUFFIX: &str = ".tar.gz";

/// What the manifest says about the archive.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Manifest {
    pub format: u32,
    /// The engine whose database the archive holds (archives from before PostgreSQL have
    /// none: SQLite).
    #[serde(default)]
    pub engine: ArchiveEngine,
    pub gatehouse_version: String,
    /// RFC 3339, UTC.
    pub created_at: String,
    /// The newest migration applied to the database in the archive.
    pub schema: Option<String>,
    pub files: Vec<ManifestFile>,
}

#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum ArchiveEngine {
    /// `gatehouse.db`.
    #[default]
    Sqlite,
    /// `gatehouse.pgdump`.
    Postgres,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct ManifestFile {
    /// Relative, `/`-separated.
    pub path: String,
    pub size: u64,
    pub sha256: String,
}

/// A finished backup.
#[derive(Debug, Clone)]
pub struct BackupInfo {
    pub name: String,
    pub path: PathBuf,
    pub size_bytes: u64,
    /// Unix seconds.
    pub created_at: i64,
    /// Files in the archive (besides the manifest).
    pub files: usize,
}

#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    #[error("a backup is already running")]
    Busy,
    /// Writing to the backups directory failed (full, read-only, not a directory, ...).
    #[error("cannot write the backup to {}: {source}", dir.display())]
    Destination { dir: PathBuf, source: std::io::Error },
    #[error("cannot read {}: {source}", path.display())]
    Source { path: PathBuf, source: std::io::Error },
    #[error("cannot snapshot the database: {0}")]
    Database(#[from] rusqlite::Error),
    #[error("the backup task failed: {0}")]
    Task(String),
    /// pg_dump is missing or failed (the message never holds the password).
    #[error("cannot dump the PostgreSQL database: {0}")]
    Dump(String),
}

/// The directory backups go to.
pub fn backups_dir(data_dir: &Path) -> PathBuf {
    data_dir.join("backups")
}

/// A progress bar on a terminal (stderr), nothing otherwise.
pub fn terminal_bar() -> ProgressBar {
    if std::io::IsTerminal::is_terminal(&std::io::stderr()) {
        let bar = ProgressBar::new(0);
        bar.set_style(
            indicatif::ProgressStyle::with_template(
                "{msg:12} [{bar:40}] {bytes}/{total_bytes} ({eta})",
            )
            .expect("static template")
            .progress_chars("=> "),
        );
        bar
    } else {
        ProgressBar::hidden()
    }
}

/// Backups in `dir`, newest first. Files that are not archives are ignored.
pub fn list(dir: &Path) -> std::io::Result<Vec<BackupInfo>> {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    let mut backups = Vec::new();
    for entry in entries {
        let entry = entry?;
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some(created_at) = created_at_from_name(&name) else { continue };
        let meta = entry.metadata()?;
        if !meta.is_file() {
            continue;
        }
        backups.push(BackupInfo {
            path: entry.path(),
            name,
            size_bytes: meta.len(),
            created_at,
            files: 0,
        });
    }
    backups.sort_by(|a, b| b.name.cmp(&a.name));
    Ok(backups)
}

const NAME_TIME: &str = "%Y%m%dT%H%M%S%.3fZ";

fn archive_name(at: chrono::DateTime<chrono::Utc>) -> String {
    format!("{PREFIX}{}{SUFFIX}", at.format(NAME_TIME))
}

fn created_at_from_name(name: &str) -> Option<i64> {
    let stamp = name.strip_prefix(PREFIX)?.strip_suffix(SUFFIX)?;
    chrono::NaiveDateTime::parse_from_str(stamp, NAME_TIME).ok().map(|t| t.and_utc().timestamp())
}

/// Deletes the oldest archives beyond `keep`; returns how many went.
fn prune(dir: &Path, keep: u32) -> std::io::Result<usize> {
    let mut removed = 0;
    for old in list(dir)?.into_iter().skip(keep as usize) {
        std::fs::remove_file(&old.path)?;
        removed += 1;
    }
    Ok(removed)
}

/// The server's backups: one at a time, on the blocking pool.
pub struct Backups {
    data_dir: PathBuf,
    keep: u32,
    storage: Storage,
    running: tokio::sync::Mutex<()>,
}

impl Backups {
    /// Backups of the SQLite database in `data_dir`.
    pub fn new(data_dir: PathBuf, keep: u32) -> Self {
        Self { data_dir, keep, storage: Storage::Sqlite, running: tokio::sync::Mutex::new(()) }
    }

    /// Backups of the configured storage (SQLite or PostgreSQL) and the keys in its data dir.
    pub fn for_storage(storage: &crate::config::StorageConfig, keep: u32) -> Self {
        Self { storage: Storage::from_config(storage), ..Self::new(storage.data_dir.clone(), keep) }
    }

    pub fn dir(&self) -> PathBuf {
        backups_dir(&self.data_dir)
    }

    /// Takes a backup now, unless one is running.
    pub async fn run(self: &Arc<Self>) -> Result<BackupInfo, BackupError> {
        let _running = self.running.try_lock().map_err(|_| BackupError::Busy)?;
        let (data_dir, keep, storage) = (self.data_dir.clone(), self.keep, self.storage.clone());
        let info = tokio::task::spawn_blocking(move || {
            create_from(&storage, &data_dir, keep, chrono::Utc::now(), &ProgressBar::hidden())
        })
        .await
        .map_err(|e| BackupError::Task(e.to_string()))??;
        tracing::info!(
            backup = %info.name,
            size_bytes = info.size_bytes,
            files = info.files,
            "backup written"
        );
        Ok(info)
    }

    pub async fn list(&self) -> std::io::Result<Vec<BackupInfo>> {
        let dir = self.dir();
        tokio::task::spawn_blocking(move || list(&dir)).await.map_err(std::io::Error::other)?
    }
}

/// SHA-256 of everything read through it, and the byte count.
struct Hashing<R> {
    inner: R,
    hasher: sha2::Sha256,
    bytes: u64,
}

impl<R> Hashing<R> {
    fn new(inner: R) -> Self {
        Self { inner, hasher: sha2::Digest::new(), bytes: 0 }
    }

    fn finish(self) -> (u64, String) {
        (self.bytes, hex::encode(sha2::Digest::finalize(self.hasher)))
    }
}

impl<R: std::io::Read> std::io::Read for Hashing<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        sha2::Digest::update(&mut self.hasher, &buf[..n]);
        self.bytes += n as u64;
        Ok(n)
    }
}

impl<W: std::io::Write> std::io::Write for Hashing<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        sha2::Digest::update(&mut self.hasher, &buf[..n]);
        self.bytes += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_sort_by_time_and_parse_back() {
        let at = chrono::DateTime::from_timestamp(1_800_000_000, 0).unwrap();
        let name = archive_name(at);
        assert_eq!(name, "gatehouse-20270115T080000.000Z.tar.gz");
        assert_eq!(created_at_from_name(&name), Some(1_800_000_000));
        assert_eq!(created_at_from_name("gatehouse-x.tar.gz"), None);
        assert!(archive_name(at + chrono::Duration::seconds(1)) > name);
    }
}
