//! The access tokens given to apps (RFC 9068, `typ: at+jwt`, EdDSA, 15 minutes). Their audience
//! is the userinfo endpoint, their type is not the first-party API's, so neither kind of token
//! is accepted where the other is.

use serde::{Deserialize, Serialize};

/// How long an app's access token lasts.
pub const ACCESS_TOKEN_SECONDS: i64 = 15 * 60;
/// The header `typ` of an access token (RFC 9068 section 2.1).
pub const TYP: &str = "at+jwt";

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AccessClaims {
    pub iss: String,
    pub sub: String,
    pub aud: String,
    pub client_id: String,
    pub scope: String,
    pub iat: i64,
    pub exp: i64,
    pub jti: String,
    /// The token family (the grant) it belongs to: revoking the grant ends it.
    pub fam: String,
    pub auth_time: i64,
    pub amr: Vec<String>,
}

/// The audience of an app's access tokens: the userinfo endpoint of `issuer`.
pub fn audience(issuer: &str) -> String {
    format!("{issuer}/oauth/userinfo")
}
