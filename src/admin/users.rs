//! `POST /api/v1/admin/users/{id}/unlock`: lifting a lockout.

use crate::http::AdminAuth;
use poem::Request;
use poem::web::Data;
use poem_openapi::param::Path;
use poem_openapi::{ApiResponse, OpenApi};

use crate::accounts::{self, lockout};
use crate::audit::{self, AuditEvent, actions};
use crate::error::ApiError;
use crate::http::request_meta;
use crate::http::tags::ApiTags;
use crate::state::AppState;

#[derive(ApiResponse)]
pub enum Unlocked {
    /// The account's failed sign-ins and any pause are cleared.
    #[oai(status = 204)]
    Unlocked,
}

pub struct UsersApi;

#[OpenApi(prefix_path = "/api/v1/admin/users", tag = "ApiTags::Admin")]
impl UsersApi {
    /// Clear an account's lockout (failed sign-ins and any pause).
    #[oai(path = "/:id/unlock", method = "post", operation_id = "unlock_user")]
    async fn unlock(
        &self,
        state: Data<&AppState>,
        req: &Request,
        auth: AdminAuth,
        id: Path<String>,
    ) -> Result<Unlocked, ApiError> {
        let admin = auth.principal().user_id.clone();
        let (ip, now, user_id) = (request_meta(req).ip, state.clock.unix(), id.0);
        let pii = state.accounts.pii().clone();
        state
            .db
            .run(move |conn| {
                let tx = crate::db::write_tx(conn)?;
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
                tx.commit()?;
                Ok(())
            })
            .await?;
        Ok(Unlocked::Unlocked)
    }
}
