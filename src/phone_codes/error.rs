//! What a phone-code request or check can end in (its own file: the rules in `service.rs` and
//! the limits in `caps.rs` both answer with it).

use crate::accounts::AccountError;
use crate::db::DbError;
use crate::db::conn::SqlError;
use crate::error::FieldError;

#[derive(Debug, thiserror::Error)]
pub enum PhoneCodeError {
    #[error("validation failed")]
    Validation(Vec<FieldError>),
    #[error("rate limited")]
    RateLimited { retry_after: u64 },
    #[error("invalid code")]
    InvalidCode,
    #[error("the phone is verified on another account")]
    PhoneTaken,
    #[error("the account is disabled")]
    AccountDisabled,
    /// A failure of ours (database, blocking pool, ...): logged with its cause chain, never
    /// shown to the client.
    #[error("internal error")]
    Internal(#[source] anyhow::Error),
}

impl From<DbError> for PhoneCodeError {
    fn from(e: DbError) -> Self {
        Self::Internal(e.into())
    }
}

impl From<rusqlite::Error> for PhoneCodeError {
    fn from(e: rusqlite::Error) -> Self {
        Self::Internal(e.into())
    }
}

impl From<SqlError> for PhoneCodeError {
    fn from(e: SqlError) -> Self {
        Self::Internal(e.into())
    }
}

impl From<AccountError> for PhoneCodeError {
    fn from(e: AccountError) -> Self {
        match e {
            AccountError::Validation(errors) => Self::Validation(errors),
            other => Self::Internal(other.into()),
        }
    }
}
