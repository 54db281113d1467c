//! Privacy by construction (SPEC section 8): personal data sealed at rest, key rotation, the
//! account export, account deletion, retention and privacy-policy acceptance.
//!
//! For other features, the reusable parts are:
//!
//! - [`FieldCipher`] (`state.pii`): `seal`/`open` for byte blobs (e.g. an uploaded file) and
//!   `seal_text`/`open_text` for TEXT columns, each under a context such as `"table.column"`.
//!   Every sealed value carries its key id.
//! - [`sealed::SEALED`]: list a table's sealed columns there and start-up migration and
//!   `gatehouse keys rotate` handle them. Sealed files (licence images) are walked by
//!   [`sealed_files`] in the same passes.

pub mod api;
pub mod cipher;
pub mod deletion;
pub mod export;
pub mod keyring;
pub mod pending;
pub mod policies;
pub mod retention;
pub mod rotate;
pub mod sealed;
pub mod sealed_files;
pub mod service;
pub mod startup;

pub use cipher::{CipherError, FieldCipher};
pub use keyring::KeyRing;
pub use retention::{RetentionReport, run_retention};
