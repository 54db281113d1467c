//! Driver-verification errors as the answers a client sees: status, stable `code`, and a
//! detail in words a student understands. Internal causes go to the server's log, never to the client.

use crate::error::{ApiError, FieldError};

impl From<crate::drivers::DriverError> for ApiError {
    fn from(e: crate::drivers::DriverError) -> Self {
        use crate::drivers::DriverError as E;
        use crate::drivers::uploads::ImageError as I;
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
