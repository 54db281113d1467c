//! The engine-neutral error of [`super::conn`] (its own file: both engines' code uses it).

/// An engine-neutral error.
#[derive(Debug, thiserror::Error)]
pub enum SqlError {
    #[error(transparent)]
    Sqlite(#[from] rusqlite::Error),
    #[error(transparent)]
    Postgres(#[from] ::postgres::Error),
    /// A query expected a row and found none.
    #[error("the query returned no rows")]
    NoRows,
    /// A value that cannot be converted between the engine's type and the Rust type.
    #[error("column {column}: {message}")]
    Conversion { column: usize, message: String },
}

impl SqlError {
    /// Whether a UNIQUE or PRIMARY KEY constraint refused the statement.
    pub fn is_unique_violation(&self) -> bool {
        match self {
            SqlError::Sqlite(rusqlite::Error::SqliteFailure(e, _)) => {
                e.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE
                    || e.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_PRIMARYKEY
            }
            SqlError::Postgres(e) => {
                e.code() == Some(&::postgres::error::SqlState::UNIQUE_VIOLATION)
            }
            _ => false,
        }
    }
}

pub type SqlResult<T> = Result<T, SqlError>;

/// While stores move to [`Conn`] one at a time, a ported store's error passes through callers
/// that still return rusqlite's (see docs/design/postgres-port.md). Remove with the last one.
impl From<SqlError> for rusqlite::Error {
    fn from(e: SqlError) -> Self {
        match e {
            SqlError::Sqlite(e) => e,
            SqlError::NoRows => rusqlite::Error::QueryReturnedNoRows,
            other => rusqlite::Error::ToSqlConversionFailure(Box::new(other)),
        }
    }
}
