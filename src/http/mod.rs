//! HTTP plumbing shared by every route: the request wrapper (request id, client IP, error
//! mapping, security headers, access log, metrics), the body size limit, the strict JSON
//! payload of request bodies, and the direct JSON payload of the hottest answer.

pub mod allow;
pub mod auth;
mod body_limit;
mod client_ip;
mod context;
mod cors;
mod csrf;
mod direct_json;
pub mod observe;
mod request_limit;
mod request_meta;
mod security_headers;
mod sign_in_limits;
mod staff;
mod strict_json;
pub mod tags;

pub use allow::allowed_methods;
pub use body_limit::BodyLimit;
pub use client_ip::{ClientIp, client_ip};
pub use context::HttpContext;
pub use cors::Cors;
pub use csrf::Csrf;
pub use direct_json::DirectJson;
#[cfg(test)]
pub use direct_json::both_ways;
pub use observe::{Observe, RequestId};
pub use request_limit::RequestLimit;
pub use request_meta::request_meta;
pub use sign_in_limits::{forgive_sensitive, limit_sensitive, token_identifier};
pub use staff::{AdminAuth, ReviewerAuth, Staff, StaffRole, admin_change};
pub use strict_json::StrictJson;
