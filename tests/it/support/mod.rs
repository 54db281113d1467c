//! What the tests share: `harness` starts the app in-process, `process` runs the real
//! executable, `smtp_sink` receives mail over SMTP, `licence_images` draws made-up licences;
//! the rest sets up accounts, phones, TOTP and drivers the way several test files need them.

pub mod bootstrap;
pub mod drivers;
pub mod harness;
pub mod licence_images;
pub mod phones;
pub mod process;
pub mod smtp_sink;
pub mod totp;
