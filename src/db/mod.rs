//! Storage: one SQLite file in WAL mode behind an r2d2 pool. All database work runs through
//! [`Db::run`], which borrows a connection on the bounded blocking pool so that no query ever
//! runs on an async worker thread.

mod blocking;
mod migrate;
mod pool;

pub use blocking::{BlockingError, BlockingPool};
pub use migrate::{MigrationReport, migrate};
pub use pool::{Db, DbError, open};

/// Starts a write transaction that takes the write lock at once (`BEGIN IMMEDIATE`). A
/// deferred transaction that reads and then writes can fail with "database is locked" when
/// another connection wrote in between, without waiting for the busy timeout; this one waits.
pub fn write_tx(conn: &mut rusqlite::Connection) -> rusqlite::Result<rusqlite::Transaction<'_>> {
    conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
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
