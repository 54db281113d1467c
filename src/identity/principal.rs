//! Who a request acts for, and how it proved it.

use std::sync::Arc;

use super::{Amr, Role};
use crate::cache::Rendering;
use crate::ratelimit::KeyHold;

/// How a request proved who it acts for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthMethod {
    /// The session cookie; `Principal::session_id` is the session.
    Session,
    /// A bearer access token; `Principal::session_id` is its token family.
    Bearer,
}

/// Who a request acts for.
#[derive(Debug, Clone)]
pub struct Principal {
    pub method: AuthMethod,
    pub user_id: String,
    pub session_id: String,
    pub role: Role,
    pub remember_me: bool,
    pub created_at: i64,
    pub expires_at: i64,
    pub idle_timeout: i64,
    /// How the session's sign-in (or the token family's grant) was proved.
    pub amr: Amr,
    /// A session's JSON rendering for the session check, shared with its cache entry (the
    /// facts it renders never change during a session); none for an access token.
    pub rendering: Option<Arc<Rendering>>,
    /// The credential's hold on its user's key in the authenticated rate-limit tier, shared
    /// with its cache entry, so that counting a request needs no lookup.
    pub rate_limit: Arc<KeyHold>,
}
