//! `GET /api/v1/captcha`, and the solution object that sign-up and sign-in requests carry.

use poem::web::Data;
use poem_openapi::payload::Json;
use poem_openapi::{Object, OpenApi};

use super::CaptchaError;
use crate::app::{ApiTags, AppState};
use crate::clock::rfc3339;
use crate::error::ApiError;

/// A proof-of-work challenge.
#[derive(Object)]
pub struct CaptchaChallengeBody {
    /// Whether sign-up needs a solution (and throttled sign-ins ask for one).
    enabled: bool,
    /// The signed challenge, sent back as is with the solution.
    challenge: String,
    /// Leading zero bits that `SHA-256("<challenge>:<nonce>")` must have.
    difficulty: u8,
    /// Always `sha256`.
    algorithm: String,
    /// After this the challenge is refused (`captcha_expired`).
    expires_at: String,
}

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
    pub fn verify(&self, state: &AppState) -> Result<(), ApiError> {
        state.captcha.verify(&self.challenge, &self.nonce).map_err(|e| match e {
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
        })
    }
}

pub struct CaptchaApi;

#[OpenApi(prefix_path = "/api/v1/captcha", tag = "ApiTags::Auth")]
impl CaptchaApi {
    /// A proof-of-work challenge (valid 5 minutes, accepted once).
    ///
    /// Find a `nonce` such that `SHA-256("<challenge>:<nonce>")` starts with `difficulty` zero
    /// bits, and send `{"challenge", "nonce"}` as `captcha` with the sign-up (or with a
    /// sign-in that was answered `428 captcha_required`).
    #[oai(path = "/", method = "get", operation_id = "get_captcha")]
    async fn challenge(&self, state: Data<&AppState>) -> Json<CaptchaChallengeBody> {
        let c = state.captcha.challenge();
        Json(CaptchaChallengeBody {
            enabled: state.captcha.enabled(),
            challenge: c.challenge,
            difficulty: c.difficulty,
            algorithm: "sha256".into(),
            expires_at: rfc3339(c.expires_at),
        })
    }
}
