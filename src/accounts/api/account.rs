//! `/api/v1/account/...`: the signed-in user's profile, password and sessions.

use poem_openapi::{ApiResponse, Object, OpenApi};

use super::*;
use crate::accounts::api::AccountsState;

pub struct AccountApi {
    pub state: AccountsState,
}

#[derive(Object)]
pub struct DeleteAccountRequest {
    /// The account's password, entered again (empty for an account without one).
    #[oai(default)]
    password: String,
}

#[derive(ApiResponse)]
pub enum AccountDeleted {
    /// The account and its personal data are deleted; its sessions and tokens have ended.
    #[oai(status = 204)]
    Deleted,
}

#[OpenApi(prefix_path = "/api/v1/account", tag = "ApiTags::Account")]
impl AccountApi {
    /// The caller's profile.
    #[oai(path = "/", method = "get", operation_id = "get_account")]
    async fn get(&self, auth: Auth) -> ApiResult<Json<UserView>> {
        let user = self
            .state
            .accounts
            .user(&auth.principal().user_id)
            .await?
            .ok_or_else(|| ApiError::unauthorized("unauthenticated", "Sign in first."))?;
        Ok(Json(UserView::from(&**user)))
    }

    /// Change the display name or legal name.
    #[oai(path = "/", method = "patch", operation_id = "update_account")]
    async fn patch(
        &self,
        req: &Request,
        auth: Auth,
        body: StrictJson<ProfilePatch>,
    ) -> ApiResult<Json<UserView>> {
        let body = body.0;
        let legal = body.legal_name.as_deref().map(|n| Some(n).filter(|n| !n.trim().is_empty()));
        let user = self
            .state
            .accounts
            .update_profile(
                auth.principal(),
                body.display_name.as_deref(),
                legal,
                &request_meta(req),
            )
            .await?;
        Ok(Json(user.into()))
    }

    /// Delete the caller's account (password required).
    ///
    /// Personal data and uploads are removed, every session and API token ends at once, audit
    /// rows are kept with the account's id replaced by a pseudonym, and the email can sign up
    /// again. `401 invalid_credentials` for a wrong password (nothing deleted; it counts in the
    /// account's lockout, and while the lockout pauses the account the answer is
    /// `429 account_throttled`); an account without a password (phone sign-in) sends an empty
    /// one and must have signed in within the last 10 minutes
    /// (`403 reauthentication_required` otherwise). The last enabled admin cannot delete
    /// itself (`409 last_admin`): promote another account to admin first.
    #[oai(path = "/", method = "delete", operation_id = "delete_account")]
    async fn delete(
        &self,
        req: &Request,
        auth: Auth,
        body: StrictJson<DeleteAccountRequest>,
    ) -> ApiResult<AccountDeleted> {
        let (principal, meta) = (auth.principal(), request_meta(req));
        let erasure = &self.state.erasure;
        self.state.accounts.delete_own(erasure, principal, &body.0.password, &meta).await?;
        Ok(AccountDeleted::Deleted)
    }

    /// Change the password (the current one is required). Ends every other session.
    ///
    /// A wrong current password counts in the account's lockout; while the lockout pauses the
    /// account the answer is `429 account_throttled`.
    #[oai(path = "/password", method = "post", operation_id = "change_password")]
    async fn change_password(
        &self,
        req: &Request,
        auth: Auth,
        body: StrictJson<ChangePasswordRequest>,
    ) -> ApiResult<Json<PasswordChangedBody>> {
        let strength = self
            .state
            .accounts
            .change_password(
                auth.principal(),
                &body.0.current_password,
                &body.0.new_password,
                &request_meta(req),
            )
            .await?;
        Ok(Json(PasswordChangedBody { status: "password_changed".into(), strength }))
    }

    /// The caller's sessions, most recently active first.
    #[oai(path = "/sessions", method = "get", operation_id = "list_sessions")]
    async fn sessions(&self, auth: Auth) -> ApiResult<Json<Vec<SessionListItem>>> {
        let principal = auth.principal();
        let list = self.state.accounts.sessions().list(&principal.user_id).await?;
        Ok(Json(list.into_iter().map(|s| listing(s, &principal.session_id)).collect()))
    }

    /// End one of the caller's sessions.
    #[oai(path = "/sessions/:id", method = "delete", operation_id = "revoke_session")]
    async fn revoke(&self, req: &Request, auth: Auth, id: Path<String>) -> ApiResult<NoContent> {
        self.state.accounts.revoke_session(auth.principal(), &id.0, &request_meta(req)).await?;
        Ok(NoContent::NoContent)
    }

    /// End every session of the caller except the current one.
    #[oai(path = "/sessions", method = "delete", operation_id = "revoke_other_sessions")]
    async fn revoke_others(&self, req: &Request, auth: Auth) -> ApiResult<Json<RevokedBody>> {
        let revoked =
            self.state.accounts.revoke_other_sessions(auth.principal(), &request_meta(req)).await?;
        Ok(Json(RevokedBody { revoked: revoked as u32 }))
    }
}
