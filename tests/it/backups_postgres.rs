//! Backups with PostgreSQL (SPEC section 14) through the real binary: `gatehouse backup`
//! archives the keys and a `pg_dump` of the configured database, `gatehouse restore` brings
//! both back, an archive of the other engine is refused, and a missing `pg_dump` says which
//! package to install.
//!
//! It needs `GATEHOUSE_TEST_POSTGRES_URL` (a server whose role may create databases:
//! `scripts/with-postgres.sh`); without it the test fails in CI and is skipped elsewhere.

use std::io::Read;
use std::path::Path;
use std::process::{Command, Output};

use crate::support::process::BIN;

/// Stays out of every command line and message: the test server trusts loopback, so it is
/// never checked, but pg_dump and pg_restore are handed it all the same.
const PASSWORD: &str = "never-on-a-command-line-42";

fn server_url() -> Option<String> {
    match std::env::var("GATEHOUSE_TEST_POSTGRES_URL") {
        Ok(url) => Some(url),
        Err(_) if std::env::var_os("CI").is_some() => {
            panic!("CI needs GATEHOUSE_TEST_POSTGRES_URL (run under scripts/with-postgres.sh)")
        }
        Err(_) => {
            eprintln!("skipped: GATEHOUSE_TEST_POSTGRES_URL is unset (scripts/with-postgres.sh)");
            None
        }
    }
}

/// A database of the test's own on the test server, dropped at the end.
struct TestDatabase {
    server: String,
    name: String,
    url: String,
}

impl TestDatabase {
    fn create(server: &str) -> Self {
        let name = format!("bk_{}", uuid::Uuid::new_v4().simple());
        query(server, &format!("CREATE DATABASE {name} TEMPLATE template0"));
        let mut url = url::Url::parse(server).expect("GATEHOUSE_TEST_POSTGRES_URL is a URL");
        url.set_path(&name);
        url.set_password(Some(PASSWORD)).unwrap();
        Self { server: server.to_string(), name, url: url.to_string() }
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        query(&self.server, &format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name));
    }
}

/// Runs `sql` (statements separated by `;`) and returns the first column of every row the
/// last one returns, as text. A plain test thread has no tokio runtime, so the synchronous
/// client may run here.
fn query(url: &str, sql: &str) -> Vec<String> {
    let mut client = postgres::Client::connect(url, postgres::NoTls).expect("the test server");
    let mut values = Vec::new();
    for message in client.simple_query(sql).unwrap_or_else(|e| panic!("{sql}: {e}")) {
        if let postgres::SimpleQueryMessage::Row(row) = message {
            values.push(row.get(0).unwrap_or("").to_string());
        }
    }
    values
}

/// `gatehouse <args>` on `data` with the PostgreSQL engine (or SQLite: `url` None) and
/// `env` added to a cleared environment.
fn gatehouse(data: &Path, url: Option<&str>, args: &[&str], env: &[(&str, String)]) -> Output {
    let mut command = Command::new(BIN);
    command.args(args).env_clear().env("GATEHOUSE_STORAGE__DATA_DIR", data);
    if let Some(url) = url {
        command
            .env("GATEHOUSE_STORAGE__ENGINE", "postgres")
            .env("GATEHOUSE_STORAGE__POSTGRES_URL", url);
    }
    command.envs(env.iter().map(|(k, v)| (k, v))).output().unwrap()
}

fn text(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// PATH and PGBIN as the test runs with them (with-postgres.sh exports PGBIN).
fn tools_env() -> Vec<(&'static str, String)> {
    let mut env = vec![("PATH", std::env::var("PATH").unwrap_or_default())];
    if let Ok(pgbin) = std::env::var("PGBIN") {
        env.push(("PGBIN", pgbin));
    }
    env
}

/// The migrated schema: `gatehouse migrate` on the PostgreSQL engine.
/// A new data dir whose installation is the database at `url`, migrated by `gatehouse
/// migrate`: (its temporary parent, the data dir).
fn migrated_data_dir(url: &str) -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    std::fs::create_dir_all(&data).unwrap();
    let migrated = gatehouse(&data, Some(url), &["migrate"], &tools_env());
    assert!(migrated.status.success(), "{}", text(&migrated));
    (dir, data)
}

/// The manifest of the archive at `path`.
fn manifest(path: &Path) -> serde_json::Value {
    let file = std::fs::File::open(path).unwrap();
    let mut tar = tar::Archive::new(flate2::read::GzDecoder::new(file));
    for entry in tar.entries().unwrap() {
        let mut entry = entry.unwrap();
        if entry.path().unwrap().to_str() == Some("manifest.json") {
            let mut json = String::new();
            entry.read_to_string(&mut json).unwrap();
            return serde_json::from_str(&json).unwrap();
        }
    }
    panic!("no manifest in {}", path.display());
}

fn campuses(url: &str) -> Vec<String> {
    query(
        url,
        "SELECT c.name || ':' || d.domain FROM campuses c JOIN campus_domains d ON d.campus_id = c.id ORDER BY 1",
    )
}

#[test]
fn a_postgres_backup_restores_the_database_and_the_keys() {
    let Some(server) = server_url() else { return };
    let db = TestDatabase::create(&server);
    let (dir, data) = migrated_data_dir(&db.url);
    gatehouse::keys::Keys::load(&Default::default(), &data, Default::default()).unwrap();
    let keys = data.join("keys");
    let pii_key = std::fs::read(keys.join("pii.key")).unwrap();
    let pepper = std::fs::read(keys.join("pepper.key")).unwrap();
    query(
        &db.url,
        "INSERT INTO campuses (name, created_at) VALUES ('North', 1);
         INSERT INTO campus_domains (domain, campus_id)
             SELECT 'north.edu', id FROM campuses WHERE name = 'North'",
    );

    let copy = dir.path().join("copy.tar.gz");
    // pg_dump through a wrapper that records its command line and environment.
    let wrapper = dir.path().join("wrapper");
    std::fs::create_dir_all(&wrapper).unwrap();
    let real = gatehouse::backup::postgres::find_tool("pg_dump").expect("pg_dump for the test");
    let script = format!(
        "#!/bin/sh\nprintf '%s\\n' \"$@\" > {0}/args\nenv > {0}/env\nexec {1} \"$@\"\n",
        wrapper.display(),
        real.display()
    );
    std::fs::write(wrapper.join("pg_dump"), script).unwrap();
    std::fs::set_permissions(
        wrapper.join("pg_dump"),
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    let env = [
        ("PATH", std::env::var("PATH").unwrap_or_default()),
        ("PGBIN", wrapper.to_str().unwrap().to_string()),
    ];
    let backup =
        gatehouse(&data, Some(&db.url), &["backup", "--out", copy.to_str().unwrap()], &env);
    assert!(backup.status.success(), "{}", text(&backup));
    assert!(text(&backup).contains("backup written:"), "{}", text(&backup));
    assert!(!text(&backup).contains(PASSWORD), "{}", text(&backup));
    let args = std::fs::read_to_string(wrapper.join("args")).unwrap();
    assert!(args.contains("--format=custom") && !args.contains(PASSWORD), "{args}");
    let env = std::fs::read_to_string(wrapper.join("env")).unwrap();
    assert!(env.lines().any(|l| l == format!("PGPASSWORD={PASSWORD}")), "{env}");
    assert!(env.lines().any(|l| l == format!("PGDATABASE={}", db.name)), "{env}");
    let logs = data.join("logs");
    for log in std::fs::read_dir(&logs).into_iter().flatten().flatten() {
        let log = std::fs::read_to_string(log.path()).unwrap_or_default();
        assert!(!log.contains(PASSWORD), "the password is in a log: {log}");
    }
    let manifest = manifest(&copy);
    assert_eq!(manifest["engine"], "postgres");
    assert!(manifest["schema"].as_str().is_some_and(|s| !s.is_empty()), "{manifest}");
    let paths: Vec<&str> =
        manifest["files"].as_array().unwrap().iter().map(|f| f["path"].as_str().unwrap()).collect();
    assert!(paths.contains(&"gatehouse.pgdump"), "{paths:?}");
    assert!(paths.contains(&"keys/pii.key") && paths.contains(&"keys/pepper.key"), "{paths:?}");
    assert!(!paths.contains(&"gatehouse.db"), "{paths:?}");
    assert!(!data.join("gatehouse.db").exists(), "nothing was backed up from SQLite");

    // Data changes after the backup; a key file is lost and another damaged.
    query(
        &db.url,
        "DELETE FROM campuses WHERE name = 'North';
         INSERT INTO campuses (name, created_at) VALUES ('South', 2);
         INSERT INTO campus_domains (domain, campus_id)
             SELECT 'south.edu', id FROM campuses WHERE name = 'South'",
    );
    assert_eq!(campuses(&db.url), ["South:south.edu"]);
    std::fs::remove_file(keys.join("pii.key")).unwrap();
    std::fs::write(keys.join("pepper.key"), b"damaged").unwrap();

    // A node still connected (its pool names itself `gatehouse`): the restore is refused.
    let mut node: postgres::Config = db.url.parse().unwrap();
    node.application_name("gatehouse");
    let node = node.connect(postgres::NoTls).unwrap();
    let refused =
        gatehouse(&data, Some(&db.url), &["restore", copy.to_str().unwrap()], &tools_env());
    assert!(!refused.status.success(), "{}", text(&refused));
    assert!(text(&refused).contains("stop every node"), "{}", text(&refused));
    assert_eq!(campuses(&db.url), ["South:south.edu"], "nothing was changed");
    assert!(!keys.join("pii.key").exists(), "nothing was changed");
    drop(node);

    let restore =
        gatehouse(&data, Some(&db.url), &["restore", copy.to_str().unwrap()], &tools_env());
    assert!(restore.status.success(), "{}", text(&restore));
    assert!(text(&restore).contains("restored the backup of"), "{}", text(&restore));
    assert!(!text(&restore).contains(PASSWORD), "{}", text(&restore));
    assert_eq!(campuses(&db.url), ["North:north.edu"], "the database is as it was backed up");
    assert_eq!(std::fs::read(keys.join("pii.key")).unwrap(), pii_key);
    assert_eq!(std::fs::read(keys.join("pepper.key")).unwrap(), pepper);

    // The same archive on a SQLite installation is refused, and changes nothing there.
    let sqlite_data = dir.path().join("sqlite");
    let refused = gatehouse(&sqlite_data, None, &["restore", copy.to_str().unwrap()], &tools_env());
    assert!(!refused.status.success(), "{}", text(&refused));
    assert!(text(&refused).contains("holds a PostgreSQL database"), "{}", text(&refused));
    assert!(!sqlite_data.join("keys").exists() && !sqlite_data.join("gatehouse.db").exists());

    // A SQLite archive on PostgreSQL is refused, and the database keeps its rows.
    let migrated = gatehouse(&sqlite_data, None, &["migrate"], &tools_env());
    assert!(migrated.status.success(), "{}", text(&migrated));
    assert!(sqlite_data.join("gatehouse.db").is_file());
    let sqlite_copy = dir.path().join("sqlite.tar.gz");
    let sqlite_backup = gatehouse(
        &sqlite_data,
        None,
        &["backup", "--out", sqlite_copy.to_str().unwrap()],
        &tools_env(),
    );
    assert!(sqlite_backup.status.success(), "{}", text(&sqlite_backup));
    let refused =
        gatehouse(&data, Some(&db.url), &["restore", sqlite_copy.to_str().unwrap()], &tools_env());
    assert!(!refused.status.success(), "{}", text(&refused));
    assert!(text(&refused).contains("holds a SQLite database"), "{}", text(&refused));
    assert_eq!(campuses(&db.url), ["North:north.edu"]);
}

#[test]
fn a_missing_pg_dump_names_the_package_and_leaves_no_archive() {
    let Some(server) = server_url() else { return };
    let db = TestDatabase::create(&server);
    let (dir, data) = migrated_data_dir(&db.url);
    let empty = dir.path().join("empty-bin");
    std::fs::create_dir_all(&empty).unwrap();
    let empty = empty.to_str().unwrap().to_string();

    // PGBIN names a directory without it: that choice is not silently replaced.
    let env = [("PATH", empty.clone()), ("PGBIN", empty.clone())];
    let failed = gatehouse(&data, Some(&db.url), &["backup"], &env);
    assert!(!failed.status.success(), "{}", text(&failed));
    assert!(text(&failed).contains("pg_dump is not in PGBIN"), "{}", text(&failed));
    assert!(text(&failed).contains("postgresql-client"), "{}", text(&failed));
    let left: Vec<_> = std::fs::read_dir(data.join("backups")).unwrap().collect();
    assert!(left.is_empty(), "no archive and no partial file: {left:?}");

    // Neither PGBIN nor PATH has it: Debian's /usr/lib/postgresql/*/bin is the last place
    // looked, and only when it has none either does the backup fail, naming the package.
    let debian = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .any(|version| version.path().join("bin/pg_dump").is_file());
    let env = [("PATH", empty)];
    let output = gatehouse(&data, Some(&db.url), &["backup"], &env);
    if debian {
        assert!(output.status.success(), "{}", text(&output));
    } else {
        assert!(!output.status.success(), "{}", text(&output));
        assert!(text(&output).contains("pg_dump was not found"), "{}", text(&output));
        assert!(text(&output).contains("postgresql-client"), "{}", text(&output));
    }
}

/// The server's daily job and admin API take their backups through `Backups` on the async
/// runtime: on PostgreSQL too (the synchronous client keeps off the runtime's threads).
#[tokio::test(flavor = "multi_thread")]
async fn the_servers_backups_dump_postgres_too() {
    let Some(server) = server_url() else { return };
    let db = tokio::task::spawn_blocking(move || TestDatabase::create(&server)).await.unwrap();
    let (_dir, data) = migrated_data_dir(&db.url);
    let storage = gatehouse::config::StorageConfig {
        data_dir: data.clone(),
        engine: gatehouse::config::StorageEngine::Postgres,
        postgres_url: gatehouse::config::Secret::new(&db.url),
        postgres_url_file: Default::default(),
    };
    let backups = std::sync::Arc::new(gatehouse::backup::Backups::for_storage(&storage, 3));
    let info = backups.run().await.unwrap();
    let manifest = manifest(&info.path);
    assert_eq!(manifest["engine"], "postgres");
    assert!(manifest["schema"].as_str().is_some(), "{manifest}");
    tokio::task::spawn_blocking(move || drop(db)).await.unwrap();
}
