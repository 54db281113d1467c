//! Storage: one SQLite file in WAL mode behind an r2d2 pool. All database work runs through
//! [`Db::run`], which borrows a connection on the bounded blocking pool so that no query ever
//! runs on an async worker thread.

mod blocking;
mod migrate;
mod pool;

pub use blocking::{BlockingError, BlockingPool};
pub use migrate::{MigrationReport, migrate};
pub use pool::{Db, DbError, open};
