//! The rate limit every API request counts against once: a request whose
//! session cookie or bearer token authenticates counts per user
//! (`rate_limit.authenticated_per_minute`); any other counts per client address
//! (`rate_limit.anonymous_per_ip`). A credential that does not authenticate (a forged header,
//! a stale cookie) does not lift a request out of the per-address tier. Pages, assets and
//! probes are not API requests and are not counted.
//!
//! The credentials are checked here, before routing, and the outcome is left on the request
//! ([`CheckedCredentials`]) for the operation's security scheme, so a signed-in request is
//! looked up once.

use poem::{Endpoint, Middleware, Request, Result};

use super::ClientIp;
use super::HttpContext;
use super::auth::CheckedCredentials;
use crate::error::limited_error;

pub struct RequestLimit;

impl<E: Endpoint> Middleware<E> for RequestLimit {
    type Output = RequestLimitEndpoint<E>;

    fn transform(&self, inner: E) -> Self::Output {
        RequestLimitEndpoint { inner }
    }
}

pub struct RequestLimitEndpoint<E> {
    inner: E,
}

impl<E: Endpoint> Endpoint for RequestLimitEndpoint<E> {
    type Output = E::Output;

    async fn call(&self, mut req: Request) -> Result<Self::Output> {
        if req.uri().path().starts_with("/api/")
            && let Some(state) = req.data::<HttpContext>()
        {
            let checked = CheckedCredentials::check(state, &req).await?;
            match checked.principal() {
                Some(principal) => state
                    .limits
                    .authenticated(&principal.rate_limit, &principal.user_id)
                    .map_err(limited_error)?,
                None => {
                    if let Some(ip) = req.data::<ClientIp>() {
                        state.limits.anonymous(ip.0).map_err(limited_error)?;
                    }
                }
            }
            req.set_data(checked);
        }
        self.inner.call(req).await
    }
}
