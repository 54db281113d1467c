//! Administration that is not a feature of its own: the first-admin bootstrap, accounts.

pub mod bootstrap;
pub mod users;
