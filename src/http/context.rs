//! What the HTTP layer itself needs of the application, handed to the route table as request
//! data beside the state: the server settings, and the sessions, tokens and limits that
//! authenticate and count a request before it reaches an operation, and the database for the
//! staff rule. (The layer below the
//! features does not see the application's whole state.)

use std::sync::Arc;

use crate::config::Config;
use crate::db::Db;
use crate::ratelimit::RateLimits;
use crate::sessions::Sessions;
use crate::tokens::Tokens;

#[derive(Clone)]
pub struct HttpContext {
    pub config: Arc<Config>,
    /// For the staff rule (is TOTP on for the account).
    pub db: Db,
    pub sessions: Arc<Sessions>,
    pub tokens: Arc<Tokens>,
    pub limits: Arc<RateLimits>,
}
