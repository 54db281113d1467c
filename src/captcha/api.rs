//! `GET /api/v1/captcha`, and the solution object that sign-up and sign-in requests carry.

use poem_openapi::payload::Json;
use poem_openapi::{Object, OpenApi};

use crate::clock::rfc3339;
use crate::http::tags::ApiTags;

/// What the captcha API uses (built by the route table).
#[derive(Clone)]
pub struct CaptchaState {
    pub captcha: std::sync::Arc<super::Captcha>,
}

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

pub struct CaptchaApi {
    pub state: CaptchaState,
}

#[OpenApi(prefix_path = "/api/v1/captcha", tag = "ApiTags::Auth")]
impl CaptchaApi {
    /// A proof-of-work challenge (valid 5 minutes, accepted once).
    ///
    /// Find a `nonce` such that `SHA-256("<challenge>:<nonce>")` starts with `difficulty` zero
    /// bits, and send `{"challenge", "nonce"}` as `captcha` with the sign-up (or with a
    /// sign-in that was answered `428 captcha_required`).
    #[oai(path = "/", method = "get", operation_id = "get_captcha")]
    async fn challenge(&self) -> Json<CaptchaChallengeBody> {
        let c = self.state.captcha.challenge();
        Json(CaptchaChallengeBody {
            enabled: self.state.captcha.enabled(),
            challenge: c.challenge,
            difficulty: c.difficulty,
            algorithm: "sha256".into(),
            expires_at: rfc3339(c.expires_at),
        })
    }
}
