//! CSRF protection for unsafe API requests (POST, PUT, PATCH, DELETE):
//! - an `Origin` header, when sent, must be `server.public_url` or one of
//!   `server.allowed_origins` (`origin_not_allowed`);
//! - a request that carries the session cookie must also carry an allowed `Origin` (or
//!   `Referer`) and the `X-CSRF-Token` header matching its session (`csrf_failed`), except on
//!   the unauthenticated forms listed in `PUBLIC_FORMS` (sign-up, sign-in, reset, ...), which
//!   act on no session and so need only the origin check; a stale cookie left in the browser
//!   must not stop anyone from signing in again.
//!
//! Bearer-token requests carry no cookie and pass. Safe methods never change state.

use poem::http::{Method, StatusCode, header};
use poem::{Endpoint, Middleware, Request, Result};

use super::HttpContext;
use crate::error::problem_error;
use crate::sessions::cookies;

/// Operations that act on no session (they take credentials or a link token in the body):
/// a stale session cookie must not stop them, so they get only the origin check. Listed one by
/// one so that a new cookie-authenticated operation is protected by default.
const PUBLIC_FORMS: &[&str] = &[
    "/api/v1/auth/register",
    "/api/v1/auth/verify-email",
    "/api/v1/auth/verify-email/resend",
    "/api/v1/auth/login",
    "/api/v1/auth/login/mfa",
    "/api/v1/auth/password/forgot",
    "/api/v1/auth/password/reset",
    "/api/v1/auth/password/strength",
    "/api/v1/auth/token",
    "/api/v1/auth/token/refresh",
    "/api/v1/auth/token/revoke",
    // Sending a code needs no session (a signed-in caller only widens who gets one). Not
    // `/otp/verify`: with a session cookie it adds the phone to that account.
    "/api/v1/auth/otp/request",
    "/api/v1/auth/otp/resend",
    "/api/v1/bootstrap",
];

pub struct Csrf;

impl<E: Endpoint> Middleware<E> for Csrf {
    type Output = CsrfEndpoint<E>;

    fn transform(&self, inner: E) -> Self::Output {
        CsrfEndpoint { inner }
    }
}

pub struct CsrfEndpoint<E> {
    inner: E,
}

fn origin_of_referer(referer: &str) -> Option<String> {
    url::Url::parse(referer).ok().map(|u| u.origin().ascii_serialization())
}

impl<E: Endpoint> Endpoint for CsrfEndpoint<E> {
    type Output = E::Output;

    async fn call(&self, req: Request) -> Result<Self::Output> {
        let unsafe_method = !matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS);
        if !unsafe_method || !req.uri().path().starts_with("/api/") {
            return self.inner.call(req).await;
        }
        let Some(state) = req.data::<HttpContext>() else { return self.inner.call(req).await };
        let allowed = |origin: &str| {
            origin == state.config.server.public_url
                || state.config.server.allowed_origins.iter().any(|o| o == origin)
        };
        let header_str = |name| req.headers().get(name).and_then(|v| v.to_str().ok());
        let origin = header_str(header::ORIGIN)
            .map(str::to_string)
            .or_else(|| header_str(header::REFERER).and_then(origin_of_referer));
        if let Some(origin) = &origin
            && !allowed(origin)
        {
            return Err(problem_error(
                StatusCode::FORBIDDEN,
                "origin_not_allowed",
                "Requests from this site are not accepted.",
            ));
        }
        let production = state.config.is_production();
        let public_form = PUBLIC_FORMS.contains(&req.uri().path());
        let session =
            req.cookie().get(cookies::session_cookie_name(production)).filter(|_| !public_form);
        if let Some(session) = session {
            let expected = state.sessions.csrf_token(session.value_str());
            let sent =
                req.headers().get(cookies::CSRF_HEADER).and_then(|v| v.to_str().ok()).unwrap_or("");
            let token_ok = crate::crypto::constant_time_eq(sent.as_bytes(), expected.as_bytes());
            if origin.is_none() || !token_ok {
                return Err(problem_error(
                    StatusCode::FORBIDDEN,
                    "csrf_failed",
                    "This request lacks the CSRF token or origin of a page of this site. Reload the page and try again.",
                ));
            }
        }
        self.inner.call(req).await
    }
}
