//! The engine the integration tests run on: SQLite by default; PostgreSQL when
//! `GATEHOUSE_IT_ENGINE=postgres`, each test server in a database of its own on the server
//! `GATEHOUSE_TEST_POSTGRES_URL` names (`scripts/with-postgres.sh` starts a throwaway one;
//! `scripts/test.sh` runs the suite once per engine).

use std::path::Path;

/// The file in a test's directory that names its PostgreSQL database, so that a server
/// restarted on the same directory finds the same data.
const DATABASE_FILE: &str = "postgres-database";

pub fn is_postgres() -> bool {
    std::env::var("GATEHOUSE_IT_ENGINE").as_deref() == Ok("postgres")
}

fn server_url() -> String {
    std::env::var("GATEHOUSE_TEST_POSTGRES_URL").expect(
        "GATEHOUSE_IT_ENGINE=postgres needs GATEHOUSE_TEST_POSTGRES_URL (scripts/with-postgres.sh)",
    )
}

/// The synchronous client starts a runtime of its own, which must not happen on a thread of
/// the test's runtime: run it on a thread of its own.
fn on_admin_connection(sql: String) {
    std::thread::spawn(move || {
        let mut client = postgres::Client::connect(&server_url(), postgres::NoTls)
            .expect("the test PostgreSQL server");
        client.batch_execute(&sql).unwrap_or_else(|e| panic!("{sql}: {e}"));
    })
    .join()
    .expect("admin connection");
}

/// The `storage.postgres_url` of the test whose files live in `dir` (None on SQLite),
/// creating its database the first time.
pub fn postgres_url_for(dir: &Path) -> Option<String> {
    if !is_postgres() {
        return None;
    }
    std::fs::create_dir_all(dir).expect("the data directory");
    let marker = dir.join(DATABASE_FILE);
    let name = match std::fs::read_to_string(&marker) {
        Ok(name) => name,
        Err(_) => {
            let name = format!("it_{}", uuid::Uuid::new_v4().simple());
            on_admin_connection(format!("CREATE DATABASE {name}"));
            std::fs::write(&marker, &name).expect("write the database's name");
            name
        }
    };
    let mut url = url::Url::parse(&server_url()).expect("GATEHOUSE_TEST_POSTGRES_URL is a URL");
    url.set_path(&name);
    Some(url.to_string())
}

/// Drops the database of the test whose files live in `dir`, if it has one, ending its
/// connections (the server being stopped may still hold some).
pub fn drop_database(dir: &Path) {
    if let Ok(name) = std::fs::read_to_string(dir.join(DATABASE_FILE)) {
        on_admin_connection(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"));
    }
}

/// The environment a `gatehouse` process needs to run on the test's engine (none on
/// SQLite).
pub fn process_env(dir: &Path) -> Vec<(String, String)> {
    match postgres_url_for(dir) {
        Some(url) => vec![
            ("GATEHOUSE_STORAGE__ENGINE".into(), "postgres".into()),
            ("GATEHOUSE_STORAGE__POSTGRES_URL".into(), url),
        ],
        None => Vec::new(),
    }
}

/// Runs `work` on a connection of its own to the database of the server whose data directory
/// is `data_dir`, whichever the engine: for a server that is stopped (a test changing its data
/// as an earlier version left it) or for a second connection beside a running one. On a
/// thread of its own, as PostgreSQL's synchronous client needs.
pub fn with_database<T: Send>(
    data_dir: &Path,
    work: impl FnOnce(&gatehouse::db::conn::Conn) -> T + Send,
) -> T {
    use gatehouse::db::conn::Conn;
    std::thread::scope(|scope| {
        scope
            .spawn(|| match postgres_url_for(data_dir) {
                Some(url) => {
                    let mut client = postgres::Client::connect(&url, postgres::NoTls)
                        .expect("the test's PostgreSQL database");
                    work(&Conn::Postgres(std::cell::RefCell::new(&mut client)))
                }
                None => {
                    let conn = rusqlite::Connection::open(data_dir.join("gatehouse.db"))
                        .expect("the test's SQLite database");
                    work(&Conn::Sqlite(&conn))
                }
            })
            .join()
            .expect("database thread")
    })
}
