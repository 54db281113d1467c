//! `DELETE /api/v1/account`: the owner deletes their account, with their password (or, for an
//! account without one, a sign-in in the last ten minutes). The password is checked like the
//! account's other password checks: a wrong one counts in the lockout, and a throttled account
//! is refused. The deletion itself walks every feature ([`Erasure`]).

use super::{AccountError, Accounts};
use crate::accounts::store;
use crate::audit::RequestMeta;
use crate::db::DbError;
use crate::error::FieldError;
use crate::identity::Principal;
use crate::pii::{DeleteReason, Erasure, ErasureError};

/// A password-less (phone-only) account proves itself by a sign-in this recent instead.
pub const RECENT_SIGN_IN_SECONDS: i64 = 600;

#[derive(Debug, thiserror::Error)]
pub enum DeletionError {
    #[error("validation failed")]
    Validation(Vec<FieldError>),
    #[error("wrong password")]
    WrongPassword,
    #[error("the account is throttled")]
    Throttled { retry_after: u64 },
    #[error("sign in again first")]
    ReauthenticationRequired,
    #[error(transparent)]
    Erasure(#[from] ErasureError),
}

impl From<AccountError> for DeletionError {
    fn from(e: AccountError) -> Self {
        match e {
            AccountError::Throttled { retry_after } => Self::Throttled { retry_after },
            other => Self::Erasure(ErasureError::Internal(other.into())),
        }
    }
}

impl From<DbError> for DeletionError {
    fn from(e: DbError) -> Self {
        Self::Erasure(ErasureError::Internal(e.into()))
    }
}

impl Accounts {
    pub async fn delete_own(
        &self,
        erasure: &Erasure,
        principal: &Principal,
        password: &str,
        meta: &RequestMeta,
    ) -> Result<(), DeletionError> {
        let Some(user) = self.user(&principal.user_id).await? else {
            return Err(erasure.missing(&principal.user_id).await.into());
        };
        let stored = {
            let id = user.id.clone();
            self.db
                .run_conn(move |c| store::password_hash_of(c, &id).map_err(DbError::from))
                .await?
        };
        match stored {
            Some(_) => {
                if password.is_empty() {
                    return Err(DeletionError::Validation(vec![FieldError {
                        field: "password".into(),
                        message: "Enter your password to delete the account.".into(),
                    }]));
                }
                if !self.confirm_password_to_delete(&user.id, password, meta).await? {
                    return Err(DeletionError::WrongPassword);
                }
            }
            // A browser session's own age: an API access token's time is its last refresh.
            None if principal.method != crate::identity::AuthMethod::Session
                || self.clock.unix() - principal.created_at > RECENT_SIGN_IN_SECONDS =>
            {
                return Err(DeletionError::ReauthenticationRequired);
            }
            None => {}
        }
        Ok(erasure.erase(&user.id, DeleteReason::Owner, None, meta).await?)
    }
}
