//! Opening the database: pragmas on every connection, a first connection that proves the file
//! is a SQLite database before anything is written, and the pool.

use std::cell::RefCell;
use std::path::{Path, PathBuf};
use std::time::Duration;

use r2d2_sqlite::SqliteConnectionManager;
use rusqlite::Connection;

use super::BlockingPool;
use super::blocking::BlockingError;
use super::conn::Conn;
use super::conn::SqlError;
use super::job_locks::JobLock;
use super::notices::{CHANNEL, Notice, SharedNotices};
use super::postgres::PostgresManager;
use rusqlite::params;
use std::sync::Arc;

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
    #[error("this needs the SQLite engine (storage.engine = \"sqlite\")")]
    SqliteOnly,
    #[error("this needs the PostgreSQL engine (storage.engine = \"postgres\")")]
    PostgresOnly,
}

/// The database: a pool of connections to one engine, and the bounded pool its queries run
/// on.
#[derive(Clone, Debug)]
pub struct Db {
    engine: Engine,
    blocking: BlockingPool,
    notices: SharedNotices,
}

#[derive(Clone, Debug)]
enum Engine {
    Sqlite { pool: r2d2::Pool<SqliteConnectionManager>, path: PathBuf },
    // Boxed: the manager's connection settings are large, and an engine is chosen once.
    Postgres { pool: r2d2::Pool<PostgresManager>, manager: Box<PostgresManager> },
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
    let engine = Engine::Sqlite { pool, path: path.into() };
    Ok(Db::with(engine))
}

/// Connects to the PostgreSQL database at `url` (SPEC section 14). Start-up checks and
/// migrates it afterwards.
pub fn open_postgres(url: &str) -> Result<Db, DbError> {
    let manager = PostgresManager::new(url).map_err(super::conn::SqlError::from)?;
    let listening = manager.clone();
    // `build` connects before it returns, so an unreachable server or a refused password
    // stops start-up with the reason instead of surfacing on the first request.
    let pool = r2d2::Pool::builder()
        .max_size(POOL_SIZE)
        .min_idle(Some(1))
        .connection_timeout(Duration::from_secs(10))
        .build(manager)?;
    Ok(Db::with(Engine::Postgres { pool, manager: Box::new(listening) }))
}

impl Db {
    fn with(engine: Engine) -> Db {
        let blocking = BlockingPool::new("database", POOL_SIZE as usize);
        Db { engine, blocking, notices: SharedNotices::default() }
    }

    /// Calls `handler` with each notice of `topic` another node announces (and with
    /// [`Notice::Everything`] when notices may have been missed); see [`super::notices`].
    pub fn on_notice(&self, topic: &'static str, handler: impl Fn(Notice) + Send + Sync + 'static) {
        self.notices.register(topic, Box::new(handler));
    }

    /// Tells every node to drop `keys` of `topic` from its cache, after the change that made
    /// them stale has committed. Nothing to tell on SQLite, which has one node.
    pub async fn announce(&self, topic: &'static str, keys: Vec<String>) -> Result<(), DbError> {
        if !self.is_postgres() || keys.is_empty() {
            return Ok(());
        }
        self.run_conn(move |conn| {
            for payload in super::notices::payloads(topic, &keys) {
                conn.query_row("SELECT pg_notify(?1, ?2)", params![CHANNEL, payload], |_| Ok(()))?;
            }
            Ok(())
        })
        .await
    }

    /// `job`'s turn to run on this node, held until the returned lock is dropped; None when
    /// another node is running it (see [`super::job_locks`]).
    pub async fn job_turn(&self, job: &'static str) -> Result<Option<JobLock>, DbError> {
        let Engine::Postgres { pool, .. } = &self.engine else {
            return Ok(Some(JobLock::single_node()));
        };
        let pool = pool.clone();
        self.blocking
            .run(move || {
                let conn = pool.get()?;
                JobLock::try_take(conn, job).map_err(|e| DbError::from(SqlError::from(e)))
            })
            .await?
    }

    /// [`Db::announce`] for code that is not async (the caches' `forget` functions): sent by
    /// a task of the runtime when there is one, else here. A notice that cannot be sent is
    /// logged; the other nodes' entries then live out their minute.
    pub fn announce_soon(&self, topic: &'static str, keys: Vec<String>) {
        if !self.is_postgres() || keys.is_empty() {
            return;
        }
        let db = self.clone();
        let announce = async move {
            if let Err(error) = db.announce(topic, keys).await {
                tracing::error!(%error, topic, "cannot tell the other nodes to drop cached entries");
            }
        };
        match tokio::runtime::Handle::try_current() {
            Ok(runtime) => drop(runtime.spawn(announce)),
            Err(_) => match tokio::runtime::Builder::new_current_thread().enable_all().build() {
                Ok(runtime) => runtime.block_on(announce),
                Err(error) => tracing::error!(%error, topic, "cannot announce a cache drop"),
            },
        }
    }

    /// Registers `cache` to drop what other nodes announce under `topic` (keys as stored).
    pub fn drop_on_notice<V>(&self, topic: &'static str, cache: &crate::cache::Cache<String, V>)
    where
        V: Clone + Send + Sync + 'static,
    {
        let cache = cache.clone();
        self.on_notice(topic, move |notice| match notice {
            Notice::Key(key) => cache.invalidate(key),
            Notice::Everything => cache.invalidate_all(),
        });
    }

    /// Starts listening for other nodes' notices (PostgreSQL; `serve` only).
    pub fn start_listening(&self) -> std::io::Result<()> {
        match &self.engine {
            Engine::Postgres { manager, .. } => {
                super::notices::listen((**manager).clone(), Arc::downgrade(&self.notices))
            }
            Engine::Sqlite { .. } => Ok(()),
        }
    }

    /// Runs `work` with a pooled SQLite connection on the blocking pool. Being replaced by
    /// [`Db::run_conn`], which runs on either engine; on PostgreSQL this fails.
    pub async fn run<T, E, F>(&self, work: F) -> Result<T, E>
    where
        F: FnOnce(&mut Connection) -> Result<T, E> + Send + 'static,
        T: Send + 'static,
        E: From<DbError> + Send + 'static,
    {
        let Engine::Sqlite { pool, .. } = &self.engine else {
            return Err(DbError::SqliteOnly.into());
        };
        let pool = pool.clone();
        self.blocking
            .run(move || {
                let mut conn = pool.get().map_err(DbError::from)?;
                work(&mut conn)
            })
            .await
            .map_err(DbError::from)?
    }

    /// Runs `work` with a pooled connection, as a [`Conn`] of either engine, on the blocking
    /// pool (no query runs on an async worker).
    pub async fn run_conn<T, E, F>(&self, work: F) -> Result<T, E>
    where
        F: FnOnce(&Conn) -> Result<T, E> + Send + 'static,
        T: Send + 'static,
        E: From<DbError> + Send + 'static,
    {
        let db = self.clone();
        self.blocking.run(move || db.blocking_conn(work)).await.map_err(DbError::from)?
    }

    /// [`Db::run_conn`] on the calling thread, for synchronous callers (CLI commands,
    /// start-up, benchmarks' seeding).
    pub fn blocking_conn<T, E, F>(&self, work: F) -> Result<T, E>
    where
        F: FnOnce(&Conn) -> Result<T, E>,
        E: From<DbError>,
    {
        match &self.engine {
            Engine::Sqlite { pool, .. } => {
                let conn = pool.get().map_err(DbError::from)?;
                work(&Conn::Sqlite(&conn))
            }
            Engine::Postgres { pool, .. } => {
                let mut client = pool.get().map_err(DbError::from)?;
                work(&Conn::Postgres(RefCell::new(&mut client)))
            }
        }
    }

    /// A PostgreSQL client from the pool for what only PostgreSQL has (its migrations);
    /// fails on SQLite.
    pub fn blocking_postgres<T>(
        &self,
        work: impl FnOnce(&mut ::postgres::Client) -> T,
    ) -> Result<T, DbError> {
        match &self.engine {
            Engine::Postgres { pool, .. } => Ok(work(&mut *pool.get()?)),
            Engine::Sqlite { .. } => Err(DbError::PostgresOnly),
        }
    }

    /// A SQLite connection for what only SQLite has (its backup API, PRAGMAs, the file's
    /// own migrations); fails on PostgreSQL.
    pub fn get(&self) -> Result<r2d2::PooledConnection<SqliteConnectionManager>, DbError> {
        match &self.engine {
            Engine::Sqlite { pool, .. } => Ok(pool.get()?),
            Engine::Postgres { .. } => Err(DbError::SqliteOnly),
        }
    }

    pub fn is_postgres(&self) -> bool {
        matches!(self.engine, Engine::Postgres { .. })
    }

    /// The SQLite file; None on PostgreSQL.
    pub fn sqlite_path(&self) -> Option<&Path> {
        match &self.engine {
            Engine::Sqlite { path, .. } => Some(path),
            Engine::Postgres { .. } => None,
        }
    }

    /// Connections (in use, idle) for metrics.
    pub fn pool_state(&self) -> (u32, u32) {
        let state = match &self.engine {
            Engine::Sqlite { pool, .. } => pool.state(),
            Engine::Postgres { pool, .. } => pool.state(),
        };
        (state.connections - state.idle_connections, state.idle_connections)
    }

    /// Folds SQLite's write-ahead log back into the database file (at shutdown); nothing to
    /// do on PostgreSQL.
    pub fn checkpoint(&self) -> Result<(), DbError> {
        let Engine::Sqlite { pool, .. } = &self.engine else { return Ok(()) };
        let conn = pool.get()?;
        conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))?;
        Ok(())
    }
}
