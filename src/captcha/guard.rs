//! The sign-in limits of requests that may carry a captcha solution: the solution is checked
//! and spent, and past the per-address tier it is what lets a request through.

use poem::Request;

use super::{Captcha, CaptchaSolution};
use crate::error::ApiError;
use crate::http::ClientIp;
use crate::ratelimit::{RateLimits, SensitiveRefusal};

/// [`crate::http::limit_sensitive`] for requests that may carry a captcha solution, which is checked and
/// spent when present. Past the per-address tier a solution is required (`428
/// captcha_required`) instead of a 429, unless the captcha is off; `always` requires one in
/// any case (registration). Returns whether a solved captcha came with the request.
pub async fn guard_sensitive(
    limits: &RateLimits,
    captcha: &Captcha,
    req: &Request,
    identifier: &str,
    solution: Option<&CaptchaSolution>,
    always: bool,
) -> Result<bool, ApiError> {
    let solved = match solution {
        Some(solution) => {
            solution.verify(captcha).await?;
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
