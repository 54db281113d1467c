//! `POST /api/v1/admin/users/{id}/unlock`: lifting a lockout.

use crate::http::AdminAuth;
use poem::Request;
use poem_openapi::param::Path;
use poem_openapi::{ApiResponse, OpenApi};

use crate::accounts::{self, lockout};
use crate::admin::AdminState;
use crate::audit::{self, AuditEvent, actions};
use crate::db::DbError;
use crate::error::ApiError;
use crate::http::request_meta;
use crate::http::tags::ApiTags;

#[derive(ApiResponse)]
pub enum Unlocked {
    /// The account's failed sign-ins and any pause are cleared.
    #[oai(status = 204)]
    Unlocked,
}

pub struct UsersApi {
    pub state: AdminState,
}

#[OpenApi(prefix_path = "/api/v1/admin/users", tag = "ApiTags::Admin")]
impl UsersApi {
    /// Clear an account's lockout (failed sign-ins and any pause).
    #[oai(path = "/:id/unlock", method = "post", operation_id = "unlock_user")]
    async fn unlock(
        &self,
        req: &Request,
        auth: AdminAuth,
        id: Path<String>,
    ) -> Result<Unlocked, ApiError> {
        let admin = auth.principal().user_id.clone();
        let (ip, now, user_id) = (request_meta(req).ip, self.state.clock.unix(), id.0);
        let pii = self.state.accounts.pii().clone();
        self.state
            .db
            .run_conn(move |conn| {
                let tx = conn.transaction().map_err(DbError::from)?;
                if accounts::find_by_id(&tx, &pii, &user_id)?.is_none() {
                    return Err(ApiError::not_found("user_not_found", "There is no such account."));
                }
                let cleared = lockout::clear(&tx, &user_id)?;
                let event = AuditEvent {
                    actor_id: Some(&admin),
                    ..AuditEvent::by_user(now, &user_id, actions::ACCOUNT_UNLOCKED, ip.as_deref())
                }
                .with_details(serde_json::json!({"was_locked": cleared}));
                audit::record(&tx, &event)?;
                tx.commit().map_err(DbError::from)?;
                Ok(())
            })
            .await?;
        Ok(Unlocked::Unlocked)
    }
}
