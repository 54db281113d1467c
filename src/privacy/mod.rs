//! Privacy by construction: which personal data is sealed at rest (the cipher itself is
//! [`crate::pii`]) and the passes over it (start-up, key rotation), the account export,
//! account deletion and retention. (Privacy-policy versions are [`crate::policies`].)
//!
//! For other features:
//!
//! - [`sealed::SEALED`]: list a table's sealed columns there and start-up migration and
//!   `gatehouse keys rotate` handle them. Sealed files (licence images) are walked by
//!   [`sealed_files`] in the same passes.

pub mod api;
pub mod export;
pub mod retention;
pub mod rotate;
pub mod sealed;
pub mod sealed_files;
pub mod service;
pub mod startup;

pub use retention::RetentionReport;
pub use service::{Privacy, PrivacyParts};
