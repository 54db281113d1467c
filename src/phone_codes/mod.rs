//! Phone sign-in codes: 6 random digits sent by SMS through the outbox,
//! valid 10 minutes, stored as an HMAC, 5 attempts then dead, single use. A verified code
//! signs in the account that has the phone verified, or links the phone to the signed-in
//! account (at most 5 such link codes a day per account). Only numbers of `sms.allowed_regions`
//! are accepted ([`crate::contact::phone`]). `api.rs` is the HTTP face, `service.rs` the
//! rules, `caps.rs` the sending and checking limits, `error.rs` their outcomes, `store.rs` the SQL (both engines).

pub mod api;
mod caps;
mod error;
pub mod personal_data;
mod service;
mod store;
#[cfg(test)]
mod store_tests;

pub use error::PhoneCodeError;
pub use personal_data::PhoneCodesData;
pub use service::{PhoneCodeSettings, PhoneCodes, Verified};
