//! Second factors and passkeys: TOTP (RFC 6238) with its enrolment and replay guard, recovery
//! codes, the pending second step of a sign-in (a challenge), and passkeys (WebAuthn), which
//! sign in on their own as two factors. The sign-in flows that ask for them are in the accounts
//! feature.

pub mod passkey_store;
pub mod passkeys;
pub mod personal_data;
pub mod totp;

pub use personal_data::MfaData;
