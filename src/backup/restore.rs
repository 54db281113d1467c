//! Restoring a backup archive into a data dir: everything is unpacked and checked in a staging
//! directory first; the data dir changes only once every check has passed.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::BufReader;
use std::os::unix::fs::DirBuilderExt;
use std::path::{Component, Path, PathBuf};

use flate2::read::GzDecoder;
use indicatif::ProgressBar;
use rusqlite::{Connection, OpenFlags};

use super::lock::{DataDirLock, LockError};
use super::postgres::{self, DUMP, Storage};
use super::{ArchiveEngine, FORMAT, Hashing, Manifest, ManifestFile};

/// What a restore did.
#[derive(Debug)]
pub struct RestoreReport {
    pub manifest: Manifest,
    /// Where the replaced database, keys and uploads were moved (None: there were none).
    pub replaced: Option<PathBuf>,
}

#[derive(Debug, thiserror::Error)]
pub enum RestoreError {
    #[error(transparent)]
    Locked(#[from] LockError),
    #[error("cannot read the archive {}: {source}", path.display())]
    Open { path: PathBuf, source: std::io::Error },
    #[error("the archive is damaged or truncated: {0}; nothing was changed")]
    Damaged(String),
    #[error("the archive does not match its manifest: {0}; nothing was changed")]
    Mismatch(String),
    #[error("the database in the archive failed its integrity check: {0}; nothing was changed")]
    Integrity(String),
    /// The archive holds the other engine's database.
    #[error("{0}; nothing was changed")]
    Engine(String),
    /// Gatehouse nodes are connected to the PostgreSQL database.
    #[error(
        "Gatehouse nodes are using the PostgreSQL database ({0} connections): stop every node \
         first (e.g. `systemctl stop gatehouse` on each); nothing was changed"
    )]
    NodesRunning(i64),
    /// pg_restore is missing or failed; it ran in one transaction, so the database is as it
    /// was.
    #[error("cannot restore the PostgreSQL database: {0}; nothing was changed")]
    Postgres(String),
    #[error("cannot prepare the restore in {}: {source}; nothing was changed", dir.display())]
    Staging { dir: PathBuf, source: std::io::Error },
    #[error(
        "the restore stopped while moving files into place ({source}); the previous files are \
         in {}", moved.display()
    )]
    Replace { moved: PathBuf, source: std::io::Error },
}

/// The top-level names an archive may hold and the restore replaces.
const DATABASE: &str = "gatehouse.db";
const TREES: [&str; 2] = ["keys", "uploads"];

/// Restores `archive` into `data_dir` (created if missing) on SQLite. Refuses while a server
/// holds the data dir; on any failure before the final moves, the data dir is untouched.
pub fn restore(
    archive: &Path,
    data_dir: &Path,
    bar: &ProgressBar,
) -> Result<RestoreReport, RestoreError> {
    restore_to(&Storage::Sqlite, archive, data_dir, bar)
}

/// Restores `archive` into `storage` and `data_dir`: on PostgreSQL, its dump into the
/// configured database (one transaction), then its keys and uploads into `data_dir`. An
/// archive of the other engine is refused before anything changes.
pub fn restore_to(
    storage: &Storage,
    archive: &Path,
    data_dir: &Path,
    bar: &ProgressBar,
) -> Result<RestoreReport, RestoreError> {
    std::fs::create_dir_all(data_dir)
        .map_err(|source| RestoreError::Staging { dir: data_dir.to_path_buf(), source })?;
    let _lock = DataDirLock::acquire(data_dir)?;
    let stamp = chrono::Utc::now().format("%Y%m%dT%H%M%SZ").to_string();
    let staging = data_dir.join(format!(".restore-{stamp}"));
    let staged = unpack_and_check(storage, archive, &staging, bar).and_then(|manifest| {
        if let Storage::Postgres { url } = storage {
            match postgres::nodes_connected(url) {
                Ok(0) => {}
                Ok(nodes) => return Err(RestoreError::NodesRunning(nodes)),
                Err(e) => return Err(RestoreError::Postgres(e)),
            }
            bar.set_message("database");
            postgres::restore_dump(&staging.join(DUMP), url).map_err(RestoreError::Postgres)?;
        }
        Ok(manifest)
    });
    let manifest = match staged {
        Ok(manifest) => manifest,
        Err(e) => {
            std::fs::remove_dir_all(&staging).ok();
            return Err(e);
        }
    };
    let with_database = matches!(storage, Storage::Sqlite);
    let replaced = replace(data_dir, &staging, &stamp, with_database)?;
    std::fs::remove_dir_all(&staging).ok();
    bar.finish_and_clear();
    Ok(RestoreReport { manifest, replaced })
}

fn unpack_and_check(
    storage: &Storage,
    archive: &Path,
    staging: &Path,
    bar: &ProgressBar,
) -> Result<Manifest, RestoreError> {
    let open = |source| RestoreError::Open { path: archive.to_path_buf(), source };
    let stage = |source| RestoreError::Staging { dir: staging.to_path_buf(), source };
    let file = File::open(archive).map_err(open)?;
    bar.set_length(file.metadata().map_err(open)?.len());
    bar.set_message("checking");
    std::fs::DirBuilder::new().mode(0o700).create(staging).map_err(stage)?;
    let mut tar = tar::Archive::new(GzDecoder::new(BufReader::new(bar.wrap_read(file))));
    let damaged = |e: std::io::Error| RestoreError::Damaged(e.to_string());
    let mut found: BTreeMap<String, ManifestFile> = BTreeMap::new();
    let mut manifest: Option<Manifest> = None;
    for entry in tar.entries().map_err(damaged)? {
        let mut entry = entry.map_err(damaged)?;
        let path = entry.path().map_err(damaged)?.to_string_lossy().into_owned();
        let kind = entry.header().entry_type();
        if kind.is_dir() {
            continue;
        }
        if !kind.is_file() {
            return Err(RestoreError::Mismatch(format!("{path} is not a regular file")));
        }
        if path == "manifest.json" {
            let parsed: Manifest = serde_json::from_reader(&mut entry)
                .map_err(|e| RestoreError::Damaged(format!("manifest.json: {e}")))?;
            manifest = Some(parsed);
            continue;
        }
        let target = safe_target(staging, &path)?;
        if found.contains_key(&path) {
            return Err(RestoreError::Mismatch(format!("{path} appears twice")));
        }
        if let Some(parent) = target.parent() {
            std::fs::DirBuilder::new().recursive(true).mode(0o700).create(parent).map_err(stage)?;
        }
        let mut out = Hashing::new(super::archive::private_file(&target).map_err(stage)?);
        std::io::copy(&mut entry, &mut out).map_err(damaged)?;
        let (size, sha256) = out.finish();
        found.insert(path.clone(), ManifestFile { path, size, sha256 });
    }
    // A truncated gzip stream can end on a tar block boundary; reading to the end of the
    // decoder proves the compressed stream and its CRC are complete.
    let mut rest = tar.into_inner();
    std::io::copy(&mut rest, &mut std::io::sink()).map_err(damaged)?;

    let manifest =
        manifest.ok_or_else(|| RestoreError::Damaged("there is no manifest.json".into()))?;
    if manifest.format != FORMAT {
        return Err(RestoreError::Mismatch(format!(
            "archive format {} is not the supported format {FORMAT}",
            manifest.format
        )));
    }
    let (wanted, other) = match storage {
        Storage::Sqlite => (ArchiveEngine::Sqlite, DUMP),
        Storage::Postgres { .. } => (ArchiveEngine::Postgres, DATABASE),
    };
    if manifest.engine != wanted {
        return Err(RestoreError::Engine(match manifest.engine {
            ArchiveEngine::Postgres => "the archive holds a PostgreSQL database, but this \
                installation uses SQLite (storage.engine = \"sqlite\"): set storage.engine = \
                \"postgres\" and storage.postgres_url to restore it"
                .into(),
            ArchiveEngine::Sqlite => "the archive holds a SQLite database, but this \
                installation uses PostgreSQL (storage.engine = \"postgres\"): copy it with \
                `gatehouse migrate-to-postgres` after restoring it into a SQLite data dir"
                .into(),
        }));
    }
    let listed: BTreeMap<String, ManifestFile> =
        manifest.files.iter().map(|f| (f.path.clone(), f.clone())).collect();
    for (path, expected) in &listed {
        match found.get(path) {
            None => return Err(RestoreError::Mismatch(format!("{path} is missing"))),
            Some(actual) if actual.size != expected.size => {
                return Err(RestoreError::Mismatch(format!("{path} has the wrong size")));
            }
            Some(actual) if actual.sha256 != expected.sha256 => {
                return Err(RestoreError::Mismatch(format!("{path} has the wrong checksum")));
            }
            Some(_) => {}
        }
    }
    if let Some(extra) = found.keys().find(|p| !listed.contains_key(*p)) {
        return Err(RestoreError::Mismatch(format!("{extra} is not in the manifest")));
    }
    if found.contains_key(other) {
        return Err(RestoreError::Mismatch(format!("unexpected path {other:?}")));
    }
    bar.set_message("integrity");
    match storage {
        Storage::Sqlite if !found.contains_key(DATABASE) => {
            return Err(RestoreError::Mismatch("the archive holds no database".into()));
        }
        Storage::Sqlite => check_database(&staging.join(DATABASE))?,
        Storage::Postgres { .. } if !found.contains_key(DUMP) => {
            return Err(RestoreError::Mismatch("the archive holds no database dump".into()));
        }
        Storage::Postgres { url } => {
            postgres::check_dump(&staging.join(DUMP), url).map_err(RestoreError::Integrity)?
        }
    }
    Ok(manifest)
}

/// Where an archive path lands in `staging`, refusing anything that could escape it or that
/// is not part of a backup.
fn safe_target(staging: &Path, path: &str) -> Result<PathBuf, RestoreError> {
    let relative = Path::new(path);
    let plain = relative.components().all(|c| matches!(c, Component::Normal(_)));
    let first = relative.components().next().and_then(|c| c.as_os_str().to_str());
    let known = match first {
        Some(DATABASE | DUMP) => relative.components().count() == 1,
        Some(top) => TREES.contains(&top) && relative.components().count() > 1,
        None => false,
    };
    if !plain || !known {
        return Err(RestoreError::Mismatch(format!("unexpected path {path:?}")));
    }
    Ok(staging.join(relative))
}

fn check_database(path: &Path) -> Result<(), RestoreError> {
    let integrity = |e: rusqlite::Error| RestoreError::Integrity(e.to_string());
    let conn =
        Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_ONLY).map_err(integrity)?;
    let result: String =
        conn.query_row("PRAGMA integrity_check", [], |r| r.get(0)).map_err(integrity)?;
    if result != "ok" {
        return Err(RestoreError::Integrity(result));
    }
    let migrations: i64 = conn
        .query_row("SELECT count(*) FROM schema_migrations", [], |r| r.get(0))
        .map_err(|_| RestoreError::Integrity("it is not a Gatehouse database".into()))?;
    if migrations == 0 {
        return Err(RestoreError::Integrity("it is not a Gatehouse database".into()));
    }
    Ok(())
}

/// Moves what the archive replaces out of `data_dir` into `replaced-<stamp>/`, then the
/// staged files in. Both sides are in the data dir, so each move is a rename.
/// `with_database`: SQLite's file too (PostgreSQL's database was restored by pg_restore).
fn replace(
    data_dir: &Path,
    staging: &Path,
    stamp: &str,
    with_database: bool,
) -> Result<Option<PathBuf>, RestoreError> {
    let aside = data_dir.join(format!("replaced-{stamp}"));
    let fail = |source| RestoreError::Replace { moved: aside.clone(), source };
    let mut names: Vec<String> = Vec::new();
    if with_database {
        names.extend([DATABASE.into(), format!("{DATABASE}-wal"), format!("{DATABASE}-shm")]);
    }
    names.extend(TREES.iter().map(|t| t.to_string()));
    let mut moved_any = false;
    for name in &names {
        let current = data_dir.join(name);
        if current.symlink_metadata().is_ok() {
            if !moved_any {
                std::fs::create_dir(&aside).map_err(fail)?;
                moved_any = true;
            }
            std::fs::rename(&current, aside.join(name)).map_err(fail)?;
        }
    }
    for name in std::iter::once(DATABASE).chain(TREES) {
        let staged = staging.join(name);
        if staged.exists() {
            std::fs::rename(&staged, data_dir.join(name)).map_err(fail)?;
        }
    }
    File::open(data_dir).and_then(|d| d.sync_all()).map_err(fail)?;
    Ok(moved_any.then_some(aside))
}
