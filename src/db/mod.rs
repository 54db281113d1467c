//! Storage: one SQLite file in WAL mode behind an r2d2 pool. All database work runs through
//! [`Db::run`], which borrows a connection on the bounded blocking pool so that no query ever
//! runs on an async worker thread.

mod blocking;
pub mod conn;
#[cfg(test)]
pub(crate) mod conn_tests;
pub mod copy;
pub mod job_locks;
mod migrate;
mod migrate_postgres;
pub mod notices;
mod pool;
pub mod postgres;
mod sql_error;

pub use blocking::{BlockingError, BlockingPool, LOW_PRIORITY_NICE, LOWEST_PRIORITY_NICE};
pub use migrate::{MigrationReport, migrate};
pub use migrate_postgres::{PostgresMigrateError, migrate_postgres, prepare_postgres};
pub use pool::{Db, DbError, open, open_postgres};

/// Starts a write transaction that takes the write lock at once (`BEGIN IMMEDIATE`). A
/// deferred transaction that reads and then writes can fail with "database is locked" when
/// another connection wrote in between, without waiting for the busy timeout; this one waits.
///
/// Writers in this process also take turns on a lock of their own first (one per database
/// file, see [`writer_turn`]): SQLite lets one connection write at a time, and a second
/// writer that finds its lock taken sleeps in SQLite's busy handler (1 ms, then longer) before
/// it looks again, so two writers that meet cost a millisecond or more even when the first
/// commits in a tenth of that. Waiting on our lock instead wakes the next writer at the
/// first's commit. (Measured with webhooks, whose delivery job writes beside the requests:
/// `scripts/bench/webhooks.sh`.) Writers in other processes (the CLI) and statements outside a
/// write transaction still meet the busy timeout.
pub fn write_tx(conn: &mut rusqlite::Connection) -> rusqlite::Result<WriteTx<'_>> {
    let turn = writer_turn(conn);
    let guard = turn.as_ref().and_then(|t| t.try_lock_arc_for(WRITER_WAIT));
    let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    Ok(WriteTx { tx, _turn: guard })
}

/// How long a writer waits for its turn before going to SQLite's own lock (and busy timeout)
/// without it: the busy timeout, so that a turn never waits longer than SQLite would.
pub(super) const WRITER_WAIT: std::time::Duration = std::time::Duration::from_secs(5);

type Turn = std::sync::Arc<parking_lot::Mutex<()>>;

/// The writers' lock of the connection's database file (none for an in-memory database).
pub(super) fn writer_turn(conn: &rusqlite::Connection) -> Option<Turn> {
    static TURNS: std::sync::LazyLock<parking_lot::Mutex<std::collections::HashMap<String, Turn>>> =
        std::sync::LazyLock::new(Default::default);
    let path = conn.path().filter(|p| !p.is_empty())?;
    let mut turns = TURNS.lock();
    if let Some(turn) = turns.get(path) {
        return Some(turn.clone());
    }
    let turn = Turn::default();
    turns.insert(path.to_string(), turn.clone());
    Some(turn)
}

/// A write transaction holding this process's writer turn until it commits or rolls back.
pub struct WriteTx<'c> {
    // Dropped in this order: the transaction ends (rolls back) before the turn is given up.
    tx: rusqlite::Transaction<'c>,
    _turn: Option<parking_lot::ArcMutexGuard<parking_lot::RawMutex, ()>>,
}

impl WriteTx<'_> {
    pub fn commit(self) -> rusqlite::Result<()> {
        let WriteTx { tx, _turn } = self;
        tx.commit()
    }
}

impl<'c> std::ops::Deref for WriteTx<'c> {
    type Target = rusqlite::Transaction<'c>;
    fn deref(&self) -> &Self::Target {
        &self.tx
    }
}

impl std::ops::DerefMut for WriteTx<'_> {
    fn deref_mut(&mut self) -> &mut Self::Target {
        &mut self.tx
    }
}

/// Whether the database has a table called `name` (start-up reads databases that may predate
/// a migration, before migrating them).
pub fn has_table(conn: &rusqlite::Connection, name: &str) -> rusqlite::Result<bool> {
    conn.query_row(
        "SELECT EXISTS(SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?1)",
        [name],
        |r| r.get(0),
    )
}
