//! Administration that is not a feature of its own: the first-admin bootstrap, accounts
//! (search, view, disable, role, sessions, unlock), the audit log query and the outbox status.
//! (The staff check every admin operation takes is the HTTP layer's: [`crate::http::AdminAuth`].)

pub mod accounts;
pub mod audit;
pub mod bootstrap;
pub mod outbox;
pub mod paging;
mod store;

pub mod users;
