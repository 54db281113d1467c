//! Personal data at rest: sealed in the database file and its WAL, plain rows from before
//! encryption sealed at start-up, wrong or missing key files refused before anything changes,
//! damaged ciphertext answered cleanly.

use serde_json::json;

use crate::harness::{PASSWORD, TestServer, problem};

const EMAIL: &str = "zelda.quartermain@north.edu";
const PHONE_DIGITS: &str = "9812345678";

async fn register_zelda(server: &TestServer) -> crate::harness::User {
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

    let bytes = database_bytes(&server);
    assert!(bytes.len() > 4096, "read the database");
    assert!(
        std::fs::metadata(server.data_dir().join("gatehouse.db-wal")).is_ok_and(|m| m.len() > 0),
        "the WAL is checked too"
    );
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
    {
        // As a database migrated from before 0010 holds them.
        let conn = rusqlite::Connection::open(dir.path().join("data/gatehouse.db")).unwrap();
        conn.execute(
            "UPDATE users SET email = ?1, display_name = 'Zelda Quartermain', legal_name = NULL",
            [EMAIL],
        )
        .unwrap();
    }
    let server = TestServer::start_in(dir, |_| {}).await;
    assert_eq!(server.query_i64("SELECT count(*) FROM users WHERE substr(email, 1, 1) = char(1) AND substr(display_name, 1, 1) = char(1)"), 1);
    let user = server.new_user(EMAIL);
    assert_eq!(user.login(PASSWORD, false).await.status(), 200);
    let account: serde_json::Value = user.get("/api/v1/account").await.json().await.unwrap();
    assert_eq!(account["display_name"], "Zelda Quartermain");
}

fn open_app(data_dir: &std::path::Path) -> anyhow::Result<gatehouse::App> {
    let mut config = gatehouse::config::Config::default();
    config.storage.data_dir = data_dir.to_path_buf();
    config.server.public_url = "http://127.0.0.1:9".into();
    gatehouse::App::open(config.finish().unwrap())
}

#[tokio::test]
async fn a_wrong_or_missing_pii_key_stops_start_up_before_anything_changes() {
    let server = TestServer::start().await;
    register_zelda(&server).await;
    let dir = server.stop_keep_dir().await;
    let data = dir.path().join("data");
    let key_path = data.join("keys/pii.key");
    let right_key = std::fs::read(&key_path).unwrap();
    let db_before = std::fs::read(data.join("gatehouse.db")).unwrap();

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

    std::fs::remove_file(&key_path).unwrap();
    let err = tokio::task::spawn_blocking({
        let data = data.clone();
        move || open_app(&data).err().expect("a missing key is refused")
    })
    .await
    .unwrap();
    assert!(format!("{err:#}").contains("key file is missing"), "{err:#}");
    assert!(!key_path.exists(), "no new key was made in place of the lost one");
    assert_eq!(std::fs::read(data.join("gatehouse.db")).unwrap(), db_before, "nothing changed");

    std::fs::write(&key_path, right_key).unwrap();
    let server = TestServer::start_in(dir, |_| {}).await;
    assert_eq!(server.new_user(EMAIL).login(PASSWORD, false).await.status(), 200);
}

#[tokio::test]
async fn a_truncated_ciphertext_is_an_internal_error_not_a_crash() {
    let server = TestServer::start().await;
    let user = register_zelda(&server).await;
    let id = server
        .state
        .db
        .get()
        .unwrap()
        .query_row("SELECT id FROM users", [], |r| r.get::<_, String>(0))
        .unwrap();
    server
        .state
        .db
        .get()
        .unwrap()
        .execute("UPDATE users SET display_name = substr(display_name, 1, 20)", [])
        .unwrap();
    server.state.accounts.forget_user(&id).await;
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
    server
        .state
        .db
        .get()
        .unwrap()
        .execute(
            "INSERT INTO outbox (channel, recipient, subject, body_text, created_at, next_attempt_at)
             VALUES ('email', char(1) || 'AQAAAAE', 'Damaged', char(1) || 'AQAAAAE', 0, 0)",
            [],
        )
        .unwrap();
    assert_eq!(server.register("ada@north.edu").await.status(), 202);
    server.mail_to("ada@north.edu", "Confirm your email").await;
    server.flush_outbox().await;
    let failed = server.query_i64(
        "SELECT count(*) FROM outbox WHERE subject = 'Damaged' AND failed_at IS NOT NULL
           AND last_error LIKE 'cannot open the sealed message%'",
    );
    assert_eq!(failed, 1);
}
