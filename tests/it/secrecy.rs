//! The secrecy sweep: the real binary, at `log.level = "debug"`, taken over real HTTP through
//! every flow that handles a secret or a personal value (sign-up and email verification,
//! password, phone-code, TOTP and recovery-code sign-ins, TOTP enrolment, sign-out, reset, API
//! tokens and their refresh, a licence upload, an export). Then everything the process wrote,
//! stdout, stderr and every file under the log directory, is searched for each of those values.
//!
//! Only the binary installs the logger (`logging::init`), so only a process can show what
//! reaches the logs; an in-process server writes none.

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use reqwest::cookie::Jar;
use serde_json::{Value, json};

use crate::support::drivers::{part, upload_parts};
use crate::support::harness::{Mail, User, client_with, read_all_files};
use crate::support::licence_images::{self as images, Distortion, Person};
use crate::support::process::BIN;

const EMAIL: &str = "mirabel.quenby@north.edu";
const DISPLAY_NAME: &str = "Mira Q";
const LEGAL_NAME: &str = "Mirabel Ottoline Quenby";
const PHONE: &str = "+1 202 555 0143";
const E164: &str = "+12025550143";
const LICENCE_NUMBER: &str = "Q7730519K";
const PASSWORD: &str = "Velvet-Orbit-8812";
const WRONG_PASSWORD: &str = "Not-The-Password-1";
const NEW_PASSWORD: &str = "Granite-Lantern-5540";
/// Sent where a boolean belongs: the parser's error must not carry it into a log.
const MISTYPED_SECRET: &str = "Mistyped-Field-3377";

/// A `gatehouse serve` process, every byte of its stdout and stderr kept. Killed if the test
/// ends before it is stopped.
struct Process {
    child: Child,
    base: String,
    data: PathBuf,
    stdout: Arc<Mutex<String>>,
    stderr: Arc<Mutex<String>>,
    readers: Vec<JoinHandle<()>>,
    /// An OpenID Connect client's secret, printed by `gatehouse client add` (by design) and
    /// nowhere else.
    client_secret: String,
}

/// Appends every line from `pipe` to `into` until the pipe closes (the process exited).
fn keep(pipe: impl Read + Send + 'static, into: Arc<Mutex<String>>) -> JoinHandle<()> {
    std::thread::spawn(move || {
        let mut reader = BufReader::new(pipe);
        let mut line = Vec::new();
        while reader.read_until(b'\n', &mut line).unwrap_or(0) > 0 {
            into.lock().unwrap().push_str(&String::from_utf8_lossy(&line));
            line.clear();
        }
    })
}

impl Process {
    /// Adds the campus with the CLI, then starts serving with a config file at debug level.
    fn start(dir: &Path) -> Self {
        let data = dir.join("data");
        let config = dir.join("gatehouse.toml");
        std::fs::write(
            &config,
            format!(
                r#"
[server]
mode = "development"
listen = "127.0.0.1:0"

[storage]
data_dir = "{data}"

[log]
level = "debug"

[mail]
transport = "maildir"

[sms]
provider = "file"
default_region = "US"

# The flow signs in more often than a person would, and solves no captcha.
[rate_limit]
enabled = false

[captcha]
enabled = false

# No scheduled backup; OCR off, so the outcome does not depend on the machine.
[backup]
schedule = ""

[driver]
tesseract = ""
"#,
                data = data.display()
            ),
        )
        .unwrap();
        let cli = |args: &[&str]| {
            let mut command = Command::new(BIN);
            command.args(args).arg("--config").arg(&config).env_clear();
            command.env("PATH", std::env::var("PATH").unwrap_or_default());
            command.envs(crate::support::engine::process_env(&data));
            command
        };
        let campus =
            cli(&["campus", "add", "--name", "North", "--domain", "north.edu"]).output().unwrap();
        assert!(campus.status.success(), "{}", String::from_utf8_lossy(&campus.stderr));
        let client = cli(&[
            "client",
            "add",
            "--name",
            "Rides",
            "--redirect-uri",
            "https://rides.north.edu/cb",
            "--json",
        ])
        .output()
        .unwrap();
        assert!(client.status.success(), "{}", String::from_utf8_lossy(&client.stderr));
        let client: serde_json::Value = serde_json::from_slice(&client.stdout).unwrap();
        let client_secret = client["client_secret"].as_str().unwrap().to_string();

        let mut child =
            cli(&["serve"]).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
        let (stdout, stderr) = (Arc::new(Mutex::new(String::new())), Arc::default());
        let readers = vec![
            keep(child.stdout.take().unwrap(), stdout.clone()),
            keep(child.stderr.take().unwrap(), Arc::clone(&stderr)),
        ];
        let deadline = Instant::now() + Duration::from_secs(30);
        let addr = loop {
            let banner = stdout.lock().unwrap().clone();
            if let Some(addr) = banner
                .lines()
                .find_map(|l| l.split("is serving on ").nth(1))
                .and_then(|a| a.trim().parse::<std::net::SocketAddr>().ok())
            {
                break addr;
            }
            if Instant::now() > deadline || child.try_wait().unwrap().is_some() {
                let _ = child.kill();
                panic!("gatehouse did not start: {banner}\n{}", stderr.lock().unwrap());
            }
            std::thread::sleep(Duration::from_millis(25));
        };
        Process {
            child,
            base: format!("http://{addr}"),
            data,
            stdout,
            stderr,
            readers,
            client_secret,
        }
    }

    /// SIGTERM, wait for a clean exit and for the pipes to close; returns everything the
    /// process wrote: stdout, stderr, then each file under the log directory.
    fn stop(mut self) -> Vec<(String, String)> {
        let pid = self.child.id().to_string();
        assert!(Command::new("kill").args(["-TERM", &pid]).status().unwrap().success());
        let deadline = Instant::now() + Duration::from_secs(15);
        let status = loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                break status;
            }
            assert!(Instant::now() < deadline, "gatehouse did not exit");
            std::thread::sleep(Duration::from_millis(20));
        };
        assert!(status.success(), "{status}");
        for reader in self.readers.drain(..) {
            reader.join().unwrap();
        }
        let mut outputs = vec![
            ("stdout".to_string(), self.stdout.lock().unwrap().clone()),
            ("stderr".to_string(), self.stderr.lock().unwrap().clone()),
        ];
        let logs = self.data.join("logs");
        let mut files: Vec<PathBuf> =
            std::fs::read_dir(&logs).unwrap().map(|e| e.unwrap().path()).collect();
        files.sort();
        for file in files {
            outputs.push((file.display().to_string(), read_all_files_or_one(&file)));
        }
        outputs
    }

    fn browser(&self) -> User {
        let jar = Arc::new(Jar::default());
        User { client: client_with(jar.clone()), jar, base: self.base.clone(), email: EMAIL.into() }
    }

    /// A request from no browser: no cookie, no Origin (an API client).
    async fn post(&self, path: &str, body: Value) -> reqwest::Response {
        let client = client_with(Arc::new(Jar::default()));
        client.post(format!("{}{path}", self.base)).json(&body).send().await.unwrap()
    }

    /// The newest mail whose subject contains `subject`, waiting for the outbox to send it.
    async fn mail(&self, subject: &str) -> Mail {
        for _ in 0..800 {
            let mut files: Vec<PathBuf> = std::fs::read_dir(self.data.join("mail/new"))
                .map(|d| d.flatten().map(|e| e.path()).collect())
                .unwrap_or_default();
            files.sort();
            let found = files
                .iter()
                .map(|f| Mail::parse(&std::fs::read(f).unwrap()))
                .rfind(|m| m.to == EMAIL && m.subject.contains(subject));
            if let Some(mail) = found {
                return mail;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        panic!("no mail about {subject:?}");
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        if self.child.try_wait().ok().flatten().is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

fn read_all_files_or_one(path: &Path) -> String {
    if path.is_dir() { read_all_files(path) } else { std::fs::read_to_string(path).unwrap() }
}

/// The code an authenticator app shows at `unix` for a base32 secret: computed here with the
/// RFC 6238 parameters authenticator apps use (SHA-1, 6 digits, 30 s), not with the server's
/// own code.
fn totp_code(secret: &str, unix: u64) -> String {
    let secret = totp_rs::Secret::try_from_base32(secret).unwrap();
    totp_rs::Builder::new()
        .with_algorithm(totp_rs::Algorithm::SHA1)
        .with_digits(6)
        .with_step_duration(30)
        .with_secret(secret)
        .build_noncompliant()
        .generate(unix)
        .to_string()
}

fn unix_now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs()
}

/// Waits until at least `room` seconds of the current 30 s step are left; returns its start.
/// Three codes are spent in a row, each of a later step than the last one used: the previous
/// step's (accepted until this step ends, so it goes first), this step's and the next one's
/// (accepted until the next step ends, and the one after). The server allows one step of
/// drift either way.
async fn step_with_room(room: u64) -> u64 {
    loop {
        let now = unix_now();
        let left = 30 - now % 30;
        if left >= room {
            return now - now % 30;
        }
        tokio::time::sleep(Duration::from_secs(left)).await;
    }
}

async fn json_of(response: reqwest::Response, status: u16) -> Value {
    let got = response.status().as_u16();
    let text = response.text().await.unwrap();
    assert_eq!(got, status, "{text}");
    serde_json::from_str(&text).unwrap()
}

/// What a secret must never be found as, and how to look for it.
enum Needle {
    /// The exact text.
    Exact(String),
    /// Any capitalisation (names, which a barcode or a template may upper-case).
    AnyCase(String),
    /// A 6-digit code. Six digits in a row occur by chance in every log line: a timestamp's
    /// microseconds, a duration's fraction (`"duration_ms":2.133185`), a run inside a hex
    /// request id. A code is therefore looked for only as a whole token: no letter or digit
    /// on either side, and not part of a decimal number. That still catches a code logged as
    /// a JSON string or number (`"code":"123456"`), in a Debug rendering or in a sentence;
    /// what is left to chance is a 6-digit integer in the logs (none is written today) equal
    /// to a code, about one in a million per such number and code.
    Code(String),
}

/// Every value the flow used that must stay out of the logs, with a name for the message.
#[derive(Default)]
struct Secrets(Vec<(String, Needle)>);

impl Secrets {
    fn exact(&mut self, what: &str, value: &str) {
        assert!(value.len() >= 8, "{what} is too short to search for: {value:?}");
        self.0.push((what.into(), Needle::Exact(value.into())));
    }

    fn any_case(&mut self, what: &str, value: &str) {
        self.0.push((what.into(), Needle::AnyCase(value.to_lowercase())));
    }

    fn code(&mut self, what: &str, value: &str) {
        assert!(value.len() == 6 && value.bytes().all(|b| b.is_ascii_digit()), "{value:?}");
        self.0.push((what.into(), Needle::Code(value.into())));
    }

    /// The session and CSRF cookies a sign-in just set in `browser`'s jar.
    fn cookies_of(&mut self, what: &str, browser: &User) {
        let session = browser.cookie("gatehouse_session").expect("a session cookie");
        let csrf = browser.cookie("gatehouse_csrf").expect("a CSRF cookie");
        self.exact(&format!("session cookie ({what})"), &session);
        self.exact(&format!("CSRF token ({what})"), &csrf);
    }

    /// An access token whole and its signature alone (a log of a decoded header or of the
    /// claims would still show the signature), and the refresh token.
    fn token_pair(&mut self, what: &str, pair: &Value) {
        let access = pair["access_token"].as_str().unwrap();
        self.exact(&format!("access token ({what})"), access);
        self.exact(&format!("access token signature ({what})"), access.rsplit('.').next().unwrap());
        self.exact(&format!("refresh token ({what})"), pair["refresh_token"].as_str().unwrap());
    }
}

/// Whether `code` occurs in `text` as a whole token: no letter or digit on either side, and
/// not the fraction (or the whole part) of a decimal number (see [`Needle::Code`]).
fn has_token(text: &str, code: &str) -> bool {
    let bytes = text.as_bytes();
    let digit_at = |i: Option<usize>| i.and_then(|i| bytes.get(i)).is_some_and(u8::is_ascii_digit);
    text.match_indices(code).any(|(start, _)| {
        let end = start + code.len();
        let before = start.checked_sub(1).map(|i| bytes[i]);
        let after = bytes.get(end).copied();
        let word = |c: Option<u8>| c.is_some_and(|c| c.is_ascii_alphanumeric() || c >= 0x80);
        let fraction = before == Some(b'.') && digit_at(start.checked_sub(2));
        let whole_part = after == Some(b'.') && digit_at(Some(end + 1));
        !word(before) && !word(after) && !fraction && !whole_part
    })
}

#[test]
fn the_code_search_skips_timestamps_decimals_and_longer_numbers_only() {
    for chance in [
        r#"{"timestamp":"2026-12-04T10:11:12.123456Z"}"#,
        r#"{"duration_ms":2.123456,"id":"a123456b"}"#,
        "123456.5 ms, 91234567",
    ] {
        assert!(!has_token(chance, "123456"), "{chance}");
    }
    for leak in [r#"{"code":"123456"}"#, r#"code: \"123456\""#, "sent 123456.", "code=123456&"] {
        assert!(has_token(leak, "123456"), "{leak}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nothing_secret_or_personal_reaches_stdout_stderr_or_the_logs_at_debug_level() {
    let dir = tempfile::tempdir().unwrap();
    let server = tokio::task::spawn_blocking({
        let dir = dir.path().to_path_buf();
        move || Process::start(&dir)
    })
    .await
    .unwrap();
    let mut secrets = Secrets::default();
    secrets.exact("password", PASSWORD);
    secrets.exact("wrong password", WRONG_PASSWORD);
    secrets.exact("new password", NEW_PASSWORD);
    secrets.exact("email", EMAIL);
    secrets.any_case("email local part", EMAIL.split('@').next().unwrap());
    for part in LEGAL_NAME.split(' ') {
        secrets.any_case("legal name", part);
    }
    secrets.any_case("legal name", LEGAL_NAME);
    secrets.any_case("display name", DISPLAY_NAME);
    for phone in [E164, "2025550143", "202 555 0143", "202-555-0143", "5550143"] {
        secrets.any_case("phone number", phone);
    }
    secrets.any_case("licence number", LICENCE_NUMBER);
    // The birth date is on the licence too (AAMVA's MMDDCCYY, and ISO).
    secrets.any_case("birth date", "01021999");
    secrets.any_case("birth date", "1999-01-02");
    secrets.exact("OIDC client secret", &server.client_secret);

    // Sign-up with every personal field, and the emailed link.
    let registered = server
        .post(
            "/api/v1/auth/register",
            json!({"email": EMAIL, "password": PASSWORD, "display_name": DISPLAY_NAME,
                   "legal_name": LEGAL_NAME, "phone": PHONE}),
        )
        .await;
    assert_eq!(registered.status(), 202);
    let token = server.mail("Confirm your email").await.link_token("/verify-email");
    secrets.exact("verification token", &token);
    let verified = server.post("/api/v1/auth/verify-email", json!({"token": token})).await;
    assert_eq!(verified.status(), 200);

    // Refusals (a wrong password, a body that does not parse), then a password sign-in and
    // a session check.
    let laptop = server.browser();
    assert_eq!(laptop.login(WRONG_PASSWORD, false).await.status(), 401);
    secrets.exact("a mistyped field's value", MISTYPED_SECRET);
    let mistyped = server
        .post(
            "/api/v1/auth/login",
            json!({"email": EMAIL, "password": PASSWORD, "remember_me": MISTYPED_SECRET}),
        )
        .await;
    assert_eq!(mistyped.status(), 400);
    assert_eq!(laptop.login(PASSWORD, false).await.status(), 200);
    secrets.cookies_of("password sign-in", &laptop);
    assert_eq!(laptop.get("/api/v1/auth/session").await.status(), 200);

    // Phone codes: link the phone while signed in, then sign in with a second code.
    let sms = server.data.join("sms.jsonl");
    let requested = laptop.post("/api/v1/auth/otp/request", json!({"phone": PHONE})).await;
    assert_eq!(requested.status(), 202);
    let code = crate::support::phones::wait_for_code(&sms, E164, 1).await;
    secrets.code("phone code (link)", &code);
    let wrong = format!("{:06}", (code.parse::<u32>().unwrap() + 1) % 1_000_000);
    secrets.code("wrong phone code", &wrong);
    let refused =
        laptop.post("/api/v1/auth/otp/verify", json!({"phone": PHONE, "code": wrong})).await;
    assert_eq!(refused.status(), 401);
    let linked =
        laptop.post("/api/v1/auth/otp/verify", json!({"phone": PHONE, "code": code})).await;
    assert_eq!(json_of(linked, 200).await["outcome"], "linked");
    {
        // The next code for this number waits a minute (one code per number per 60 s): move
        // the first code back in time instead.
        crate::support::engine::with_database(&server.data, |conn| {
            conn.execute("UPDATE phone_codes SET created_at = created_at - 120", [] as [i64; 0])
                .unwrap()
        });
    }
    let phone = server.browser();
    let requested = phone.post("/api/v1/auth/otp/request", json!({"phone": PHONE})).await;
    assert_eq!(requested.status(), 202);
    let code = crate::support::phones::wait_for_code(&sms, E164, 2).await;
    secrets.code("phone code (sign-in)", &code);
    let signed_in =
        phone.post("/api/v1/auth/otp/verify", json!({"phone": PHONE, "code": code})).await;
    assert_eq!(json_of(signed_in, 200).await["outcome"], "signed_in");
    secrets.cookies_of("phone sign-in", &phone);

    // TOTP enrolment and confirmation, sign-out, a TOTP sign-in and an API token with a TOTP
    // code: three codes in a row, so they start with room left in the current step.
    let step = step_with_room(10).await;
    let started = json_of(laptop.post("/api/v1/account/mfa/totp", json!({})).await, 200).await;
    let secret = started["secret"].as_str().unwrap().to_string();
    secrets.any_case("TOTP secret", &secret);
    let confirm_code = totp_code(&secret, step - 30);
    secrets.code("TOTP code (confirmation)", &confirm_code);
    let confirmed =
        laptop.post("/api/v1/account/mfa/totp/confirm", json!({"code": confirm_code})).await;
    let confirmed = json_of(confirmed, 200).await;
    let recovery: Vec<String> =
        serde_json::from_value(confirmed["recovery_codes"].clone()).unwrap();
    assert_eq!(recovery.len(), 10);
    for code in &recovery {
        secrets.exact("recovery code", code);
        // As a person might type it, and as stored before normalising.
        secrets.any_case("recovery code", &code.replace('-', ""));
    }
    let logout = laptop.send(reqwest::Method::POST, "/api/v1/auth/logout").send().await.unwrap();
    assert_eq!(logout.status(), 204);

    let browser = server.browser();
    let pending = json_of(browser.login(PASSWORD, false).await, 200).await;
    assert_eq!(pending["mfa_required"], true, "{pending}");
    let mfa_token = pending["mfa_token"].as_str().unwrap().to_string();
    secrets.exact("mfa_token (TOTP)", &mfa_token);
    let totp_now = totp_code(&secret, step);
    // A wrong code first: an hour-old one (unless it happens to be one of the three).
    let stale = totp_code(&secret, step - 3600);
    if ![&confirm_code, &totp_now].contains(&&stale) && stale != totp_code(&secret, step + 30) {
        secrets.code("wrong TOTP code", &stale);
        let refused = browser
            .client
            .post(browser.url("/api/v1/auth/login/mfa"))
            .json(&json!({"mfa_token": mfa_token, "code": stale}))
            .send()
            .await
            .unwrap();
        assert_eq!(refused.status(), 401);
    }
    secrets.code("TOTP code (sign-in)", &totp_now);
    let second = browser
        .client
        .post(browser.url("/api/v1/auth/login/mfa"))
        .json(&json!({"mfa_token": mfa_token, "code": totp_now}))
        .send()
        .await
        .unwrap();
    assert_eq!(second.status(), 200, "{}", second.text().await.unwrap());
    secrets.cookies_of("TOTP sign-in", &browser);

    let totp_next = totp_code(&secret, step + 30);
    secrets.code("TOTP code (token grant)", &totp_next);
    let grant = server
        .post(
            "/api/v1/auth/token",
            json!({"email": EMAIL, "password": PASSWORD, "totp_code": totp_next}),
        )
        .await;
    let pair = json_of(grant, 200).await;
    secrets.token_pair("grant", &pair);
    let refreshed = server
        .post("/api/v1/auth/token/refresh", json!({"refresh_token": pair["refresh_token"]}))
        .await;
    let refreshed = json_of(refreshed, 200).await;
    secrets.token_pair("refresh", &refreshed);
    let bearer = server
        .browser()
        .client
        .get(format!("{}/api/v1/auth/session", server.base))
        .bearer_auth(refreshed["access_token"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(bearer.status(), 200);

    // A recovery code sign-in.
    let recovered = server.browser();
    let pending = json_of(recovered.login(PASSWORD, false).await, 200).await;
    let mfa_token = pending["mfa_token"].as_str().unwrap().to_string();
    secrets.exact("mfa_token (recovery code)", &mfa_token);
    let second = recovered
        .client
        .post(recovered.url("/api/v1/auth/login/mfa"))
        .json(&json!({"mfa_token": mfa_token, "code": recovery[0]}))
        .send()
        .await
        .unwrap();
    assert_eq!(second.status(), 200);
    secrets.cookies_of("recovery code sign-in", &recovered);

    // Forgot password and reset; then the new password and another recovery code.
    let forgot = server.post("/api/v1/auth/password/forgot", json!({"email": EMAIL})).await;
    assert_eq!(forgot.status(), 202);
    let reset = server.mail("Reset your password").await.link_token("/reset-password");
    secrets.exact("reset token", &reset);
    let answer = server
        .post("/api/v1/auth/password/reset", json!({"token": reset, "new_password": NEW_PASSWORD}))
        .await;
    assert_eq!(answer.status(), 200);
    let driver = server.browser();
    let pending = json_of(driver.login(NEW_PASSWORD, true).await, 200).await;
    let mfa_token = pending["mfa_token"].as_str().unwrap().to_string();
    secrets.exact("mfa_token (after reset)", &mfa_token);
    let second = driver
        .client
        .post(driver.url("/api/v1/auth/login/mfa"))
        .json(&json!({"mfa_token": mfa_token, "code": recovery[1]}))
        .send()
        .await
        .unwrap();
    assert_eq!(second.status(), 200);
    secrets.cookies_of("sign-in after reset", &driver);

    // A licence upload (its barcode names the holder), then an export of everything.
    let expiry = (chrono::Utc::now() + chrono::Duration::days(700)).date_naive();
    let mut holder = Person::new("Mirabel", "Quenby", expiry);
    holder.middle = "Ottoline".into();
    holder.number = LICENCE_NUMBER.into();
    let back =
        images::png(&images::back_image(&images::aamva_payload(&holder), 1400, Distortion::Clean));
    let front = images::jpeg(&images::blank_front(1400), 85);
    let uploaded = upload_parts(
        &driver,
        part(front, "front.jpg", "image/jpeg"),
        part(back, "back.png", "image/png"),
    )
    .await;
    assert_eq!(uploaded.status(), 201, "{}", uploaded.text().await.unwrap());
    let export = driver.get("/api/v1/account/export").await;
    let export = export.text().await.unwrap();
    assert!(export.contains(LEGAL_NAME) && export.contains(E164), "the export is complete");
    let logout = driver.send(reqwest::Method::POST, "/api/v1/auth/logout").send().await.unwrap();
    assert_eq!(logout.status(), 204);

    let outputs = tokio::task::spawn_blocking(move || server.stop()).await.unwrap();

    // The sweep sees real lines: debug ones, and an access line for every operation above.
    let files: String = outputs.iter().skip(2).map(|(_, text)| text.as_str()).collect();
    let lines: Vec<Value> = files.lines().filter_map(|l| serde_json::from_str(l).ok()).collect();
    assert!(lines.iter().any(|l| l["level"] == "DEBUG"), "no debug line in the log files");
    assert!(outputs[0].1.contains(r#""level":"DEBUG""#), "no debug line on stdout");
    for route in [
        "/api/v1/auth/register",
        "/api/v1/auth/verify-email",
        "/api/v1/auth/login",
        "/api/v1/auth/session",
        "/api/v1/auth/otp/request",
        "/api/v1/auth/otp/verify",
        "/api/v1/account/mfa/totp",
        "/api/v1/account/mfa/totp/confirm",
        "/api/v1/auth/logout",
        "/api/v1/auth/login/mfa",
        "/api/v1/auth/token",
        "/api/v1/auth/token/refresh",
        "/api/v1/auth/password/forgot",
        "/api/v1/auth/password/reset",
        "/api/v1/driver/license",
        "/api/v1/account/export",
    ] {
        assert!(
            lines.iter().any(|l| l["target"] == "access" && l["route"] == route),
            "no access line for {route}"
        );
    }
    let session_check = lines
        .iter()
        .find(|l| l["target"] == "access" && l["route"] == "/api/v1/auth/session")
        .unwrap();
    assert!(session_check["user_id"].as_str().is_some_and(|id| id.len() == 36), "{session_check}");

    let mut found = Vec::new();
    for (source, text) in &outputs {
        let lower = text.to_lowercase();
        for (what, needle) in &secrets.0 {
            let leaked = match needle {
                Needle::Exact(value) => text.contains(value.as_str()),
                Needle::AnyCase(value) => lower.contains(value.as_str()),
                Needle::Code(code) => has_token(text, code),
            };
            if leaked {
                let line = text
                    .lines()
                    .find(|l| match needle {
                        Needle::Exact(v) | Needle::Code(v) => l.contains(v.as_str()),
                        Needle::AnyCase(v) => l.to_lowercase().contains(v.as_str()),
                    })
                    .unwrap_or_default();
                found.push(format!("{what} in {source}: {line}"));
            }
        }
    }
    assert!(found.is_empty(), "secrets or personal values written out:\n{}", found.join("\n"));
}
