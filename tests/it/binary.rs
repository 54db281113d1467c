//! The real executable: start-up output, signals and exit codes, logs.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::harness::{raw_request, read_all_files};

pub const BIN: &str = env!("CARGO_BIN_EXE_gatehouse");

/// A `gatehouse serve` process on a random port with its own data directory.
pub struct Process {
    pub child: Child,
    pub addr: SocketAddr,
    pub stdout: Vec<String>,
}

pub fn start(data_dir: &Path, extra_env: &[(&str, &str)]) -> Process {
    let mut command = Command::new(BIN);
    command
        .arg("serve")
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("GATEHOUSE_STORAGE__DATA_DIR", data_dir)
        .env("GATEHOUSE_SERVER__LISTEN", "127.0.0.1:0")
        // These tests sign up through the API without solving a captcha (tests/it/captcha.rs
        // covers it).
        .env("GATEHOUSE_CAPTCHA__ENABLED", "false")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (key, value) in extra_env {
        command.env(key, value);
    }
    let mut child = command.spawn().expect("spawn gatehouse");
    let stdout = child.stdout.take().unwrap();
    let mut lines = Vec::new();
    let mut reader = BufReader::new(stdout);
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut addr = None;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 || Instant::now() > deadline {
            let _ = child.kill();
            panic!("gatehouse did not start: {lines:?}");
        }
        lines.push(line.clone());
        if let Some(rest) = line.trim().strip_prefix("Gatehouse ")
            && let Some(bound) = rest.split("is serving on ").nth(1)
        {
            addr = Some(bound.trim().parse().expect("address in banner"));
        }
        if line.trim_start().starts_with("Data:") {
            break;
        }
    }
    let addr = addr.expect("the banner names the address");
    // Keep draining stdout so the process never blocks on a full pipe.
    std::thread::spawn(move || for _ in reader.lines() {});
    Process { child, addr, stdout: lines }
}

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
    assert!(data.join("gatehouse.db").exists());
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
            .output()
            .unwrap()
    };
    let first = run();
    assert!(first.status.success(), "{}", String::from_utf8_lossy(&first.stderr));
    assert!(String::from_utf8_lossy(&first.stdout).contains("applied 0001_init.sql"));
    let second = run();
    assert!(String::from_utf8_lossy(&second.stdout).starts_with("0 migration(s) applied"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_account_flow_leaves_no_secret_or_personal_data_in_logs() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let campus = Command::new(BIN)
        .args(["campus", "add", "--name", "North", "--domain", "north.edu"])
        .env_clear()
        .env("GATEHOUSE_STORAGE__DATA_DIR", &data)
        .output()
        .unwrap();
    assert!(campus.status.success());
    let mut process = tokio::task::spawn_blocking({
        let data = data.clone();
        // The phone used is a US number.
        move || {
            start(
                &data,
                &[("GATEHOUSE_LOG__LEVEL", "debug"), ("GATEHOUSE_SMS__DEFAULT_REGION", "US")],
            )
        }
    })
    .await
    .unwrap();
    let base = format!("http://{}", process.addr);
    let jar = std::sync::Arc::new(reqwest::cookie::Jar::default());
    let client = crate::harness::client_with(jar.clone());
    let email = "grace.hopper@north.edu";
    let password = "Cobol-Compiler-1959";
    let register = serde_json::json!({"email": email, "password": password, "display_name": "Grace Hopper", "legal_name": "Grace Brewster Hopper", "phone": "+1 202 555 0143"});
    let response =
        client.post(format!("{base}/api/v1/auth/register")).json(&register).send().await.unwrap();
    assert_eq!(response.status(), 202);

    let mail_dir = data.join("mail/new");
    let mut token = String::new();
    for _ in 0..200 {
        if let Some(file) = std::fs::read_dir(&mail_dir).ok().and_then(|mut d| d.next()) {
            let mail = crate::harness::Mail::parse(&std::fs::read(file.unwrap().path()).unwrap());
            token = mail.link_token("/verify-email");
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert!(!token.is_empty(), "no verification mail");
    let verify = client
        .post(format!("{base}/api/v1/auth/verify-email"))
        .json(&serde_json::json!({"token": token}))
        .send()
        .await
        .unwrap();
    assert_eq!(verify.status(), 200);
    let login = serde_json::json!({"email": email, "password": password});
    let response =
        client.post(format!("{base}/api/v1/auth/login")).json(&login).send().await.unwrap();
    assert_eq!(response.status(), 200);
    let cookies =
        reqwest::cookie::CookieStore::cookies(jar.as_ref(), &base.parse().unwrap()).unwrap();
    let cookies = cookies.to_str().unwrap().to_string();
    let session =
        cookies.split("; ").find_map(|c| c.strip_prefix("gatehouse_session=")).unwrap().to_string();
    let csrf =
        cookies.split("; ").find_map(|c| c.strip_prefix("gatehouse_csrf=")).unwrap().to_string();
    let wrong = serde_json::json!({"email": email, "password": "Not-The-Password-1"});
    client.post(format!("{base}/api/v1/auth/login")).json(&wrong).send().await.unwrap();
    assert_eq!(
        client.get(format!("{base}/api/v1/auth/session")).send().await.unwrap().status(),
        200
    );
    // Phone codes: link the phone (signed in), then sign in with a second code.
    let phone = serde_json::json!({"phone": "+1 202 555 0143"});
    let sms_file = data.join("sms.jsonl");
    let mut codes = Vec::new();
    for round in 0..2 {
        let url = format!("{base}/api/v1/auth/otp/request");
        let response = client.post(&url).json(&phone).send().await.unwrap();
        assert_eq!(response.status(), 202, "{}", response.text().await.unwrap());
        let code = crate::otp::wait_for_code(&sms_file, "+12025550143", round + 1).await;
        let body = serde_json::json!({"phone": "+1 202 555 0143", "code": code});
        let response = client
            .post(format!("{base}/api/v1/auth/otp/verify"))
            .header("origin", &base)
            .header("x-csrf-token", &csrf)
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "{}", response.text().await.unwrap());
        codes.push(code);
        if round == 0 {
            // The cooldown is a minute on the real clock: the second code is for a fresh
            // client, after the first code's row is moved back in time by the test.
            let db = rusqlite::Connection::open(data.join("gatehouse.db")).unwrap();
            db.execute("UPDATE phone_codes SET created_at = created_at - 120", []).unwrap();
        }
    }

    sigterm(&process.child);
    let status =
        tokio::task::spawn_blocking(move || wait_exit(&mut process.child, Duration::from_secs(15)))
            .await
            .unwrap();
    assert!(status.success());
    let logs = read_all_files(&data.join("logs"));
    let session_line = logs
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .find(|v| v["target"] == "access" && v["route"] == "/api/v1/auth/session")
        .expect("an access line for the session check");
    assert!(session_line["user_id"].as_str().is_some_and(|id| id.len() == 36), "{session_line}");
    for secret in [
        password,
        "Not-The-Password-1",
        token.as_str(),
        session.as_str(),
        csrf.as_str(),
        email,
        "Grace",
        "Hopper",
        "202 555",
        "grace.hopper",
        "2025550143",
        codes[0].as_str(),
        codes[1].as_str(),
    ] {
        assert!(!logs.contains(secret), "{secret:?} appears in the logs");
    }
}
