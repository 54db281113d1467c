//! Personal data at rest: sealed in the database file and its WAL, plain rows from before
//! encryption sealed at start-up, wrong or missing key files refused before anything changes,
//! damaged ciphertext answered cleanly.

use serde_json::json;

use gatehouse::pii::cipher::TEXT_MARK;

use crate::support::engine::{is_postgres, process_env, with_database};
use crate::support::harness::{PASSWORD, TestServer, problem};

const EMAIL: &str = "zelda.quartermain@north.edu";
const PHONE_DIGITS: &str = "9812345678";

async fn register_zelda(server: &TestServer) -> crate::support::harness::User {
    server.add_campus("North", &["north.edu"]);
    let response = server
        .post(
            "/api/v1/auth/register",
            json!({"email": EMAIL, "password": PASSWORD, "display_name": "Zelda Quartermain",
                   "legal_name": "Zelda Ottoline Quartermain", "phone": format!("+91{PHONE_DIGITS}")}),
        )
        .await;
    assert_eq!(response.status(), 202);
    let token = server.mail_to(EMAIL, "Confirm your email").await.link_token("/verify-email");
    let verified = server.post("/api/v1/auth/verify-email", json!({"token": token})).await;
    assert_eq!(verified.status(), 200);
    let user = server.new_user(EMAIL);
    assert_eq!(user.login(PASSWORD, false).await.status(), 200);
    user
}

fn database_bytes(server: &TestServer) -> Vec<u8> {
    let mut all = Vec::new();
    for name in ["gatehouse.db", "gatehouse.db-wal"] {
        if let Ok(bytes) = std::fs::read(server.data_dir().join(name)) {
            all.extend(bytes);
        }
    }
    all
}

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack.windows(needle.len()).any(|w| w.eq_ignore_ascii_case(needle.as_bytes()))
}

#[tokio::test]
async fn personal_data_is_in_neither_the_database_file_nor_its_wal() {
    let server = TestServer::start().await;
    let user = register_zelda(&server).await;
    let patched = user
        .send(reqwest::Method::PATCH, "/api/v1/account")
        .json(&json!({"display_name": "Zed Quartermain-Lovelace"}))
        .send()
        .await
        .unwrap();
    assert_eq!(patched.status(), 200);
    // A password-reset email sits in the outbox too (recipient and body sealed).
    let forgot = server.post("/api/v1/auth/password/forgot", json!({"email": EMAIL})).await;
    assert_eq!(forgot.status(), 202);
    server.flush_outbox().await;

    // The API still shows the plain values.
    let account: serde_json::Value = user.get("/api/v1/account").await.json().await.unwrap();
    assert_eq!(account["email"], EMAIL);
    assert_eq!(account["display_name"], "Zed Quartermain-Lovelace");
    assert_eq!(account["legal_name"], "Zelda Ottoline Quartermain");

    let bytes = if is_postgres() {
        // PostgreSQL's files are its server's: every value of every table, read back as text.
        server.blocking_conn(every_value_as_text)
    } else {
        assert!(
            std::fs::metadata(server.data_dir().join("gatehouse.db-wal"))
                .is_ok_and(|m| m.len() > 0),
            "the WAL is checked too"
        );
        database_bytes(&server)
    };
    assert!(bytes.len() > 4096, "read the database");
    for needle in [EMAIL, "zelda.quartermain", "Quartermain", "Ottoline", PHONE_DIGITS, "Lovelace"]
    {
        assert!(!contains(&bytes, needle), "{needle:?} is stored in plain text");
    }
    // Sign-in by email still works through the blind index.
    assert_eq!(server.new_user(EMAIL).login(PASSWORD, false).await.status(), 200);
}

#[tokio::test]
async fn plain_rows_from_before_encryption_are_sealed_at_start_up() {
    let server = TestServer::start().await;
    register_zelda(&server).await;
    let dir = server.stop_keep_dir().await;
    with_database(&dir.path().join("data"), |conn| {
        // As a database migrated from before 0010 holds them.
        conn.execute(
            "UPDATE users SET email = ?1, display_name = 'Zelda Quartermain', legal_name = NULL",
            [EMAIL],
        )
        .unwrap();
        // Such a version had not recorded a sealing pass either.
        conn.execute(
            "DELETE FROM instance WHERE key = 'plain_text_sealed_columns'",
            [] as [i64; 0],
        )
        .unwrap();
    });
    let server = TestServer::start_in(dir, |_| {}).await;
    let sealed: i64 = server.blocking_conn(|conn| {
        conn.query_row(
            "SELECT count(*) FROM users
             WHERE substr(email, 1, 1) = ?1 AND substr(display_name, 1, 1) = ?1",
            [TEXT_MARK.to_string()],
            |r| r.get(0),
        )
        .unwrap()
    });
    assert_eq!(sealed, 1);
    assert_eq!(
        server.query_i64(
            "SELECT count(*) FROM instance WHERE key = 'plain_text_sealed_columns'
             AND ' ' || value || ' ' LIKE '% users.email %'"
        ),
        1,
        "the pass is recorded with the columns it covered, so the next start skips it"
    );
    let user = server.new_user(EMAIL);
    assert_eq!(user.login(PASSWORD, false).await.status(), 200);
    let account: serde_json::Value = user.get("/api/v1/account").await.json().await.unwrap();
    assert_eq!(account["display_name"], "Zelda Quartermain");
}

fn open_app(data_dir: &std::path::Path) -> anyhow::Result<gatehouse::App> {
    let mut config = gatehouse::config::Config::default();
    config.storage.data_dir = data_dir.to_path_buf();
    if let Some(url) = crate::support::engine::postgres_url_for(data_dir) {
        config.storage.engine = gatehouse::config::StorageEngine::Postgres;
        config.storage.postgres_url = gatehouse::config::Secret::new(url);
    }
    config.server.public_url = "http://127.0.0.1:9".into();
    gatehouse::App::open(config.finish().unwrap())
}

/// The database file and its WAL (None: no WAL file), byte for byte; on PostgreSQL every
/// value of every table as text, and the migrations applied.
fn database_files(data: &std::path::Path) -> (Vec<u8>, Option<Vec<u8>>) {
    if is_postgres() {
        return with_database(data, |conn| {
            let applied: Vec<String> = conn
                .query_map(
                    "SELECT name FROM schema_migrations ORDER BY name",
                    [] as [i64; 0],
                    |r| r.get(0),
                )
                .unwrap();
            (every_value_as_text(conn), Some(applied.join(" ").into_bytes()))
        });
    }
    let db = std::fs::read(data.join("gatehouse.db")).unwrap();
    (db, std::fs::read(data.join("gatehouse.db-wal")).ok())
}

/// Every value of every table and its columns' names, as text (BYTEA with its printable
/// bytes as they are): what a dump of a PostgreSQL database would show.
fn every_value_as_text(conn: &gatehouse::db::conn::Conn) -> Vec<u8> {
    let columns: Vec<(String, String, String)> = conn
        .query_map(
            "SELECT c.table_name::text, c.column_name::text, c.data_type::text
             FROM information_schema.columns c
             JOIN information_schema.tables t
               ON t.table_schema = c.table_schema AND t.table_name = c.table_name
             WHERE c.table_schema = current_schema() AND t.table_type = 'BASE TABLE'
             ORDER BY c.table_name, c.ordinal_position",
            [] as [i64; 0],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .unwrap();
    let mut all = Vec::new();
    for (table, column, ty) in columns {
        let value = if ty == "bytea" {
            format!("encode({column}, 'escape')")
        } else {
            format!("{column}::text")
        };
        let sql =
            format!("SELECT coalesce(string_agg({value}, ' ' ORDER BY {value}), '') FROM {table}");
        let text: String = conn.query_row(&sql, [] as [i64; 0], |r| r.get(0)).unwrap();
        all.extend(format!("{table}.{column}: {text}\n").into_bytes());
    }
    all
}

/// A copy of a stopped server's directory. The stopped server's process may still hold the
/// database open for a moment (a background task ending late), and its closing checkpoint
/// would change the files a test compares; the copy is the test's alone.
fn fresh_copy(dir: tempfile::TempDir) -> tempfile::TempDir {
    fn copy(from: &std::path::Path, to: &std::path::Path) {
        std::fs::create_dir_all(to).unwrap();
        for entry in std::fs::read_dir(from).unwrap().flatten() {
            let name = entry.file_name();
            if name == "gatehouse.db-shm" {
                continue;
            }
            if entry.file_type().unwrap().is_dir() {
                copy(&entry.path(), &to.join(&name));
            } else {
                std::fs::copy(entry.path(), to.join(&name)).unwrap();
            }
        }
    }
    let fresh = tempfile::tempdir().unwrap();
    copy(&dir.path().join("data"), &fresh.path().join("data"));
    fresh
}

/// Makes the database one migration behind (0011 undone), so that a start-up that migrated
/// before checking the keys would change it. The change stays in the WAL (no checkpoint when
/// this connection closes), as after a crash: a start-up that merely opened the database for
/// writing and closed it again would checkpoint it into the database file.
fn one_migration_behind(data: &std::path::Path) {
    if is_postgres() {
        return with_database(data, |conn| {
            conn.execute_batch(
                "ALTER TABLE driver_uploads DROP COLUMN key_id;
                 DELETE FROM schema_migrations WHERE name = '0011_sealed_uploads.sql';",
            )
            .unwrap()
        });
    }
    let conn = rusqlite::Connection::open(data.join("gatehouse.db")).unwrap();
    conn.set_db_config(rusqlite::config::DbConfig::SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, true).unwrap();
    conn.execute_batch(
        "PRAGMA wal_autocheckpoint = 0;
         ALTER TABLE driver_uploads DROP COLUMN key_id;
         DELETE FROM schema_migrations WHERE name = '0011_sealed_uploads.sql';",
    )
    .unwrap();
    drop(conn);
    let wal = std::fs::metadata(data.join("gatehouse.db-wal")).map(|m| m.len()).unwrap_or(0);
    assert!(wal > 0, "the change is in the WAL");
}

#[tokio::test]
async fn a_wrong_or_missing_pii_key_stops_start_up_before_anything_changes() {
    let server = TestServer::start().await;
    register_zelda(&server).await;
    let dir = fresh_copy(server.stop_keep_dir().await);
    let data = dir.path().join("data");
    one_migration_behind(&data);
    let key_path = data.join("keys/pii.key");
    let right_key = std::fs::read(&key_path).unwrap();
    let before = database_files(&data);

    std::fs::write(&key_path, format!("{}\n", "ab".repeat(32))).unwrap();
    let err = tokio::task::spawn_blocking({
        let data = data.clone();
        move || open_app(&data).err().expect("a wrong key is refused")
    })
    .await
    .unwrap();
    let message = format!("{err:#}");
    assert!(message.contains("not the key the data was sealed with"), "{message}");
    assert!(!message.contains(&"ab".repeat(32)), "the key is not printed");
    assert!(database_files(&data) == before, "a wrong key changed the database or its WAL");

    std::fs::remove_file(&key_path).unwrap();
    let err = tokio::task::spawn_blocking({
        let data = data.clone();
        move || open_app(&data).err().expect("a missing key is refused")
    })
    .await
    .unwrap();
    assert!(format!("{err:#}").contains("the key file is missing"), "{err:#}");
    assert!(!key_path.exists(), "no new key was made in place of the lost one");
    assert!(database_files(&data) == before, "a missing key changed the database or its WAL");

    std::fs::write(&key_path, right_key).unwrap();
    let server = TestServer::start_in(dir, |_| {}).await;
    assert_eq!(server.new_user(EMAIL).login(PASSWORD, false).await.status(), 200);
}

/// Runs `gatehouse serve` on `data` and waits for it to exit (killed after 30 s).
fn serve_until_exit(data: &std::path::Path) -> (std::process::ExitStatus, String) {
    use std::process::{Command, Stdio};
    let mut child = Command::new(crate::support::process::BIN)
        .arg("serve")
        .env_clear()
        .env("GATEHOUSE_STORAGE__DATA_DIR", data)
        .envs(process_env(data))
        .env("GATEHOUSE_SERVER__LISTEN", "127.0.0.1:0")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while child.try_wait().unwrap().is_none() {
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            panic!("gatehouse kept running");
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let output = child.wait_with_output().unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    (output.status, text)
}

#[tokio::test]
async fn a_lost_pepper_or_session_secret_stops_the_binary_before_anything_changes() {
    let server = TestServer::start().await;
    register_zelda(&server).await;
    let dir = fresh_copy(server.stop_keep_dir().await);
    let data = dir.path().join("data");
    one_migration_behind(&data);
    let before = database_files(&data);
    for name in ["pepper.key", "session_secret.key"] {
        let key_path = data.join("keys").join(name);
        let saved = std::fs::read(&key_path).unwrap();
        std::fs::remove_file(&key_path).unwrap();
        let (status, output) = tokio::task::spawn_blocking({
            let data = data.clone();
            move || serve_until_exit(&data)
        })
        .await
        .unwrap();
        assert!(!status.success(), "{name}: {output}");
        assert!(output.contains(&key_path.display().to_string()), "names the file: {output}");
        assert!(output.contains("the key file is missing"), "{output}");
        assert!(output.contains("Restore the file from a backup"), "{output}");
        assert!(!key_path.exists(), "a new {name} was generated");
        assert!(database_files(&data) == before, "{name}: the database or its WAL changed");
        std::fs::write(&key_path, saved).unwrap();
    }
    // With the files back, the same password works (and the pending migration applies).
    let server = TestServer::start_in(dir, |_| {}).await;
    assert_eq!(server.new_user(EMAIL).login(PASSWORD, false).await.status(), 200);
    let sql = if is_postgres() {
        "SELECT count(*) FROM information_schema.columns
         WHERE table_schema = current_schema() AND table_name = 'driver_uploads'
           AND column_name = 'key_id'"
    } else {
        "SELECT count(*) FROM pragma_table_info('driver_uploads') WHERE name = 'key_id'"
    };
    assert_eq!(server.query_i64(sql), 1);
}

#[tokio::test]
async fn a_truncated_ciphertext_is_an_internal_error_not_a_crash() {
    let server = TestServer::start().await;
    let user = register_zelda(&server).await;
    let id = server.blocking_conn(|conn| {
        conn.query_row("SELECT id FROM users", [] as [i64; 0], |r| r.get::<String>(0)).unwrap()
    });
    server.blocking_conn(|conn| {
        conn.execute("UPDATE users SET display_name = substr(display_name, 1, 20)", [] as [i64; 0])
            .unwrap()
    });
    server.state.accounts.forget_user(&id);
    let response = user.get("/api/v1/account").await;
    let body = problem(response, 500, "internal_error").await;
    assert!(!body.to_string().contains("truncated"), "no internal detail: {body}");
    // The server keeps serving.
    assert_eq!(server.get("/health").await.status(), 200);
}

#[tokio::test]
async fn a_damaged_outbox_row_fails_alone_and_the_queue_moves_on() {
    let server = TestServer::start().await;
    server.add_campus("North", &["north.edu"]);
    // A sealed text value's mark, then a ciphertext cut short.
    let damaged = format!("{TEXT_MARK}AQAAAAE");
    server.blocking_conn(|conn| {
        conn.execute(
            "INSERT INTO outbox (channel, recipient, subject, body_text, created_at, next_attempt_at)
             VALUES ('email', ?1, 'Damaged', ?1, 0, 0)",
            [&damaged],
        )
        .unwrap()
    });
    assert_eq!(server.register("ada@north.edu").await.status(), 202);
    server.mail_to("ada@north.edu", "Confirm your email").await;
    server.flush_outbox().await;
    let failed = server.query_i64(
        "SELECT count(*) FROM outbox WHERE subject = 'Damaged' AND failed_at IS NOT NULL
           AND last_error LIKE 'cannot open the sealed message%'",
    );
    assert_eq!(failed, 1);
}
