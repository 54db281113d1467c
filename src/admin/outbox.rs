//! `/api/v1/admin/outbox`: how many messages wait or failed, and retrying a failed one.

use crate::http::AdminAuth;
use poem::Request;
use poem_openapi::param::Path;
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, Object, OpenApi};

use super::store::{self, Retry};
use crate::admin::AdminState;
use crate::audit::{self, AuditEvent, actions};
use crate::clock::rfc3339;
use crate::db::DbError;
use crate::error::ApiError;
use crate::http::request_meta;
use crate::http::tags::ApiTags;

/// A message that gave up after its last attempt. Its recipient is not shown.
#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
pub struct FailedMessage {
    id: i64,
    /// `email` or `sms`.
    channel: String,
    created_at: String,
    failed_at: String,
    attempts: i64,
    /// The transport's last answer.
    last_error: Option<String>,
}

#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
pub struct OutboxStatus {
    /// Waiting to be sent (including retries not yet due).
    pending: i64,
    /// Given up; retry them one by one.
    failed: i64,
    oldest_pending_at: Option<String>,
    /// The 100 most recent failures.
    recent_failures: Vec<FailedMessage>,
}

#[derive(ApiResponse)]
pub enum Retried {
    /// The message is queued again and will be sent at once.
    #[oai(status = 202)]
    Queued,
}

pub struct OutboxApi {
    pub state: AdminState,
}

#[OpenApi(prefix_path = "/api/v1/admin/outbox", tag = "ApiTags::Admin")]
impl OutboxApi {
    /// Outbox status: pending and failed messages.
    #[oai(path = "/", method = "get", operation_id = "outbox_status")]
    async fn status(&self, _auth: AdminAuth) -> Result<Json<OutboxStatus>, ApiError> {
        let status =
            self.state.db.run_conn(|c| store::outbox_status(c).map_err(DbError::from)).await?;
        Ok(Json(OutboxStatus {
            pending: status.pending,
            failed: status.failed,
            oldest_pending_at: status.oldest_pending_at.map(rfc3339),
            recent_failures: status
                .recent_failures
                .into_iter()
                .map(|m| FailedMessage {
                    id: m.id,
                    channel: m.channel,
                    created_at: rfc3339(m.created_at),
                    failed_at: rfc3339(m.failed_at),
                    attempts: m.attempts,
                    last_error: m.last_error,
                })
                .collect(),
        }))
    }

    /// Retry a failed message now (its attempts start again).
    #[oai(path = "/:id/retry", method = "post", operation_id = "retry_outbox_message")]
    async fn retry(
        &self,
        req: &Request,
        auth: AdminAuth,
        id: Path<i64>,
    ) -> Result<Retried, ApiError> {
        let admin = auth.principal().user_id.clone();
        let (ip, now, message) = (request_meta(req).ip, self.state.clock.unix(), id.0);
        self.state
            .db
            .run_conn(move |conn| {
                let tx = conn.transaction().map_err(DbError::from)?;
                match store::retry_message(&tx, message, now).map_err(DbError::from)? {
                    Retry::Queued => {}
                    Retry::NotFound => {
                        return Err(ApiError::not_found(
                            "message_not_found",
                            "There is no such outbox message.",
                        ));
                    }
                    Retry::NotFailed => {
                        return Err(ApiError::conflict(
                            "message_not_failed",
                            "This message has not failed: it is waiting or already sent.",
                        ));
                    }
                    Retry::Erased => {
                        return Err(ApiError::conflict(
                            "message_erased",
                            "This message's text was erased when it failed; it cannot be sent \
                             again. Ask the user to repeat what sent it.",
                        ));
                    }
                }
                let event = AuditEvent {
                    at: now,
                    actor_id: Some(&admin),
                    action: actions::OUTBOX_RETRIED,
                    subject_id: None,
                    ip: ip.as_deref(),
                    success: true,
                    details: serde_json::json!({"message_id": message}),
                };
                audit::record(&tx, &event)?;
                tx.commit().map_err(DbError::from)?;
                Ok(())
            })
            .await?;
        self.state.outbox_wake.notify_one();
        Ok(Retried::Queued)
    }
}
