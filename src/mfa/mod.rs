//! Second factors: TOTP (RFC 6238) with its enrolment and replay guard, recovery codes, and the
//! pending second step of a sign-in (a challenge). The sign-in flows that ask for them are in
//! the accounts feature.

pub mod totp;
