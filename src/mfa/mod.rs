//! Second factors: TOTP (RFC 6238) with its enrolment and replay guard, recovery codes, and the
//! pending second step of a sign-in (a challenge). The sign-in flows that ask for them are in
//! the accounts feature.

pub mod personal_data;
pub mod totp;

pub use personal_data::MfaData;
