//! One connection API over both engines (SPEC section 14): SQLite, the embedded default, and
//! PostgreSQL for campuses with several nodes. Stores write their SQL once, in the dialect
//! both accept (`?1` placeholders, `ON CONFLICT`, `RETURNING`, BIGINT-compatible integers, no
//! SQLite-only functions), and read and bind values with rusqlite's `FromSql` and `ToSql`;
//! on PostgreSQL the placeholders become `$1` and each value is converted to and from the
//! column's type ([`super::postgres`]).
//!
//! Why not an async driver for both (sqlx): every store runs as a synchronous closure on the
//! bounded blocking pool ([`super::Db::run`]), which keeps queries off the async workers and
//! transactions explicit; the synchronous `postgres` client fits that shape, so moving a store
//! to this API changes its types, not its structure.

use std::cell::RefCell;

use rusqlite::types::{FromSql, ToSql, Value};

use super::postgres::{self as pg, PgParam};

pub use super::sql_error::{SqlError, SqlResult};

/// A connection to either engine. Its methods take `&self` (as rusqlite's do): the
/// PostgreSQL client, which needs `&mut`, sits in a `RefCell`, and a connection is used by
/// one thread at a time.
pub enum Conn<'c> {
    Sqlite(&'c rusqlite::Connection),
    Postgres(RefCell<&'c mut ::postgres::Client>),
}

/// Anything a store can run SQL on: a [`Conn`] or a [`Tx`], and, while the stores move to
/// [`Conn`], rusqlite's connection and transactions (so a ported store takes callers of both
/// kinds; see docs/design/postgres-port.md).
pub trait AsConn {
    fn with_conn<R>(&self, work: impl FnOnce(&Conn) -> R) -> R;
}

impl AsConn for Conn<'_> {
    fn with_conn<R>(&self, work: impl FnOnce(&Conn) -> R) -> R {
        work(self)
    }
}

impl AsConn for Tx<'_, '_> {
    fn with_conn<R>(&self, work: impl FnOnce(&Conn) -> R) -> R {
        work(self.conn)
    }
}

impl AsConn for rusqlite::Connection {
    fn with_conn<R>(&self, work: impl FnOnce(&Conn) -> R) -> R {
        work(&Conn::Sqlite(self))
    }
}

impl AsConn for rusqlite::Transaction<'_> {
    fn with_conn<R>(&self, work: impl FnOnce(&Conn) -> R) -> R {
        work(&Conn::Sqlite(self))
    }
}

impl AsConn for r2d2::PooledConnection<r2d2_sqlite::SqliteConnectionManager> {
    fn with_conn<R>(&self, work: impl FnOnce(&Conn) -> R) -> R {
        work(&Conn::Sqlite(self))
    }
}

impl AsConn for super::WriteTx<'_> {
    fn with_conn<R>(&self, work: impl FnOnce(&Conn) -> R) -> R {
        work(&Conn::Sqlite(self))
    }
}

/// One row of an answer.
pub enum Row<'r> {
    Sqlite(&'r rusqlite::Row<'r>),
    Postgres(&'r ::postgres::Row),
}

impl Row<'_> {
    /// Column `index` (from 0) as `T`, converted as rusqlite converts it.
    pub fn get<T: FromSql>(&self, index: usize) -> SqlResult<T> {
        match self {
            Row::Sqlite(row) => Ok(row.get(index)?),
            Row::Postgres(row) => {
                let value = pg::column_value(row, index)?;
                T::column_result((&value).into())
                    .map_err(|e| SqlError::Conversion { column: index, message: e.to_string() })
            }
        }
    }
}

/// The bound values of a statement: `params![...]`, `[a, b]` of one type, or `[]`.
pub trait Params {
    fn values(&self) -> SqlResult<Vec<Value>>;
}

impl Params for &[&dyn ToSql] {
    fn values(&self) -> SqlResult<Vec<Value>> {
        self.iter().map(|p| to_value(*p)).collect()
    }
}

impl<T: ToSql, const N: usize> Params for [T; N] {
    fn values(&self) -> SqlResult<Vec<Value>> {
        self.iter().map(|p| to_value(p)).collect()
    }
}

fn to_value(param: &dyn ToSql) -> SqlResult<Value> {
    use rusqlite::types::ToSqlOutput;
    Ok(match param.to_sql()? {
        ToSqlOutput::Borrowed(value) => Value::try_from(value)
            .map_err(|e| SqlError::Conversion { column: 0, message: e.to_string() })?,
        ToSqlOutput::Owned(value) => value,
        other => {
            return Err(SqlError::Conversion {
                column: 0,
                message: format!("unsupported parameter kind {other:?}"),
            });
        }
    })
}

impl<'c> Conn<'c> {
    pub fn is_postgres(&self) -> bool {
        matches!(self, Conn::Postgres(_))
    }

    /// `" FOR UPDATE"` on PostgreSQL and nothing on SQLite, for a read whose row the
    /// transaction is about to change: the row stays locked until the transaction ends, so a
    /// second node reads the outcome instead of the row as it was. SQLite has no row locks and
    /// needs none: its writers already take turns.
    pub fn for_update(&self) -> &'static str {
        if self.is_postgres() { " FOR UPDATE" } else { "" }
    }

    /// Makes the open transaction take turns with every other that serialises on `key`, until
    /// it ends: for a check that reads before it writes ("is the name free? then insert"),
    /// which two PostgreSQL transactions (READ COMMITTED) could otherwise both pass. On SQLite
    /// there is nothing to do: `BEGIN IMMEDIATE` already lets one writer in at a time.
    pub fn serialize_on(&self, key: &str) -> SqlResult<()> {
        if self.is_postgres() {
            self.execute("SELECT pg_advisory_xact_lock(hashtext(?1))", [key])?;
        }
        Ok(())
    }

    /// Runs a statement; the number of rows it changed.
    pub fn execute(&self, sql: &str, params: impl Params) -> SqlResult<usize> {
        let values = params.values()?;
        match self {
            Conn::Sqlite(conn) => Ok(conn.execute(sql, rusqlite::params_from_iter(values))?),
            Conn::Postgres(client) => {
                let sql = postgres_placeholders(sql);
                let params = PgParam::all(&values);
                Ok(client.borrow_mut().execute(sql.as_str(), &PgParam::refs(&params))? as usize)
            }
        }
    }

    /// Runs several statements without parameters (migrations).
    pub fn execute_batch(&self, sql: &str) -> SqlResult<()> {
        match self {
            Conn::Sqlite(conn) => Ok(conn.execute_batch(sql)?),
            Conn::Postgres(client) => Ok(client.borrow_mut().batch_execute(sql)?),
        }
    }

    /// The first row mapped by `map`; [`SqlError::NoRows`] when there is none.
    pub fn query_row<T>(
        &self,
        sql: &str,
        params: impl Params,
        map: impl FnOnce(&Row) -> SqlResult<T>,
    ) -> SqlResult<T> {
        let mut map = Some(map);
        let mut first = None;
        self.for_each_row(sql, params, &mut |row| {
            if let Some(map) = map.take() {
                first = Some(map(row)?);
            }
            Ok(())
        })?;
        first.ok_or(SqlError::NoRows)
    }

    /// Every row mapped by `map`, in the order the query gives them.
    pub fn query_map<T>(
        &self,
        sql: &str,
        params: impl Params,
        mut map: impl FnMut(&Row) -> SqlResult<T>,
    ) -> SqlResult<Vec<T>> {
        let mut rows = Vec::new();
        self.for_each_row(sql, params, &mut |row| {
            rows.push(map(row)?);
            Ok(())
        })?;
        Ok(rows)
    }

    fn for_each_row(
        &self,
        sql: &str,
        params: impl Params,
        each: &mut dyn FnMut(&Row) -> SqlResult<()>,
    ) -> SqlResult<()> {
        let values = params.values()?;
        match self {
            Conn::Sqlite(conn) => {
                let mut stmt = conn.prepare_cached(sql)?;
                let mut rows = stmt.query(rusqlite::params_from_iter(values))?;
                while let Some(row) = rows.next()? {
                    each(&Row::Sqlite(row))?;
                }
                Ok(())
            }
            Conn::Postgres(client) => {
                let sql = postgres_placeholders(sql);
                let params = PgParam::all(&values);
                let rows = client.borrow_mut().query(sql.as_str(), &PgParam::refs(&params))?;
                for row in &rows {
                    each(&Row::Postgres(row))?;
                }
                Ok(())
            }
        }
    }

    /// Starts a write transaction (on SQLite, see [`super::write_tx`] for why it is
    /// `BEGIN IMMEDIATE`); it rolls back unless committed.
    pub fn transaction(&self) -> SqlResult<Tx<'_, 'c>> {
        let (begin, turn) = match self {
            Conn::Sqlite(conn) => ("BEGIN IMMEDIATE", super::writer_turn(conn)),
            Conn::Postgres(_) => ("BEGIN", None),
        };
        let _turn = turn.as_ref().and_then(|t| t.try_lock_arc_for(super::WRITER_WAIT));
        self.execute_batch(begin)?;
        Ok(Tx { conn: self, open: true, _turn })
    }
}

impl<'c> Conn<'c> {
    /// Whether the database has a table called `name` (start-up reads databases that may
    /// predate a migration); on PostgreSQL, the table the search path finds.
    pub fn has_table(&self, name: &str) -> SqlResult<bool> {
        let sql = if self.is_postgres() {
            "SELECT to_regclass(CAST(?1 AS TEXT)) IS NOT NULL"
        } else {
            "SELECT EXISTS(SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?1)"
        };
        self.query_row(sql, [name], |r| r.get(0))
    }

    /// Starts a read-only transaction in which every statement sees the same moment (the
    /// privacy export): a deferred `BEGIN` on SQLite, whose read transaction is a snapshot,
    /// and `REPEATABLE READ` on PostgreSQL, whose default (READ COMMITTED) is not. It takes
    /// no writer turn; end it by dropping it.
    pub fn snapshot(&self) -> SqlResult<Tx<'_, 'c>> {
        let begin = match self {
            Conn::Sqlite(_) => "BEGIN DEFERRED",
            Conn::Postgres(_) => "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY",
        };
        self.execute_batch(begin)?;
        Ok(Tx { conn: self, open: true, _turn: None })
    }
}

/// A transaction on a [`Conn`]; it derefs to the connection, so a store's functions take
/// either.
pub struct Tx<'t, 'c> {
    conn: &'t Conn<'c>,
    open: bool,
    /// This process's writer turn on a SQLite file, held until the end (see `write_tx`).
    _turn: Option<parking_lot::ArcMutexGuard<parking_lot::RawMutex, ()>>,
}

impl Tx<'_, '_> {
    pub fn commit(mut self) -> SqlResult<()> {
        self.open = false;
        self.conn.execute_batch("COMMIT")
    }
}

impl<'c> std::ops::Deref for Tx<'_, 'c> {
    type Target = Conn<'c>;
    fn deref(&self) -> &Self::Target {
        self.conn
    }
}

impl Drop for Tx<'_, '_> {
    fn drop(&mut self) {
        if self.open {
            let _ = self.conn.execute_batch("ROLLBACK");
        }
    }
}

/// `?1`, `?2`… (and a bare `?`, numbered in order) as PostgreSQL's `$1`, `$2`…, outside
/// quoted strings and identifiers.
pub fn postgres_placeholders(sql: &str) -> String {
    let mut out = String::with_capacity(sql.len() + 8);
    let mut chars = sql.chars().peekable();
    let mut quote: Option<char> = None;
    let mut next_bare = 1;
    while let Some(c) = chars.next() {
        match quote {
            Some(q) => {
                out.push(c);
                if c == q {
                    quote = None;
                }
            }
            None if c == '\'' || c == '"' => {
                quote = Some(c);
                out.push(c);
            }
            None if c == '?' => {
                let mut digits = String::new();
                while let Some(d) = chars.peek().filter(|d| d.is_ascii_digit()) {
                    digits.push(*d);
                    chars.next();
                }
                if digits.is_empty() {
                    digits = next_bare.to_string();
                    next_bare += 1;
                }
                out.push('$');
                out.push_str(&digits);
            }
            None => out.push(c),
        }
    }
    out
}

/// `Option` for "no row" on any query answer, as rusqlite's `OptionalExtension`.
pub trait Optional<T> {
    fn optional(self) -> SqlResult<Option<T>>;
}

impl<T> Optional<T> for SqlResult<T> {
    fn optional(self) -> SqlResult<Option<T>> {
        match self {
            Ok(value) => Ok(Some(value)),
            Err(SqlError::NoRows) => Ok(None),
            Err(SqlError::Sqlite(rusqlite::Error::QueryReturnedNoRows)) => Ok(None),
            Err(e) => Err(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_become_dollars_outside_quotes() {
        assert_eq!(
            postgres_placeholders("SELECT a FROM t WHERE b = ?1 AND c = '?2' AND d = ?12"),
            "SELECT a FROM t WHERE b = $1 AND c = '?2' AND d = $12"
        );
        assert_eq!(postgres_placeholders("VALUES (?, ?, \"a?\")"), "VALUES ($1, $2, \"a?\")");
        assert_eq!(postgres_placeholders("SELECT 'it''s ?'"), "SELECT 'it''s ?'");
    }

    #[test]
    fn sqlite_connection_reads_writes_and_rolls_back() {
        let raw = rusqlite::Connection::open_in_memory().unwrap();
        let conn = Conn::Sqlite(&raw);
        crate::db::conn_tests::exercise(&conn);
    }
}
