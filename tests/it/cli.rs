//! The shell commands campus IT uses: campuses, admins, backup and restore, through the real
//! binary.

use std::process::{Command, Output};

use crate::support::process::BIN;

fn run(data: &std::path::Path, args: &[&str]) -> Output {
    Command::new(BIN)
        .args(args)
        .env_clear()
        .env("GATEHOUSE_STORAGE__DATA_DIR", data)
        .envs(crate::support::engine::process_env(data))
        .output()
        .unwrap()
}

fn text(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

#[test]
fn campuses_are_added_listed_and_removed() {
    let dir = tempfile::tempdir().unwrap();
    let added = run(
        dir.path(),
        &[
            "campus",
            "add",
            "--name",
            "North Campus",
            "--domain",
            "North.edu",
            "--domain",
            "cs.north.edu",
        ],
    );
    assert!(added.status.success(), "{}", text(&added));
    assert!(text(&added).contains("north.edu"));
    let list = run(dir.path(), &["campus", "list"]);
    assert!(text(&list).contains("North Campus\tcs.north.edu,north.edu"), "{}", text(&list));

    let taken = run(dir.path(), &["campus", "add", "--name", "Other", "--domain", "north.edu"]);
    assert!(!taken.status.success());
    assert!(text(&taken).contains("belongs to another campus"), "{}", text(&taken));
    let bad = run(dir.path(), &["campus", "add", "--name", "Bad", "--domain", "not a domain"]);
    assert!(!bad.status.success());
    assert!(text(&bad).contains("is not a domain"), "{}", text(&bad));
    let missing = run(dir.path(), &["campus", "add", "--name", "NoDomain"]);
    assert!(!missing.status.success());

    let removed = run(dir.path(), &["campus", "remove", "cs.north.edu"]);
    assert!(removed.status.success(), "{}", text(&removed));
    assert!(text(&run(dir.path(), &["campus", "list"])).contains("no campuses yet"));
    let gone = run(dir.path(), &["campus", "remove", "north.edu"]);
    assert!(!gone.status.success());
    assert!(text(&gone).contains("no such campus"));
}

#[test]
fn admins_are_created_from_a_password_file_or_promoted() {
    let dir = tempfile::tempdir().unwrap();
    let password = dir.path().join("password");
    std::fs::write(&password, "Campus-IT-Admin-1\n").unwrap();
    let password = password.to_str().unwrap();
    let created = run(
        dir.path(),
        &["admin", "create", "--email", "IT@north.edu", "--password-file", password],
    );
    assert!(created.status.success(), "{}", text(&created));
    assert!(text(&created).contains("created admin"));
    let again = run(dir.path(), &["admin", "create", "--email", "it@north.edu"]);
    assert!(again.status.success(), "{}", text(&again));
    assert!(text(&again).contains("promoted"));

    let weak = dir.path().join("weak");
    std::fs::write(&weak, "password").unwrap();
    let refused = run(
        dir.path(),
        &["admin", "create", "--email", "b@north.edu", "--password-file", weak.to_str().unwrap()],
    );
    assert!(!refused.status.success());
    assert!(text(&refused).contains("password:"), "{}", text(&refused));
    // No terminal and no file: a clear error instead of a hang.
    let no_tty = run(dir.path(), &["admin", "create", "--email", "c@north.edu"]);
    assert!(!no_tty.status.success());
    assert!(text(&no_tty).contains("--password-file"), "{}", text(&no_tty));

    let admins: i64 = crate::support::engine::with_database(dir.path(), |conn| {
        conn.query_row("SELECT count(*) FROM users WHERE role = 'admin'", [] as [i64; 0], |r| {
            r.get(0)
        })
        .unwrap()
    });
    assert_eq!(admins, 1);
}

/// Signs in over HTTP: the status of `POST /api/v1/auth/login`.
fn login_status(addr: std::net::SocketAddr, email: &str, password: &str) -> u16 {
    let body = serde_json::json!({"email": email, "password": password, "remember_me": false});
    let body = body.to_string();
    let request = format!(
        "POST /api/v1/auth/login HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    crate::support::harness::raw_request(addr, &[request.into_bytes()], std::time::Duration::ZERO)
        .status
}

/// What a restore would replace in a data dir: its names, and which files the database and
/// keys are (a restore renames new ones into place; the running server may still write to
/// the database, so its bytes are no measure).
fn snapshot(data: &std::path::Path) -> (Vec<String>, Vec<u64>) {
    use std::os::unix::fs::MetadataExt;
    let mut names: Vec<String> = std::fs::read_dir(data)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    let inodes = ["gatehouse.db", "keys", "keys/pepper.key"]
        .iter()
        .map(|name| std::fs::metadata(data.join(name)).unwrap().ino())
        .collect();
    (names, inodes)
}

#[test]
fn backup_and_restore_through_the_binary_and_never_under_a_running_server() {
    if crate::support::engine::is_postgres() {
        eprintln!(
            "PostgreSQL: this backs up and restores the SQLite file (gatehouse.db); \
             tests/it/backups_postgres.rs covers PostgreSQL's"
        );
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (data, restored) = (dir.path().join("data"), dir.path().join("restored"));
    let password = dir.path().join("password");
    std::fs::write(&password, "Campus-IT-Admin-1\n").unwrap();
    let created = run(
        &data,
        &[
            "admin",
            "create",
            "--email",
            "it@north.edu",
            "--password-file",
            password.to_str().unwrap(),
        ],
    );
    assert!(created.status.success(), "{}", text(&created));

    let copy = dir.path().join("copy.tar.gz");
    let backup = run(&data, &["backup", "--out", copy.to_str().unwrap()]);
    assert!(backup.status.success(), "{}", text(&backup));
    assert!(text(&backup).contains("backup written:"), "{}", text(&backup));
    assert!(text(&backup).contains("copied to"), "{}", text(&backup));
    let kept: Vec<_> = std::fs::read_dir(data.join("backups")).unwrap().collect();
    assert_eq!(kept.len(), 1, "the archive is also in <data_dir>/backups");

    // `gatehouse restore FILE` into a new data dir (the configured one).
    let restore = run(&restored, &["restore", copy.to_str().unwrap()]);
    assert!(restore.status.success(), "{}", text(&restore));
    assert!(text(&restore).contains("restored the backup of"), "{}", text(&restore));

    // The admin is there, and their password (peppered with the restored key) works.
    let mut server = crate::support::process::start(&restored, &[]);
    assert_eq!(login_status(server.addr, "it@north.edu", "Campus-IT-Admin-1"), 200);
    assert_eq!(login_status(server.addr, "nobody@north.edu", "Campus-IT-Admin-1"), 401);

    // While that server runs, a restore onto its data dir is refused and changes nothing.
    let before = snapshot(&restored);
    let refused = run(&restored, &["restore", copy.to_str().unwrap()]);
    let after = snapshot(&restored);
    let _ = Command::new("kill").args(["-TERM", &server.child.id().to_string()]).status();
    let exit = server.child.wait().unwrap();
    assert!(!refused.status.success(), "{}", text(&refused));
    assert!(text(&refused).contains("a Gatehouse server is running"), "{}", text(&refused));
    assert_eq!(after, before, "the data dir is untouched");
    assert!(exit.success(), "the server stopped cleanly: {exit}");
}
