//! `log.format` through the real binary: lines for a person when stdout is a terminal (a real
//! pseudo-terminal), JSON through a pipe (as under the systemd journal), either one when the
//! configuration asks, and JSON log files whatever stdout gets.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rustix::fs::{Mode, OFlags};
use rustix::pty::{OpenptFlags, grantpt, openpt, ptsname, unlockpt};

use crate::support::process::{self, BIN};

/// `gatehouse serve` with its stdin, stdout and stderr on a new pseudo-terminal; everything it
/// writes there collects in `output`.
struct OnTerminal {
    child: Child,
    output: Arc<Mutex<String>>,
}

fn start_on_terminal(data_dir: &Path, extra_env: &[(&str, &str)]) -> OnTerminal {
    let master = openpt(OpenptFlags::RDWR | OpenptFlags::NOCTTY | OpenptFlags::CLOEXEC).unwrap();
    grantpt(&master).unwrap();
    unlockpt(&master).unwrap();
    let name = ptsname(&master, Vec::new()).unwrap();
    let terminal = rustix::fs::open(
        name.as_c_str(),
        OFlags::RDWR | OFlags::NOCTTY | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .unwrap();
    let mut command = Command::new(BIN);
    command
        .arg("serve")
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("GATEHOUSE_STORAGE__DATA_DIR", data_dir)
        .env("GATEHOUSE_SERVER__LISTEN", "127.0.0.1:0")
        .stdin(Stdio::from(terminal.try_clone().unwrap()))
        .stdout(Stdio::from(terminal.try_clone().unwrap()))
        .stderr(Stdio::from(terminal));
    for (key, value) in extra_env {
        command.env(key, value);
    }
    let child = command.spawn().expect("spawn gatehouse");
    // The command holds our copies of the terminal's fds: once dropped, the terminal closes
    // when the process exits, and the reader below sees the end.
    drop(command);
    let output = Arc::new(Mutex::new(String::new()));
    let sink = output.clone();
    std::thread::spawn(move || {
        let mut master = std::fs::File::from(master);
        let mut buf = [0u8; 4096];
        // EIO once the other side has closed.
        while let Ok(n @ 1..) = master.read(&mut buf) {
            sink.lock().unwrap().push_str(&String::from_utf8_lossy(&buf[..n]));
        }
    });
    OnTerminal { child, output }
}

impl OnTerminal {
    /// Waits until the output, without its colours, holds `needle`; returns it so far.
    fn wait_for(&self, needle: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let text = without_colours(&self.output.lock().unwrap());
            if text.contains(needle) {
                return text;
            }
            assert!(Instant::now() < deadline, "no {needle:?} on the terminal: {text}");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn address(&self) -> SocketAddr {
        let text = self.wait_for("Data:");
        let line = text.lines().find(|l| l.contains("is serving on")).expect("banner");
        line.rsplit(' ').next().unwrap().trim().parse().expect("address in the banner")
    }

    fn stop(mut self) {
        let pid = self.child.id().to_string();
        assert!(Command::new("kill").args(["-TERM", &pid]).status().unwrap().success());
        let deadline = Instant::now() + Duration::from_secs(15);
        while self.child.try_wait().unwrap().is_none() {
            assert!(Instant::now() < deadline, "gatehouse did not stop");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

fn get_health(addr: SocketAddr) {
    let mut stream = TcpStream::connect(addr).unwrap();
    write!(stream, "GET /health HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n").unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
}

/// The text without terminal colour sequences (`ESC [ ... m`).
fn without_colours(text: &str) -> String {
    let mut plain = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            for c in chars.by_ref() {
                if c.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            plain.push(c);
        }
    }
    plain
}

fn is_json_object(line: &str) -> bool {
    serde_json::from_str::<serde_json::Value>(line).is_ok_and(|v| v.is_object())
}

/// Every line of the log files is a JSON object, and there are some.
fn assert_log_files_are_json(data_dir: &Path) {
    let files = crate::support::harness::read_all_files(&data_dir.join("logs"));
    let lines: Vec<&str> = files.lines().filter(|l| !l.trim().is_empty()).collect();
    assert!(lines.iter().any(|l| l.contains("\"serving\"")), "{files}");
    for line in lines {
        assert!(is_json_object(line), "not JSON in the log file: {line}");
    }
}

#[test]
fn on_a_terminal_the_banner_and_the_log_lines_are_for_people() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let server = start_on_terminal(&data, &[]);
    get_health(server.address());
    let text = server.wait_for("route=/health");
    // The banner, readable, and no JSON object among the lines around it.
    assert!(text.contains("DEVELOPMENT MODE"), "{text}");
    assert!(text.contains("is serving on 127.0.0.1:") && text.contains("Swagger UI:"), "{text}");
    for line in text.lines().map(str::trim).filter(|l| !l.is_empty()) {
        assert!(!line.starts_with('{'), "a JSON line on the terminal: {line}");
    }
    let lines: Vec<&str> = text.lines().collect();
    let line = |needle: &str| {
        let found = lines.iter().find(|l| l.contains(needle));
        found.unwrap_or_else(|| panic!("no line with {needle:?}: {text}")).to_string()
    };
    let warn = line("running in development mode");
    assert!(warn.contains("WARN"), "{warn}");
    let serving = line("listen=127.0.0.1:");
    assert!(serving.contains("INFO") && serving.contains("serving"), "{serving}");
    let access = line("route=/health");
    assert!(access.contains("access") && access.contains("status=200"), "{access}");
    // A terminal gets colours.
    let raw = server.output.lock().unwrap().clone();
    assert!(raw.contains("\u{1b}["), "no colours on a terminal: {raw}");
    server.stop();
    assert_log_files_are_json(&data);
}

#[test]
fn through_a_pipe_the_log_lines_are_json() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let mut process = process::start(&data, &[]);
    let warn = process
        .stdout
        .iter()
        .find(|l| l.contains("running in development mode"))
        .expect("the development-mode warning");
    let event: serde_json::Value = serde_json::from_str(warn).expect("a JSON line");
    assert_eq!(event["level"], "WARN");
    assert_eq!(event["message"], "running in development mode");
    // The banner itself is plain text, as it always was.
    assert!(process.stdout.iter().any(|l| l.contains("is serving on")));
    process.child.kill().unwrap();
    process.child.wait().unwrap();
}

#[test]
fn the_configuration_chooses_text_through_a_pipe_and_json_on_a_terminal() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("text");
    let mut process = process::start(&data, &[("GATEHOUSE_LOG__FORMAT", "text")]);
    let warn = process
        .stdout
        .iter()
        .find(|l| l.contains("running in development mode"))
        .expect("the development-mode warning");
    assert!(warn.contains("WARN") && !is_json_object(warn.trim()), "{warn}");
    assert!(!warn.contains('\u{1b}'), "colours in a pipe: {warn:?}");
    process.child.kill().unwrap();
    process.child.wait().unwrap();

    let data = dir.path().join("json");
    let server = start_on_terminal(&data, &[("GATEHOUSE_LOG__FORMAT", "json")]);
    server.address();
    let text = server.wait_for("running in development mode");
    let warn = text.lines().find(|l| l.contains("running in development mode")).unwrap();
    assert!(is_json_object(warn.trim()), "{warn}");
    server.stop();
}
