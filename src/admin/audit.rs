//! `GET /api/v1/admin/audit`: the audit log by user, action and time range, newest first.

use crate::http::AdminAuth;
use poem_openapi::param::Query;
use poem_openapi::payload::Json;
use poem_openapi::{Object, OpenApi};

use super::paging::{PageInfo, Paging};
use super::store::{self, AuditFilter};
use crate::admin::AdminState;
use crate::clock::rfc3339;
use crate::db::DbError;
use crate::error::{ApiError, FieldError};
use crate::http::tags::ApiTags;

/// One audit event.
#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
pub struct AuditEntry {
    id: i64,
    at: String,
    /// Who did it (absent: the system or the CLI).
    actor_id: Option<String>,
    action: String,
    /// Whom it was about.
    subject_id: Option<String>,
    ip: Option<String>,
    /// `success` or `failure`.
    outcome: String,
    details: serde_json::Value,
}

#[derive(Object)]
pub struct AuditPage {
    items: Vec<AuditEntry>,
    #[oai(flatten)]
    page: PageInfo,
}

pub struct AuditApi {
    pub state: AdminState,
}

#[OpenApi(prefix_path = "/api/v1/admin/audit", tag = "ApiTags::Admin")]
impl AuditApi {
    /// Query the audit log.
    ///
    /// `user_id` matches events the user did or that were about them; `from` (inclusive) and
    /// `to` (exclusive) are RFC 3339 times. Newest first; a page past the end is empty.
    #[oai(path = "/", method = "get", operation_id = "query_audit_log")]
    #[allow(clippy::too_many_arguments)]
    async fn query(
        &self,
        _auth: AdminAuth,
        user_id: Query<Option<String>>,
        action: Query<Option<String>>,
        from: Query<Option<String>>,
        to: Query<Option<String>>,
        page: Query<Option<u32>>,
        per_page: Query<Option<u32>>,
    ) -> Result<Json<AuditPage>, ApiError> {
        let paging = Paging::new(page.0, per_page.0)?;
        let mut errors = Vec::new();
        let mut time = |name: &str, value: Option<String>| -> Option<i64> {
            let value = value?;
            match chrono::DateTime::parse_from_rfc3339(&value) {
                Ok(t) => Some(t.timestamp()),
                Err(_) => {
                    errors.push(FieldError {
                        field: name.into(),
                        message: "must be an RFC 3339 time like 2026-01-31T00:00:00Z".into(),
                    });
                    None
                }
            }
        };
        let (from, to) = (time("from", from.0), time("to", to.0));
        if !errors.is_empty() {
            return Err(ApiError::validation(errors));
        }
        let filter = AuditFilter { user_id: user_id.0, action: action.0, from, to };
        let (rows, total) = self
            .state
            .db
            .run_conn(move |c| {
                store::audit(c, &filter, paging.limit(), paging.offset()).map_err(DbError::from)
            })
            .await?;
        let items = rows
            .into_iter()
            .map(|r| AuditEntry {
                id: r.id,
                at: rfc3339(r.at),
                actor_id: r.actor_id,
                action: r.action,
                subject_id: r.subject_id,
                ip: r.ip,
                outcome: r.outcome,
                details: serde_json::from_str(&r.details).unwrap_or_default(),
            })
            .collect();
        Ok(Json(AuditPage { items, page: paging.info(total) }))
    }
}
