//! Opening the database: pragmas on every connection, a first connection that proves the file
//! is a SQLite database before anything is written, and the pool.

use std::path::{Path, PathBuf};
use std::time::Duration;

use r2d2_sqlite::SqliteConnectionManager;
use rusqlite::Connection;

use super::BlockingPool;
use super::blocking::BlockingError;
use super::conn::Conn;

/// Connections in the pool; also the number of queries that may run at once.
const POOL_SIZE: u32 = 8;

#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error(transparent)]
    Sqlite(#[from] rusqlite::Error),
    #[error(transparent)]
    Sql(#[from] super::conn::SqlError),
    #[error("no database connection available: {0}")]
    Pool(#[from] r2d2::Error),
    #[error(transparent)]
    Blocking(#[from] BlockingError),
}

/// The database: a pool of connections and the bounded pool its queries run on.
#[derive(Clone, Debug)]
pub struct Db {
    pool: r2d2::Pool<SqliteConnectionManager>,
    blocking: BlockingPool,
    path: PathBuf,
}

fn configure(conn: &mut Connection) -> rusqlite::Result<()> {
    // WAL lets readers run beside the writer; FULL makes a committed consumption of a code or
    // refresh token survive a power cut.
    conn.busy_timeout(Duration::from_secs(5))?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "FULL")?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    // Deleted rows (a deleted account, purged sessions) are overwritten with zeros instead of
    // lingering in free pages of the file.
    conn.pragma_update(None, "secure_delete", "ON")?;
    Ok(())
}

/// Opens (creating if needed) the database at `path`. A file that is not a SQLite database is
/// refused before anything is written to it.
pub fn open(path: &Path) -> Result<Db, DbError> {
    let mut first = Connection::open(path)?;
    first.query_row("SELECT count(*) FROM sqlite_master", [], |_| Ok(()))?;
    configure(&mut first)?;
    drop(first);

    let manager = SqliteConnectionManager::file(path).with_init(configure);
    let pool = r2d2::Pool::builder()
        .max_size(POOL_SIZE)
        .min_idle(Some(1))
        .connection_timeout(Duration::from_secs(10))
        .build(manager)?;
    Ok(Db { pool, blocking: BlockingPool::new("database", POOL_SIZE as usize), path: path.into() })
}

impl Db {
    /// Runs `work` with a pooled connection on the blocking pool.
    pub async fn run<T, E, F>(&self, work: F) -> Result<T, E>
    where
        F: FnOnce(&mut Connection) -> Result<T, E> + Send + 'static,
        T: Send + 'static,
        E: From<DbError> + Send + 'static,
    {
        let pool = self.pool.clone();
        self.blocking
            .run(move || {
                let mut conn = pool.get().map_err(DbError::from)?;
                work(&mut conn)
            })
            .await
            .map_err(DbError::from)?
    }

    /// [`Db::run`] with the connection as a [`Conn`]: the form a caller takes once what it
    /// calls runs on either engine. When every caller has moved to it, the PostgreSQL pool
    /// comes in behind it (docs/design/postgres-port.md).
    pub async fn run_conn<T, E, F>(&self, work: F) -> Result<T, E>
    where
        F: FnOnce(&Conn) -> Result<T, E> + Send + 'static,
        T: Send + 'static,
        E: From<DbError> + Send + 'static,
    {
        self.run(move |conn| work(&Conn::Sqlite(conn))).await
    }

    /// A connection for synchronous callers (CLI commands, start-up).
    pub fn get(&self) -> Result<r2d2::PooledConnection<SqliteConnectionManager>, DbError> {
        Ok(self.pool.get()?)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Connections (in use, idle) for metrics.
    pub fn pool_state(&self) -> (u32, u32) {
        let state = self.pool.state();
        (state.connections - state.idle_connections, state.idle_connections)
    }

    /// Folds the write-ahead log back into the database file (at shutdown).
    pub fn checkpoint(&self) -> Result<(), DbError> {
        let conn = self.get()?;
        conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))?;
        Ok(())
    }
}
