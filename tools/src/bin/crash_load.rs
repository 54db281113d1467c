//! Crash durability: runs sign-ups (with email verification), sign-ins, refresh-token
//! rotations and phone-code sign-ins against the real binary, kills it with SIGKILL at a random
//! moment, restarts it, and checks that everything the server answered 2xx is still in effect:
//!
//! - every account whose registration was accepted exists (signing in does not answer
//!   `invalid_credentials`), and every verified one signs in;
//! - every session cookie handed out still authenticates;
//! - every refresh token spent by a 2xx refresh stays spent;
//! - every phone code used by a 2xx verification stays used;
//! - `PRAGMA integrity_check` answers `ok` (checked while the server is down).
//!
//! At the end the server is stopped cleanly once every queued message has been delivered, and
//! each outbox row is matched with what reached the maildir and the SMS file by its id
//! (`outbox-<id>`): every message must have arrived at least once; repeats are counted.
//!
//!     cargo build --release --workspace --bins
//!     target/release/crash_load target/release/gatehouse [ROUNDS]
//!
//! scripts/bench/crash.sh runs it with 20 rounds. It exits non-zero on any lost write.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

const PASSWORD: &str = "Crash-Test-Pass-7";
const DOMAIN: &str = "crash.edu";

/// What the server confirmed with a 2xx answer, to be checked after the next restart.
#[derive(Default)]
struct Ledger {
    registered: Vec<String>,
    verified: Vec<String>,
    cookies: Vec<String>,
    /// Per chain: the tokens spent by a 2xx refresh, oldest first.
    spent: Vec<Vec<String>>,
    used_codes: Vec<(String, String)>,
}

struct Server {
    child: Child,
    url: String,
}

fn gatehouse(binary: &Path, data: &Path) -> Command {
    let mut command = Command::new(binary);
    command
        .env("GATEHOUSE_STORAGE__DATA_DIR", data)
        .env("GATEHOUSE_SERVER__LISTEN", "127.0.0.1:0")
        .env("GATEHOUSE_RATE_LIMIT__ENABLED", "false")
        .env("GATEHOUSE_CAPTCHA__ENABLED", "false")
        .env("GATEHOUSE_AUTH__PHONE_SIGNUP", "true")
        .env("GATEHOUSE_MAIL__TRANSPORT", "maildir")
        .env("GATEHOUSE_SMS__PROVIDER", "file")
        .env("GATEHOUSE_SERVER__TRUSTED_PROXIES", r#"["127.0.0.1/32"]"#)
        .env("GATEHOUSE_LOG__LEVEL", "warn");
    command
}

async fn start(binary: &Path, data: &Path) -> Server {
    let mut child = gatehouse(binary, data)
        .arg("serve")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("spawn gatehouse");
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let deadline = Instant::now() + Duration::from_secs(30);
    let url = loop {
        let line = tokio::time::timeout_at(deadline.into(), lines.next_line())
            .await
            .expect("gatehouse started in 30 s")
            .expect("read stdout")
            .expect("gatehouse exited while starting");
        if let Some(addr) = line.split(" is serving on ").nth(1) {
            break format!("http://{}", addr.trim());
        }
    };
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    Server { child, url }
}

/// A JSON POST from a random client address: the per-address limits of phone codes are
/// always on, and the load is many clients, not one.
fn post(http: &reqwest::Client, url: &str, path: &str, body: Value) -> reqwest::RequestBuilder {
    let ip =
        format!("10.{}.{}.{}", rand::random::<u8>(), rand::random::<u8>(), rand::random::<u8>());
    http.post(format!("{url}{path}")).header("x-forwarded-for", ip).json(&body)
}

fn session_cookie(response: &reqwest::Response) -> Option<String> {
    response
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|v| v.strip_prefix("gatehouse_session="))
        .map(|v| v.split(';').next().unwrap_or_default().to_string())
        .filter(|v| !v.is_empty())
}

/// The verification token mailed to `to`, once the outbox has delivered it.
fn verification_token(data: &Path, to: &str) -> Option<String> {
    for entry in std::fs::read_dir(data.join("mail/new")).ok()?.flatten() {
        let bytes = std::fs::read(entry.path()).ok()?;
        let Some(message) = mail_parser::MessageParser::default().parse(&bytes[..]) else {
            continue;
        };
        let addressed = message.to().and_then(|a| a.first()).and_then(|a| a.address());
        if addressed != Some(to) {
            continue;
        }
        let text = message.body_text(0).unwrap_or_default().to_string();
        if let Some(rest) = text.split("verify-email?token=").nth(1) {
            let token: String = rest
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || "-_".contains(*c))
                .collect();
            return Some(token);
        }
    }
    None
}

/// The newest code texted to `phone`.
fn texted_code(data: &Path, phone: &str) -> Option<String> {
    let text = std::fs::read_to_string(data.join("sms.jsonl")).ok()?;
    text.lines().rev().filter_map(|l| serde_json::from_str::<Value>(l).ok()).find_map(|m| {
        (m["to"] == phone).then(|| {
            let body = m["body"].as_str().unwrap_or_default();
            let digits: Vec<&str> =
                body.split(|c: char| !c.is_ascii_digit()).filter(|run| run.len() == 6).collect();
            digits.first().map(|d| d.to_string())
        })?
    })
}

async fn wait_for<T>(mut probe: impl FnMut() -> Option<T>, alive: &AtomicBool) -> Option<T> {
    for _ in 0..100 {
        if let Some(found) = probe() {
            return Some(found);
        }
        if !alive.load(Ordering::Relaxed) {
            return None;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    None
}

/// Sign up, verify the email, sign in, check the session: until a request goes unanswered.
async fn signup_worker(
    http: reqwest::Client,
    url: String,
    data: PathBuf,
    ledger: Arc<Mutex<Ledger>>,
    serial: Arc<AtomicU64>,
    alive: Arc<AtomicBool>,
) {
    loop {
        let n = serial.fetch_add(1, Ordering::Relaxed);
        let email = format!("student{n}@{DOMAIN}");
        let body = json!({"email": email, "password": PASSWORD, "display_name": "Crash Test"});
        let Ok(r) = post(&http, &url, "/api/v1/auth/register", body).send().await else { return };
        assert_eq!(r.status(), 202, "register {email}");
        ledger.lock().unwrap().registered.push(email.clone());
        let Some(token) = wait_for(|| verification_token(&data, &email), &alive).await else {
            continue;
        };
        let verify = post(&http, &url, "/api/v1/auth/verify-email", json!({"token": token}));
        let Ok(r) = verify.send().await else { return };
        assert_eq!(r.status(), 200, "verify {email}");
        ledger.lock().unwrap().verified.push(email.clone());
        let login = json!({"email": email, "password": PASSWORD, "remember_me": true});
        let Ok(r) = post(&http, &url, "/api/v1/auth/login", login).send().await else { return };
        assert_eq!(r.status(), 200, "login {email}");
        let cookie = session_cookie(&r).expect("a session cookie");
        ledger.lock().unwrap().cookies.push(cookie);
    }
}

/// Chains refreshes for one account: every 2xx answer spends the token it was given.
async fn refresh_worker(
    http: reqwest::Client,
    url: String,
    email: String,
    chain: usize,
    ledger: Arc<Mutex<Ledger>>,
) {
    let body = json!({"email": email, "password": PASSWORD});
    let Ok(r) = post(&http, &url, "/api/v1/auth/token", body).send().await else { return };
    assert_eq!(r.status(), 200, "token for {email}");
    let mut token = r.json::<Value>().await.unwrap()["refresh_token"].as_str().unwrap().to_string();
    loop {
        let request =
            post(&http, &url, "/api/v1/auth/token/refresh", json!({"refresh_token": token}));
        // Unanswered, the token's fate is unknown (the kill may fall before or after the
        // commit), so it is not checked.
        let Ok(r) = request.send().await else { return };
        assert_eq!(r.status(), 200, "refresh in chain {chain}");
        let Ok(answer) = r.json::<Value>().await else { return };
        let next = answer["refresh_token"].as_str().unwrap().to_string();
        ledger.lock().unwrap().spent[chain].push(std::mem::replace(&mut token, next));
    }
}

/// Phone-code sign-ins, each with a new number (phone sign-up is on).
async fn otp_worker(
    http: reqwest::Client,
    url: String,
    data: PathBuf,
    ledger: Arc<Mutex<Ledger>>,
    serial: Arc<AtomicU64>,
    alive: Arc<AtomicBool>,
) {
    loop {
        let n = serial.fetch_add(1, Ordering::Relaxed);
        let phone = format!("+9198{:08}", n % 100_000_000);
        let request = post(&http, &url, "/api/v1/auth/otp/request", json!({"phone": phone}));
        let Ok(r) = request.send().await else { return };
        assert_eq!(r.status(), 202, "code for {phone}");
        let Some(code) = wait_for(|| texted_code(&data, &phone), &alive).await else { continue };
        let verify =
            post(&http, &url, "/api/v1/auth/otp/verify", json!({"phone": phone, "code": code}));
        let Ok(r) = verify.send().await else { return };
        assert_eq!(r.status(), 200, "verify code for {phone}");
        let cookie = session_cookie(&r).expect("a session cookie");
        let mut ledger = ledger.lock().unwrap();
        ledger.used_codes.push((phone, code));
        ledger.cookies.push(cookie);
    }
}

fn integrity(data: &Path) -> String {
    let conn = rusqlite::Connection::open(data.join("gatehouse.db")).expect("open the database");
    conn.query_row("PRAGMA integrity_check", [], |r| r.get::<_, String>(0))
        .expect("integrity_check")
}

async fn problem_code(r: reqwest::Response) -> String {
    let body: Value = r.json().await.unwrap_or_default();
    body["code"].as_str().unwrap_or_default().to_string()
}

/// Checks every confirmed write of the last round against the restarted server; returns the
/// violations found.
async fn check(http: &reqwest::Client, url: &str, ledger: &Ledger) -> Vec<String> {
    let mut lost = Vec::new();
    for email in &ledger.registered {
        let verified = ledger.verified.contains(email);
        let body = json!({"email": email, "password": PASSWORD});
        let r = post(http, url, "/api/v1/auth/login", body).send().await.unwrap();
        let status = r.status();
        let code = if status == 200 { String::new() } else { problem_code(r).await };
        if code == "invalid_credentials" {
            lost.push(format!("account {email} (registration answered 202) is gone"));
        } else if verified && status != 200 {
            lost.push(format!("verified account {email} does not sign in: {status} {code}"));
        }
    }
    for cookie in &ledger.cookies {
        let r = http
            .get(format!("{url}/api/v1/auth/session"))
            .header("cookie", format!("gatehouse_session={cookie}"))
            .send()
            .await
            .unwrap();
        if r.status() != 200 {
            lost.push(format!("a session handed out with a 200 answers {}", r.status()));
        }
    }
    for (chain, spent) in ledger.spent.iter().enumerate() {
        // Newest first: presenting a spent token revokes the family, which would hide later
        // losses behind the revocation.
        for token in spent.iter().rev() {
            let body = json!({"refresh_token": token});
            let r = post(http, url, "/api/v1/auth/token/refresh", body).send().await.unwrap();
            if r.status().is_success() {
                lost.push(format!("chain {chain}: a spent refresh token worked again"));
            }
        }
    }
    for (phone, code) in &ledger.used_codes {
        let body = json!({"phone": phone, "code": code});
        let r = post(http, url, "/api/v1/auth/otp/verify", body).send().await.unwrap();
        if r.status().is_success() {
            lost.push(format!("a used code for {phone} worked again"));
        }
    }
    lost
}

/// Waits until the outbox has nothing left to send.
async fn drain_outbox(data: &Path) {
    for _ in 0..300 {
        let conn = rusqlite::Connection::open(data.join("gatehouse.db")).unwrap();
        let pending: i64 = conn
            .query_row(
                "SELECT count(*) FROM outbox WHERE sent_at IS NULL AND failed_at IS NULL",
                [],
                |r| r.get(0),
            )
            .unwrap();
        if pending == 0 {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the outbox did not drain in 30 s");
}

/// (messages, delivered at least once, delivered more than once, missing ids).
fn outbox_deliveries(data: &Path) -> (usize, usize, usize, Vec<i64>) {
    let conn = rusqlite::Connection::open(data.join("gatehouse.db")).unwrap();
    let mut stmt = conn.prepare("SELECT id, channel FROM outbox").unwrap();
    let rows: Vec<(i64, String)> =
        stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?))).unwrap().map(Result::unwrap).collect();
    let mut seen: HashMap<String, usize> = HashMap::new();
    for entry in std::fs::read_dir(data.join("mail/new")).unwrap().flatten() {
        let name = entry.file_name().to_string_lossy().to_string();
        if let Some(id) = name.split('.').find(|part| part.starts_with("outbox-")) {
            *seen.entry(format!("email:{id}")).or_default() += 1;
        }
    }
    let sms = std::fs::read_to_string(data.join("sms.jsonl")).unwrap_or_default();
    for line in sms.lines() {
        let message: Value = serde_json::from_str(line).expect("one JSON object per line");
        *seen.entry(format!("sms:{}", message["id"].as_str().unwrap_or("?"))).or_default() += 1;
    }
    let (mut once, mut repeated, mut missing) = (0, 0, Vec::new());
    for (id, channel) in &rows {
        match seen.get(&format!("{channel}:outbox-{id}")).copied().unwrap_or(0) {
            0 => missing.push(*id),
            1 => once += 1,
            _ => repeated += 1,
        }
    }
    (rows.len(), once, repeated, missing)
}

#[tokio::main]
async fn main() {
    let mut args = std::env::args().skip(1);
    let binary = PathBuf::from(args.next().expect("usage: crash_load BINARY [ROUNDS]"));
    let rounds: usize = args.next().and_then(|s| s.parse().ok()).unwrap_or(20);
    let work = tempfile::tempdir().unwrap();
    let data = work.path().join("data");
    let status = std::process::Command::new(&binary)
        .args(["campus", "add", "--name", "Crash", "--domain", DOMAIN])
        .env("GATEHOUSE_STORAGE__DATA_DIR", &data)
        .stdout(Stdio::null())
        .status()
        .unwrap();
    assert!(status.success(), "campus add");
    // reqwest is built without a bundled TLS provider (plain HTTP here, but it wants one).
    let _ = rustls::crypto::ring::default_provider().install_default();
    let http = reqwest::Client::builder().timeout(Duration::from_secs(20)).build().unwrap();
    let serial = Arc::new(AtomicU64::new(0));
    let phones = Arc::new(AtomicU64::new(rand::random::<u32>() as u64));

    // Accounts for the refresh chains, verified before the first crash.
    let mut server = start(&binary, &data).await;
    let chains = 2;
    let mut chain_accounts = Vec::new();
    for chain in 0..chains {
        let email = format!("chain{chain}@{DOMAIN}");
        let body = json!({"email": email, "password": PASSWORD, "display_name": "Chain"});
        assert_eq!(
            post(&http, &server.url, "/api/v1/auth/register", body).send().await.unwrap().status(),
            202
        );
        let never = AtomicBool::new(true);
        let token = wait_for(|| verification_token(&data, &email), &never).await.expect("mail");
        let r = post(&http, &server.url, "/api/v1/auth/verify-email", json!({"token": token}));
        assert_eq!(r.send().await.unwrap().status(), 200);
        chain_accounts.push(email);
    }

    let mut all_lost = Vec::new();
    let mut totals = Ledger::default();
    println!(
        "{:>5} {:>8} {:>9} {:>9} {:>9} {:>9} {:>10} {:>6}",
        "round", "kill_ms", "accounts", "verified", "sessions", "refreshes", "codes_used", "lost"
    );
    for round in 1..=rounds {
        let ledger =
            Arc::new(Mutex::new(Ledger { spent: vec![Vec::new(); chains], ..Ledger::default() }));
        let alive = Arc::new(AtomicBool::new(true));
        let mut tasks = Vec::new();
        for _ in 0..3 {
            let (http, url, data) = (http.clone(), server.url.clone(), data.clone());
            let (ledger, serial, alive) = (ledger.clone(), serial.clone(), alive.clone());
            tasks.push(tokio::spawn(signup_worker(http, url, data, ledger, serial, alive)));
        }
        for _ in 0..2 {
            let (http, url, data) = (http.clone(), server.url.clone(), data.clone());
            let (ledger, phones, alive) = (ledger.clone(), phones.clone(), alive.clone());
            tasks.push(tokio::spawn(otp_worker(http, url, data, ledger, phones, alive)));
        }
        for (chain, email) in chain_accounts.iter().enumerate() {
            let (http, url, ledger) = (http.clone(), server.url.clone(), ledger.clone());
            tasks.push(tokio::spawn(refresh_worker(http, url, email.clone(), chain, ledger)));
        }
        let kill_ms = 500 + rand::random::<u64>() % 2500;
        tokio::time::sleep(Duration::from_millis(kill_ms)).await;
        server.child.start_kill().unwrap();
        server.child.wait().await.unwrap();
        alive.store(false, Ordering::Relaxed);
        for task in tasks {
            if let Err(e) = task.await {
                panic!("a load worker failed (an unexpected answer): {e}");
            }
        }
        let integrity = integrity(&data);
        server = start(&binary, &data).await;
        let ledger = Arc::try_unwrap(ledger).ok().unwrap().into_inner().unwrap();
        let mut lost = check(&http, &server.url, &ledger).await;
        if integrity != "ok" {
            lost.push(format!("integrity_check: {integrity}"));
        }
        println!(
            "{round:>5} {kill_ms:>8} {:>9} {:>9} {:>9} {:>9} {:>10} {:>6}",
            ledger.registered.len(),
            ledger.verified.len(),
            ledger.cookies.len(),
            ledger.spent.iter().map(Vec::len).sum::<usize>(),
            ledger.used_codes.len(),
            lost.len()
        );
        totals.registered.extend(ledger.registered);
        totals.verified.extend(ledger.verified);
        totals.cookies.extend(ledger.cookies);
        totals.used_codes.extend(ledger.used_codes);
        all_lost.extend(lost);
    }

    // Every account of every round, once more, after all the crashes.
    totals.spent = vec![Vec::new(); chains];
    all_lost.extend(check(&http, &server.url, &totals).await);

    drain_outbox(&data).await;
    let pid = server.child.id().unwrap().to_string();
    std::process::Command::new("kill").args(["-TERM", &pid]).status().unwrap();
    let exit = server.child.wait().await.unwrap();
    let (messages, once, repeated, missing) = outbox_deliveries(&data);
    println!();
    println!("accounts registered (202)      {}", totals.registered.len());
    println!("accounts verified (200)        {}", totals.verified.len());
    println!("sessions handed out (200)      {}", totals.cookies.len());
    println!("phone codes used (200)         {}", totals.used_codes.len());
    println!("outbox messages                {messages}");
    println!("  delivered exactly once       {once}");
    println!("  delivered more than once     {repeated} (same outbox id: receivers drop repeats)");
    println!("  never delivered              {}", missing.len());
    println!("integrity_check after the last crash: {}", integrity(&data));
    println!("clean stop after the last round: {exit}");
    if !missing.is_empty() {
        all_lost.push(format!("outbox rows never delivered: {missing:?}"));
    }
    if !exit.success() {
        all_lost.push(format!("the final clean stop exited with {exit}"));
    }
    if all_lost.is_empty() {
        println!("RESULT: nothing answered 2xx was lost in {rounds} SIGKILLs");
    } else {
        println!("RESULT: {} violation(s):", all_lost.len());
        for line in &all_lost {
            println!("  {line}");
        }
        std::process::exit(1);
    }
}
