//! The rate limit for API requests that carry no credentials: `rate_limit.anonymous_per_ip`
//! per window per client IP (SPEC section 6). Requests with a session cookie or a bearer token
//! are counted per user once authenticated (see `auth.rs`); pages, assets and probes are not
//! API requests and are not counted.

use poem::http::header;
use poem::{Endpoint, Middleware, Request, Result};

use super::ClientIp;
use crate::app::AppState;
use crate::error::limited_error;
use crate::sessions::cookies;

pub struct AnonymousLimit;

impl<E: Endpoint> Middleware<E> for AnonymousLimit {
    type Output = AnonymousLimitEndpoint<E>;

    fn transform(&self, inner: E) -> Self::Output {
        AnonymousLimitEndpoint { inner }
    }
}

pub struct AnonymousLimitEndpoint<E> {
    inner: E,
}

impl<E: Endpoint> Endpoint for AnonymousLimitEndpoint<E> {
    type Output = E::Output;

    async fn call(&self, req: Request) -> Result<Self::Output> {
        if req.uri().path().starts_with("/api/")
            && let (Some(state), Some(ip)) = (req.data::<AppState>(), req.data::<ClientIp>())
        {
            let production = state.config.is_production();
            let has_credentials = req.headers().contains_key(header::AUTHORIZATION)
                || req.cookie().get(cookies::session_cookie_name(production)).is_some();
            if !has_credentials {
                state.limits.anonymous(ip.0).map_err(limited_error)?;
            }
        }
        self.inner.call(req).await
    }
}
