//! Starts the real app in-process, the way the binary does, on a random loopback port.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::time::Duration;

use gatehouse::config::Config;
use tempfile::TempDir;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

pub struct TestServer {
    pub addr: SocketAddr,
    pub base: String,
    pub client: reqwest::Client,
    dir: TempDir,
    shutdown: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<anyhow::Result<()>>>,
}

impl TestServer {
    pub async fn start() -> Self {
        Self::start_with(|_| {}).await
    }

    /// Starts with the test defaults, changed by `adjust`.
    pub async fn start_with(adjust: impl FnOnce(&mut Config)) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("local addr");
        let mut config = Config::default();
        config.storage.data_dir = dir.path().join("data");
        config.server.listen = addr;
        config.server.public_url = format!("http://{addr}");
        adjust(&mut config);
        let config = config.finish().expect("valid test config");
        let (tx, rx) = oneshot::channel::<()>();
        let task = tokio::spawn(gatehouse::serve(config, listener, async {
            rx.await.ok();
        }));
        let client = reqwest::Client::builder()
            .cookie_store(true)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("client");
        let server = Self {
            addr,
            base: format!("http://{addr}"),
            client,
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

    /// Stops the server the way a signal would and returns what `serve` returned.
    pub async fn stop(mut self) -> anyhow::Result<()> {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        self.task.take().expect("running").await.expect("serve task")
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
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
