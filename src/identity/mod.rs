//! Facts about who is signed in that every feature shares and none owns: for now how a sign-in
//! was proved ([`Amr`]). Nothing here imports a feature, so sessions, tokens, accounts and the
//! phone codes can all use it without tying one to another (the house issue moves `Role`,
//! `Principal` and `AuthMethod` here too).

mod amr;

pub use amr::Amr;
