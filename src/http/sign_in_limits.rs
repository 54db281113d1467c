//! The limits on requests that try a secret (sign-in, sign-up, reset, verification, phone
//! codes, token grants): counted per client address and per account, with the captcha as the
//! way past the per-address tier.

use poem::Request;

use super::ClientIp;
use crate::captcha::{Captcha, CaptchaSolution};
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

/// [`limit_sensitive`] for requests that may carry a captcha solution, which is checked and
/// spent when present. Past the per-address tier a solution is required (`428
/// captcha_required`) instead of a 429, unless the captcha is off; `always` requires one in
/// any case (registration). Returns whether a solved captcha came with the request.
pub fn guard_sensitive(
    limits: &RateLimits,
    captcha: &Captcha,
    req: &Request,
    identifier: &str,
    solution: Option<&CaptchaSolution>,
    always: bool,
) -> Result<bool, ApiError> {
    let solved = match solution {
        Some(solution) => {
            solution.verify(captcha)?;
            true
        }
        None => false,
    };
    let ip = req.data::<ClientIp>().map(|ip| ip.0);
    match limits.sensitive(ip, identifier) {
        Ok(()) => {}
        Err(SensitiveRefusal::Account(limited)) => return Err(limited.into()),
        Err(SensitiveRefusal::Address(limited)) if !captcha.enabled() => {
            return Err(limited.into());
        }
        Err(SensitiveRefusal::Address(_)) if !solved => return Err(ApiError::captcha_required()),
        Err(SensitiveRefusal::Address(_)) => {}
    }
    if always && captcha.enabled() && !solved {
        return Err(ApiError::captcha_required());
    }
    Ok(solved)
}
