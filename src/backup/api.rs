//! `/api/v1/admin/backups`: list the backups and take one now (admin only).

use crate::http::AdminAuth;
use poem::Request;
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, Object, OpenApi};

use super::BackupInfo;
use crate::audit::{self, AuditEvent, actions};
use crate::clock::rfc3339;
use crate::db::DbError;
use crate::error::ApiError;
use crate::http::request_meta;
use crate::http::tags::ApiTags;

/// What the backup API uses (built by the route table).
#[derive(Clone)]
pub struct BackupsState {
    pub config: std::sync::Arc<crate::config::Config>,
    pub clock: std::sync::Arc<dyn crate::clock::Clock>,
    pub db: crate::db::Db,
    pub backups: std::sync::Arc<super::Backups>,
}

/// A backup archive in `<data_dir>/backups/`.
#[derive(Object)]
pub struct BackupView {
    /// The file name; restore it with `gatehouse restore <data_dir>/backups/<name>`.
    name: String,
    size_bytes: u64,
    created_at: String,
}

impl From<BackupInfo> for BackupView {
    fn from(b: BackupInfo) -> Self {
        Self { name: b.name, size_bytes: b.size_bytes, created_at: rfc3339(b.created_at) }
    }
}

#[derive(Object)]
pub struct BackupList {
    /// Newest first.
    items: Vec<BackupView>,
    /// How many are kept (`backup.keep`).
    keep: u32,
}

#[derive(ApiResponse)]
pub enum Created {
    /// The backup is written.
    #[oai(status = 201)]
    Created(Json<BackupView>),
}

pub struct BackupsApi {
    pub state: BackupsState,
}

#[OpenApi(prefix_path = "/api/v1/admin/backups", tag = "ApiTags::Admin")]
impl BackupsApi {
    /// List backups, newest first.
    #[oai(path = "/", method = "get", operation_id = "list_backups")]
    async fn list(&self, _auth: AdminAuth) -> Result<Json<BackupList>, ApiError> {
        let backups = self.state.backups.list().await.map_err(ApiError::internal)?;
        Ok(Json(BackupList {
            items: backups.into_iter().map(Into::into).collect(),
            keep: self.state.config.backup.keep,
        }))
    }

    /// Take a backup now.
    ///
    /// Answers when the archive is written (seconds for most campuses). 409
    /// `backup_in_progress` while another runs; 503 `backup_failed` when it cannot be written
    /// (the directory is full or read-only), which affects nothing else.
    #[oai(path = "/", method = "post", operation_id = "create_backup")]
    async fn create(&self, req: &Request, auth: AdminAuth) -> Result<Created, ApiError> {
        let admin = auth.principal().user_id.clone();
        let info = self.state.backups.run().await?;
        let (ip, now, name) = (request_meta(req).ip, self.state.clock.unix(), info.name.clone());
        let size = info.size_bytes;
        self.state
            .db
            .run_conn(move |conn| {
                let event = AuditEvent {
                    at: now,
                    actor_id: Some(&admin),
                    action: actions::BACKUP_CREATED,
                    subject_id: None,
                    ip: ip.as_deref(),
                    success: true,
                    details: serde_json::json!({"name": name, "size_bytes": size}),
                };
                audit::record(conn, &event).map_err(DbError::from)
            })
            .await?;
        Ok(Created::Created(Json(info.into())))
    }
}

// The feature's errors as the answers a client sees: status, stable `code`, and a detail in
// words a student understands. Internal causes go to the server's log, never to the client.
impl From<crate::backup::BackupError> for ApiError {
    fn from(e: crate::backup::BackupError) -> Self {
        use crate::backup::BackupError as E;
        match e {
            E::Busy => Self::conflict(
                "backup_in_progress",
                "A backup is running now; wait for it to finish and list the backups.",
            ),
            // The reason (full, read-only, ...) helps the admin; the path stays in the log.
            E::Destination { ref source, .. } => {
                tracing::error!(error = %e, "backup failed");
                Self::unavailable(
                    "backup_failed",
                    format!(
                        "The backup could not be written to the backups directory ({}). \
                         Nothing else is affected; free space or fix its permissions and retry.",
                        source.kind()
                    ),
                )
            }
            other => {
                tracing::error!(error = %other, "backup failed");
                Self::unavailable(
                    "backup_failed",
                    "The backup failed; the server log says why. Nothing else is affected.",
                )
            }
        }
    }
}
