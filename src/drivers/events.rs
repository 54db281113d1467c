//! The webhook events of driver verification, queued in the transaction of the decision (see
//! `crate::webhooks`): the user and licence ids, the driver's state, never a licence field.

use serde_json::{Value, json};

use super::store::Status;
use crate::db::conn::AsConn;
use crate::webhooks::EventType;

/// Queues `kind` about `user_id`'s licence `licence_id`, the driver's `status` now, and
/// `extra` (states only).
pub fn queue_driver_event(
    conn: &impl AsConn,
    kind: EventType,
    user_id: &str,
    licence_id: i64,
    status: Status,
    extra: Value,
    now: i64,
) -> rusqlite::Result<()> {
    let mut data = json!({"licence_id": licence_id, "status": status.as_str()});
    if let (Some(data), Value::Object(extra)) = (data.as_object_mut(), extra) {
        data.extend(extra);
    }
    crate::accounts::queue_user_event(conn, kind, user_id, data, now)
}
