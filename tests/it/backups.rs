//! Backups and restores: consistent while serving writes, complete (database, keys, uploads),
//! refused when damaged, when its database is corrupt or foreign, or while a server runs, and a
//! backup directory that is missing, full or read-only does not disturb the server.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use gatehouse::backup::{self, restore};
use indicatif::ProgressBar;
use serde_json::{Value, json};

use crate::support::harness::{PASSWORD, TestServer, User, problem};

async fn take_backup(admin: &User) -> Value {
    let response = admin.post("/api/v1/admin/backups", json!({})).await;
    assert_eq!(response.status(), 201);
    response.json().await.unwrap()
}

fn archive_path(server: &TestServer, backup: &Value) -> PathBuf {
    server.data_dir().join("backups").join(backup["name"].as_str().unwrap())
}

fn sha256_of(path: &Path) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(std::fs::read(path).unwrap()))
}

#[tokio::test]
async fn a_backup_taken_during_writes_restores_every_acknowledged_write() {
    if crate::support::engine::is_postgres() {
        eprintln!(
            "PostgreSQL: this restores a SQLite archive (gatehouse.db); tests/it/backups_postgres.rs covers PostgreSQL's backups"
        );
        return;
    }
    let server = TestServer::start().await;
    let admin = server.signed_in_admin("it@north.edu").await;
    std::fs::create_dir_all(server.data_dir().join("uploads/licences")).unwrap();
    std::fs::write(server.data_dir().join("uploads/licences/front.jpg"), b"\xff\xd8jpeg").unwrap();

    // Writers create campuses through the API as fast as they can; each acknowledged one is
    // recorded with the time it was acknowledged.
    let acknowledged: Arc<Mutex<Vec<(std::time::Instant, String)>>> = Arc::default();
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut writers = Vec::new();
    for w in 0..4 {
        let (admin_client, base) = (admin.client.clone(), admin.base.clone());
        let csrf = admin.cookie("gatehouse_csrf").unwrap();
        let (acknowledged, stop) = (acknowledged.clone(), stop.clone());
        writers.push(tokio::spawn(async move {
            let mut i = 0;
            while !stop.load(std::sync::atomic::Ordering::SeqCst) {
                let name = format!("Campus {w}-{i}");
                let response = admin_client
                    .post(format!("{base}/api/v1/admin/campuses"))
                    .header("origin", &base)
                    .header("x-csrf-token", &csrf)
                    .json(&json!({"name": name, "domains": [format!("c{w}x{i}.edu")]}))
                    .send()
                    .await
                    .unwrap();
                assert_eq!(response.status(), 201);
                acknowledged.lock().unwrap().push((std::time::Instant::now(), name));
                i += 1;
            }
        }));
    }
    // Enough writes first (a busy machine may be slow to start them), then the backup, then
    // more writes after it.
    let acked = || acknowledged.lock().unwrap().len();
    for _ in 0..600 {
        if acked() >= 5 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let asked_at = std::time::Instant::now();
    let backup = take_backup(&admin).await;
    let after_backup = acked();
    for _ in 0..600 {
        if acked() > after_backup {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    for writer in writers {
        writer.await.unwrap();
    }
    let before: Vec<String> = acknowledged
        .lock()
        .unwrap()
        .iter()
        .filter(|(at, _)| *at < asked_at)
        .map(|(_, name)| name.clone())
        .collect();
    let all = acknowledged.lock().unwrap().len();
    assert!(before.len() >= 5, "writes happened before the backup ({})", before.len());
    assert!(all > before.len(), "writes happened during and after the backup");
    assert!(backup["size_bytes"].as_u64().unwrap() > 0);

    // Restore into a new data dir and serve it.
    let archive = archive_path(&server, &backup);
    let target = tempfile::tempdir().unwrap();
    let report = restore(&archive, &target.path().join("data"), &ProgressBar::hidden()).unwrap();
    assert!(report.replaced.is_none(), "nothing to replace in a new data dir");
    let paths: Vec<&str> = report.manifest.files.iter().map(|f| f.path.as_str()).collect();
    assert!(paths.contains(&"gatehouse.db"));
    assert!(paths.contains(&"uploads/licences/front.jpg"));
    assert!(paths.iter().any(|p| p.starts_with("keys/")), "{paths:?}");
    assert_eq!(
        std::fs::read(target.path().join("data/uploads/licences/front.jpg")).unwrap(),
        b"\xff\xd8jpeg"
    );
    let restored = TestServer::start_in(target, |_| {}).await;
    // The keys came back too: the admin's password (peppered) still works.
    let admin_again = restored.new_user("it@north.edu");
    assert_eq!(admin_again.login(PASSWORD, false).await.status(), 200);
    let campuses: Vec<Value> =
        admin_again.get("/api/v1/admin/campuses").await.json().await.unwrap();
    let names: std::collections::HashSet<&str> =
        campuses.iter().map(|c| c["name"].as_str().unwrap()).collect();
    for name in &before {
        assert!(names.contains(name.as_str()), "{name} was acknowledged before the backup");
    }
    assert!(names.len() <= all, "nothing that was not written");
}

#[tokio::test]
async fn restore_refuses_a_damaged_archive_and_changes_nothing() {
    if crate::support::engine::is_postgres() {
        eprintln!(
            "PostgreSQL: this damages the SQLite file in an archive; tests/it/backups_postgres.rs covers PostgreSQL's backups"
        );
        return;
    }
    let server = TestServer::start().await;
    let admin = server.signed_in_admin("it@north.edu").await;
    let archive = archive_path(&server, &take_backup(&admin).await);
    let bytes = std::fs::read(&archive).unwrap();
    let work = tempfile::tempdir().unwrap();

    // A data dir with something in it, to prove it is left alone.
    let data = work.path().join("data");
    std::fs::create_dir_all(data.join("keys")).unwrap();
    std::fs::write(data.join("gatehouse.db"), b"the current database").unwrap();
    std::fs::write(data.join("keys/pii.key"), b"current key").unwrap();
    let before = listing(&data);

    let truncated = work.path().join("truncated.tar.gz");
    std::fs::write(&truncated, &bytes[..bytes.len() / 2]).unwrap();
    let flipped = work.path().join("flipped.tar.gz");
    let mut damaged = bytes.clone();
    // A byte of the gzip trailer's CRC. (A flip in the middle of the compressed stream was
    // sometimes no damage at all: it changed a back-reference's distance into another run of
    // zeros of the database, and the archive decoded to the very same bytes. A change to the
    // content itself is the `tampered` case.)
    let crc = damaged.len() - 8;
    damaged[crc] ^= 0x55;
    std::fs::write(&flipped, &damaged).unwrap();
    let tampered = work.path().join("tampered.tar.gz");
    repack(&archive, &tampered, |path, content| {
        if path == "gatehouse.db" {
            let last = content.len() - 1;
            content[last] ^= 1;
        }
    });
    let extra = work.path().join("extra.tar.gz");
    repack_with_extra(&archive, &extra, "../escape.txt");

    for (file, expected) in [
        (&truncated, "damaged or truncated"),
        (&flipped, "damaged or truncated"),
        (&tampered, "wrong checksum"),
        (&extra, "unexpected path"),
        (&work.path().join("missing.tar.gz"), "cannot read the archive"),
    ] {
        let error = restore(file, &data, &ProgressBar::hidden()).unwrap_err().to_string();
        assert!(error.contains(expected), "{}: {error}", file.display());
        assert_eq!(listing(&data), before, "the data dir is untouched after {error}");
        assert_eq!(std::fs::read(data.join("gatehouse.db")).unwrap(), b"the current database");
        assert!(!work.path().join("escape.txt").exists());
    }

    // And a good archive replaces it, keeping the old files aside.
    let report = restore(&archive, &data, &ProgressBar::hidden()).unwrap();
    let aside = report.replaced.expect("the old files were moved aside");
    assert_eq!(std::fs::read(aside.join("gatehouse.db")).unwrap(), b"the current database");
    assert_eq!(std::fs::read(aside.join("keys/pii.key")).unwrap(), b"current key");
    assert_ne!(sha256_of(&data.join("gatehouse.db")), sha256_of(&aside.join("gatehouse.db")));
}

/// The names in `dir`, sorted, without the lock restore holds while it works (not data).
fn listing(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| name != "gatehouse.lock")
        .collect();
    names.sort();
    names
}

#[tokio::test]
async fn restore_refuses_a_consistent_archive_whose_database_is_bad() {
    if crate::support::engine::is_postgres() {
        eprintln!(
            "PostgreSQL: this corrupts the SQLite file in an archive; tests/it/backups_postgres.rs covers PostgreSQL's backups"
        );
        return;
    }
    let server = TestServer::start().await;
    let admin = server.signed_in_admin("it@north.edu").await;
    let archive = archive_path(&server, &take_backup(&admin).await);
    let work = tempfile::tempdir().unwrap();
    let data = work.path().join("data");
    std::fs::create_dir_all(data.join("keys")).unwrap();
    std::fs::write(data.join("gatehouse.db"), b"the current database").unwrap();
    std::fs::write(data.join("keys/pii.key"), b"current key").unwrap();
    let before = listing(&data);

    // Corrupt: an index page of the real database scribbled over. Foreign: a valid SQLite
    // database that is not Gatehouse's. Both archives have manifests recomputed to match, so
    // every checksum passes and only the database check can refuse them.
    let corrupt = work.path().join("corrupt.tar.gz");
    repack_database(&archive, &corrupt, |db| scribble_over_index(db, work.path()));
    let foreign = work.path().join("foreign.tar.gz");
    repack_database(&archive, &foreign, |db| {
        let path = work.path().join("foreign.db");
        let conn = rusqlite::Connection::open(&path).unwrap();
        conn.execute_batch("CREATE TABLE notes (body TEXT); INSERT INTO notes VALUES ('hi');")
            .unwrap();
        drop(conn);
        *db = std::fs::read(&path).unwrap();
    });

    for (file, expected) in
        [(&corrupt, "failed its integrity check"), (&foreign, "not a Gatehouse")]
    {
        let error = restore(file, &data, &ProgressBar::hidden()).unwrap_err().to_string();
        assert!(error.contains(expected), "{}: {error}", file.display());
        assert!(error.contains("nothing was changed"), "{error}");
        assert_eq!(listing(&data), before, "the data dir is untouched after {error}");
        assert_eq!(std::fs::read(data.join("gatehouse.db")).unwrap(), b"the current database");
        assert_eq!(std::fs::read(data.join("keys/pii.key")).unwrap(), b"current key");
    }
}

/// Damages the b-tree page of an index in the SQLite file `db` (its header and schema stay
/// readable): `PRAGMA integrity_check` reports it, nothing else notices.
fn scribble_over_index(db: &mut [u8], scratch: &Path) {
    let path = scratch.join("inspect.db");
    std::fs::write(&path, &*db).unwrap();
    let conn = rusqlite::Connection::open(&path).unwrap();
    let root: i64 = conn
        .query_row("SELECT rootpage FROM sqlite_schema WHERE name = 'users_role'", [], |r| r.get(0))
        .unwrap();
    let page_size: i64 = conn.query_row("PRAGMA page_size", [], |r| r.get(0)).unwrap();
    drop(conn);
    let start = ((root - 1) * page_size) as usize;
    // Keep the page header (the first 8 bytes); garble its cells.
    for byte in &mut db[start + 8..start + page_size as usize] {
        *byte = 0xA5;
    }
}

/// Rewrites an archive with `change` applied to its database and the manifest's size and
/// checksum for it recomputed, as a consistent (but bad) backup would have them.
fn repack_database(from: &Path, to: &Path, change: impl FnOnce(&mut Vec<u8>)) {
    use sha2::Digest;
    let mut entries = read_entries(from);
    let db = entries.iter_mut().find(|(path, _)| path == "gatehouse.db").unwrap();
    change(&mut db.1);
    let (size, sha256) = (db.1.len(), hex::encode(sha2::Sha256::digest(&db.1)));
    let manifest = entries.iter_mut().find(|(path, _)| path == "manifest.json").unwrap();
    let mut parsed: Value = serde_json::from_slice(&manifest.1).unwrap();
    let listed = parsed["files"].as_array_mut().unwrap();
    let entry = listed.iter_mut().find(|f| f["path"] == "gatehouse.db").unwrap();
    entry["size"] = json!(size);
    entry["sha256"] = json!(sha256);
    manifest.1 = serde_json::to_vec_pretty(&parsed).unwrap();
    write_entries(to, entries.into_iter());
}

/// Rewrites an archive with the same manifest, letting `change` alter file contents.
fn repack(from: &Path, to: &Path, change: impl Fn(&str, &mut Vec<u8>)) {
    let entries = read_entries(from);
    write_entries(
        to,
        entries.into_iter().map(|(path, mut content)| {
            change(&path, &mut content);
            (path, content)
        }),
    );
}

fn repack_with_extra(from: &Path, to: &Path, extra_path: &str) {
    let mut entries = read_entries(from);
    entries.insert(0, (extra_path.to_string(), b"x".to_vec()));
    write_entries(to, entries.into_iter());
}

fn read_entries(from: &Path) -> Vec<(String, Vec<u8>)> {
    let file = std::fs::File::open(from).unwrap();
    let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(file));
    archive
        .entries()
        .unwrap()
        .map(|e| {
            let mut e = e.unwrap();
            let path = e.path().unwrap().to_string_lossy().into_owned();
            let mut content = Vec::new();
            std::io::Read::read_to_end(&mut e, &mut content).unwrap();
            (path, content)
        })
        .collect()
}

fn write_entries(to: &Path, entries: impl Iterator<Item = (String, Vec<u8>)>) {
    let file = std::fs::File::create(to).unwrap();
    let mut builder =
        tar::Builder::new(flate2::write::GzEncoder::new(file, flate2::Compression::fast()));
    for (path, content) in entries {
        let mut header = tar::Header::new_gnu();
        header.set_size(content.len() as u64);
        header.set_mode(0o600);
        header.set_entry_type(tar::EntryType::Regular);
        // Written raw, so that a path like ../x reaches the archive as it is.
        let name = header.as_old_mut().name.as_mut();
        name[..path.len()].copy_from_slice(path.as_bytes());
        header.set_cksum();
        builder.append(&header, content.as_slice()).unwrap();
    }
    builder.into_inner().unwrap().finish().unwrap();
}

#[tokio::test]
async fn restore_refuses_while_a_server_runs_on_the_data_dir() {
    let server = TestServer::start().await;
    let admin = server.signed_in_admin("it@north.edu").await;
    let archive = archive_path(&server, &take_backup(&admin).await);
    let error = restore(&archive, &server.data_dir(), &ProgressBar::hidden()).unwrap_err();
    assert!(error.to_string().contains("a Gatehouse server is running"), "{error}");
    assert!(!server.data_dir().read_dir().unwrap().any(|e| {
        let name = e.unwrap().file_name().to_string_lossy().into_owned();
        name.starts_with(".restore-") || name.starts_with("replaced-")
    }));
    // Once it has stopped, the same restore works (restore() restores a SQLite archive into
    // a data dir; tests/it/backups_postgres.rs restores PostgreSQL's through the binary).
    let dir = server.stop_keep_dir().await;
    if crate::support::engine::is_postgres() {
        eprintln!("PostgreSQL: restore() of a PostgreSQL archive needs the engine's configuration");
        return;
    }
    restore(&archive, &dir.path().join("data"), &ProgressBar::hidden()).unwrap();
}

#[tokio::test]
async fn backups_are_listed_newest_first_and_only_the_newest_are_kept() {
    let server = TestServer::start_with(|c| c.backup.keep = 2).await;
    let admin = server.signed_in_admin("it@north.edu").await;
    let mut names = Vec::new();
    for _ in 0..3 {
        names.push(take_backup(&admin).await["name"].as_str().unwrap().to_string());
    }
    let list: Value = admin.get("/api/v1/admin/backups").await.json().await.unwrap();
    let listed: Vec<&str> =
        list["items"].as_array().unwrap().iter().map(|b| b["name"].as_str().unwrap()).collect();
    assert_eq!(listed, vec![names[2].as_str(), names[1].as_str()]);
    assert_eq!(list["keep"], 2);
    assert!(!server.data_dir().join("backups").join(&names[0]).exists());
    let audit = server.query_i64("SELECT count(*) FROM audit_log WHERE action = 'backup.created'");
    assert_eq!(audit, 3);

    server.add_campus("North", &["north.edu"]);
    let student = server.signed_in_user("ada@north.edu").await;
    problem(student.get("/api/v1/admin/backups").await, 403, "forbidden").await;
    problem(student.post("/api/v1/admin/backups", json!({})).await, 403, "forbidden").await;
    problem(server.get("/api/v1/admin/backups").await, 401, "unauthenticated").await;
}

#[tokio::test]
async fn a_backup_dir_that_cannot_be_written_is_a_clear_error_and_the_server_carries_on() {
    let server = TestServer::start().await;
    let admin = server.signed_in_admin("it@north.edu").await;
    // Not a directory.
    std::fs::write(server.data_dir().join("backups"), b"in the way").unwrap();
    let body =
        problem(admin.post("/api/v1/admin/backups", json!({})).await, 503, "backup_failed").await;
    let detail = body["detail"].as_str().unwrap();
    assert!(detail.contains("backups directory"), "{detail}");
    assert!(!detail.contains(server.data_dir().to_str().unwrap()), "no server path: {detail}");
    assert_eq!(server.get("/ready").await.status(), 200);
    assert_eq!(admin.get("/api/v1/admin/campuses").await.status(), 200);
    std::fs::remove_file(server.data_dir().join("backups")).unwrap();

    // Full: a tiny file system mounted on the backups directory (needs root; skipped, and
    // said so, where mounting is not allowed).
    let dir = server.data_dir().join("backups");
    std::fs::create_dir_all(&dir).unwrap();
    let mounted = mount_tmpfs(&dir, "size=64k");
    if mounted {
        let body =
            problem(admin.post("/api/v1/admin/backups", json!({})).await, 503, "backup_failed")
                .await;
        let unmounted = std::process::Command::new("umount").arg(&dir).status();
        let detail = body["detail"].as_str().unwrap();
        assert!(detail.contains("no storage space"), "{detail}");
        assert!(unmounted.unwrap().success());
        assert_eq!(server.get("/ready").await.status(), 200);
    } else {
        eprintln!("note: cannot mount a tmpfs here; the disk-full case was not exercised");
    }

    // Read-only: a read-only file system on the backups directory (root ignores file modes,
    // so a chmod would not do).
    let mounted = mount_tmpfs(&dir, "ro");
    if mounted {
        let body =
            problem(admin.post("/api/v1/admin/backups", json!({})).await, 503, "backup_failed")
                .await;
        let unmounted = std::process::Command::new("umount").arg(&dir).status();
        let detail = body["detail"].as_str().unwrap();
        assert!(detail.contains("read-only"), "{detail}");
        assert!(!detail.contains(server.data_dir().to_str().unwrap()), "no server path: {detail}");
        assert!(unmounted.unwrap().success());
        assert_eq!(server.get("/ready").await.status(), 200);
        assert_eq!(admin.get("/api/v1/admin/campuses").await.status(), 200);
    } else {
        eprintln!("note: cannot mount a tmpfs here; the read-only case was not exercised");
    }
    // With the directory fixed, backups work again.
    take_backup(&admin).await;
    let left: Vec<String> = backup::list(&dir).unwrap().into_iter().map(|b| b.name).collect();
    assert_eq!(left.len(), 1);
    assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 1, "no partial files left behind");
}

/// Mounts a tmpfs with `options` on `dir`; false where mounting is not allowed (not root).
fn mount_tmpfs(dir: &std::path::Path, options: &str) -> bool {
    std::process::Command::new("mount")
        .args(["-t", "tmpfs", "-o", options, "tmpfs"])
        .arg(dir)
        .status()
        .is_ok_and(|s| s.success())
}
