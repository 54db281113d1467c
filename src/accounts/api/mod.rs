//! HTTP face of accounts: `/api/v1/auth/...` (sign-up, verification, sign-in, reset) and
//! `/api/v1/account/...` (profile, password, sessions). Thin: parse, authorise, call the
//! service, map the answer.

mod account;
mod auth;
mod mfa;
mod passkeys;
mod problems;
mod tokens;

pub use account::AccountApi;
pub use auth::AuthApi;
pub use mfa::MfaApi;
pub use passkeys::{PasskeyAuthApi, PasskeysApi};
pub use tokens::{TokensApi, jwks};

use std::borrow::Cow;

use poem::Request;
use poem::web::cookie::CookieJar;
use poem_openapi::param::Path;
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, Object};
use serde_json::value::RawValue;

use super::password;
use super::service::{CachedUser, Registration};
use super::store::User;
use crate::cache::render_json;
use crate::captcha::{CaptchaSolution, guard_sensitive};
use crate::clock::rfc3339;
use crate::error::ApiError;
use crate::http::auth::Auth;
use crate::http::tags::ApiTags;
use crate::http::{
    ClientIp, DirectJson, StrictJson, forgive_sensitive, limit_sensitive, request_meta,
    token_identifier,
};
use crate::identity::Principal;
use crate::policies::PendingPolicy;
use crate::sessions::{SessionListing, cookies};

/// What the accounts API uses (built by the route table).
#[derive(Clone)]
pub struct AccountsState {
    pub config: std::sync::Arc<crate::config::Config>,
    pub accounts: std::sync::Arc<crate::accounts::Accounts>,
    pub tokens: std::sync::Arc<crate::tokens::Tokens>,
    pub limits: std::sync::Arc<crate::ratelimit::RateLimits>,
    pub captcha: std::sync::Arc<crate::captcha::Captcha>,
    pub pending_policies: std::sync::Arc<crate::policies::PendingPolicies>,
    /// Account deletion by its owner.
    pub erasure: std::sync::Arc<crate::pii::Erasure>,
}

/// A new account.
#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
pub struct RegisterRequest {
    /// A campus email address (its domain must be a campus domain).
    email: String,
    /// At least 8 characters with an upper-case letter, a lower-case letter and a digit; at
    /// most 128; not a common password; not containing the email's local part. Leave it out
    /// to sign in with a passkey instead: the email's verification then hands out a
    /// `setup_token` to add one (`POST /api/v1/auth/passkey/setup`).
    password: Option<String>,
    /// The name other people see.
    display_name: String,
    /// The name on official documents (needed later to drive).
    legal_name: Option<String>,
    /// A phone number, international (+...) or in the default region.
    phone: Option<String>,
    /// A solved `GET /api/v1/captcha` challenge; required when the captcha is on.
    captcha: Option<CaptchaSolution>,
    /// The privacy-policy version the user accepted (`GET /api/v1/policies/current`).
    /// Required once a policy is published; it must be the current version.
    accepted_policy_version: Option<String>,
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

/// An email verified.
#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
pub struct VerifiedBody {
    /// `verified`.
    status: String,
    /// For an account without a password or passkey: a token (an hour, single use) to add a
    /// passkey (`POST /api/v1/auth/passkey/setup/options`) or set a password
    /// (`POST /api/v1/auth/password/reset`).
    setup_token: Option<String>,
}

/// A link token from an email.
#[derive(Object)]
pub struct LinkTokenRequest {
    token: String,
}

/// An email address.
#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
pub struct EmailRequest {
    email: String,
    /// A solved captcha, when a `428 captcha_required` asked for one.
    captcha: Option<CaptchaSolution>,
}

#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
pub struct LoginRequest {
    email: String,
    password: String,
    /// Keep the session for 30 days (7 days idle) instead of 12 hours (30 minutes idle).
    #[oai(default)]
    remember_me: bool,
    /// A solved captcha, when a `428 captcha_required` asked for one.
    captcha: Option<CaptchaSolution>,
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
#[oai(skip_serializing_if_is_none)]
pub struct StrengthBody {
    /// zxcvbn score: 0 (guessable at once) to 4 (very hard to guess).
    score: u8,
    /// Whether the password policy accepts it.
    acceptable: bool,
    /// Why the policy refuses it, when it does.
    #[oai(skip_serializing_if_is_none)]
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
#[oai(skip_serializing_if_is_none)]
pub struct ProfilePatch {
    display_name: Option<String>,
    /// The legal name; an empty string removes it.
    legal_name: Option<String>,
}

#[derive(Object, serde::Serialize)]
pub struct CampusRef {
    id: i64,
    name: String,
}

/// An account as its owner (or an admin) sees it.
#[derive(Object, serde::Serialize)]
#[oai(skip_serializing_if_is_none)]
pub struct UserView {
    id: String,
    /// Absent for an account made by phone sign-in alone.
    #[oai(skip_serializing_if_is_none)]
    #[serde(skip_serializing_if = "Option::is_none")]
    email: Option<String>,
    display_name: String,
    #[oai(skip_serializing_if_is_none)]
    #[serde(skip_serializing_if = "Option::is_none")]
    legal_name: Option<String>,
    /// E.164 (`+919876543210`); absent when the account has no phone.
    #[oai(skip_serializing_if_is_none)]
    #[serde(skip_serializing_if = "Option::is_none")]
    phone: Option<String>,
    /// The phone received a code that was entered: it can be used to sign in.
    phone_verified: bool,
    /// `user`, plus `reviewer` or `admin`.
    roles: Vec<String>,
    email_verified: bool,
    /// Absent for an account outside any campus (phone-only, or its campus was removed).
    #[oai(skip_serializing_if_is_none)]
    #[serde(skip_serializing_if = "Option::is_none")]
    campus: Option<CampusRef>,
    created_at: String,
}

impl From<&User> for UserView {
    fn from(u: &User) -> Self {
        let role = u.role.parse().unwrap_or(crate::identity::Role::User);
        Self {
            id: u.id.clone(),
            email: u.email.clone(),
            display_name: u.display_name.clone(),
            legal_name: u.legal_name.clone(),
            phone: u.phone.clone(),
            phone_verified: u.phone_verified_at.is_some(),
            roles: crate::identity::Role::roles(role),
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
#[oai(skip_serializing_if_is_none)]
pub struct LoginBody {
    /// The signed-in user; absent while a second factor is needed.
    #[oai(skip_serializing_if_is_none)]
    user: Option<UserView>,
    /// True when a second factor is needed before a session exists.
    mfa_required: bool,
    /// With `mfa_required`: the pending sign-in, for `POST /api/v1/auth/login/mfa`.
    mfa_token: Option<String>,
    /// Whether the user has a privacy-policy version to accept (the session exists either
    /// way).
    #[oai(flatten)]
    policy: PendingPolicy,
}

/// The second step of a sign-in.
#[derive(Object)]
pub struct MfaLoginRequest {
    /// From the `/login` answer.
    mfa_token: String,
    /// The 6-digit code from the authenticator app, or an unused recovery code.
    code: String,
}

/// The current session.
#[derive(Object, serde::Serialize)]
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

// Answered with `DirectJson`, written by `WhoAmIBody` (a test below shows the two agree).
// (Not a doc comment: that would enter the API document.)
#[derive(Object)]
pub struct WhoAmI {
    user: UserView,
    session: SessionView,
    /// Whether the user has a privacy-policy version to accept: a session that began before
    /// a new version was published learns it here.
    #[oai(flatten)]
    policy: PendingPolicy,
}

/// What the session check writes: [`WhoAmI`] field for field, from the renderings cached
/// with the user and the session, with the policy's fields written in place (as `flatten`
/// would, without serde's slower map path).
#[derive(serde::Serialize)]
pub struct WhoAmIBody<'a> {
    user: &'a RawValue,
    session: Cow<'a, RawValue>,
    policy_acceptance_required: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    policy_version: Option<&'a str>,
}

impl<'a> WhoAmIBody<'a> {
    pub fn new(user: &'a CachedUser, session: &'a Principal, policy: &'a PendingPolicy) -> Self {
        let render_session = || SessionView::from(session);
        Self {
            user: user.rendering.get_or_render(|| UserView::from(&**user)),
            session: match &session.rendering {
                Some(rendering) => Cow::Borrowed(rendering.get_or_render(render_session)),
                None => Cow::Owned(render_json(&render_session())),
            },
            policy_acceptance_required: policy.policy_acceptance_required,
            policy_version: policy.policy_version.as_deref(),
        }
    }
}

/// One of the caller's sessions.
#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
pub struct SessionListItem {
    id: String,
    created_at: String,
    last_seen_at: String,
    expires_at: String,
    #[oai(skip_serializing_if_is_none)]
    ip: Option<String>,
    #[oai(skip_serializing_if_is_none)]
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
    /// Signed in (the session and CSRF cookies are set), or a second factor is needed
    /// (`mfa_required`, no cookies yet).
    #[oai(status = 200)]
    Ok(Json<LoginBody>),
}

type ApiResult<T> = Result<T, ApiError>;

#[cfg(test)]
mod tests {
    use super::*;

    fn user(full: bool) -> User {
        let some = |v: &str| full.then(|| v.to_string());
        User {
            id: "u1".into(),
            email: some("ada@campus.example"),
            display_name: "Ada \"L\" \u{e9} \\ </script>".into(),
            legal_name: some("Ada Lovelace"),
            phone: some("+15555550100"),
            password_hash: some("$argon2id$not-written"),
            campus_id: full.then_some(7),
            campus_name: some("North"),
            role: if full { "admin" } else { "user" }.into(),
            email_verified_at: (!full).then_some(1_796_371_200),
            created_at: 1_796_371_200,
            phone_verified_at: full.then_some(1_796_371_300),
            profile_updated_at: None,
        }
    }

    fn principal(full: bool) -> Principal {
        Principal {
            method: crate::identity::AuthMethod::Session,
            user_id: "u1".into(),
            session_id: "s1".into(),
            role: crate::identity::Role::User,
            remember_me: full,
            created_at: 1_796_371_200,
            expires_at: 1_798_963_200,
            idle_timeout: 1800,
            amr: crate::identity::Amr::PASSWORD,
            // A session's slot with the full case, an access token's none with the other.
            rendering: full.then(std::sync::Arc::default),
            rate_limit: std::sync::Arc::default(),
        }
    }

    /// The session check answers with `DirectJson` from `WhoAmIBody`: what it writes must be
    /// what `WhoAmI`'s `Object` derive (and so the document) says, with every optional field
    /// present and absent.
    #[test]
    fn who_am_i_is_written_as_documented() {
        for full in [true, false] {
            let (user, principal) = (user(full), principal(full));
            let policy = || PendingPolicy::pending(full.then(|| "2026-1".to_string()));
            let documented = WhoAmI {
                user: UserView::from(&user),
                session: SessionView::from(&principal),
                policy: policy(),
            };
            let cached = CachedUser::new(user);
            let policy = policy();
            let (documented, written) =
                crate::http::both_ways(&documented, &WhoAmIBody::new(&cached, &principal, &policy));
            assert_eq!(documented, written, "full: {full}");
            let again = serde_json::to_vec(&WhoAmIBody::new(&cached, &principal, &policy));
            let again: serde_json::Value = serde_json::from_slice(&again.unwrap()).unwrap();
            assert_eq!(again, written, "a cached rendering is the same answer");
            assert!(!written.to_string().contains("argon2"), "the password hash is never written");
            if !full {
                assert!(written["user"].get("email").is_none(), "absent options are left out");
                assert!(written.get("policy_version").is_none());
                assert_eq!(written["policy_acceptance_required"], false, "the policy is flattened");
            }
        }
    }
}
