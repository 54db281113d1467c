//! Account errors as the answers a client sees: status, stable `code`, and a detail in words a
//! student understands. Internal causes go to the server's log, never to the client.

use crate::error::{ApiError, Problem};
use poem::http::StatusCode;
use poem_openapi::payload::Json;

impl From<crate::accounts::AccountError> for ApiError {
    fn from(e: crate::accounts::AccountError) -> Self {
        use crate::accounts::AccountError as E;
        match e {
            E::Validation(errors) => Self::validation(errors),
            E::CampusDomainNotAllowed => Self::unprocessable(
                "campus_domain_not_allowed",
                "Sign up with your campus email address: this email's domain is not one of the \
                 campus domains.",
            ),
            E::InvalidCredentials => {
                Self::unauthorized("invalid_credentials", "The email or password is not right.")
            }
            E::EmailNotVerified => Self::forbidden(
                "email_not_verified",
                "Confirm your email address first: use the link we emailed you, or ask for a new one.",
            ),
            E::InvalidToken => {
                Self::bad_request("invalid_token", "This link is not valid. Ask for a new one.")
            }
            E::TokenExpired => {
                Self::bad_request("token_expired", "This link has expired. Ask for a new one.")
            }
            E::TokenUsed => {
                Self::bad_request("token_already_used", "This link has already been used.")
            }
            E::SessionNotFound => {
                Self::not_found("session_not_found", "You have no session with this id.")
            }
            E::AccountDisabled => Self::forbidden(
                "account_disabled",
                "This account is disabled. Ask your campus IT team to enable it again.",
            ),
            E::TotpAlreadyEnabled => Self::conflict(
                "totp_already_enabled",
                "Two-step sign-in is already on. Turn it off first to enrol a new device.",
            ),
            E::TotpNotStarted => Self::conflict(
                "totp_not_started",
                "Start the enrolment first: POST /api/v1/account/mfa/totp.",
            ),
            E::TotpNotEnabled => {
                Self::conflict("totp_not_enabled", "Two-step sign-in is not on for this account.")
            }
            E::TotpRequired => Self::unauthorized(
                "totp_required",
                "This account has two-step sign-in: send the current code as totp_code.",
            ),
            E::InvalidSecondFactor => Self::unauthorized(
                "invalid_mfa_code",
                "This code is not right or was already used. Enter the current code from your \
                 authenticator app, or an unused recovery code.",
            ),
            E::MfaTokenInvalid => Self::unauthorized(
                "mfa_token_invalid",
                "This sign-in has expired or ended. Sign in with your password again.",
            ),
            E::ReauthenticationRequired => Self::forbidden(
                "reauthentication_required",
                "Give your password again, or sign in again (within the last 5 minutes), to \
                 make this change.",
            ),
            E::PasskeysUnavailable => Self::not_found(
                "passkeys_unavailable",
                "Passkeys are not offered here: the server's address is not a domain name.",
            ),
            E::PasskeyChallengeInvalid => Self::bad_request(
                "passkey_challenge_invalid",
                "This passkey request has expired or was already used. Start again.",
            ),
            E::PasskeyMalformed => Self::bad_request(
                "invalid_passkey_response",
                "The browser's passkey answer could not be read. Try again.",
            ),
            E::PasskeyNotAccepted => Self::unauthorized(
                "passkey_not_accepted",
                "This passkey was not accepted. Use a passkey saved for this site, and unlock \
                 it with your fingerprint, face or PIN when asked.",
            ),
            E::PasskeyAlreadyRegistered => {
                Self::conflict("passkey_already_registered", "This passkey is already registered.")
            }
            E::PasskeyNotFound => {
                Self::not_found("passkey_not_found", "Your account has no passkey with this id.")
            }
            E::SecondFactorRequired => Self::conflict(
                "second_factor_required",
                "This account uses two-step sign-in, so an emailed link alone cannot add a \
                 passkey. Set a new password with the link, sign in with your code, then add a \
                 passkey on your account page.",
            ),
            E::LastSignInMethod => Self::conflict(
                "last_sign_in_method",
                "This passkey is the only way into your account. Add another passkey or set a \
                 password first.",
            ),
            E::CaptchaRequired => Self::captcha_required(),
            E::Throttled { retry_after } => Self::account_throttled(retry_after),
            E::MfaThrottled { retry_after } => Self::TooManyRequests(
                Json(Problem::new(
                    StatusCode::TOO_MANY_REQUESTS,
                    "mfa_throttled",
                    format!(
                        "Too many wrong codes for this account: two-step sign-in is paused. Try \
                         again in {retry_after} seconds, or reset your password."
                    ),
                )),
                retry_after,
                None,
                None,
                None,
            ),
            E::Internal(cause) => Self::internal(format!("{cause:#}")),
        }
    }
}

impl From<crate::accounts::service::DeletionError> for ApiError {
    fn from(e: crate::accounts::service::DeletionError) -> Self {
        use crate::accounts::service::DeletionError as E;
        match e {
            E::Validation(errors) => Self::validation(errors),
            E::WrongPassword => Self::unauthorized(
                "invalid_credentials",
                "The password is not right; the account was not deleted.",
            ),
            E::Throttled { retry_after } => Self::account_throttled(retry_after),
            E::ReauthenticationRequired => Self::forbidden(
                "reauthentication_required",
                "Sign in again (within the last 10 minutes) to delete this account.",
            ),
            E::Erasure(e) => e.into(),
        }
    }
}
