//! Gatehouse: a self-hosted identity and verification appliance for university campuses.
//!
//! `main.rs` only calls [`cli::run`]; everything else lives here so that integration tests
//! start exactly the app the binary runs, through [`serve`].

#![forbid(unsafe_code)]

pub mod app;
pub mod cli;
pub mod config;
pub mod db;
pub mod error;
pub mod http;
pub mod keys;
pub mod logging;
pub mod ops;
pub mod server;
pub mod web;

pub use server::{App, serve};
