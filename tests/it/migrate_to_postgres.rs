//! `gatehouse migrate-to-postgres --to URL` through the real binary (SPEC section 14): a SQLite
//! installation with real data (accounts signed up through the API, a campus, an OpenID
//! Connect client, a webhook, seeded accounts) is copied into a fresh PostgreSQL database,
//! checked, and served from; and the refusals (a running server, a database not fully
//! migrated, a target holding data or sorting text by locale, a copy that fails half way).
//!
//! Each test creates databases of its own on the server `GATEHOUSE_TEST_POSTGRES_URL` names
//! (`scripts/with-postgres.sh`); without it the tests fail in CI and are skipped elsewhere.
//! They run in the SQLite pass of the suite (their source is a SQLite installation).

use std::path::Path;
use std::process::{Command, Output};

use crate::support::engine;
use crate::support::harness::{PASSWORD, TestServer};
use crate::support::process::{self, BIN};
use crate::support::{drivers, licence_images};

/// The test server's URL, or None (with a message) when these tests cannot run here.
fn server_url() -> Option<String> {
    if engine::is_postgres() {
        eprintln!("migrate-to-postgres copies a SQLite installation: runs in the SQLite pass");
        return None;
    }
    let Ok(url) = std::env::var("GATEHOUSE_TEST_POSTGRES_URL") else {
        assert!(
            std::env::var_os("CI").is_none(),
            "GATEHOUSE_TEST_POSTGRES_URL is not set (run under scripts/with-postgres.sh)"
        );
        eprintln!("no PostgreSQL (GATEHOUSE_TEST_POSTGRES_URL unset): skipped");
        return None;
    };
    Some(url)
}

/// Runs `work` on a client of `url` on a thread of its own (the synchronous client must not
/// run on the test's runtime).
fn on_client<T: Send + 'static>(
    url: &str,
    work: impl FnOnce(&mut postgres::Client) -> T + Send + 'static,
) -> T {
    let url = url.to_string();
    std::thread::spawn(move || {
        let mut client = postgres::Client::connect(&url, postgres::NoTls).expect("PostgreSQL");
        work(&mut client)
    })
    .join()
    .expect("PostgreSQL thread")
}

/// A new, empty database on the test server (`extra`: more CREATE DATABASE options); its
/// URL, or the server's error.
fn new_database(server: &str, extra: &str) -> Result<(String, String), String> {
    let name = format!("mig_{}", uuid::Uuid::new_v4().simple());
    let sql = format!("CREATE DATABASE {name} TEMPLATE template0 {extra}");
    on_client(server, move |c| c.batch_execute(&sql).map_err(|e| format!("{e:?}")))?;
    let mut url = url::Url::parse(server).expect("a URL");
    url.set_path(&name);
    Ok((name, url.to_string()))
}

fn drop_database(server: &str, name: &str) {
    let sql = format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)");
    on_client(server, move |c| c.batch_execute(&sql).unwrap());
}

fn count(url: &str, sql: &str) -> i64 {
    let sql = sql.to_string();
    on_client(url, move |c| c.query_one(&sql, &[]).unwrap().get(0))
}

fn run(data: &Path, args: &[&str]) -> Output {
    Command::new(BIN)
        .args(args)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("GATEHOUSE_STORAGE__DATA_DIR", data)
        .output()
        .unwrap()
}

fn text(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

fn sqlite_count(data: &Path, table: &str) -> i64 {
    let conn = rusqlite::Connection::open(data.join("gatehouse.db")).unwrap();
    conn.query_row(&format!("SELECT count(*) FROM {table}"), [], |r| r.get(0)).unwrap()
}

/// A stopped SQLite installation with real data in it; its (temporary dir, data dir).
async fn installation() -> (tempfile::TempDir, std::path::PathBuf) {
    let server = drivers::server(false).await;
    server.signed_in_admin("admin@north.edu").await;
    server.add_campus("North", &["north.edu"]);
    server.signed_in_user("it@north.edu").await;
    // A driver's licence: its two images are sealed files in uploads/ on SQLite.
    let maria = drivers::student(&server, "maria@north.edu", "Maria Garcia", None).await;
    let expiry = drivers::today(&server) + chrono::Duration::days(400);
    let person = licence_images::Person::new("Maria", "Garcia", expiry);
    drivers::json_of(drivers::upload(&maria, &person).await, 201).await;
    let dir = server.stop_keep_dir().await;
    let data = dir.path().join("data");
    for args in [
        &["client", "add", "--name", "Library", "--redirect-uri", "https://lib.north.edu/cb"][..],
        &["webhook", "add", "--url", "http://127.0.0.1:9/hook"],
        &["seed", "--users", "300", "--domain", "north.edu"],
    ] {
        let output = run(&data, args);
        assert!(output.status.success(), "{args:?}: {}", text(&output));
    }
    (dir, data)
}

/// Runs `migrate-to-postgres` on `data` into a new database; (its name, its URL, what the
/// command printed), after checking the summary and the copied counts.
fn migrate(server: &str, data: &Path) -> (String, String, String) {
    let (name, url) = new_database(server, "").unwrap();
    let output = run(data, &["migrate-to-postgres", "--to", &url]);
    let printed = text(&output);
    assert!(output.status.success(), "{printed}");
    eprintln!("{printed}");
    let users = sqlite_count(data, "users").to_string();
    let users_line = printed
        .lines()
        .find(|l| l.split_whitespace().next() == Some("users"))
        .expect("a line for users");
    assert_eq!(users_line.split_whitespace().collect::<Vec<_>>(), ["users", &users, &users]);
    for expected in ["oidc_clients", "webhook_endpoints", "audit_log", "verified row by row"] {
        assert!(printed.contains(expected), "{expected}: {printed}");
    }
    for step in ["engine = \"postgres\"", "postgres_url", "keys", "uploads/"] {
        assert!(printed.contains(step), "{step}: {printed}");
    }
    let images = sqlite_count(data, "driver_uploads");
    assert!(images > 0);
    assert_eq!(count(&url, "SELECT count(*) FROM licence_images"), images, "licence images");
    assert!(printed.contains("licence_images (from uploads/)"), "{printed}");
    for table in ["users", "sessions", "audit_log", "oidc_clients", "webhook_endpoints"] {
        let copied = count(&url, &format!("SELECT count(*) FROM {table}"));
        assert_eq!(copied, sqlite_count(data, table), "{table}");
        assert!(copied > 0, "{table} has rows to copy");
    }
    (name, url, printed)
}

#[tokio::test]
async fn copies_an_installation_and_checks_it_in_one_transaction() {
    let Some(server) = server_url() else { return };
    let (_dir, data) = installation().await;
    let users = sqlite_count(&data, "users");
    assert!(users > 300);

    // A copy that fails half way (a constraint SQLite's audit rows break, audit_log being
    // copied after users) leaves the target empty.
    let (broken, broken_url) = new_database(&server, "").unwrap();
    on_client(&broken_url, |c| {
        gatehouse::db::prepare_postgres(c).unwrap();
        c.batch_execute("ALTER TABLE audit_log ADD CONSTRAINT no_rows CHECK (id < 0)").unwrap();
    });
    let failed = run(&data, &["migrate-to-postgres", "--to", &broken_url]);
    assert!(!failed.status.success());
    assert!(text(&failed).contains("nothing was copied"), "{}", text(&failed));
    assert_eq!(count(&broken_url, "SELECT count(*) FROM users"), 0);
    assert_eq!(count(&broken_url, "SELECT count(*) FROM campuses"), 0);
    drop_database(&server, &broken);

    let (name, url, _) = migrate(&server, &data);

    // The target now holds data: a second run is refused and says what is in the way.
    let again = run(&data, &["migrate-to-postgres", "--to", &url]);
    assert!(!again.status.success());
    assert!(text(&again).contains(&format!("users ({users} rows)")), "{}", text(&again));
    drop_database(&server, &name);
}

/// Served from the migrated database, the migrated student signs in, and the audit rows of
/// that sign-in get ids past the copied ones (the sequences were moved on).
#[tokio::test]
async fn serves_a_migrated_installation() {
    let Some(server) = server_url() else { return };
    let (_dir, data) = installation().await;
    let (name, url, _) = migrate(&server, &data);
    let mut node = process::start(
        &data,
        &[("GATEHOUSE_STORAGE__ENGINE", "postgres"), ("GATEHOUSE_STORAGE__POSTGRES_URL", &url)],
    );
    let signed_in = reqwest::Client::new()
        .post(format!("http://{}/api/v1/auth/login", node.addr))
        .json(&serde_json::json!({"email": "it@north.edu", "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    let status = signed_in.status();
    let _ = node.child.kill();
    let _ = node.child.wait();
    assert_eq!(status, 200, "{}", signed_in.text().await.unwrap());
    let audit = sqlite_count(&data, "audit_log");
    assert!(count(&url, "SELECT count(*) FROM audit_log") > audit, "new audit rows were written");
    drop_database(&server, &name);
}

#[tokio::test]
async fn refuses_a_running_server_and_a_database_not_fully_migrated() {
    let Some(server) = server_url() else { return };
    let (name, url) = new_database(&server, "").unwrap();
    let running = TestServer::start().await;
    let refused = run(&running.data_dir(), &["migrate-to-postgres", "--to", &url]);
    assert!(!refused.status.success());
    assert!(text(&refused).contains("server is running"), "{}", text(&refused));
    let dir = running.stop_keep_dir().await;
    let data = dir.path().join("data");
    let db = rusqlite::Connection::open(data.join("gatehouse.db")).unwrap();

    // As if the last migration were still to come.
    let last: (String, String, String) = db
        .query_row(
            "SELECT name, checksum, applied_at FROM schema_migrations ORDER BY name DESC",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .unwrap();
    db.execute("DELETE FROM schema_migrations WHERE name = ?1", [&last.0]).unwrap();
    let refused = run(&data, &["migrate-to-postgres", "--to", &url]);
    assert!(!refused.status.success());
    assert!(text(&refused).contains("not fully migrated"), "{}", text(&refused));
    assert!(text(&refused).contains(&last.0), "{}", text(&refused));
    assert!(text(&refused).contains("gatehouse migrate"), "{}", text(&refused));
    db.execute("INSERT INTO schema_migrations VALUES (?1, ?2, ?3)", [&last.0, &last.1, &last.2])
        .unwrap();

    db.execute(
        "INSERT INTO schema_migrations (name, checksum, applied_at) VALUES ('9999_next.sql', 'x', '')",
        [],
    )
    .unwrap();
    let refused = run(&data, &["migrate-to-postgres", "--to", &url]);
    assert!(text(&refused).contains("9999_next.sql"), "{}", text(&refused));
    assert!(!refused.status.success());

    // Refused before the target was touched: not even migrated.
    let tables = "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'public'";
    assert_eq!(count(&url, tables), 0);
    drop_database(&server, &name);
}

#[tokio::test]
async fn refuses_a_target_that_sorts_by_locale_without_printing_the_password() {
    let Some(server) = server_url() else { return };
    // Any locale but C and POSIX sorts text otherwise than SQLite; which exist depends on
    // the machine.
    let made = ["C.UTF-8", "en_US.UTF-8", "en_US.utf8"].into_iter().find_map(|locale| {
        new_database(&server, &format!("LC_COLLATE '{locale}' LC_CTYPE '{locale}' ENCODING 'UTF8'"))
            .ok()
    });
    let Some((name, url)) = made else {
        eprintln!("no locale but C on the test server: skipped");
        return;
    };
    let mut with_password = url::Url::parse(&url).unwrap();
    with_password.set_password(Some("hunter2-secret")).unwrap();
    let running = TestServer::start().await;
    let dir = running.stop_keep_dir().await;
    let refused =
        run(&dir.path().join("data"), &["migrate-to-postgres", "--to", with_password.as_str()]);
    let printed = text(&refused);
    assert!(!refused.status.success());
    assert!(printed.contains("LC_COLLATE 'C'"), "{printed}");
    assert!(!printed.contains("hunter2-secret"), "{printed}");
    assert!(printed.contains("***"), "{printed}");
    drop_database(&server, &name);
}
