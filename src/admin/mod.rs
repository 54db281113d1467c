//! Administration that is not a feature of its own: the first-admin bootstrap.

pub mod bootstrap;
