//! Gatehouse: a self-hosted identity and verification appliance for university campuses.
//!
//! `main.rs` only calls [`cli::run`]; everything else lives here so that integration tests
//! start exactly the app the binary runs, through [`serve`].
//!
//! The layout (`docs/architecture.md` draws it and gives its rules), from the top down:
//! - wiring: [`cli`] (one file per command group), [`startup`] (builds every service, opens
//!   the app, registers the jobs), [`router`] (the API list, the spec, the middleware stack),
//!   [`state`] (`AppState`: configuration, clock, database, the services), [`seed`], [`web`];
//! - features, each holding its HTTP face `api`, its rules `service` and its private SQL
//!   `store`: [`accounts`] (sign-up, verification, sign-in, passwords, lockout, profiles),
//!   [`sessions`], [`tokens`] (JWT access and refresh tokens), [`mfa`] (TOTP, recovery codes),
//!   [`phone_codes`], [`campuses`], [`oidc`] (the OpenID Connect provider), [`captcha`], [`drivers`] (licence upload, reading under
//!   `drivers/licence/`, reviews, expiry), [`admin`], [`notify`] (outbox, mail, SMS,
//!   templates), [`policies`] (privacy-policy versions and acceptance), [`privacy`] (which data
//!   is sealed, rotation, export, deletion, retention), [`backup`], [`ops`] (probes, the metrics scrape);
//! - the HTTP layer: [`http`] (request id, access log, headers, CORS, CSRF, request limits,
//!   authentication, request meta, sign-in limits, the API tags);
//! - the ground floor, which imports no feature: [`error`] (problem+json), [`pii`] (field
//!   cipher, key ring), [`identity`] (`Role`, `Principal`, `AuthMethod`, `Amr`), [`contact`]
//!   (email and phone rules), [`audit`], [`ratelimit`], [`metrics`], [`jobs`], [`config`],
//!   [`db`], [`keys`], [`clock`], [`crypto`], [`cache`], [`logging`].

#![forbid(unsafe_code)]
// Operations return `Result<_, ApiError>`, whose variants carry the problem document by value
// because poem-openapi documents each variant's payload type; the size is a non-issue on an
// error path that ends in an HTTP answer.
#![allow(clippy::result_large_err)]

pub mod accounts;
pub mod admin;
pub mod audit;
pub mod backup;
pub mod cache;
pub mod campuses;
pub mod captcha;
pub mod cli;
pub mod clock;
pub mod config;
pub mod contact;
pub mod crypto;
pub mod db;
pub mod drivers;
pub mod error;
pub mod http;
pub mod identity;
pub mod jobs;
pub mod keys;
pub mod logging;
pub mod metrics;
pub mod mfa;
pub mod notify;
pub mod oidc;
pub mod ops;
pub mod phone_codes;
pub mod pii;
pub mod policies;
pub mod privacy;
pub mod ratelimit;
pub mod router;
pub mod seed;
pub mod sessions;
pub mod startup;
pub mod state;
pub mod tokens;
pub mod web;
pub mod webhooks;

pub use startup::{App, serve};
