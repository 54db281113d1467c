//! Driver verification: a driver uploads both sides of their licence; the
//! back's PDF417 barcode is read ([`barcode`]) and parsed as AAMVA data ([`aamva`]); the front
//! is read by OCR ([`ocr`]) and compared with the barcode ([`front_check`]), or stands in for
//! it when there is none; the name is compared with the profile's legal name
//! ([`name_match`]). Every licence waits for a reviewer ([`reviews`]), renewals too: a barcode
//! is not signed, and anyone can print one with a later expiry. A campus may let renewals
//! through without a reviewer (`driver.auto_approve_renewals`), and then only those whose
//! front agrees with the barcode and that pass every other check ([`service`]). While a renewal
//! waits the driver keeps driving on the current licence until it expires.
//! [`Drivers::run_expiry_job`] sends the 7/3/1-day alerts and suspends drivers whose licence has
//! expired; [`notices`] emails every decision with its reason.
//!
//! States of a driver: `none` -> `pending_review` -> `approved` | `rejected`;
//! `approved` -> `suspended` (licence expired) -> `approved` (new licence approved).
//! Images lose their metadata ([`metadata`]) and live sealed behind [`uploads::UploadStore`];
//! the database keeps where, how big, their hash, type and key id. Licence fields that
//! identify a person are sealed in the database ([`store`]).

pub mod api;
mod events;
pub mod expiry;
pub mod extraction;
pub mod image_kind;
pub mod image_rows;
pub mod licence;
pub mod metadata;
pub mod notices;
pub mod personal_data;
mod problems;
pub mod reviews;
pub mod sealed_files;
pub mod service;
mod store;
mod submission;
pub mod uploads;

use std::sync::Arc;
use std::time::Duration;

use chrono::NaiveDate;

use tokio::sync::Notify;

use crate::clock::Clock;
use crate::config::Config;
use crate::db::{BlockingPool, Db};
use crate::pii::FieldCipher;
use crate::ratelimit::{Limited, Tier};
use licence::ocr;
use uploads::{ImageError, UploadStore};

/// Licence rows for the export, and the sealed columns for the privacy passes.
pub use personal_data::DriversData;
pub use store::{SEALED_COLUMNS, licences_of};

/// Driver verification: what its rules need, and its shared parts.
pub struct Drivers {
    db: Db,
    clock: Arc<dyn Clock>,
    config: Arc<Config>,
    pii: FieldCipher,
    /// Notified when a message is queued, so the outbox sends it at once.
    outbox_wake: Arc<Notify>,
    pub uploads: Arc<dyn UploadStore>,
    /// The OCR program, when configured and installed, with its bound on runs at once.
    pub ocr: Option<Arc<ocr::Ocr>>,
    /// Image header checks, decoding, barcode reading and file IO: bounded, because each
    /// holds a whole image.
    pub images: BlockingPool,
    changes: Tier,
    limits_enabled: bool,
}

/// What [`Drivers`] is built from, besides its configuration and image store.
pub struct DriversParts {
    pub db: Db,
    pub clock: Arc<dyn Clock>,
    pub pii: FieldCipher,
    pub outbox_wake: Arc<Notify>,
}

impl Drivers {
    pub fn new(config: Arc<Config>, parts: DriversParts, uploads: Arc<dyn UploadStore>) -> Self {
        let ocr = ocr::find_program(&config.driver.tesseract);
        match &ocr {
            Some(path) => tracing::info!(program = %path.display(), "licence OCR available"),
            None => tracing::info!("licence OCR not available: unreadable barcodes go to review"),
        }
        if config.driver.auto_approve_renewals && ocr.is_none() {
            tracing::warn!(
                "driver.auto_approve_renewals is on but licence OCR is not available: the front \
                 cannot be compared with the barcode, so every renewal waits for a reviewer"
            );
        }
        Self {
            db: parts.db,
            clock: parts.clock,
            pii: parts.pii,
            outbox_wake: parts.outbox_wake,
            uploads,
            ocr: ocr.map(|program| Arc::new(ocr::Ocr::new(program))),
            images: BlockingPool::low_priority("images", 2, crate::db::LOW_PRIORITY_NICE),
            changes: Tier::new(config.driver.changes_per_hour, Duration::from_secs(3600)),
            limits_enabled: config.rate_limit.enabled,
            config,
        }
    }

    /// Counts one `enable` or `availability` request of `user_id`.
    pub fn count_change(&self, user_id: &str) -> Result<(), Limited> {
        if self.limits_enabled { self.changes.check(user_id) } else { Ok(()) }
    }
}

/// Why a driver request was refused.
#[derive(Debug, thiserror::Error)]
pub enum DriverError {
    #[error(transparent)]
    Image(#[from] ImageError),
    #[error("Add your legal name to your profile first: it is compared with your licence.")]
    LegalNameRequired,
    #[error("Confirm your campus email address first.")]
    NotVerified,
    #[error("Your licence is valid until {expiry}; a new one can be uploaded from {from} on.")]
    TooEarly { expiry: NaiveDate, from: NaiveDate },
    #[error("This licence expired on {0}.")]
    LicenceExpired(NaiveDate),
    #[error("{0}")]
    NotApproved(String),
    #[error("There is no such review.")]
    ReviewNotFound,
    #[error("This review has already been decided.")]
    AlreadyDecided,
    #[error("You cannot decide a review of your own licence.")]
    OwnReview,
    #[error("No expiry date could be read from this licence; give the date on the card.")]
    ExpiryUnknown,
    #[error("A rejection needs a reason of 1 to 500 characters that the driver will read.")]
    ReasonRequired,
    #[error("too many changes for now")]
    RateLimited(Limited),
    #[error("no such image")]
    ImageNotFound,
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl From<rusqlite::Error> for DriverError {
    fn from(e: rusqlite::Error) -> Self {
        Self::Internal(e.into())
    }
}

impl From<crate::db::conn::SqlError> for DriverError {
    fn from(e: crate::db::conn::SqlError) -> Self {
        Self::Internal(e.into())
    }
}

impl From<crate::db::DbError> for DriverError {
    fn from(e: crate::db::DbError) -> Self {
        Self::Internal(e.into())
    }
}

impl From<crate::db::BlockingError> for DriverError {
    fn from(e: crate::db::BlockingError) -> Self {
        Self::Internal(e.into())
    }
}
