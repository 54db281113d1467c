//! Campuses and their email domains. Registration by email is allowed only for a listed
//! domain; a subdomain must be listed itself. No campus is ever created automatically:
//! admins manage them with `gatehouse campus ...` and `/api/v1/admin/campuses`.

pub mod api;
pub mod export;
mod store;

pub use store::{Campus, CampusError};

/// Campus rows, for the CLI, the seed and sign-up.
pub use store::{campus_for_domain, create, get, list, remove};
