//! The audit section of the account export.

use poem_openapi::Object;

use crate::clock::rfc3339;
use crate::db::conn::AsConn;

#[derive(Debug, Object, serde::Serialize)]
#[oai(skip_serializing_if_is_none)]
pub struct ExportAuditEvent {
    pub at: String,
    pub action: String,
    /// `success` or `failure`.
    pub outcome: String,
    /// Who did it: `self`, `other` (e.g. an admin) or `none` (the system, or unknown).
    pub actor: String,
    /// Whether the event is about the account (`self`), about something else, or `none`.
    pub subject: String,
    pub ip: Option<String>,
    pub details: serde_json::Value,
}

/// Audit events done by or to `user_id`, oldest first, for the account export: other people's
/// ids are shown as `other`.
pub fn export_events(conn: &impl AsConn, user_id: &str) -> rusqlite::Result<Vec<ExportAuditEvent>> {
    let who = |id: Option<String>| match id {
        Some(id) if id == user_id => "self".to_string(),
        Some(_) => "other".to_string(),
        None => "none".to_string(),
    };
    let events = conn.with_conn(|conn| {
        conn.query_map(
            "SELECT at, action, outcome, actor_id, subject_id, ip, details FROM audit_log
             WHERE actor_id = ?1 OR subject_id = ?1 ORDER BY at, id",
            [user_id],
            |r| {
                let details: String = r.get(6)?;
                Ok(ExportAuditEvent {
                    at: rfc3339(r.get(0)?),
                    action: r.get(1)?,
                    outcome: r.get(2)?,
                    actor: who(r.get(3)?),
                    subject: who(r.get(4)?),
                    ip: r.get(5)?,
                    details: serde_json::from_str(&details).unwrap_or(serde_json::Value::Null),
                })
            },
        )
    })?;
    Ok(events)
}
