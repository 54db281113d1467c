//! `GET /health` (liveness: answers without touching anything) and `GET /ready` (readiness:
//! the database answers and accepts a write).

use poem::http::StatusCode;
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, Object, OpenApi};

use crate::db::DbError;
use crate::error::{FieldError, Problem};
use crate::http::tags::ApiTags;
use crate::ops::OpsState;

pub struct OpsApi {
    pub state: OpsState,
}

/// A worker that has not looked for work for this long counts as not running (a pass may
/// include slow SMTP conversations).
const WORKER_SILENCE: std::time::Duration = std::time::Duration::from_secs(120);
/// How long `/ready` waits for the database before it answers "not ready".
const DATABASE_WAIT: std::time::Duration = std::time::Duration::from_secs(3);

/// The process is alive.
#[derive(Object)]
struct Health {
    /// Always `ok`.
    status: String,
}

#[derive(ApiResponse)]
enum HealthResponse {
    /// The process is alive and serving HTTP.
    #[oai(status = 200)]
    Alive(Json<Health>),
}

/// Every readiness check passed.
#[derive(Object)]
struct Readiness {
    /// Always `ready`.
    status: String,
}

#[derive(ApiResponse)]
enum ReadyResponse {
    /// Gatehouse can serve requests.
    #[oai(status = 200)]
    Ready(Json<Readiness>),
    /// A check failed; `errors` names each failed check and why.
    #[oai(status = 503, content_type = "application/problem+json")]
    NotReady(Json<Problem>),
}

#[OpenApi(tag = "ApiTags::Operations")]
impl OpsApi {
    /// Liveness probe.
    ///
    /// Answers 200 as long as the process serves HTTP; touches nothing else.
    #[oai(path = "/health", method = "get", operation_id = "health")]
    async fn health(&self) -> HealthResponse {
        HealthResponse::Alive(Json(Health { status: "ok".into() }))
    }

    /// Readiness probe.
    ///
    /// Answers 200 when the database is reachable and writable and the background workers are
    /// running; 503 naming each failed check otherwise.
    #[oai(path = "/ready", method = "get", operation_id = "ready")]
    async fn ready(&self) -> ReadyResponse {
        // The time in the text the column has always held (UTC, milliseconds), made here:
        // strftime() is SQLite's, and the same statement must run on PostgreSQL.
        let now = chrono::Utc::now().format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string();
        let write = self.state.db.run_conn(move |conn| {
            conn.execute("UPDATE readiness_probe SET checked_at = ?1 WHERE id = 1", [now])
                .map_err(DbError::from)
        });
        // A PostgreSQL server that is down makes a connection wait up to the pool's timeout;
        // a load balancer's probe should hear "not ready" before its own timeout.
        let mut failures = Vec::new();
        match tokio::time::timeout(DATABASE_WAIT, write).await {
            Ok(Ok(_)) => {}
            Ok(Err(e)) => {
                tracing::warn!(error = %e, "readiness check failed: database not writable");
                failures.push(FieldError {
                    field: "database".into(),
                    message: "the database does not accept writes".into(),
                });
            }
            Err(_) => {
                tracing::warn!("readiness check failed: the database did not answer in time");
                failures.push(FieldError {
                    field: "database".into(),
                    message: "the database did not answer within 3 seconds".into(),
                });
            }
        }
        if !self.state.outbox_heartbeat.alive(WORKER_SILENCE) {
            failures.push(FieldError {
                field: "outbox".into(),
                message: "the outbox worker is not running".into(),
            });
        }
        if failures.is_empty() {
            return ReadyResponse::Ready(Json(Readiness { status: "ready".into() }));
        }
        let mut problem = Problem::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "not_ready",
            "Gatehouse is not ready to serve requests.",
        );
        problem.errors = Some(failures);
        ReadyResponse::NotReady(Json(problem))
    }
}
