//! The real executable: its path, a `gatehouse serve` process on a random port with its own
//! data directory, and `gatehouse keys rotate` run against a test server's data.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::support::harness::TestServer;

pub const BIN: &str = env!("CARGO_BIN_EXE_gatehouse");

/// A `gatehouse serve` process on a random port with its own data directory.
pub struct Process {
    pub child: Child,
    pub addr: SocketAddr,
    pub stdout: Vec<String>,
}

/// Starts `gatehouse serve` on `data_dir` with `extra_env`, waiting for the banner's address.
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
    // A test that names its own database (two nodes on one server) does not get one more.
    if !extra_env.iter().any(|(key, _)| *key == "GATEHOUSE_STORAGE__ENGINE") {
        command.envs(super::engine::process_env(data_dir));
    }
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

/// Runs `gatehouse keys rotate` on the server's data directory; returns what it printed.
pub fn rotate(server: &TestServer) -> String {
    keys(server, &["keys", "rotate"])
}

/// Runs a `gatehouse` command (`args`) on the server's data directory, which must succeed;
/// returns what it printed.
pub fn keys(server: &TestServer, args: &[&str]) -> String {
    let output = Command::new(BIN)
        .args(args)
        .env_clear()
        .env("GATEHOUSE_STORAGE__DATA_DIR", server.data_dir())
        .envs(super::engine::process_env(&server.data_dir()))
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(output.status.success(), "{text}");
    text
}
