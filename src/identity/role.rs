//! A user's role.

use std::fmt;
use std::str::FromStr;

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
