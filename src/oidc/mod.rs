//! The OpenID Connect provider: campus apps (the ride-share first, then Moodle, Nextcloud,
//! GitLab, a library system) sign students in through Gatehouse and never see a password.
//!
//! Built so far: client registration by admins ([`clients`]: `gatehouse client ...` and
//! `/api/v1/admin/clients`), and the RS256 key that will sign ID tokens
//! (`crate::tokens::rsa_key`, published in the JWK set). The authorization, token, userinfo
//! and logout endpoints come next, on these.

mod access_token;
pub mod api;
pub mod backchannel;
mod claims;
mod client;
pub mod clients;
mod connected_apps;
pub mod consent_api;
pub mod device;
pub mod endpoints;
mod id_token;
mod logout;
pub mod personal_data;
mod provider;
mod request;
mod resource;
mod scopes;
mod store;
mod token_endpoint;

pub use clients::{Client, ClientError, NewClient, Registered};
pub use personal_data::OidcData;
pub use provider::Provider;
