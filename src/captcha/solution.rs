//! The solution object that sign-up and sign-in requests carry, checked and spent.

use poem_openapi::Object;

use super::{Captcha, CaptchaError};
use crate::error::ApiError;

/// A solved challenge: `SHA-256("<challenge>:<nonce>")` starts with `difficulty` zero bits.
#[derive(Object, Clone)]
pub struct CaptchaSolution {
    /// The challenge from `GET /api/v1/captcha`.
    pub challenge: String,
    /// 1 to 32 ASCII letters or digits.
    pub nonce: String,
}

impl CaptchaSolution {
    /// Checks and spends the solution: a 400 problem when it is not accepted.
    pub async fn verify(&self, captcha: &Captcha) -> Result<(), ApiError> {
        captcha.verify(&self.challenge, &self.nonce).await.map_err(|e| match e {
            CaptchaError::Invalid => ApiError::bad_request(
                "captcha_invalid",
                "The captcha solution is not valid. Get a new challenge and solve it again.",
            ),
            CaptchaError::Expired => ApiError::bad_request(
                "captcha_expired",
                "The captcha challenge has expired. Get a new one and solve it again.",
            ),
            CaptchaError::Used => ApiError::bad_request(
                "captcha_already_used",
                "This captcha was already used. Get a new challenge and solve it again.",
            ),
            CaptchaError::Unavailable => {
                ApiError::unavailable("unavailable", "Please try again in a moment.")
            }
        })
    }
}
