//! Campus accounts: registration restricted to campus domains, email verification, sign-in with
//! a password, password change and reset, profiles. `api.rs` is the HTTP face, `service.rs`
//! the rules, `store.rs` the SQL, `password.rs` the policy and hashing.

pub mod api;
pub mod bootstrap;
pub mod email;
pub mod lockout;
pub mod password;
pub mod phone;
pub mod service;
mod store;

use std::fmt;
use std::str::FromStr;

pub use service::{AccountError, Accounts};

/// The account rows other features read and write, inside their own transactions.
pub use store::{
    EMAIL, NewUser, PHONE, User, find_by_email_index, find_by_id, find_by_verified_phone, insert,
    insert_phone_user, password_hash_of, set_role, set_verified_phone, upgrade_password_hash,
};

/// A user's role. Admins can do everything; reviewers can also decide driver reviews.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    User,
    Reviewer,
    Admin,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::User => "user",
            Role::Reviewer => "reviewer",
            Role::Admin => "admin",
        }
    }

    /// The roles as the API lists them: everyone is a `user`.
    pub fn roles(self) -> Vec<String> {
        match self {
            Role::User => vec!["user".into()],
            other => vec!["user".into(), other.as_str().into()],
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Role {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "user" => Ok(Role::User),
            "reviewer" => Ok(Role::Reviewer),
            "admin" => Ok(Role::Admin),
            other => Err(format!("unknown role {other:?}")),
        }
    }
}
