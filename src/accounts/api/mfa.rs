//! `/api/v1/account/mfa/...`: two-step sign-in with an authenticator app (TOTP) and recovery
//! codes.

use poem_openapi::OpenApi;

use super::*;
use crate::accounts::api::AccountsState;

/// Whether two-step sign-in is on.
#[derive(Object)]
pub struct MfaStatusBody {
    totp_enabled: bool,
    /// Unused recovery codes.
    recovery_codes_left: i64,
}

/// A started enrolment: add the secret to an authenticator app, then confirm with a code.
#[derive(Object)]
pub struct TotpEnrolmentBody {
    /// The shared secret, base32 (for typing into the app).
    secret: String,
    /// `otpauth://totp/...` (what the QR code holds).
    otpauth_uri: String,
    /// The otpauth URI as a QR code, an SVG document.
    qr_svg: String,
}

#[derive(Object)]
pub struct CodeRequest {
    /// The current 6-digit code from the authenticator app.
    code: String,
}

#[derive(Object)]
pub struct RecoveryCodesRequest {
    /// The account's password (empty for an account without one: a sign-in within the last 5
    /// minutes stands in for it).
    #[oai(default)]
    password: String,
    /// The current 6-digit code from the authenticator app.
    code: String,
}

#[derive(Object)]
pub struct DisableTotpRequest {
    /// The account's password (empty for an account without one: a sign-in within the last 5
    /// minutes stands in for it).
    #[oai(default)]
    password: String,
    /// A current TOTP code or an unused recovery code.
    code: String,
}

/// Recovery codes: each signs in once in place of a TOTP code. Shown only this once.
#[derive(Object)]
pub struct RecoveryCodesBody {
    recovery_codes: Vec<String>,
}

pub struct MfaApi {
    pub state: AccountsState,
}

#[OpenApi(prefix_path = "/api/v1/account/mfa", tag = "ApiTags::Account")]
impl MfaApi {
    /// Whether two-step sign-in is on, and how many recovery codes are left.
    #[oai(path = "/", method = "get", operation_id = "get_mfa")]
    async fn status(&self, auth: Auth) -> ApiResult<Json<MfaStatusBody>> {
        let status = self.state.accounts.mfa_status(&auth.principal().user_id).await?;
        Ok(Json(MfaStatusBody {
            totp_enabled: status.totp_enabled,
            recovery_codes_left: status.recovery_codes_left,
        }))
    }

    /// Start TOTP enrolment: a new secret, its otpauth URI and a QR code (SVG).
    ///
    /// Two-step sign-in stays off until a code is confirmed. Starting again replaces an
    /// unconfirmed secret; with TOTP already on the answer is `totp_already_enabled`.
    #[oai(path = "/totp", method = "post", operation_id = "start_totp")]
    async fn start(&self, req: &Request, auth: Auth) -> ApiResult<Json<TotpEnrolmentBody>> {
        let enrolment =
            self.state.accounts.start_totp(auth.principal(), &request_meta(req)).await?;
        Ok(Json(TotpEnrolmentBody {
            secret: enrolment.secret,
            otpauth_uri: enrolment.otpauth_uri,
            qr_svg: enrolment.qr_svg,
        }))
    }

    /// Confirm TOTP enrolment with a code: two-step sign-in is on, and the ten recovery codes
    /// are returned this once. The owner is emailed.
    #[oai(path = "/totp/confirm", method = "post", operation_id = "confirm_totp")]
    async fn confirm(
        &self,
        req: &Request,
        auth: Auth,
        body: StrictJson<CodeRequest>,
    ) -> ApiResult<Json<RecoveryCodesBody>> {
        let recovery_codes = self
            .state
            .accounts
            .confirm_totp(auth.principal(), &body.0.code, &request_meta(req))
            .await?;
        Ok(Json(RecoveryCodesBody { recovery_codes }))
    }

    /// Turn two-step sign-in off (password and a current code required). The owner is emailed.
    ///
    /// A wrong password counts in the account's lockout (`429 account_throttled` while it is
    /// paused) and a wrong code in its second-factor pause (`429 mfa_throttled`).
    #[oai(path = "/totp", method = "delete", operation_id = "disable_totp")]
    async fn disable(
        &self,
        req: &Request,
        auth: Auth,
        body: StrictJson<DisableTotpRequest>,
    ) -> ApiResult<NoContent> {
        let body = body.0;
        self.state
            .accounts
            .disable_totp(auth.principal(), &body.password, &body.code, &request_meta(req))
            .await?;
        Ok(NoContent::NoContent)
    }

    /// Replace the recovery codes (the password and a current TOTP code required); the new
    /// ones are returned this once and the old ones stop working. The owner is emailed.
    ///
    /// A wrong password counts in the account's lockout (`429 account_throttled` while it is
    /// paused) and a wrong code in its second-factor pause (`429 mfa_throttled`).
    #[oai(path = "/recovery-codes", method = "post", operation_id = "regenerate_recovery_codes")]
    async fn regenerate(
        &self,
        req: &Request,
        auth: Auth,
        body: StrictJson<RecoveryCodesRequest>,
    ) -> ApiResult<Json<RecoveryCodesBody>> {
        let body = body.0;
        let recovery_codes = self
            .state
            .accounts
            .regenerate_recovery_codes(
                auth.principal(),
                &body.password,
                &body.code,
                &request_meta(req),
            )
            .await?;
        Ok(Json(RecoveryCodesBody { recovery_codes }))
    }
}
