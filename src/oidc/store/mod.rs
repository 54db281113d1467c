//! The SQL of the OpenID Connect provider, one file per table: private to the provider.

pub mod clients;
pub mod codes;
pub mod consents;
pub mod device_codes;
pub mod logouts;

#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_clients;
