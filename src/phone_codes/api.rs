//! `/api/v1/auth/otp/request`, `/otp/resend` and `/otp/verify`.
//!
//! The caller's session or bearer token is read here rather than by the `Auth` scheme: these
//! operations also serve callers who are not signed in, and a stale cookie left in a browser
//! must not stop a sign-in (it is simply not signed in). `request` and `resend` are CSRF
//! public forms (they send a code, and a code only works with the phone that got it);
//! `verify` is not, because with a session cookie it changes that account.

use poem::Request;
use poem::web::cookie::CookieJar;
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, Object, OpenApi};

use super::Verified;
use crate::accounts::api::UserView;
use crate::error::{ApiError, rate_limited_problem};
use crate::http::HttpContext;
use crate::http::StrictJson;
use crate::http::auth::CheckedCredentials;
use crate::http::request_meta;
use crate::http::tags::ApiTags;
use crate::identity::Principal;
use crate::policies::PendingPolicy;
use crate::sessions::cookies;

/// What the phone-code API uses (built by the route table).
#[derive(Clone)]
pub struct PhoneCodesState {
    pub config: std::sync::Arc<crate::config::Config>,
    pub phone_codes: std::sync::Arc<super::PhoneCodes>,
    pub accounts: std::sync::Arc<crate::accounts::Accounts>,
    pub limits: std::sync::Arc<crate::ratelimit::RateLimits>,
    pub pending_policies: std::sync::Arc<crate::policies::PendingPolicies>,
}

#[derive(Object)]
pub struct PhoneRequest {
    /// A mobile number, international (`+91 98765 43210`) or in the configured default region.
    phone: String,
}

#[derive(Object)]
pub struct VerifyCodeRequest {
    phone: String,
    /// The 6 digits from the SMS.
    code: String,
    /// Keep the session for 30 days (7 days idle) instead of 12 hours (30 minutes idle).
    #[oai(default)]
    remember_me: bool,
}

#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
pub struct CodeRequestedBody {
    /// Always `accepted`, whether or not a code was sent.
    status: String,
    /// The code itself, only when `sms.dev_echo` is on (development mode only).
    #[oai(skip_serializing_if_is_none)]
    dev_code: Option<String>,
}

#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
pub struct CodeVerifiedBody {
    /// The signed-in or linked user; absent while a second factor is needed.
    user: Option<UserView>,
    /// `signed_in` (a new session, cookies set), `linked` (the phone was added to the
    /// signed-in account, whose session stays as it is), or `mfa_required` (the account has
    /// two-step sign-in on: no session yet).
    outcome: String,
    /// True when a second factor is needed before a session exists.
    mfa_required: bool,
    /// With `mfa_required`: the pending sign-in, for `POST /api/v1/auth/login/mfa`.
    mfa_token: Option<String>,
    /// Whether the user has a privacy-policy version to accept.
    #[oai(flatten)]
    policy: PendingPolicy,
}

#[derive(ApiResponse)]
pub enum CodeRequested {
    /// Accepted. The answer is the same whether or not a code was sent.
    #[oai(status = 202)]
    Accepted(Json<CodeRequestedBody>),
}

#[derive(ApiResponse)]
pub enum CodeVerified {
    /// The code was right.
    #[oai(status = 200)]
    Ok(Json<CodeVerifiedBody>),
}

/// The caller's principal when the request carries a live session cookie or bearer token (as
/// checked before routing; a stale cookie is simply not signed in).
async fn caller(req: &Request) -> Result<Option<Principal>, ApiError> {
    if let Some(checked) = req.data::<CheckedCredentials>() {
        return Ok(checked.principal().cloned());
    }
    let Some(context) = req.data::<HttpContext>() else { return Ok(None) };
    let checked = CheckedCredentials::check(context, req)
        .await
        .map_err(|_| ApiError::unavailable("unavailable", "Please try again in a moment."))?;
    Ok(checked.principal().cloned())
}

pub struct PhoneCodesApi {
    pub state: PhoneCodesState,
}

#[OpenApi(prefix_path = "/api/v1/auth/otp", tag = "ApiTags::Auth")]
impl PhoneCodesApi {
    /// Ask for a sign-in code by SMS.
    ///
    /// Always 202 for a valid number. The code (6 digits, valid 10 minutes) is sent when the
    /// phone is verified on an account, or when the caller is signed in (to add the phone to
    /// the account). A new code replaces the previous one. At most one code a minute and 3
    /// per 15 minutes per phone, and 5 a day per signed-in account (429 with `Retry-After`).
    /// Numbers outside the configured regions (`sms.allowed_regions`) are refused
    /// (`validation_failed` on `phone`, naming the regions).
    #[oai(path = "/request", method = "post", operation_id = "request_phone_code")]
    async fn request(
        &self,
        req: &Request,
        body: StrictJson<PhoneRequest>,
    ) -> Result<CodeRequested, ApiError> {
        send_code(&self.state, req, &body.0.phone).await
    }

    /// Send a new sign-in code by SMS.
    ///
    /// The same as `request_phone_code`, with the same limits.
    #[oai(path = "/resend", method = "post", operation_id = "resend_phone_code")]
    async fn resend(
        &self,
        req: &Request,
        body: StrictJson<PhoneRequest>,
    ) -> Result<CodeRequested, ApiError> {
        send_code(&self.state, req, &body.0.phone).await
    }

    /// Sign in with a code from an SMS, or add the phone to the signed-in account.
    ///
    /// Not signed in: signs in the account on which the phone is verified and sets the session
    /// and CSRF cookies; when that account has two-step sign-in on, the code is one factor:
    /// the answer is `mfa_required` with an `mfa_token` for `POST /api/v1/auth/login/mfa` and
    /// no session yet. Signed in (session cookie with the CSRF header, or a bearer token):
    /// links the phone to that account. A wrong, expired, used or dead code is
    /// `invalid_code`; a code dies after 5 wrong attempts. At most 10 attempts per 15 minutes
    /// per phone and per client IP (429 with `Retry-After`).
    #[oai(path = "/verify", method = "post", operation_id = "verify_phone_code")]
    async fn verify(
        &self,
        req: &Request,
        jar: &CookieJar,
        body: StrictJson<VerifyCodeRequest>,
    ) -> Result<CodeVerified, ApiError> {
        let body = body.0;
        limit_by_address(&self.state, req)?;
        let principal = caller(req).await?;
        let verified = self
            .state
            .phone_codes
            .verify(
                &body.phone,
                &body.code,
                principal.as_ref(),
                body.remember_me,
                &request_meta(req),
            )
            .await?;
        let (user, outcome) = match verified {
            Verified::SignedIn(signed_in) => {
                let production = self.state.config.is_production();
                let now = self.state.accounts.now();
                cookies::set(jar, production, &signed_in.session, &signed_in.csrf, now);
                (signed_in.user, "signed_in")
            }
            Verified::Linked(user) => (user, "linked"),
            Verified::SecondFactor { mfa_token } => {
                return Ok(CodeVerified::Ok(Json(CodeVerifiedBody {
                    user: None,
                    outcome: "mfa_required".into(),
                    mfa_required: true,
                    mfa_token: Some(mfa_token),
                    policy: PendingPolicy::default(),
                })));
            }
        };
        let policy = self.state.pending_policies.status(&user.id).await?;
        Ok(CodeVerified::Ok(Json(CodeVerifiedBody {
            user: Some(user.into()),
            outcome: outcome.into(),
            mfa_required: false,
            mfa_token: None,
            policy,
        })))
    }
}

async fn send_code(
    state: &PhoneCodesState,
    req: &Request,
    phone: &str,
) -> Result<CodeRequested, ApiError> {
    limit_by_address(state, req)?;
    let principal = caller(req).await?;
    let dev_code = state.phone_codes.request(phone, principal.as_ref(), &request_meta(req)).await?;
    Ok(CodeRequested::Accepted(Json(CodeRequestedBody { status: "accepted".into(), dev_code })))
}

/// Phone-code requests count against the per-address tier of the sign-in limits. The
/// per-number limits are the phone codes' own (cooldown, 3 requests and 10 checks per 15
/// minutes), enforced by the service on the normalised number; the generic 5-per-account tier
/// would cut a person who resends and mistypes off before those.
fn limit_by_address(state: &PhoneCodesState, req: &Request) -> Result<(), ApiError> {
    let ip = req.data::<crate::http::ClientIp>().map(|ip| ip.0);
    state.limits.sensitive_by_address(ip).map_err(ApiError::from)
}

// The feature's errors as the answers a client sees: status, stable `code`, and a detail in
// words a student understands. Internal causes go to the server's log, never to the client.
impl From<crate::phone_codes::PhoneCodeError> for ApiError {
    fn from(e: crate::phone_codes::PhoneCodeError) -> Self {
        use crate::phone_codes::PhoneCodeError as E;
        match e {
            E::Validation(errors) => Self::validation(errors),
            E::RateLimited { retry_after } => Self::TooManyRequests(
                Json(rate_limited_problem(retry_after)),
                retry_after,
                None,
                None,
                None,
            ),
            E::InvalidCode => Self::unauthorized(
                "invalid_code",
                "This code is not right, has expired or was already used. Ask for a new one.",
            ),
            E::PhoneTaken => Self::conflict(
                "phone_taken",
                "This phone number is already verified on another account.",
            ),
            E::AccountDisabled => Self::forbidden(
                "account_disabled",
                "This account is disabled. Ask your campus IT team to enable it again.",
            ),
            E::Internal(cause) => Self::internal(format!("{cause:#}")),
        }
    }
}
