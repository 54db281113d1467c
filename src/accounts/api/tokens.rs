//! `/api/v1/auth/token`, `/token/refresh`, `/token/revoke` and the JWK set.

use poem::web::Data;
use poem::{IntoResponse, Request, handler};
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, Object, OpenApi};

use crate::accounts::api::AccountsState;
use crate::error::ApiError;
use crate::http::StrictJson;
use crate::http::request_meta;
use crate::http::tags::ApiTags;
use crate::policies::PendingPolicy;
use crate::tokens::TokenPair;

#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
pub struct TokenGrantRequest {
    email: String,
    password: String,
    /// A TOTP code, once the account has TOTP enrolled.
    totp_code: Option<String>,
    /// A solved captcha, when a `428 captcha_required` asked for one.
    captcha: Option<crate::captcha::CaptchaSolution>,
}

#[derive(Object)]
pub struct RefreshRequest {
    refresh_token: String,
}

/// An access token and the refresh token that replaces it.
#[derive(Object)]
pub struct TokenBody {
    /// A JWT (EdDSA) to send as `Authorization: Bearer ...`.
    access_token: String,
    /// Always `Bearer`.
    token_type: String,
    /// Seconds until the access token expires.
    expires_in: i64,
    /// Opaque, single use, valid 7 days: spend it at `/api/v1/auth/token/refresh`.
    refresh_token: String,
    /// Whether the user has a privacy-policy version to accept (the tokens work either way;
    /// the app asks the user to accept it).
    #[oai(flatten)]
    policy: PendingPolicy,
}

impl TokenBody {
    async fn of(state: &AccountsState, pair: TokenPair) -> Result<Self, ApiError> {
        let policy = state.pending_policies.status(&pair.user_id).await?;
        Ok(Self {
            access_token: pair.access_token,
            token_type: "Bearer".into(),
            expires_in: pair.expires_in,
            refresh_token: pair.refresh_token,
            policy,
        })
    }
}

#[derive(Object)]
pub struct TokenRevokedBody {
    status: String,
}

#[derive(ApiResponse)]
pub enum TokenResponse {
    /// A new token pair.
    #[oai(status = 200)]
    Ok(Json<TokenBody>),
}

pub struct TokensApi {
    pub state: AccountsState,
}

#[OpenApi(prefix_path = "/api/v1/auth/token", tag = "ApiTags::Auth")]
impl TokensApi {
    /// Get API tokens with email and password (for mobile and server apps).
    ///
    /// A wrong password and an unknown email get the same answer, lockout included. An account
    /// with two-step sign-in needs `totp_code` (`totp_required` without it, `invalid_mfa_code`
    /// when it is wrong or already used; wrong codes count towards the account's second-factor
    /// pause, `429 mfa_throttled`). While the lockout pauses the account the answer is
    /// `429 account_throttled`, captcha or not: unlike `POST /api/v1/auth/login`, a solved
    /// captcha does not get a token grant through a pause.
    #[oai(path = "/", method = "post", operation_id = "create_token")]
    async fn create(
        &self,
        req: &Request,
        body: StrictJson<TokenGrantRequest>,
    ) -> Result<TokenResponse, ApiError> {
        let body = body.0;
        let email = crate::contact::email::normalize(&body.email);
        let solved = crate::captcha::guard_sensitive(
            &self.state.limits,
            &self.state.captcha,
            req,
            &email,
            body.captcha.as_ref(),
            false,
        )
        .await?;
        let grant = crate::accounts::service::Grant {
            email: &body.email,
            password: &body.password,
            totp_code: body.totp_code.as_deref(),
            captcha_missing: self.state.captcha.enabled() && !solved,
        };
        let pair = self.state.accounts.grant_tokens(&grant, &request_meta(req)).await?;
        crate::http::forgive_sensitive(&self.state.limits, req, &email);
        Ok(TokenResponse::Ok(Json(TokenBody::of(&self.state, pair).await?)))
    }

    /// Spend a refresh token for a new pair.
    ///
    /// Presenting a spent refresh token revokes every token of its sign-in
    /// (`refresh_token_reused`).
    #[oai(path = "/refresh", method = "post", operation_id = "refresh_token")]
    async fn refresh(
        &self,
        req: &Request,
        body: StrictJson<RefreshRequest>,
    ) -> Result<TokenResponse, ApiError> {
        let ip = req.data::<crate::http::ClientIp>().map(|ip| ip.0);
        let token = crate::http::token_identifier("refresh", &body.0.refresh_token);
        self.state.limits.sensitive_by_pair(ip, &token).map_err(ApiError::from)?;
        let pair =
            self.state.accounts.refresh_tokens(&body.0.refresh_token, &request_meta(req)).await?;
        Ok(TokenResponse::Ok(Json(TokenBody::of(&self.state, pair).await?)))
    }

    /// Revoke a refresh token and every token of its sign-in. Unknown tokens are ignored.
    #[oai(path = "/revoke", method = "post", operation_id = "revoke_token")]
    async fn revoke(
        &self,
        req: &Request,
        body: StrictJson<RefreshRequest>,
    ) -> Result<Json<TokenRevokedBody>, ApiError> {
        self.state.tokens.revoke(&body.0.refresh_token, &request_meta(req)).await?;
        Ok(Json(TokenRevokedBody { status: "revoked".into() }))
    }
}

/// `GET /.well-known/jwks.json`: the public keys that sign access tokens.
#[handler]
pub fn jwks(http: Data<&crate::http::HttpContext>) -> impl IntoResponse {
    poem::web::Json(http.tokens.jwks()).with_header("cache-control", "public, max-age=300")
}

// The feature's errors as the answers a client sees: status, stable `code`, and a detail in
// words a student understands. Internal causes go to the server's log, never to the client.
impl From<crate::tokens::TokenError> for ApiError {
    fn from(e: crate::tokens::TokenError) -> Self {
        use crate::tokens::TokenError as E;
        match e {
            E::InvalidRefreshToken => Self::unauthorized(
                "invalid_refresh_token",
                "This refresh token is not valid any more. Sign in again.",
            ),
            E::RefreshTokenReused => Self::unauthorized(
                "refresh_token_reused",
                "This refresh token was already used, so every token of this sign-in was revoked. \
                 Sign in again.",
            ),
            E::Internal(cause) => Self::internal(format!("{cause:#}")),
        }
    }
}
