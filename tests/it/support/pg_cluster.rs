//! A PostgreSQL server of one test's own, which the test may stop and start (the two-node
//! test); the other PostgreSQL tests share the server of `scripts/with-postgres.sh`. It uses
//! that script's binaries (`PGBIN`), listens on 127.0.0.1 only, on a free port, and is
//! removed when dropped.

use std::path::{Path, PathBuf};
use std::process::Command;

pub struct Cluster {
    dir: tempfile::TempDir,
    pgbin: PathBuf,
    pub port: u16,
    /// PostgreSQL refuses to run as root: as root, its commands run as this user.
    run_as: Option<&'static str>,
}

impl Cluster {
    /// Makes and starts a server with a database `gatehouse` sorting text bytewise.
    pub fn start() -> Cluster {
        let pgbin = PathBuf::from(
            std::env::var("PGBIN").expect("PGBIN (scripts/with-postgres.sh sets it)"),
        );
        let run_as = is_root().then(|| if user_exists("postgres") { "postgres" } else { "nobody" });
        let dir =
            tempfile::Builder::new().prefix("gatehouse-two-nodes").tempdir_in("/tmp").unwrap();
        let port = free_port();
        let cluster = Cluster { dir, pgbin, port, run_as };
        if let Some(user) = run_as {
            assert!(Command::new("chown").args([user, cluster.dir()]).status().unwrap().success());
        }
        let data = cluster.data();
        cluster.run(&[
            "initdb",
            "-D",
            &data,
            "-U",
            "gatehouse",
            "--auth=trust",
            "--encoding=UTF8",
            "--locale=C",
            "--no-sync",
            "--no-instructions",
        ]);
        let settings = format!(
            "listen_addresses = '127.0.0.1'\nport = {port}\nunix_socket_directories = '{}'\n\
             fsync = off\nsynchronous_commit = off\nfull_page_writes = off\n",
            cluster.dir()
        );
        let auto = Path::new(&data).join("postgresql.auto.conf");
        std::fs::write(&auto, settings).unwrap();
        if let Some(user) = run_as {
            Command::new("chown").arg(user).arg(&auto).status().unwrap();
        }
        cluster.start_server();
        cluster.psql("CREATE DATABASE gatehouse TEMPLATE template0 LC_COLLATE 'C' LC_CTYPE 'C'");
        cluster
    }

    pub fn url(&self) -> String {
        format!("postgres://gatehouse@127.0.0.1:{}/gatehouse", self.port)
    }

    /// Starts the server (again) and waits until it accepts connections.
    pub fn start_server(&self) {
        let log = format!("{}/server.log", self.dir());
        self.run(&["pg_ctl", "-D", &self.data(), "-l", &log, "-w", "-t", "30", "start"]);
    }

    /// Stops the server, ending every connection (as a failover would).
    pub fn stop_server(&self) {
        self.run(&["pg_ctl", "-D", &self.data(), "-m", "fast", "-w", "-t", "30", "stop"]);
    }

    fn psql(&self, sql: &str) {
        let port = self.port.to_string();
        self.run(&[
            "psql",
            "-X",
            "-q",
            "-h",
            "127.0.0.1",
            "-p",
            &port,
            "-U",
            "gatehouse",
            "-d",
            "postgres",
            "-c",
            sql,
        ]);
    }

    fn dir(&self) -> &str {
        self.dir.path().to_str().unwrap()
    }

    fn data(&self) -> String {
        format!("{}/data", self.dir())
    }

    fn run(&self, args: &[&str]) {
        let program = self.pgbin.join(args[0]);
        let mut command = match self.run_as {
            Some(user) => {
                let mut c = Command::new("runuser");
                c.args(["-u", user, "--"]).arg(&program);
                c
            }
            None => Command::new(&program),
        };
        let output = command.args(&args[1..]).output().unwrap();
        assert!(
            output.status.success(),
            "{args:?}: {}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let data = self.data();
        let program = self.pgbin.join("pg_ctl");
        let args = ["-D", data.as_str(), "-m", "immediate", "-w", "stop"];
        let _ = match self.run_as {
            Some(user) => {
                Command::new("runuser").args(["-u", user, "--"]).arg(&program).args(args).output()
            }
            None => Command::new(&program).args(args).output(),
        };
    }
}

fn is_root() -> bool {
    Command::new("id").arg("-u").output().map(|o| o.stdout.starts_with(b"0\n")).unwrap_or(false)
}

fn user_exists(name: &str) -> bool {
    Command::new("id").arg(name).output().map(|o| o.status.success()).unwrap_or(false)
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}
