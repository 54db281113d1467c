//! The real executable: start-up output, signals and exit codes, logs. The sweep of its output
//! for secrets and personal values through every account flow is in `secrecy.rs`.

use std::path::Path;
use std::process::{Child, Command};
use std::time::{Duration, Instant};

use crate::support::engine::{is_postgres, process_env};
use crate::support::harness::{raw_request, read_all_files};
use crate::support::process::{BIN, start};

fn sigterm(child: &Child) {
    let status = Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap();
    assert!(status.success());
}

fn wait_exit(child: &mut Child, within: Duration) -> std::process::ExitStatus {
    let deadline = Instant::now() + within;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("gatehouse did not exit within {within:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn development_start_prints_the_urls_and_creates_the_data_dir() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let mut process = start(&data, &[]);
    let banner = process.stdout.join("");
    assert!(banner.contains("DEVELOPMENT MODE"), "{banner}");
    assert!(banner.contains("/docs") && banner.contains("/openapi.json"), "{banner}");
    // (On PostgreSQL the database is the server's, not a file here.)
    assert!(is_postgres() || data.join("gatehouse.db").exists());
    assert!(data.join("logs").is_dir());
    for key in ["session_secret.key", "jwt_signing.key", "pii.key", "pepper.key"] {
        assert!(data.join("keys").join(key).exists(), "{key} not generated");
    }
    sigterm(&process.child);
    assert!(wait_exit(&mut process.child, Duration::from_secs(15)).success());
}

#[test]
fn sigterm_lets_an_in_flight_request_finish_then_exits_zero() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let mut process = start(&data, &[]);
    let addr = process.addr;
    // A request whose body is still arriving when the signal comes.
    let head = format!(
        "POST /api/v1/slow HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\n\
         Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n5\r\nhello\r\n"
    );
    let client = std::thread::spawn(move || {
        let parts = [head.into_bytes(), b"5\r\nworld\r\n0\r\n\r\n".to_vec()];
        raw_request(addr, &parts, Duration::from_millis(700))
    });
    std::thread::sleep(Duration::from_millis(300));
    sigterm(&process.child);
    let response = client.join().unwrap();
    assert_eq!(response.status, 404, "the in-flight request was cut off: {}", response.text);
    let status = wait_exit(&mut process.child, Duration::from_secs(15));
    assert_eq!(status.code(), Some(0));
    if is_postgres() {
        eprintln!("PostgreSQL: no SQLite WAL to check; the clean exit is checked above");
        return;
    }
    let wal = std::fs::metadata(data.join("gatehouse.db-wal")).map(|m| m.len()).unwrap_or(0);
    assert_eq!(wal, 0, "WAL not checkpointed at shutdown");
}

#[test]
fn logs_are_json_with_one_access_line_per_request_and_no_query_or_body() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let mut process = start(&data, &[]);
    let addr = process.addr;
    // A real operation that parses the body (and refuses it: no campus exists).
    let body = r#"{"email":"a@b.edu","password":"Body-Secret-4711","display_name":"x"}"#;
    let request = format!(
        "POST /api/v1/auth/register?token=Query-Secret-0815 HTTP/1.1\r\nHost: {addr}\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let response = raw_request(addr, &[request.into_bytes()], Duration::ZERO);
    assert_eq!(response.status, 422, "{}", response.text);
    let health = raw_request(
        addr,
        &[format!(
            "GET /health?x=Query-Secret-0815 HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
        )
        .into_bytes()],
        Duration::ZERO,
    );
    assert_eq!(health.status, 200);
    sigterm(&process.child);
    assert!(wait_exit(&mut process.child, Duration::from_secs(15)).success());

    let logs = read_all_files(&data.join("logs"));
    assert!(!logs.is_empty(), "no log file written");
    for line in logs.lines() {
        serde_json::from_str::<serde_json::Value>(line)
            .unwrap_or_else(|_| panic!("not JSON: {line}"));
    }
    let access: Vec<serde_json::Value> = logs
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .filter(|v| v["target"] == "access")
        .collect();
    assert_eq!(access.len(), 2, "{access:?}");
    let health_line = access.iter().find(|v| v["route"] == "/health").expect("health logged");
    for field in ["request_id", "method", "status", "duration_ms", "client_ip"] {
        assert!(!health_line[field].is_null(), "{field} missing: {health_line}");
    }
    assert_eq!(health_line["client_ip"], "127.0.0.1");
    assert!(!logs.contains("Query-Secret-0815"), "query string logged");
    assert!(!logs.contains("Body-Secret-4711"), "body logged");
}

#[test]
fn a_listen_address_in_use_is_a_clear_error() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let dir = tempfile::tempdir().unwrap();
    let output = Command::new(BIN)
        .env_clear()
        .env("GATEHOUSE_STORAGE__DATA_DIR", dir.path())
        .envs(process_env(dir.path()))
        .env("GATEHOUSE_SERVER__LISTEN", &addr)
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains(&format!("cannot listen on {addr}")), "{stderr}");
}

#[test]
fn an_unusable_data_dir_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("a-file");
    std::fs::write(&file, "x").unwrap();
    let output = Command::new(BIN)
        .env_clear()
        .env("GATEHOUSE_STORAGE__DATA_DIR", file.join("data"))
        .env("GATEHOUSE_SERVER__LISTEN", "127.0.0.1:0")
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("cannot create the data directory"), "{stderr}");
}

#[test]
fn a_corrupt_database_is_refused_and_left_untouched() {
    if is_postgres() {
        eprintln!("PostgreSQL: this is about a corrupt SQLite file; skipped");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("gatehouse.db");
    let garbage: Vec<u8> = (0..8192u32).map(|i| (i * 7 % 251) as u8).collect();
    std::fs::write(&db, &garbage).unwrap();
    let output = Command::new(BIN)
        .arg("serve")
        .env_clear()
        .env("GATEHOUSE_STORAGE__DATA_DIR", dir.path())
        .env("GATEHOUSE_SERVER__LISTEN", "127.0.0.1:0")
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("cannot open the database"), "{stderr}");
    assert!(stderr.contains("nothing was changed"), "{stderr}");
    assert_eq!(std::fs::read(&db).unwrap(), garbage, "the corrupt file was modified");
    assert!(!dir.path().join("gatehouse.db-wal").exists());
}

#[test]
fn version_and_openapi_subcommands() {
    let version = Command::new(BIN).arg("version").output().unwrap();
    assert!(version.status.success());
    assert_eq!(
        String::from_utf8_lossy(&version.stdout).trim(),
        format!("gatehouse {}", env!("CARGO_PKG_VERSION"))
    );
    let spec = Command::new(BIN).arg("openapi").output().unwrap();
    assert!(spec.status.success());
    let committed =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("openapi/openapi.yaml"))
            .unwrap();
    assert_eq!(String::from_utf8_lossy(&spec.stdout), committed);
}

#[test]
fn migrate_applies_once() {
    let dir = tempfile::tempdir().unwrap();
    let run = || {
        Command::new(BIN)
            .arg("migrate")
            .env_clear()
            .env("GATEHOUSE_STORAGE__DATA_DIR", dir.path())
            .envs(process_env(dir.path()))
            .output()
            .unwrap()
    };
    let first = run();
    assert!(first.status.success(), "{}", String::from_utf8_lossy(&first.stderr));
    assert!(String::from_utf8_lossy(&first.stdout).contains("applied 0001_init.sql"));
    let second = run();
    assert!(String::from_utf8_lossy(&second.stdout).starts_with("0 migration(s) applied"));
}
