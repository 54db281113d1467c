//! The shell commands campus IT uses: campuses and admins, through the real binary.

use std::process::{Command, Output};

use crate::binary::BIN;

fn run(data: &std::path::Path, args: &[&str]) -> Output {
    Command::new(BIN)
        .args(args)
        .env_clear()
        .env("GATEHOUSE_STORAGE__DATA_DIR", data)
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

    let conn = rusqlite::Connection::open(dir.path().join("gatehouse.db")).unwrap();
    let admins: i64 = conn
        .query_row("SELECT count(*) FROM users WHERE role = 'admin'", [], |r| r.get(0))
        .unwrap();
    assert_eq!(admins, 1);
}
