//! Authentication of protected operations. Both cookie names appear as security schemes in the
//! spec: `gatehouse_session` (development) and `__Host-gatehouse_session` (production); each
//! mode accepts only its own. A bearer access token (JWT) is the third scheme.

use poem::Request;
use poem::RequestBody;
use poem::http::StatusCode;
use poem_openapi::auth::{ApiKey, Bearer};
use poem_openapi::registry::Registry;
use poem_openapi::{ApiExtractor, ApiExtractorType, ExtractParamOptions, SecurityScheme};

use super::HttpContext;
use crate::db::DbError;
use crate::error::problem_error;
use crate::http::{ClientIp, observe::AccessUser};
use crate::identity::Principal;
use crate::sessions::cookies;

/// The session cookie set by sign-in (development mode name).
#[derive(SecurityScheme)]
#[oai(
    ty = "api_key",
    key_name = "gatehouse_session",
    key_in = "cookie",
    checker = "development_cookie"
)]
pub struct SessionCookie(Principal);

/// The session cookie set by sign-in (production mode name, `Secure`).
#[derive(SecurityScheme)]
#[oai(
    ty = "api_key",
    key_name = "__Host-gatehouse_session",
    key_in = "cookie",
    checker = "production_cookie"
)]
pub struct HostSessionCookie(Principal);

/// An access token from `POST /api/v1/auth/token`.
#[derive(SecurityScheme)]
#[oai(ty = "bearer", bearer_format = "JWT", checker = "bearer_token")]
pub struct BearerToken(Principal);

/// Who is calling: a session cookie or a bearer access token.
#[derive(SecurityScheme)]
pub enum AuthScheme {
    SessionCookie(SessionCookie),
    HostSessionCookie(HostSessionCookie),
    BearerToken(BearerToken),
}

/// The caller of a protected operation: [`AuthScheme`]. (A checker's own error would be lost:
/// poem-openapi answers with the last scheme's.) The request was counted against its user's
/// rate limit before routing (`request_limit.rs`).
pub struct Auth(AuthScheme);

impl<'a> ApiExtractor<'a> for Auth {
    const TYPES: &'static [ApiExtractorType] = <AuthScheme as ApiExtractor<'a>>::TYPES;

    type ParamType = <AuthScheme as ApiExtractor<'a>>::ParamType;
    type ParamRawType = <AuthScheme as ApiExtractor<'a>>::ParamRawType;

    fn register(registry: &mut Registry) {
        AuthScheme::register(registry);
    }

    fn security_schemes() -> Vec<&'static str> {
        AuthScheme::security_schemes()
    }

    fn has_security_fallback() -> bool {
        AuthScheme::has_security_fallback()
    }

    async fn from_request(
        req: &'a Request,
        body: &mut RequestBody,
        param_opts: ExtractParamOptions<Self::ParamType>,
    ) -> poem::Result<Self> {
        Ok(Self(AuthScheme::from_request(req, body, param_opts).await?))
    }
}

impl Auth {
    pub fn principal(&self) -> &Principal {
        self.0.principal()
    }
}

impl AuthScheme {
    pub fn principal(&self) -> &Principal {
        match self {
            AuthScheme::SessionCookie(SessionCookie(p))
            | AuthScheme::HostSessionCookie(HostSessionCookie(p))
            | AuthScheme::BearerToken(BearerToken(p)) => p,
        }
    }
}

/// A request's credentials as checked once, before routing (`request_limit.rs`): for each
/// kind, `None` where the request carries none (or it was not needed), `Some(None)` where
/// it does and it does not authenticate, `Some(Some(..))` where it does.
#[derive(Clone, Default)]
pub struct CheckedCredentials {
    cookie: Option<Option<Principal>>,
    bearer: Option<Option<Principal>>,
}

impl CheckedCredentials {
    /// Checks the request's session cookie (the name of this mode) and, unless the cookie
    /// authenticated, its bearer token: the order in which [`AuthScheme`] tries them.
    pub async fn check(state: &HttpContext, req: &Request) -> poem::Result<Self> {
        let mut checked = Self::default();
        let production = state.config.is_production();
        if let Some(cookie) = req.cookie().get(cookies::session_cookie_name(production)) {
            let ip = req.data::<ClientIp>().map(|ip| ip.0);
            let found = state.sessions.authenticate(cookie.value_str(), ip).await;
            checked.cookie = Some(settle(req, found)?);
        }
        if checked.principal().is_none()
            && let Some(token) = bearer_of(req)
        {
            checked.bearer = Some(settle(req, state.tokens.authenticate(token).await)?);
        }
        Ok(checked)
    }

    /// Whom the request's credentials authenticate, if anyone.
    pub fn principal(&self) -> Option<&Principal> {
        self.cookie.iter().chain(&self.bearer).flatten().next()
    }
}

/// The token of an `Authorization: Bearer` header, as poem-openapi's bearer scheme reads it.
fn bearer_of(req: &Request) -> Option<&str> {
    let value = req.headers().get(poem::http::header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then_some(token.trim())
}

async fn development_cookie(req: &Request, key: ApiKey) -> poem::Result<Principal> {
    cookie_principal(req, &key.key, false).await
}

async fn production_cookie(req: &Request, key: ApiKey) -> poem::Result<Principal> {
    cookie_principal(req, &key.key, true).await
}

async fn bearer_token(req: &Request, bearer: Bearer) -> poem::Result<Principal> {
    if let Some(Some(checked)) = req.data::<CheckedCredentials>().and_then(|c| c.bearer.as_ref()) {
        return Ok(checked.clone());
    }
    let state = req.data::<HttpContext>().ok_or_else(unauthenticated)?;
    settle(req, state.tokens.authenticate(&bearer.token).await)?.ok_or_else(unauthenticated)
}

/// Turns a lookup into the checker's answer, naming the user for the access log.
fn settle(
    req: &Request,
    found: Result<Option<Principal>, DbError>,
) -> poem::Result<Option<Principal>> {
    match found {
        Ok(found) => {
            if let (Some(principal), Some(slot)) = (&found, req.data::<AccessUser>()) {
                slot.set(&principal.user_id);
            }
            Ok(found)
        }
        Err(e) => {
            tracing::error!(error = %e, "credential lookup failed");
            Err(problem_error(
                StatusCode::SERVICE_UNAVAILABLE,
                "unavailable",
                "Please try again in a moment.",
            ))
        }
    }
}

fn unauthenticated() -> poem::Error {
    problem_error(
        StatusCode::UNAUTHORIZED,
        "unauthenticated",
        "Sign in first: the session is missing, expired or ended.",
    )
}

async fn cookie_principal(
    req: &Request,
    token: &str,
    production_cookie: bool,
) -> poem::Result<Principal> {
    let state = req.data::<HttpContext>().ok_or_else(unauthenticated)?;
    if state.config.is_production() != production_cookie {
        return Err(unauthenticated());
    }
    if let Some(checked) = req.data::<CheckedCredentials>().and_then(|c| c.cookie.as_ref()) {
        return checked.clone().ok_or_else(unauthenticated);
    }
    let ip = req.data::<ClientIp>().map(|ip| ip.0);
    settle(req, state.sessions.authenticate(token, ip).await)?.ok_or_else(unauthenticated)
}
