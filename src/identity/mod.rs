//! Facts about who is signed in that every feature shares and none owns: a user's [`Role`],
//! who a request acts for ([`Principal`], [`AuthMethod`]) and how a sign-in was proved
//! ([`Amr`]). Nothing here imports a feature, so sessions, tokens, accounts and the phone codes
//! can all use it without tying one to another.

mod amr;
mod principal;
mod role;

pub use amr::Amr;
pub use principal::{AuthMethod, Principal};
pub use role::Role;
