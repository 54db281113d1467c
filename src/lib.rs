//! Gatehouse: a self-hosted identity and verification appliance for university campuses.
//!
//! `main.rs` only calls [`cli::run`]; everything else lives here so that integration tests
//! start exactly the app the binary runs, through [`serve`].
//!
//! The layout, by feature (each holds its HTTP face `api`, its rules `service`, its SQL
//! `store`):
//! - [`accounts`]: sign-up, verification, sign-in, passwords, lockout, profiles;
//! - [`sessions`]: cookie sessions and their cache; [`tokens`]: API tokens (JWT, refresh);
//! - [`otp`]: phone sign-in codes; [`campuses`]: campus email domains;
//! - [`driver`]: driver verification (licence upload and extraction, reviews, expiry);
//! - [`admin`]: first-admin bootstrap, account administration;
//! - [`notify`]: the outbox, mail and SMS transports, email templates;
//! - [`audit`]: the append-only audit log; [`ratelimit`]: rate-limit tiers; [`captcha`]: the
//!   proof-of-work captcha;
//! - [`privacy`]: personal data sealed at rest (field cipher, PII key ring, rotation), the
//!   account export, deletion, retention, privacy-policy versions;
//! - [`http`]: middleware (request id, access log, errors, headers, CORS, CSRF, limits) and
//!   authentication; [`error`]: the one problem+json error model;
//! - [`ops`]: probes and metrics; [`jobs`]: the background job scheduler; [`backup`]: backups
//!   and restores; [`web`]: the embedded UI and Swagger UI;
//! - [`config`], [`db`], [`keys`], [`clock`], [`crypto`], [`logging`], [`server`], [`cli`]: the
//!   plumbing.

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
pub mod ops;
pub mod phone_codes;
pub mod pii;
pub mod privacy;
pub mod ratelimit;
pub mod router;
pub mod seed;
pub mod sessions;
pub mod startup;
pub mod state;
pub mod tokens;
pub mod web;

pub use startup::{App, serve};
