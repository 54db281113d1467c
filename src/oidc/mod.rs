//! The OpenID Connect provider: campus apps (the ride-share first, then Moodle, Nextcloud,
//! GitLab, a library system) sign students in through Gatehouse and never see a password.
//!
//! Where things are (SPEC section 11; the how-to for campus IT and app developers is in
//! `docs/campus-it.md` and `docs/app-developers.md`):
//!
//! - Clients: `clients` (registration rules), `client` (the type), `api` (the admin API),
//!   `store::clients`. The CLI is `cli::clients`.
//! - `endpoints`: the HTTP of discovery and every `/oauth/...` endpoint, OAuth's formats
//!   (JSON errors `{error, error_description}`, form bodies), beside the OpenAPI tree.
//! - `provider`: the authorization request (`request`), sign-in and consent; the codes.
//! - `token_endpoint`: client authentication, the code and refresh grants, the tokens issued
//!   (`access_token`, `id_token`, claims in `claims` by `scopes`); `device`: the
//!   device authorization grant and its page's logic.
//! - `resource`: userinfo, revocation, introspection; `logout`: RP-initiated logout;
//!   `backchannel`: the job that delivers logout tokens.
//! - `consent_api` and `connected_apps`: the consent and device pages' API, the account
//!   page's connected apps. `personal_data`: export, erasure and retention.
//!
//! Grants are token families of `crate::tokens` with a client, a scope and the session they
//! came from (`sid`): ending the session, the family or the account ends the app's tokens in
//! the same transaction and marks its back-channel logout.

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
