//! Personal data sealed at rest: the field cipher (AES-256-GCM, each sealed value carrying the
//! id of its key), the key ring it seals with, and the passes over sealed data ([`sealed`]):
//! the start-up checks and sealing ([`start_checks`]) and key rotation ([`rotate`]).
//! Infrastructure for every feature that stores personal data; each declares its own sealed
//! columns, and the wiring hands the list (`startup::SEALED`) to the passes.
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
pub mod rotate;
pub mod sealed;
pub mod start_checks;

pub use cipher::{CipherError, FieldCipher};
pub use erasure::{DeleteReason, Erasure, ErasureError};
pub use keyring::KeyRing;
pub use personal_data::{AfterErase, Person, PersonalData, Purged};

#[cfg(test)]
mod sealed_tests;
