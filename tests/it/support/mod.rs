//! What the tests share: `harness` starts the app in-process, `process` runs the real
//! executable, `smtp_sink` receives mail over SMTP, `http_sink` HTTP requests, `licence_images` draws made-up licences, `oidc` registers apps and drives the provider, `passkey` is a software authenticator;
//! the rest sets up accounts, phones, TOTP and drivers the way several test files need them.

pub mod bootstrap;
pub mod drivers;
pub mod engine;
pub mod harness;
pub mod http_sink;
pub mod licence_images;
pub mod oidc;
pub mod passkey;
pub mod pg_cluster;
pub mod phones;
pub mod process;
pub mod smtp_sink;
pub mod totp;
