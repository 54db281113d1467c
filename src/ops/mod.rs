//! Operations: liveness and readiness probes, and the Prometheus scrape (the registry itself
//! is [`crate::metrics`]).

pub mod health;
pub mod scrape;

/// What the probes and the metrics scrape use (built by the route table).
#[derive(Clone)]
pub struct OpsState {
    pub config: std::sync::Arc<crate::config::Config>,
    pub db: crate::db::Db,
    pub metrics: std::sync::Arc<crate::metrics::Metrics>,
    pub limits: std::sync::Arc<crate::ratelimit::RateLimits>,
    pub drivers: std::sync::Arc<crate::drivers::Drivers>,
    /// The outbox worker's sign of life.
    pub outbox_heartbeat: std::sync::Arc<crate::jobs::heartbeat::Heartbeat>,
}
