//! Administration that is not a feature of its own: the first-admin bootstrap, accounts
//! (search, view, disable, role, sessions, unlock), the audit log query and the outbox status.
//! (The staff check every admin operation takes is the HTTP layer's: [`crate::http::AdminAuth`].)

pub mod accounts;
pub mod audit;
pub mod bootstrap;
pub mod outbox;
pub mod paging;
mod store;
#[cfg(test)]
mod store_tests;

pub mod users;

/// What the admin API uses (built by the route table).
#[derive(Clone)]
pub struct AdminState {
    pub config: std::sync::Arc<crate::config::Config>,
    pub db: crate::db::Db,
    pub clock: std::sync::Arc<dyn crate::clock::Clock>,
    pub accounts: std::sync::Arc<crate::accounts::Accounts>,
    pub limits: std::sync::Arc<crate::ratelimit::RateLimits>,
    /// Wakes the outbox after a retry is queued.
    pub outbox_wake: std::sync::Arc<tokio::sync::Notify>,
    /// Account deletion by an admin.
    pub erasure: std::sync::Arc<crate::pii::Erasure>,
}
