//! The webhook events about accounts, queued in the caller's transaction (see
//! `crate::webhooks`): `data` is the user id, the campus id and states, never a name or an
//! address.

use crate::db::conn::AsConn;
use serde_json::Value;

use super::store;
use crate::webhooks::{self, Event, EventType};

/// Queues `kind` about `user_id`, with the account's campus and `extra` (states only).
pub fn queue_user_event(
    conn: &impl AsConn,
    kind: EventType,
    user_id: &str,
    extra: Value,
    now: i64,
) -> rusqlite::Result<()> {
    let campus_id = store::campus_of(conn, user_id)?;
    webhooks::queue_in(conn, &Event::user(kind, user_id, campus_id, extra), now)?;
    Ok(())
}

/// Marks the email verified and, the first time, queues `user.email_verified`.
pub fn email_verified_in(conn: &impl AsConn, user_id: &str, now: i64) -> rusqlite::Result<()> {
    if store::mark_email_verified(conn, user_id, now)? {
        let state = serde_json::json!({"email_verified": true});
        queue_user_event(conn, EventType::UserEmailVerified, user_id, state, now)?;
    }
    Ok(())
}
