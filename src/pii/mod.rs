//! Personal data sealed at rest: the field cipher (AES-256-GCM, each sealed value carrying the
//! id of its key) and the key ring it seals with. Infrastructure for every feature that stores
//! personal data; which columns are sealed, the start-up pass and key rotation are the privacy
//! feature's (`privacy/sealed.rs`, `privacy/rotate.rs`).
//!
//! Also the ground every feature's personal data stands on: [`PersonalData`], which each
//! feature that stores some implements, and [`Erasure`], which deletes an account by walking
//! them all.
//!
//! [`FieldCipher`] (`state.pii`): `seal`/`open` for byte blobs (e.g. an uploaded file) and
//! `seal_text`/`open_text` for TEXT columns, each under a context such as `"table.column"`.

pub mod cipher;
pub mod erasure;
pub mod keyring;
pub mod personal_data;

pub use cipher::{CipherError, FieldCipher};
pub use erasure::{DeleteReason, Erasure, ErasureError};
pub use keyring::KeyRing;
pub use personal_data::{AfterErase, Person, PersonalData, Purged};
