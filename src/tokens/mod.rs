//! API tokens for campus mobile and server apps: a 15-minute JWT access token (EdDSA) and an
//! opaque 7-day refresh token that is spent by each refresh. Tokens descended from one sign-in
//! form a family; presenting a spent refresh token revokes the whole family (a stolen token
//! and its legitimate twin cannot both live). Password change and reset revoke every family.
//!
//! This is the mechanism (families, signing, checking a bearer token); the grant, which
//! checks a password, and the token API are the accounts' (`accounts/service/token_grant.rs`,
//! `accounts/api/tokens.rs`), as the cookie sign-in is.

mod family_states;
pub mod jwt;
pub mod key_files;
pub mod live_keys;
pub mod personal_data;
pub mod rsa_key;
mod service;
mod store;
#[cfg(test)]
mod store_tests;

pub use personal_data::TokensData;
pub use service::{
    LiveRefresh, NewFamily, Revocable, RoleOf, Rotated, TokenError, TokenPair, Tokens,
};

/// Token families other features end (a password change, an admin action, a sign-out) or
/// check (a session's sign-in), and the client grants the OpenID Connect provider reads.
pub use store::{
    EndedGrant, LiveGrant, family_grant, family_revoked, live_grants, revoke_client_families,
    revoke_family, revoke_session_families, revoke_user_families, take_pending_logouts,
};

/// What makes a token family a client's grant (OpenID Connect): the client, the scopes
/// granted, the Gatehouse session it came from and when the student signed in to it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientGrant {
    pub client_id: String,
    pub scope: String,
    pub sid: String,
    pub auth_time: i64,
}
