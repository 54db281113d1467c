//! HTTP face of accounts: `/api/v1/auth/...` (sign-up, verification, sign-in, reset) and
//! `/api/v1/account/...` (profile, password, sessions). Thin: parse, authorise, call the
//! service, map the answer.

use poem::Request;
use poem::web::Data;
use poem::web::cookie::CookieJar;
use poem_openapi::param::Path;
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, Object, OpenApi};

use super::password;
use super::service::{Registration, RequestMeta};
use super::store::User;
use crate::app::{ApiTags, AppState};
use crate::clock::rfc3339;
use crate::error::ApiError;
use crate::http::ClientIp;
use crate::http::auth::Auth;
use crate::sessions::{Principal, SessionListing, cookies};

/// Counts a sign-in, sign-up, reset, verification or phone-code request against the limits
/// for its client address and the account it names (`identifier`).
pub fn limit_sensitive(state: &AppState, req: &Request, identifier: &str) -> Result<(), ApiError> {
    let ip = req.data::<ClientIp>().map(|ip| ip.0);
    state.limits.sensitive(ip, identifier).map_err(ApiError::from)
}

pub fn request_meta(req: &Request) -> RequestMeta {
    RequestMeta {
        ip: req.data::<ClientIp>().map(|ip| ip.0.to_string()),
        user_agent: req
            .headers()
            .get("user-agent")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string),
    }
}

/// A new account.
#[derive(Object)]
pub struct RegisterRequest {
    /// A campus email address (its domain must be a campus domain).
    email: String,
    /// At least 8 characters with an upper-case letter, a lower-case letter and a digit; at
    /// most 128; not a common password; not containing the email's local part.
    password: String,
    /// The name other people see.
    display_name: String,
    /// The name on official documents (needed later to drive).
    legal_name: Option<String>,
    /// A phone number, international (+...) or in the default region.
    phone: Option<String>,
}

/// The outcome of a request whose answer must not depend on whether an account exists.
#[derive(Object)]
pub struct StatusBody {
    /// `verification_sent`, `accepted`, `verified`, `password_reset`.
    status: String,
}

fn status(text: &str) -> Json<StatusBody> {
    Json(StatusBody { status: text.into() })
}

/// A link token from an email.
#[derive(Object)]
pub struct LinkTokenRequest {
    token: String,
}

/// An email address.
#[derive(Object)]
pub struct EmailRequest {
    email: String,
}

#[derive(Object)]
pub struct LoginRequest {
    email: String,
    password: String,
    /// Keep the session for 30 days (7 days idle) instead of 12 hours (30 minutes idle).
    #[oai(default)]
    remember_me: bool,
}

#[derive(Object)]
pub struct ResetRequest {
    /// The token from the reset link.
    token: String,
    new_password: String,
}

#[derive(Object)]
pub struct ChangePasswordRequest {
    current_password: String,
    new_password: String,
}

#[derive(Object)]
pub struct StrengthRequest {
    password: String,
    /// The email the password is for, so that containing it counts against it.
    #[oai(default)]
    email: String,
}

/// How strong a password is and whether the policy accepts it.
#[derive(Object)]
pub struct StrengthBody {
    /// zxcvbn score: 0 (guessable at once) to 4 (very hard to guess).
    score: u8,
    /// Whether the password policy accepts it.
    acceptable: bool,
    /// Why the policy refuses it, when it does.
    problem: Option<String>,
}

#[derive(Object)]
pub struct PasswordChangedBody {
    status: String,
    /// The new password's zxcvbn score, 0 to 4.
    strength: u8,
}

/// Profile fields to change; absent fields stay as they are.
#[derive(Object)]
pub struct ProfilePatch {
    display_name: Option<String>,
    /// The legal name; an empty string removes it.
    legal_name: Option<String>,
}

#[derive(Object)]
pub struct CampusRef {
    id: i64,
    name: String,
}

/// An account as its owner (or an admin) sees it.
#[derive(Object)]
pub struct UserView {
    id: String,
    /// Null for an account made by phone sign-in alone.
    email: Option<String>,
    display_name: String,
    legal_name: Option<String>,
    /// E.164 (`+919876543210`).
    phone: Option<String>,
    /// The phone received a code that was entered: it can be used to sign in.
    phone_verified: bool,
    /// `user`, plus `reviewer` or `admin`.
    roles: Vec<String>,
    email_verified: bool,
    campus: Option<CampusRef>,
    created_at: String,
}

impl From<&User> for UserView {
    fn from(u: &User) -> Self {
        let role = u.role.parse().unwrap_or(super::Role::User);
        Self {
            id: u.id.clone(),
            email: u.email.clone(),
            display_name: u.display_name.clone(),
            legal_name: u.legal_name.clone(),
            phone: u.phone.clone(),
            phone_verified: u.phone_verified_at.is_some(),
            roles: super::Role::roles(role),
            email_verified: u.email_verified_at.is_some(),
            campus: u
                .campus_id
                .zip(u.campus_name.as_ref())
                .map(|(id, name)| CampusRef { id, name: name.clone() }),
            created_at: rfc3339(u.created_at),
        }
    }
}

impl From<User> for UserView {
    fn from(u: User) -> Self {
        Self::from(&u)
    }
}

#[derive(Object)]
pub struct LoginBody {
    user: Option<UserView>,
    /// True when a second factor is needed before a session exists.
    mfa_required: bool,
}

/// The current session.
#[derive(Object)]
pub struct SessionView {
    id: String,
    created_at: String,
    /// When the session ends regardless of activity.
    expires_at: String,
    remember_me: bool,
    /// The session ends after this many seconds without a request.
    idle_timeout_seconds: i64,
}

impl From<&Principal> for SessionView {
    fn from(p: &Principal) -> Self {
        Self {
            id: p.session_id.clone(),
            created_at: rfc3339(p.created_at),
            expires_at: rfc3339(p.expires_at),
            remember_me: p.remember_me,
            idle_timeout_seconds: p.idle_timeout,
        }
    }
}

#[derive(Object)]
pub struct WhoAmI {
    user: UserView,
    session: SessionView,
}

/// One of the caller's sessions.
#[derive(Object)]
pub struct SessionListItem {
    id: String,
    created_at: String,
    last_seen_at: String,
    expires_at: String,
    ip: Option<String>,
    user_agent: Option<String>,
    remember_me: bool,
    /// This is the session making the request.
    current: bool,
}

fn listing(s: SessionListing, current: &str) -> SessionListItem {
    SessionListItem {
        current: s.id == current,
        id: s.id,
        created_at: rfc3339(s.created_at),
        last_seen_at: rfc3339(s.last_seen_at),
        expires_at: rfc3339(s.expires_at),
        ip: s.ip,
        user_agent: s.user_agent,
        remember_me: s.remember_me,
    }
}

#[derive(Object)]
pub struct RevokedBody {
    /// How many sessions ended.
    revoked: u32,
}

#[derive(ApiResponse)]
pub enum Accepted {
    /// Accepted. The answer is the same whether or not an account exists.
    #[oai(status = 202)]
    Accepted(Json<StatusBody>),
}

#[derive(ApiResponse)]
pub enum Done {
    /// Done.
    #[oai(status = 200)]
    Ok(Json<StatusBody>),
}

#[derive(ApiResponse)]
pub enum NoContent {
    /// Done; nothing to return.
    #[oai(status = 204)]
    NoContent,
}

#[derive(ApiResponse)]
pub enum LoginResponse {
    /// Signed in: the session and CSRF cookies are set.
    #[oai(status = 200)]
    Ok(Json<LoginBody>),
}

type ApiResult<T> = Result<T, ApiError>;

pub struct AuthApi;

#[OpenApi(prefix_path = "/api/v1/auth", tag = "ApiTags::Auth")]
impl AuthApi {
    /// Sign up with a campus email.
    ///
    /// Sends a verification link by email. The answer is the same whether or not the email
    /// already has an account (its owner is told by email instead).
    #[oai(path = "/register", method = "post", operation_id = "register")]
    async fn register(
        &self,
        state: Data<&AppState>,
        req: &Request,
        body: Json<RegisterRequest>,
    ) -> ApiResult<Accepted> {
        let body = body.0;
        limit_sensitive(&state, req, &super::email::normalize(&body.email))?;
        let input = Registration {
            email: body.email,
            password: body.password,
            display_name: body.display_name,
            legal_name: body.legal_name,
            phone: body.phone,
        };
        state.accounts.register(input, &request_meta(req)).await?;
        Ok(Accepted::Accepted(status("verification_sent")))
    }

    /// Verify an email address with the token from the emailed link.
    #[oai(path = "/verify-email", method = "post", operation_id = "verify_email")]
    async fn verify_email(
        &self,
        state: Data<&AppState>,
        req: &Request,
        body: Json<LinkTokenRequest>,
    ) -> ApiResult<Done> {
        limit_sensitive(&state, req, "email-link")?;
        state.accounts.verify_email(&body.0.token, &request_meta(req)).await?;
        Ok(Done::Ok(status("verified")))
    }

    /// Send a new verification link.
    ///
    /// Always 202. At most one link a minute and five a day are sent per account.
    #[oai(path = "/verify-email/resend", method = "post", operation_id = "resend_verification")]
    async fn resend(
        &self,
        state: Data<&AppState>,
        req: &Request,
        body: Json<EmailRequest>,
    ) -> ApiResult<Accepted> {
        limit_sensitive(&state, req, &super::email::normalize(&body.0.email))?;
        state.accounts.resend_verification(&body.0.email, &request_meta(req)).await?;
        Ok(Accepted::Accepted(status("accepted")))
    }

    /// Sign in with email and password.
    ///
    /// Sets the session cookie (HttpOnly) and the CSRF cookie. A wrong password and an unknown
    /// email get the same answer.
    #[oai(path = "/login", method = "post", operation_id = "login")]
    async fn login(
        &self,
        state: Data<&AppState>,
        req: &Request,
        jar: &CookieJar,
        body: Json<LoginRequest>,
    ) -> ApiResult<LoginResponse> {
        let body = body.0;
        limit_sensitive(&state, req, &super::email::normalize(&body.email))?;
        let signed_in = state
            .accounts
            .login(&body.email, &body.password, body.remember_me, &request_meta(req))
            .await?;
        let production = state.config.is_production();
        cookies::set(jar, production, &signed_in.session, &signed_in.csrf, state.accounts.now());
        Ok(LoginResponse::Ok(Json(LoginBody {
            user: Some(signed_in.user.into()),
            mfa_required: false,
        })))
    }

    /// Sign out: ends the current session and clears its cookies.
    #[oai(path = "/logout", method = "post", operation_id = "logout")]
    async fn logout(
        &self,
        state: Data<&AppState>,
        req: &Request,
        jar: &CookieJar,
        auth: Auth,
    ) -> ApiResult<NoContent> {
        state.accounts.logout(auth.principal(), &request_meta(req)).await?;
        cookies::clear(jar, state.config.is_production());
        Ok(NoContent::NoContent)
    }

    /// Who am I: the signed-in user and the current session.
    #[oai(path = "/session", method = "get", operation_id = "get_session")]
    async fn session(&self, state: Data<&AppState>, auth: Auth) -> ApiResult<Json<WhoAmI>> {
        let principal = auth.principal();
        let user = state
            .accounts
            .user(&principal.user_id)
            .await?
            .ok_or_else(|| ApiError::unauthorized("unauthenticated", "Sign in first."))?;
        Ok(Json(WhoAmI { user: UserView::from(user.as_ref()), session: principal.into() }))
    }

    /// Ask for a password-reset link by email.
    ///
    /// Always 202, whether or not the email has an account.
    #[oai(path = "/password/forgot", method = "post", operation_id = "forgot_password")]
    async fn forgot(
        &self,
        state: Data<&AppState>,
        req: &Request,
        body: Json<EmailRequest>,
    ) -> ApiResult<Accepted> {
        limit_sensitive(&state, req, &super::email::normalize(&body.0.email))?;
        state.accounts.forgot_password(&body.0.email, &request_meta(req)).await?;
        Ok(Accepted::Accepted(status("accepted")))
    }

    /// Set a new password with the token from the reset link.
    ///
    /// Ends every session of the account and emails a notice.
    #[oai(path = "/password/reset", method = "post", operation_id = "reset_password")]
    async fn reset(
        &self,
        state: Data<&AppState>,
        req: &Request,
        body: Json<ResetRequest>,
    ) -> ApiResult<Done> {
        let body = body.0;
        limit_sensitive(&state, req, "email-link")?;
        state.accounts.reset_password(&body.token, &body.new_password, &request_meta(req)).await?;
        Ok(Done::Ok(status("password_reset")))
    }

    /// Rate a password against the policy and zxcvbn, for a live strength meter.
    #[oai(path = "/password/strength", method = "post", operation_id = "password_strength")]
    async fn strength(
        &self,
        state: Data<&AppState>,
        body: Json<StrengthRequest>,
    ) -> ApiResult<Json<StrengthBody>> {
        let email = super::email::normalize(&body.0.email);
        let problem = password::policy_violation(&body.0.password, &email);
        let score = state
            .accounts
            .hasher()
            .strength(&body.0.password, &email)
            .await
            .map_err(ApiError::internal)?;
        Ok(Json(StrengthBody { score, acceptable: problem.is_none(), problem }))
    }
}

pub struct AccountApi;

#[OpenApi(prefix_path = "/api/v1/account", tag = "ApiTags::Account")]
impl AccountApi {
    /// The caller's profile.
    #[oai(path = "/", method = "get", operation_id = "get_account")]
    async fn get(&self, state: Data<&AppState>, auth: Auth) -> ApiResult<Json<UserView>> {
        let user = state
            .accounts
            .user(&auth.principal().user_id)
            .await?
            .ok_or_else(|| ApiError::unauthorized("unauthenticated", "Sign in first."))?;
        Ok(Json(UserView::from(user.as_ref())))
    }

    /// Change the display name or legal name.
    #[oai(path = "/", method = "patch", operation_id = "update_account")]
    async fn patch(
        &self,
        state: Data<&AppState>,
        req: &Request,
        auth: Auth,
        body: Json<ProfilePatch>,
    ) -> ApiResult<Json<UserView>> {
        let body = body.0;
        let legal = body.legal_name.as_deref().map(|n| Some(n).filter(|n| !n.trim().is_empty()));
        let user = state
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

    /// Change the password (the current one is required). Ends every other session.
    #[oai(path = "/password", method = "post", operation_id = "change_password")]
    async fn change_password(
        &self,
        state: Data<&AppState>,
        req: &Request,
        auth: Auth,
        body: Json<ChangePasswordRequest>,
    ) -> ApiResult<Json<PasswordChangedBody>> {
        let strength = state
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
    async fn sessions(
        &self,
        state: Data<&AppState>,
        auth: Auth,
    ) -> ApiResult<Json<Vec<SessionListItem>>> {
        let principal = auth.principal();
        let list = state.accounts.sessions().list(&principal.user_id).await?;
        Ok(Json(list.into_iter().map(|s| listing(s, &principal.session_id)).collect()))
    }

    /// End one of the caller's sessions.
    #[oai(path = "/sessions/:id", method = "delete", operation_id = "revoke_session")]
    async fn revoke(
        &self,
        state: Data<&AppState>,
        req: &Request,
        auth: Auth,
        id: Path<String>,
    ) -> ApiResult<NoContent> {
        state.accounts.revoke_session(auth.principal(), &id.0, &request_meta(req)).await?;
        Ok(NoContent::NoContent)
    }

    /// End every session of the caller except the current one.
    #[oai(path = "/sessions", method = "delete", operation_id = "revoke_other_sessions")]
    async fn revoke_others(
        &self,
        state: Data<&AppState>,
        req: &Request,
        auth: Auth,
    ) -> ApiResult<Json<RevokedBody>> {
        let revoked =
            state.accounts.revoke_other_sessions(auth.principal(), &request_meta(req)).await?;
        Ok(Json(RevokedBody { revoked: revoked as u32 }))
    }
}
