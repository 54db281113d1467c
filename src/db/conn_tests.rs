//! The same checks of [`super::conn`] on both engines: SQLite in memory, and PostgreSQL when
//! `GATEHOUSE_TEST_POSTGRES_URL` names a server (`scripts/with-postgres.sh` starts a
//! throwaway one; in CI the variable must be set, so these cannot pass by being skipped).

use rusqlite::params;

use super::conn::{Conn, Optional, SqlError};

/// Creates a table and checks writing, reading, conversions, constraints and transactions.
pub fn exercise(conn: &Conn) {
    conn.execute_batch(
        "CREATE TABLE things (
            id BIGINT PRIMARY KEY,
            name TEXT NOT NULL UNIQUE,
            flag BIGINT NOT NULL,
            data BYTEA,
            score DOUBLE PRECISION
        )",
    )
    .unwrap();
    let changed = conn
        .execute(
            "INSERT INTO things (id, name, flag, data, score) VALUES (?1, ?2, ?3, ?4, ?5)",
            params![7_i64, "seven", true, vec![0_u8, 1, 255], 0.5_f64],
        )
        .unwrap();
    assert_eq!(changed, 1);
    conn.execute("INSERT INTO things (id, name, flag) VALUES (?1, ?2, 0)", params![8_u32, "eight"])
        .unwrap();

    let (id, name, flag, data, score): (u32, String, bool, Vec<u8>, Option<f64>) = conn
        .query_row(
            "SELECT id, name, flag, data, score FROM things WHERE name = ?1",
            ["seven"],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)),
        )
        .unwrap();
    assert_eq!(
        (id, name.as_str(), flag, data, score),
        (7, "seven", true, vec![0, 1, 255], Some(0.5))
    );
    let (data, score): (Option<Vec<u8>>, Option<f64>) = conn
        .query_row("SELECT data, score FROM things WHERE id = ?1", [8_i64], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
        .unwrap();
    assert_eq!((data, score), (None, None));

    let missing: Option<i64> = conn
        .query_row("SELECT id FROM things WHERE name = ?1", ["nine"], |r| r.get(0))
        .optional()
        .unwrap();
    assert_eq!(missing, None);
    let names: Vec<String> = conn
        .query_map("SELECT name FROM things ORDER BY id DESC", [] as [i64; 0], |r| r.get(0))
        .unwrap();
    assert_eq!(names, ["eight", "seven"]);
    let count: i64 =
        conn.query_row("SELECT count(*) FROM things", [] as [i64; 0], |r| r.get(0)).unwrap();
    assert_eq!(count, 2);

    // A text where an integer is wanted is refused, not silently stored.
    let wrong: Result<String, SqlError> =
        conn.query_row("SELECT name FROM things WHERE id = ?1", [7_i64], |r| {
            r.get::<i64>(0).map(|_| String::new())
        });
    assert!(wrong.is_err());

    let duplicate = conn
        .execute("INSERT INTO things (id, name, flag) VALUES (9, ?1, 0)", ["seven"])
        .unwrap_err();
    assert!(duplicate.is_unique_violation(), "{duplicate}");
    let ignored = conn
        .execute(
            "INSERT INTO things (id, name, flag) VALUES (10, ?1, 0) ON CONFLICT (name) DO NOTHING",
            ["seven"],
        )
        .unwrap();
    assert_eq!(ignored, 0);
    let returned: i64 = conn
        .query_row("UPDATE things SET flag = ?2 WHERE id = ?1 RETURNING flag", params![8, 1], |r| {
            r.get(0)
        })
        .unwrap();
    assert_eq!(returned, 1);

    {
        let tx = conn.transaction().unwrap();
        tx.execute("DELETE FROM things", [] as [i64; 0]).unwrap();
        // Dropped without commit: rolled back.
    }
    let tx = conn.transaction().unwrap();
    tx.execute("DELETE FROM things WHERE id = ?1", [8]).unwrap();
    tx.commit().unwrap();
    let left: Vec<i64> =
        conn.query_map("SELECT id FROM things ORDER BY id", [] as [i64; 0], |r| r.get(0)).unwrap();
    assert_eq!(left, [7]);
}

/// A fresh PostgreSQL client on the test server, in a schema of its own (dropped by the
/// caller with [`drop_schema`]); None outside CI when no server is given.
pub fn postgres_client() -> Option<(postgres::Client, String)> {
    let Ok(url) = std::env::var("GATEHOUSE_TEST_POSTGRES_URL") else {
        assert!(
            std::env::var_os("CI").is_none(),
            "GATEHOUSE_TEST_POSTGRES_URL is not set (scripts/test.sh runs the tests under \
             scripts/with-postgres.sh)"
        );
        eprintln!("no PostgreSQL (GATEHOUSE_TEST_POSTGRES_URL unset): skipped");
        return None;
    };
    let mut client = postgres::Client::connect(&url, postgres::NoTls).unwrap();
    let schema = format!("test_{}", uuid::Uuid::new_v4().simple());
    client.batch_execute(&format!("CREATE SCHEMA {schema}; SET search_path TO {schema}")).unwrap();
    Some((client, schema))
}

/// Another client on the schema of a [`postgres_client`], for tests of two connections at
/// once (two transactions racing).
pub fn postgres_client_in(schema: &str) -> postgres::Client {
    let url = std::env::var("GATEHOUSE_TEST_POSTGRES_URL").expect("postgres_client gave a server");
    let mut client = postgres::Client::connect(&url, postgres::NoTls).unwrap();
    client.batch_execute(&format!("SET search_path TO {schema}")).unwrap();
    client
}

/// Two PostgreSQL connections racing on the migrated schema `schema`: runs `first` in a
/// transaction on one and, once it holds whatever it locks, `second` in a transaction on the
/// other, then `first_writes` on the first before it commits; `second`'s answer. With the
/// store's turns, `second` waits and sees what `first_writes` wrote; without them it reads
/// before.
pub fn race_on_postgres<T: Send>(
    schema: &str,
    first: impl FnOnce(&Conn) + Send,
    second: impl FnOnce(&Conn) -> T + Send,
    first_writes: impl FnOnce(&Conn) + Send,
) -> T {
    let holding = std::sync::Barrier::new(2);
    std::thread::scope(|scope| {
        let one = scope.spawn(|| {
            let mut client = postgres_client_in(schema);
            let conn = Conn::Postgres(std::cell::RefCell::new(&mut client));
            let tx = conn.transaction().unwrap();
            first(&tx);
            holding.wait();
            // Long enough for the second to have sent its statement.
            std::thread::sleep(std::time::Duration::from_millis(300));
            first_writes(&tx);
            tx.commit().unwrap();
        });
        let two = scope.spawn(|| {
            let mut client = postgres_client_in(schema);
            let conn = Conn::Postgres(std::cell::RefCell::new(&mut client));
            holding.wait();
            let tx = conn.transaction().unwrap();
            let answer = second(&tx);
            tx.commit().unwrap();
            answer
        });
        one.join().unwrap();
        two.join().unwrap()
    })
}

/// The account `id` (email `<id>@north.edu`, its blind index the id's bytes), which a store's
/// rows refer to.
pub fn insert_user(conn: &Conn, id: &str) {
    conn.execute(
        "INSERT INTO users (id, email_index, email, display_name, role, created_at)
         VALUES (?1, ?2, ?3, 'Ada', 'user', 0)",
        params![id, id.as_bytes(), format!("{id}@north.edu")],
    )
    .unwrap();
}

/// Two nodes' `Db`s on the test server's database (opened off the runtime's threads, as the
/// synchronous client requires); None outside CI when no server is given.
pub async fn two_postgres_nodes() -> Option<(super::Db, super::Db)> {
    let Ok(url) = std::env::var("GATEHOUSE_TEST_POSTGRES_URL") else {
        assert!(std::env::var_os("CI").is_none(), "GATEHOUSE_TEST_POSTGRES_URL is not set");
        eprintln!("no PostgreSQL (GATEHOUSE_TEST_POSTGRES_URL unset): skipped");
        return None;
    };
    let open = |url: String| tokio::task::spawn_blocking(move || super::open_postgres(&url));
    let node_a = open(url.clone()).await.unwrap().unwrap();
    let node_b = open(url).await.unwrap().unwrap();
    Some((node_a, node_b))
}

pub fn drop_schema(client: &mut postgres::Client, schema: &str) {
    client.batch_execute(&format!("DROP SCHEMA {schema} CASCADE")).unwrap();
}

#[test]
fn postgres_connection_reads_writes_and_rolls_back() {
    let Some((mut client, schema)) = postgres_client() else { return };
    {
        let conn = Conn::Postgres(std::cell::RefCell::new(&mut client));
        exercise(&conn);
    }
    drop_schema(&mut client, &schema);
}

/// Runs `test` on a migrated SQLite database in memory and, when a server is given, on a
/// migrated PostgreSQL schema of its own: a store's own tests, on both engines.
pub fn on_both_engines(test: impl Fn(&Conn)) {
    let mut sqlite = rusqlite::Connection::open_in_memory().unwrap();
    sqlite.pragma_update(None, "foreign_keys", "ON").unwrap();
    crate::db::migrate(&mut sqlite).unwrap();
    test(&Conn::Sqlite(&sqlite));
    let Some((mut client, schema)) = postgres_client() else { return };
    crate::db::migrate_postgres(&mut client).unwrap();
    {
        let conn = Conn::Postgres(std::cell::RefCell::new(&mut client));
        test(&conn);
    }
    drop_schema(&mut client, &schema);
}
