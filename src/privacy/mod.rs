//! The privacy operations over every feature's personal data: the account export (each
//! feature's section, one document), retention (each feature's purge, and accounts never
//! verified deleted), and privacy-policy publication and acceptance. Account deletion, the
//! field cipher, sealed columns and key rotation are the ground floor's ([`crate::pii`]);
//! policy versions are [`crate::policies`].

pub mod api;
pub mod export;
pub mod retention;
pub mod service;

pub use retention::RetentionReport;
pub use service::{Privacy, PrivacyParts};

#[cfg(test)]
mod erasure_race_tests;
#[cfg(test)]
mod personal_data_tests;
#[cfg(test)]
mod test_registry;
