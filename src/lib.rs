//! Gatehouse: a self-hosted identity and verification appliance for university campuses.
//!
//! `main.rs` only calls [`cli::run`]; everything else lives here so that integration tests
//! start exactly the app the binary runs, through [`serve`].

#![forbid(unsafe_code)]
// Operations return `Result<_, ApiError>`, whose variants carry the problem document by value
// because poem-openapi documents each variant's payload type; the size is a non-issue on an
// error path that ends in an HTTP answer.
#![allow(clippy::result_large_err)]

pub mod accounts;
pub mod admin;
pub mod app;
pub mod audit;
pub mod campuses;
pub mod cli;
pub mod clock;
pub mod config;
pub mod crypto;
pub mod db;
pub mod error;
pub mod http;
pub mod keys;
pub mod logging;
pub mod notify;
pub mod ops;
pub mod otp;
pub mod ratelimit;
pub mod server;
pub mod sessions;
pub mod tokens;
pub mod web;

pub use server::{App, serve};
