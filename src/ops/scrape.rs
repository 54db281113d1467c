//! `GET /metrics`: the Prometheus text, behind `metrics.token` when one is set. The gauges
//! that are measured on demand (pool, rate-limit keys, outbox, review queue) are read here.

use poem::http::StatusCode;
use poem::web::Data;
use poem::{IntoResponse, Request, Response, handler};
use subtle::ConstantTimeEq;

use super::OpsState;
use crate::error::problem_response;

/// Whether the request carries the configured metrics token (always, without one).
fn authorised(req: &Request, token: &str) -> bool {
    if token.is_empty() {
        return true;
    }
    let given = req
        .headers()
        .get(poem::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or("");
    given.as_bytes().ct_eq(token.as_bytes()).into()
}

#[handler]
pub async fn metrics(req: &Request, state: Data<&OpsState>) -> Response {
    if !authorised(req, state.config.metrics.token.expose()) {
        return problem_response(
            StatusCode::UNAUTHORIZED,
            "unauthenticated",
            "The metrics need `Authorization: Bearer <metrics.token>`.",
        );
    }
    let (in_use, idle) = state.db.pool_state();
    state.metrics.db_connections.with_label_values(&["in_use"]).set(in_use.into());
    state.metrics.db_connections.with_label_values(&["idle"]).set(idle.into());
    for (tier, keys) in state.limits.key_counts() {
        let keys = i64::try_from(keys).unwrap_or(i64::MAX);
        state.metrics.rate_limit_keys.with_label_values(&[tier]).set(keys);
    }
    match crate::notify::outbox::depth(&state.db).await {
        Ok((pending, failed)) => {
            state.metrics.outbox_messages.with_label_values(&["pending"]).set(pending);
            state.metrics.outbox_messages.with_label_values(&["failed"]).set(failed);
        }
        Err(e) => tracing::warn!(error = %e, "metrics: cannot count outbox messages"),
    }
    match state.drivers.queue_stats().await {
        Ok((size, oldest_age)) => {
            state.metrics.review_queue_size.set(size);
            state.metrics.review_oldest_age.set(oldest_age);
        }
        Err(e) => tracing::warn!(error = %e, "metrics: cannot measure the licence review queue"),
    }
    state
        .metrics
        .render()
        .with_content_type("text/plain; version=0.0.4; charset=utf-8")
        .into_response()
}
