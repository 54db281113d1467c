//! The limits on requests that try a secret (sign-in, sign-up, reset, verification, phone
//! codes, token grants): counted per client address and per account. The captcha, the way
//! past the per-address tier, is checked with them by the captcha's `guard_sensitive`.

use poem::Request;

use super::ClientIp;
use crate::error::ApiError;
use crate::ratelimit::{RateLimits, SensitiveRefusal};

/// Counts a sign-in, sign-up, reset, verification or phone-code request against the limits
/// for its client address and the account it names (`identifier`). For requests that carry
/// no captcha: past the per-address tier the answer is a plain 429.
pub fn limit_sensitive(
    limits: &RateLimits,
    req: &Request,
    identifier: &str,
) -> Result<(), ApiError> {
    let ip = req.data::<ClientIp>().map(|ip| ip.0);
    limits.sensitive(ip, identifier).map_err(|refusal| match refusal {
        SensitiveRefusal::Account(limited) | SensitiveRefusal::Address(limited) => limited.into(),
    })
}

/// The identifier a request that brings a secret token (an email link's, a pending sign-in's,
/// a refresh token) is counted under: a prefix of the token's hash, so the limiter holds
/// nothing that could be used, and each link or sign-in has its own allowance (students
/// behind one NAT address each verify their own email).
pub fn token_identifier(kind: &str, token: &str) -> String {
    let hash = crate::crypto::hash_token(token.trim());
    format!("{kind}:{}", crate::crypto::base64url(&hash[..8]))
}

/// A sign-in to `identifier` from the request's address succeeded: its (address, account)
/// allowance is whole again, so that only failures use it up.
pub fn forgive_sensitive(limits: &RateLimits, req: &Request, identifier: &str) {
    limits.forgive(req.data::<ClientIp>().map(|ip| ip.0), identifier);
}
