//! Where a request came from (its client address and user agent), for sessions and the audit
//! log.

use poem::Request;

use super::ClientIp;

/// Where a request came from.
#[derive(Debug, Clone, Default)]
pub struct RequestMeta {
    pub ip: Option<String>,
    pub user_agent: Option<String>,
}

/// The request's client address (as [`ClientIp`] found it) and user agent.
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
