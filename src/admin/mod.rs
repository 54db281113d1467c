//! Administration that is not a feature of its own: the first-admin bootstrap, accounts
//! (search, view, disable, role, sessions, unlock), the audit log query, the outbox status, and
//! the one check every admin operation goes through ([`require_admin`]).

pub mod accounts;
pub mod audit;
pub mod bootstrap;
pub mod outbox;
pub mod paging;
pub mod store;
pub mod users;

use crate::accounts::{Role, totp};
use crate::app::AppState;
use crate::db::DbError;
use crate::error::ApiError;
use crate::http::auth::Auth;
use crate::sessions::Principal;

/// The caller if it may do admin operations: the `admin` role (or `role`, for operations
/// that also accept reviewers), and in production mode TOTP turned on (SPEC section 3);
/// otherwise `admin_mfa_required`. Development mode does not ask for TOTP so that a new
/// install can be tried at once.
pub async fn require_admin<'a>(
    state: &AppState,
    auth: &'a Auth,
    role: Role,
) -> Result<&'a Principal, ApiError> {
    let principal = auth.require(role)?;
    if state.config.is_production() {
        let user_id = principal.user_id.clone();
        let enabled =
            state.db.run(move |c| totp::enabled(c, &user_id).map_err(DbError::from)).await?;
        if !enabled {
            return Err(ApiError::forbidden(
                "admin_mfa_required",
                "Admin operations need two-step sign-in: turn on an authenticator app on your \
                 account page first.",
            ));
        }
    }
    Ok(principal)
}
