//! Writing a backup archive.

use std::fs::File;
use std::io::{BufWriter, Read, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::time::Duration;

use flate2::Compression;
use flate2::write::GzEncoder;
use indicatif::ProgressBar;
use rusqlite::{Connection, OpenFlags};

use super::postgres::{self, DUMP, Storage};
use super::{
    ArchiveEngine, BackupError, BackupInfo, FORMAT, Hashing, Manifest, ManifestFile, archive_name,
    backups_dir, prune,
};

/// Backs up `data_dir` (its SQLite database) into `<data_dir>/backups/`, then keeps the newest
/// `keep` archives.
pub fn create(
    data_dir: &Path,
    keep: u32,
    now: chrono::DateTime<chrono::Utc>,
    bar: &ProgressBar,
) -> Result<BackupInfo, BackupError> {
    create_from(&Storage::Sqlite, data_dir, keep, now, bar)
}

/// Backs up `storage`'s database and the keys and uploads in `data_dir` into
/// `<data_dir>/backups/`, then keeps the newest `keep` archives.
pub fn create_from(
    storage: &Storage,
    data_dir: &Path,
    keep: u32,
    now: chrono::DateTime<chrono::Utc>,
    bar: &ProgressBar,
) -> Result<BackupInfo, BackupError> {
    let dir = backups_dir(data_dir);
    let dest = |source: std::io::Error| BackupError::Destination { dir: dir.clone(), source };
    // Archives hold the keys: readable by the gatehouse user only.
    std::fs::DirBuilder::new().recursive(true).mode(0o700).create(&dir).map_err(dest)?;
    let name = archive_name(now);
    let partial = dir.join(format!(".partial-{name}"));
    let extension = match storage {
        Storage::Sqlite => "db",
        Storage::Postgres { .. } => "pgdump",
    };
    let snapshot = dir.join(format!(".partial-{name}.{extension}"));
    let result = write_archive(storage, data_dir, &snapshot, &partial, now, bar, &dest);
    std::fs::remove_file(&snapshot).ok();
    let files = match result {
        Ok(files) => files,
        Err(e) => {
            std::fs::remove_file(&partial).ok();
            return Err(e);
        }
    };
    let path = dir.join(&name);
    std::fs::rename(&partial, &path).map_err(dest)?;
    File::open(&dir).and_then(|d| d.sync_all()).map_err(dest)?;
    let size_bytes = std::fs::metadata(&path).map_err(dest)?.len();
    let removed = prune(&dir, keep).map_err(dest)?;
    if removed > 0 {
        tracing::info!(removed, keep, "old backups deleted");
    }
    bar.finish_and_clear();
    Ok(BackupInfo { name, path, size_bytes, created_at: now.timestamp(), files })
}

/// Snapshots the database to `snapshot`, then writes the archive to `partial` and syncs it.
fn write_archive(
    storage: &Storage,
    data_dir: &Path,
    snapshot: &Path,
    partial: &Path,
    now: chrono::DateTime<chrono::Utc>,
    bar: &ProgressBar,
    dest: &dyn Fn(std::io::Error) -> BackupError,
) -> Result<usize, BackupError> {
    bar.set_message("database");
    // Prove the directory takes a file before SQLite tries (its error would be vaguer).
    private_file(snapshot).map_err(dest)?;
    let (engine, schema, entry) = match storage {
        Storage::Sqlite => {
            let schema = snapshot_database(&data_dir.join("gatehouse.db"), snapshot).map_err(
                |e| match e {
                    BackupError::Database(rusqlite::Error::SqliteFailure(f, _))
                        if f.code == rusqlite::ErrorCode::DiskFull =>
                    {
                        dest(std::io::Error::from(std::io::ErrorKind::StorageFull))
                    }
                    other => other,
                },
            )?;
            (ArchiveEngine::Sqlite, schema, "gatehouse.db")
        }
        Storage::Postgres { url } => {
            // Read before the dump starts, so the dump holds at least this migration.
            let schema = postgres::newest_migration(url);
            postgres::dump(url, snapshot).map_err(|e| {
                // pg_dump writes the dump into the backups directory: a full disk is that
                // directory's problem, said as for SQLite.
                if e.contains("No space left on device") {
                    dest(std::io::Error::from(std::io::ErrorKind::StorageFull))
                } else {
                    BackupError::Dump(e)
                }
            })?;
            (ArchiveEngine::Postgres, schema, DUMP)
        }
    };
    let mut sources = vec![(snapshot.to_path_buf(), entry.to_string())];
    for tree in ["keys", "uploads"] {
        collect_files(&data_dir.join(tree), tree, &mut sources)?;
    }
    let total: u64 =
        sources.iter().filter_map(|(p, _)| std::fs::metadata(p).ok()).map(|m| m.len()).sum();
    bar.set_length(total);
    bar.set_message("archive");

    let file = private_file(partial).map_err(dest)?;
    let gzip = GzEncoder::new(BufWriter::new(file), Compression::fast());
    let mut tar = tar::Builder::new(gzip);
    let mut manifest = Manifest {
        format: FORMAT,
        engine,
        gatehouse_version: env!("CARGO_PKG_VERSION").to_string(),
        created_at: now.to_rfc3339(),
        schema,
        files: Vec::new(),
    };
    for (source, path) in &sources {
        let entry = append_file(&mut tar, source, path, bar, dest)?;
        manifest.files.push(entry);
    }
    let json = serde_json::to_vec_pretty(&manifest).expect("a manifest serialises");
    let mut header = tar_header(json.len() as u64, now.timestamp());
    tar.append_data(&mut header, "manifest.json", json.as_slice()).map_err(dest)?;
    let gzip = tar.into_inner().map_err(dest)?;
    let writer = gzip.finish().map_err(dest)?;
    let file = writer.into_inner().map_err(|e| dest(e.into_error()))?;
    file.sync_all().map_err(dest)?;
    Ok(manifest.files.len())
}

/// Copies the live database to `to` in one step of the online backup API: one read
/// transaction, hence a consistent snapshot, while writers continue (WAL). A stepwise copy
/// would restart whenever another connection writes, and might never finish on a busy server.
/// Returns the newest applied migration.
fn snapshot_database(from: &Path, to: &Path) -> Result<Option<String>, BackupError> {
    if !from.is_file() {
        return Err(BackupError::Source {
            path: from.to_path_buf(),
            source: std::io::Error::new(std::io::ErrorKind::NotFound, "no database"),
        });
    }
    let source = Connection::open_with_flags(from, OpenFlags::SQLITE_OPEN_READ_WRITE)?;
    source.busy_timeout(Duration::from_secs(10))?;
    let mut copy = Connection::open(to)?;
    // The copy is a temporary file read back into the archive (which is synced): syncing it
    // too would only make the server's own commits wait behind a large flush.
    copy.pragma_update(None, "synchronous", "OFF")?;
    {
        let backup = rusqlite::backup::Backup::new(&source, &mut copy)?;
        match backup.step(-1)? {
            rusqlite::backup::StepResult::Done => {}
            other => {
                return Err(BackupError::Task(format!("database copy stopped: {other:?}")));
            }
        }
    }
    // The copy is a standalone file: fold it out of WAL mode so it needs no -wal beside it.
    copy.pragma_update(None, "journal_mode", "DELETE")?;
    let schema =
        copy.query_row("SELECT max(name) FROM schema_migrations", [], |r| r.get(0)).unwrap_or(None);
    Ok(schema)
}

/// Every regular file below `dir` as (source, archive path), sorted; nothing when it is absent.
fn collect_files(
    dir: &Path,
    prefix: &str,
    out: &mut Vec<(PathBuf, String)>,
) -> Result<(), BackupError> {
    let source = |e: std::io::Error| BackupError::Source { path: dir.to_path_buf(), source: e };
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(source(e)),
    };
    let mut found: Vec<_> = entries.collect::<Result<_, _>>().map_err(source)?;
    found.sort_by_key(|e| e.file_name());
    for entry in found {
        let name = entry.file_name().to_string_lossy().into_owned();
        let kind = entry.file_type().map_err(source)?;
        let path = format!("{prefix}/{name}");
        if kind.is_dir() {
            collect_files(&entry.path(), &path, out)?;
        } else if kind.is_file() {
            out.push((entry.path(), path));
        }
    }
    Ok(())
}

fn tar_header(size: u64, mtime: i64) -> tar::Header {
    let mut header = tar::Header::new_gnu();
    header.set_size(size);
    header.set_mode(0o600);
    header.set_mtime(mtime.max(0) as u64);
    header.set_entry_type(tar::EntryType::Regular);
    header
}

/// Appends one file, hashing it as it is read. Small files (uploads, keys) are read whole
/// first so that the size in the header and the bytes written always agree.
fn append_file<W: Write>(
    tar: &mut tar::Builder<W>,
    source: &Path,
    path: &str,
    bar: &ProgressBar,
    dest: &dyn Fn(std::io::Error) -> BackupError,
) -> Result<ManifestFile, BackupError> {
    let src = |e: std::io::Error| BackupError::Source { path: source.to_path_buf(), source: e };
    let file = File::open(source).map_err(src)?;
    let meta = file.metadata().map_err(src)?;
    let mtime = meta.modified().ok().and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok());
    let mtime = mtime.map(|d| d.as_secs() as i64).unwrap_or(0);
    let mut reader = Hashing::new(bar.wrap_read(file));
    if path == "gatehouse.db" || path == DUMP {
        // Our own snapshot or dump: nobody else writes it.
        let mut header = tar_header(meta.len(), mtime);
        tar.append_data(&mut header, path, &mut reader).map_err(|e| classify(e, &src, dest))?;
    } else {
        let mut bytes = Vec::with_capacity(meta.len() as usize);
        reader.read_to_end(&mut bytes).map_err(src)?;
        let mut header = tar_header(bytes.len() as u64, mtime);
        tar.append_data(&mut header, path, bytes.as_slice()).map_err(dest)?;
    }
    let (size, sha256) = reader.finish();
    Ok(ManifestFile { path: path.to_string(), size, sha256 })
}

/// A failed append reads and writes at once: blame the destination unless reading failed.
fn classify(
    e: std::io::Error,
    src: &dyn Fn(std::io::Error) -> BackupError,
    dest: &dyn Fn(std::io::Error) -> BackupError,
) -> BackupError {
    match e.kind() {
        std::io::ErrorKind::UnexpectedEof | std::io::ErrorKind::InvalidData => src(e),
        _ => dest(e),
    }
}

/// A new file (truncated if present) readable by its owner only.
pub(super) fn private_file(path: &Path) -> std::io::Result<File> {
    std::fs::OpenOptions::new().write(true).create(true).truncate(true).mode(0o600).open(path)
}
