//! A user as the short-lived user cache holds it: the row, and the API's JSON rendering of it
//! for the session check, made at most once per cached copy.

use std::ops::Deref;
use std::sync::OnceLock;

use serde_json::value::RawValue;

use crate::accounts::store::User;

pub struct CachedUser {
    user: User,
    rendered: OnceLock<Box<RawValue>>,
}

impl CachedUser {
    pub fn new(user: User) -> Self {
        Self { user, rendered: OnceLock::new() }
    }

    /// The user as `render` writes it, rendered on the first call only. Every change to a user
    /// drops its cached copy, so the rendering is never staler than the row beside it.
    pub fn rendered(&self, render: impl FnOnce(&User) -> Box<RawValue>) -> &RawValue {
        self.rendered.get_or_init(|| render(&self.user))
    }
}

impl Deref for CachedUser {
    type Target = User;

    fn deref(&self) -> &User {
        &self.user
    }
}
