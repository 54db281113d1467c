//! Operations: liveness and readiness probes, Prometheus metrics.

pub mod health;
pub mod heartbeat;
pub mod metrics;
pub mod scrape;
