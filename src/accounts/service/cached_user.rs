//! A user as the short-lived user cache holds it: the row, and its JSON rendering for the
//! session check.

use std::ops::Deref;

use crate::accounts::store::User;
use crate::cache::Rendering;

pub struct CachedUser {
    user: User,
    /// The API's view of the user (`UserView`), rendered by the first session check.
    pub rendering: Rendering,
}

impl CachedUser {
    pub fn new(user: User) -> Self {
        Self { user, rendering: Rendering::default() }
    }
}

impl Deref for CachedUser {
    type Target = User;

    fn deref(&self) -> &User {
        &self.user
    }
}
