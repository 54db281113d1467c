//! Starts the real app in-process, the way the binary does, on a random loopback port, with a
//! clock the test can move and helpers to read the mail it sends.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use gatehouse::App;
use gatehouse::audit::Actor;
use gatehouse::campuses;
use gatehouse::clock::ManualClock;
use gatehouse::config::Config;
use gatehouse::state::AppState;
use reqwest::cookie::{CookieStore, Jar};
use tempfile::TempDir;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

pub const PASSWORD: &str = "Correct-Horse-42";

pub struct TestServer {
    pub addr: SocketAddr,
    pub base: String,
    pub client: reqwest::Client,
    pub state: AppState,
    pub clock: ManualClock,
    pub bootstrap_link: Option<String>,
    dir: TempDir,
    shutdown: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<anyhow::Result<()>>>,
}

/// A browser-like client: its own cookie jar, and the Origin header a page of the site sends.
pub struct User {
    pub client: reqwest::Client,
    pub jar: Arc<Jar>,
    pub base: String,
    pub email: String,
}

pub fn client_with(jar: Arc<Jar>) -> reqwest::Client {
    // reqwest is built without a TLS crypto provider; the app installs ring's when it starts,
    // but a test that only runs the binary as a process must install it itself.
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
        .cookie_provider(jar)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client")
}

/// Gives a new data directory the test process's one RSA key, made once: a key of its own
/// for each of some two hundred servers would cost a minute of CPU. (`tests/it/tokens.rs`
/// and the unit tests of `tokens::rsa_key` cover making and rotating it.)
fn shared_rsa_key(data_dir: &std::path::Path) {
    static KEY: std::sync::OnceLock<gatehouse::tokens::rsa_key::RsaKey> =
        std::sync::OnceLock::new();
    let (dir, path) = (data_dir.join("keys"), data_dir.join("keys").join("oidc_rsa.pem"));
    if path.exists() {
        return;
    }
    let key =
        KEY.get_or_init(|| gatehouse::tokens::rsa_key::RsaKey::generate().expect("an RSA key"));
    key.write(&dir, &path).expect("the shared RSA key is written");
}

impl TestServer {
    pub async fn start() -> Self {
        Self::start_with(|_| {}).await
    }

    /// Starts with the test defaults, changed by `adjust`.
    pub async fn start_with(adjust: impl FnOnce(&mut Config)) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        Self::start_in(dir, adjust).await
    }

    /// Starts on an existing temporary directory (to restart on the same data).
    pub async fn start_in(dir: TempDir, adjust: impl FnOnce(&mut Config)) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("local addr");
        let mut config = Config::default();
        config.storage.data_dir = dir.path().join("data");
        std::fs::create_dir_all(&config.storage.data_dir).expect("data dir");
        if let Some(url) = super::engine::postgres_url_for(&config.storage.data_dir) {
            config.storage.engine = gatehouse::config::StorageEngine::Postgres;
            config.storage.postgres_url = gatehouse::config::Secret::new(url);
        }
        config.server.listen = addr;
        config.server.public_url = format!("http://{addr}");
        // Most tests sign in and sign up more often than a person would; tests/it/rate_limits.rs
        // turns the limits on.
        config.rate_limit.enabled = false;
        // Sign-up needs a solved proof-of-work captcha when it is on; tests/it/captcha.rs
        // turns it on (with a low difficulty).
        config.captcha.enabled = false;
        adjust(&mut config);
        let config = config.finish().expect("valid test config");
        shared_rsa_key(&config.storage.data_dir);
        let clock = ManualClock::new(chrono::Utc::now());
        let app_clock = Arc::new(clock.clone());
        let app = tokio::task::spawn_blocking(move || App::open_with_clock(config, app_clock))
            .await
            .expect("open task")
            .expect("app opens");
        let state = app.state().clone();
        let bootstrap_link = app.bootstrap_link().map(str::to_string);
        let (tx, rx) = oneshot::channel::<()>();
        let task = tokio::spawn(app.run(listener, async {
            rx.await.ok();
        }));
        let server = Self {
            addr,
            base: format!("http://{addr}"),
            client: client_with(Arc::new(Jar::default())),
            state,
            clock,
            bootstrap_link,
            dir,
            shutdown: Some(tx),
            task: Some(task),
        };
        server.wait_until_healthy().await;
        server
    }

    async fn wait_until_healthy(&self) {
        for _ in 0..200 {
            if let Ok(r) = self.client.get(self.url("/health")).send().await
                && r.status().is_success()
            {
                return;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        panic!("the test server did not become healthy");
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    pub fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.client.get(self.url(path)).send().await.expect("request")
    }

    /// A POST with a JSON body and no cookies, as an API client or a sign-in form sends it.
    pub async fn post(&self, path: &str, body: serde_json::Value) -> reqwest::Response {
        self.client.post(self.url(path)).json(&body).send().await.expect("request")
    }

    pub fn add_campus(&self, name: &str, domains: &[&str]) -> i64 {
        let domains: Vec<String> = domains.iter().map(|d| d.to_string()).collect();
        let actor = Actor { user_id: None, ip: None };
        self.blocking_conn(|conn| {
            campuses::create(conn, name, &domains, 0, &actor).expect("campus").id
        })
    }

    pub fn query_i64(&self, sql: &str) -> i64 {
        let sql = sql.to_string();
        self.blocking_conn(move |conn| conn.query_row(&sql, [] as [i64; 0], |r| r.get(0)).unwrap())
    }

    /// Runs `work` on a connection to the server's database, whichever the engine, on a
    /// thread of its own (PostgreSQL's synchronous client must not run on the test's
    /// runtime).
    pub fn blocking_conn<T: Send>(
        &self,
        work: impl FnOnce(&gatehouse::db::conn::Conn) -> T + Send,
    ) -> T {
        let db = &self.state.db;
        std::thread::scope(|scope| {
            scope
                .spawn(|| {
                    db.blocking_conn(|conn| Ok::<T, gatehouse::db::DbError>(work(conn)))
                        .expect("a database connection")
                })
                .join()
                .expect("query thread")
        })
    }

    /// Every message delivered to the maildir so far, parsed.
    pub fn mails(&self) -> Vec<Mail> {
        let dir = self.data_dir().join("mail/new");
        let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
            .map(|d| d.flatten().map(|e| e.path()).collect())
            .unwrap_or_default();
        files.sort();
        files.iter().map(|f| Mail::parse(&std::fs::read(f).unwrap())).collect()
    }

    /// Waits for a mail to `to` whose subject contains `subject`.
    pub async fn mail_to(&self, to: &str, subject: &str) -> Mail {
        for _ in 0..200 {
            self.state.outbox_wake.notify_one();
            if let Some(mail) =
                self.mails().into_iter().rev().find(|m| m.to == to && m.subject.contains(subject))
            {
                return mail;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        panic!(
            "no mail to {to} about {subject:?}; got {:?}",
            self.mails().iter().map(|m| &m.subject).collect::<Vec<_>>()
        );
    }

    pub fn mail_count(&self, to: &str) -> usize {
        self.mails().iter().filter(|m| m.to == to).count()
    }

    /// Lets the outbox deliver what is queued now (and what emailed-link requests that were
    /// answered already are still queueing).
    pub async fn flush_outbox(&self) {
        self.state.outbox_wake.notify_one();
        for _ in 0..100 {
            if self.state.accounts.link_jobs_in_flight() == 0
                && self.query_i64(
                    "SELECT count(*) FROM outbox WHERE sent_at IS NULL AND failed_at IS NULL",
                ) == 0
            {
                return;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    pub fn new_user(&self, email: &str) -> User {
        let jar = Arc::new(Jar::default());
        User { client: client_with(jar.clone()), jar, base: self.base.clone(), email: email.into() }
    }

    pub async fn register(&self, email: &str) -> reqwest::Response {
        self.post(
            "/api/v1/auth/register",
            serde_json::json!({"email": email, "password": PASSWORD, "display_name": "Test Student"}),
        )
        .await
    }

    /// Registers, verifies by the emailed link and signs in: a ready student.
    pub async fn signed_in_user(&self, email: &str) -> User {
        assert_eq!(self.register(email).await.status(), 202);
        let mail = self.mail_to(email, "Confirm your email").await;
        let token = mail.link_token("/verify-email");
        let verified =
            self.post("/api/v1/auth/verify-email", serde_json::json!({"token": token})).await;
        assert_eq!(verified.status(), 200);
        let user = self.new_user(email);
        let response = user.login(PASSWORD, false).await;
        assert_eq!(response.status(), 200, "{}", response.text().await.unwrap());
        user
    }

    /// Creates the first admin with the bootstrap link and signs them in.
    pub async fn signed_in_admin(&self, email: &str) -> User {
        let link = self.bootstrap_link.clone().expect("a bootstrap link without admins");
        let token = link.split("token=").nth(1).unwrap();
        let created = self
            .post(
                "/api/v1/bootstrap",
                serde_json::json!({"token": token, "email": email, "password": PASSWORD}),
            )
            .await;
        assert_eq!(created.status(), 201);
        let admin = self.new_user(email);
        assert_eq!(admin.login(PASSWORD, false).await.status(), 200);
        admin
    }

    /// Stops the server the way a signal would and returns what `serve` returned.
    pub async fn stop(mut self) -> anyhow::Result<()> {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        self.task.take().expect("running").await.expect("serve task")
    }

    /// Stops and hands back the directory, to start again on the same data.
    pub async fn stop_keep_dir(mut self) -> TempDir {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        self.task.take().expect("running").await.expect("serve task").expect("clean stop");
        let dir = tempfile::tempdir().unwrap();
        std::mem::replace(&mut self.dir, dir)
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        // After `stop_keep_dir` the directory here is a fresh one: the data lives on.
        super::engine::drop_database(&self.data_dir());
    }
}

impl User {
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    pub fn cookie(&self, name: &str) -> Option<String> {
        let header = self.jar.cookies(&self.base.parse().unwrap())?;
        header
            .to_str()
            .ok()?
            .split("; ")
            .find_map(|pair| pair.strip_prefix(&format!("{name}=")).map(str::to_string))
    }

    pub async fn login(&self, password: &str, remember_me: bool) -> reqwest::Response {
        self.client
            .post(self.url("/api/v1/auth/login"))
            .json(&serde_json::json!({"email": self.email, "password": password, "remember_me": remember_me}))
            .send()
            .await
            .unwrap()
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.client.get(self.url(path)).send().await.unwrap()
    }

    /// An unsafe request as the site's own pages send it: Origin and the CSRF header.
    pub fn send(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        let csrf = self.cookie("gatehouse_csrf").unwrap_or_default();
        self.client
            .request(method, self.url(path))
            .header("origin", &self.base)
            .header("x-csrf-token", csrf)
    }

    pub async fn post(&self, path: &str, body: serde_json::Value) -> reqwest::Response {
        self.send(reqwest::Method::POST, path).json(&body).send().await.unwrap()
    }

    pub async fn delete(&self, path: &str) -> reqwest::Response {
        self.send(reqwest::Method::DELETE, path).send().await.unwrap()
    }

    pub async fn put(&self, path: &str, body: serde_json::Value) -> reqwest::Response {
        self.send(reqwest::Method::PUT, path).json(&body).send().await.unwrap()
    }
}

/// A delivered email, decoded.
#[derive(Debug, Clone)]
pub struct Mail {
    pub to: String,
    pub subject: String,
    pub text: String,
    pub html: String,
}

impl Mail {
    pub fn parse(bytes: &[u8]) -> Self {
        let message = mail_parser::MessageParser::default().parse(bytes).expect("RFC 5322 message");
        let to = message
            .to()
            .and_then(|to| to.first())
            .and_then(|a| a.address())
            .unwrap_or_default()
            .to_string();
        Mail {
            to,
            subject: message.subject().unwrap_or_default().to_string(),
            text: message.body_text(0).unwrap_or_default().to_string(),
            html: message.body_html(0).unwrap_or_default().to_string(),
        }
    }

    /// The `token` query value of the first link to `path` in the plain-text part.
    pub fn link_token(&self, path: &str) -> String {
        let start = self
            .text
            .find(&format!("{path}?token="))
            .unwrap_or_else(|| panic!("no {path} link in {}", self.text));
        let rest = &self.text[start + path.len() + "?token=".len()..];
        rest.chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_').collect()
    }
}

/// Asserts a problem+json answer and returns its body.
pub async fn problem(response: reqwest::Response, status: u16, code: &str) -> serde_json::Value {
    assert_eq!(response.status(), status, "expected {status} {code}");
    assert_eq!(response.headers()["content-type"], "application/problem+json");
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["code"], code, "{body}");
    body
}

/// A response read from a raw socket: status code and the whole text.
pub struct RawResponse {
    pub status: u16,
    pub text: String,
}

/// Sends bytes on a fresh connection and reads until the server closes it.
pub fn raw_request(addr: SocketAddr, parts: &[Vec<u8>], pause: Duration) -> RawResponse {
    let mut stream = TcpStream::connect(addr).expect("connect");
    stream.set_read_timeout(Some(Duration::from_secs(15))).unwrap();
    for part in parts {
        stream.write_all(part).expect("write");
        stream.flush().unwrap();
        std::thread::sleep(pause);
    }
    let mut text = String::new();
    let _ = stream.read_to_string(&mut text);
    let status = text.split_whitespace().nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    RawResponse { status, text }
}

/// Every file below `dir`, concatenated (for grepping logs).
pub fn read_all_files(dir: &Path) -> String {
    let mut all = String::new();
    if let Ok(entries) = std::fs::read_dir(dir) {
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                all.push_str(&read_all_files(&path));
            } else if let Ok(text) = std::fs::read_to_string(&path) {
                all.push_str(&text);
            }
        }
    }
    all
}
