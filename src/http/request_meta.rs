//! Where a request came from (its client address and user agent), as the audit log and
//! sessions record it ([`RequestMeta`]).

use poem::Request;

use super::ClientIp;
use crate::audit::RequestMeta;

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
