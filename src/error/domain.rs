//! Each domain's error type mapped to the answer a client sees: status, stable `code` and a
//! detail in words a student understands. Internal causes stay in the server's log.

use poem::http::StatusCode;
use poem_openapi::payload::Json;

use super::{ApiError, FieldError, Problem, rate_limited_problem};

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
            E::Internal(cause) => Self::internal(cause),
        }
    }
}

impl ApiError {
    /// The account's sign-ins (and checks of its password) are paused by the lockout.
    fn account_throttled(retry_after: u64) -> Self {
        Self::TooManyRequests(
            Json(Problem::new(
                StatusCode::TOO_MANY_REQUESTS,
                "account_throttled",
                format!(
                    "Too many wrong passwords for this account: sign-ins are paused. Try again in \
                     {retry_after} seconds, or reset your password."
                ),
            )),
            retry_after,
            None,
            None,
            None,
        )
    }
}

impl From<crate::backup::BackupError> for ApiError {
    fn from(e: crate::backup::BackupError) -> Self {
        use crate::backup::BackupError as E;
        match e {
            E::Busy => Self::conflict(
                "backup_in_progress",
                "A backup is running now; wait for it to finish and list the backups.",
            ),
            // The reason (full, read-only, ...) helps the admin; the path stays in the log.
            E::Destination { ref source, .. } => {
                tracing::error!(error = %e, "backup failed");
                Self::unavailable(
                    "backup_failed",
                    format!(
                        "The backup could not be written to the backups directory ({}). \
                         Nothing else is affected; free space or fix its permissions and retry.",
                        source.kind()
                    ),
                )
            }
            other => {
                tracing::error!(error = %other, "backup failed");
                Self::unavailable(
                    "backup_failed",
                    "The backup failed; the server log says why. Nothing else is affected.",
                )
            }
        }
    }
}

impl From<crate::campuses::CampusError> for ApiError {
    fn from(e: crate::campuses::CampusError) -> Self {
        use crate::campuses::CampusError as E;
        let message = e.to_string();
        match e {
            E::NotFound => Self::not_found("campus_not_found", "There is no such campus."),
            E::InvalidName | E::NoDomains | E::InvalidDomain(_) => {
                let field = if matches!(e, E::InvalidName) { "name" } else { "domains" };
                Self::validation(vec![FieldError { field: field.into(), message }])
            }
            E::NameTaken(_) => Self::conflict("campus_name_taken", message),
            E::DomainTaken(_) => Self::conflict("campus_domain_taken", message),
            E::Sqlite(cause) => Self::internal(cause),
        }
    }
}

impl From<crate::privacy::service::PrivacyError> for ApiError {
    fn from(e: crate::privacy::service::PrivacyError) -> Self {
        use crate::privacy::service::PrivacyError as E;
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
            E::UserNotFound => Self::not_found("user_not_found", "There is no such account."),
            E::AccountDeleted => Self::gone("account_deleted", "This account has been deleted."),
            E::NoPolicy => Self::not_found("no_policy", "No privacy policy is published."),
            E::PolicyVersionExists => Self::conflict(
                "policy_version_exists",
                "A policy with this version was published already; choose a new version.",
            ),
            E::NotCurrentPolicy { current } => Self::conflict(
                "policy_version_not_current",
                format!("Only the current privacy policy (version {current}) can be accepted."),
            ),
            E::CannotDeleteSelf => Self::conflict(
                "cannot_delete_self",
                "Admins delete their own account from the account page, with their password.",
            ),
            E::Internal(cause) => Self::internal(cause),
        }
    }
}

impl From<crate::db::DbError> for ApiError {
    fn from(e: crate::db::DbError) -> Self {
        Self::internal(e)
    }
}

impl From<crate::otp::OtpError> for ApiError {
    fn from(e: crate::otp::OtpError) -> Self {
        use crate::otp::OtpError as E;
        match e {
            E::Validation(errors) => Self::validation(errors),
            E::RateLimited { retry_after } => Self::TooManyRequests(
                Json(rate_limited_problem(retry_after)),
                retry_after,
                None,
                None,
                None,
            ),
            E::InvalidCode => Self::unauthorized(
                "invalid_code",
                "This code is not right, has expired or was already used. Ask for a new one.",
            ),
            E::PhoneTaken => Self::conflict(
                "phone_taken",
                "This phone number is already verified on another account.",
            ),
            E::AccountDisabled => Self::forbidden(
                "account_disabled",
                "This account is disabled. Ask your campus IT team to enable it again.",
            ),
            E::Internal(cause) => Self::internal(cause),
        }
    }
}

impl From<crate::tokens::TokenError> for ApiError {
    fn from(e: crate::tokens::TokenError) -> Self {
        use crate::tokens::TokenError as E;
        match e {
            E::Account(e) => e.into(),
            E::InvalidRefreshToken => Self::unauthorized(
                "invalid_refresh_token",
                "This refresh token is not valid any more. Sign in again.",
            ),
            E::RefreshTokenReused => Self::unauthorized(
                "refresh_token_reused",
                "This refresh token was already used, so every token of this sign-in was revoked. \
                 Sign in again.",
            ),
            E::Internal(cause) => Self::internal(cause),
        }
    }
}

impl From<crate::driver::DriverError> for ApiError {
    fn from(e: crate::driver::DriverError) -> Self {
        use crate::driver::DriverError as E;
        use crate::driver::uploads::ImageError as I;
        let message = e.to_string();
        match e {
            E::Image(image) => {
                let code = match image {
                    I::TooLarge { .. } => "image_too_large",
                    I::NotAnImage { .. } => "unsupported_image_type",
                    I::Unreadable { .. } => "image_unreadable",
                    I::TooManyPixels { .. } => "image_too_many_pixels",
                    I::TooSmall { .. } => "image_too_small",
                };
                let mut detail = message;
                if let Some(first) = detail.get(..1) {
                    detail = format!("{}{}.", first.to_uppercase(), &detail[1..]);
                }
                Self::unprocessable(code, detail)
            }
            E::LegalNameRequired => Self::conflict("legal_name_required", message),
            E::NotVerified => Self::forbidden("email_not_verified", message),
            E::TooEarly { .. } => Self::conflict("renewal_too_early", message),
            E::LicenceExpired(_) => Self::unprocessable("licence_expired", message),
            E::NotApproved(_) => Self::conflict("driver_not_approved", message),
            E::ReviewNotFound => Self::not_found("review_not_found", message),
            E::AlreadyDecided => Self::conflict("review_already_decided", message),
            E::OwnReview => Self::forbidden("own_review", message),
            E::ExpiryUnknown => Self::unprocessable("expiry_unknown", message),
            E::ReasonRequired => {
                Self::validation(vec![FieldError { field: "reason".into(), message }])
            }
            E::ImageNotFound => {
                Self::not_found("image_not_found", "This review has no such image.")
            }
            E::RateLimited(limited) => limited.into(),
            E::Internal(cause) => Self::internal(format!("{cause:#}")),
        }
    }
}
