//! Integration tests: one binary, one module per area, and `support` for what they share.
//! `support::harness` starts the real app in-process on 127.0.0.1:0 with a temporary data
//! directory; `binary` runs the real executable for what only a process can show (signals,
//! exit codes, logs).

mod admin;
mod admin_ops;
mod authorization;
mod backups;
mod backups_postgres;
mod binary;
mod captcha;
mod cli;
mod config_errors;
mod doc_links;
mod driver;
mod driver_at_rest;
mod driver_jobs;
mod driver_renewals;
mod http_errors;
mod http_surface;
mod jobs;
mod key_rotation;
mod layout;
mod lockout;
mod log_format;
mod mail_delivery;
mod mfa;
mod migrate_to_postgres;
mod oidc_backchannel;
mod oidc_clients;
mod oidc_device;
mod oidc_flow;
mod openapi_drift;
mod otp;
mod passkeys;
mod passwords;
mod personal_data;
mod policy_status;
mod privacy_account;
mod privacy_at_rest;
mod rate_limits;
mod registration;
mod secrecy;
mod session_fixation;
mod sessions;
mod sms_providers;
mod strict_bodies;
mod support;
mod tokens;
mod two_nodes;
mod uniform;
mod webhooks;
