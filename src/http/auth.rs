//! Authentication of protected operations. Both cookie names appear as security schemes in the
//! spec: `gatehouse_session` (development) and `__Host-gatehouse_session` (production); each
//! mode accepts only its own. A bearer access token (JWT) is the third scheme.

use poem::Request;
use poem::RequestBody;
use poem::http::StatusCode;
use poem_openapi::auth::{ApiKey, Bearer};
use poem_openapi::registry::Registry;
use poem_openapi::{ApiExtractor, ApiExtractorType, ExtractParamOptions, SecurityScheme};

use crate::accounts::Role;
use crate::app::AppState;
use crate::db::DbError;
use crate::error::{ApiError, limited_error, problem_error};
use crate::http::{ClientIp, observe::AccessUser};
use crate::sessions::Principal;

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

/// The caller of a protected operation: [`AuthScheme`], then counted against the user's rate
/// limit. (A checker's own error would be lost: poem-openapi answers with the last scheme's.)
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
        let scheme = AuthScheme::from_request(req, body, param_opts).await?;
        if let Some(state) = req.data::<AppState>() {
            let principal = scheme.principal();
            state
                .limits
                .authenticated(&principal.rate_limit, &principal.user_id)
                .map_err(limited_error)?;
        }
        Ok(Self(scheme))
    }
}

impl Auth {
    pub fn principal(&self) -> &Principal {
        self.0.principal()
    }

    /// The principal if it holds `role` (admins hold every role).
    pub fn require(&self, role: Role) -> Result<&Principal, ApiError> {
        let principal = self.principal();
        if principal.role == role || principal.role == Role::Admin {
            Ok(principal)
        } else {
            Err(ApiError::forbidden("forbidden", "Your account may not do this."))
        }
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

async fn development_cookie(req: &Request, key: ApiKey) -> poem::Result<Principal> {
    authenticate(req, &key.key, false).await
}

async fn production_cookie(req: &Request, key: ApiKey) -> poem::Result<Principal> {
    authenticate(req, &key.key, true).await
}

async fn bearer_token(req: &Request, bearer: Bearer) -> poem::Result<Principal> {
    let state = req.data::<AppState>().ok_or_else(unauthenticated)?;
    settle(req, state.tokens.authenticate(&bearer.token).await)
}

/// Turns a lookup into the checker's answer, naming the user for the access log.
fn settle(req: &Request, found: Result<Option<Principal>, DbError>) -> poem::Result<Principal> {
    match found {
        Ok(Some(principal)) => {
            if let Some(slot) = req.data::<AccessUser>() {
                slot.set(&principal.user_id);
            }
            Ok(principal)
        }
        Ok(None) => Err(unauthenticated()),
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

async fn authenticate(
    req: &Request,
    token: &str,
    production_cookie: bool,
) -> poem::Result<Principal> {
    let state = req.data::<AppState>().ok_or_else(unauthenticated)?;
    if state.config.is_production() != production_cookie {
        return Err(unauthenticated());
    }
    let ip = req.data::<ClientIp>().map(|ip| ip.0);
    settle(req, state.accounts.sessions().authenticate(token, ip).await)
}
