//! Operations: liveness and readiness probes, and the Prometheus scrape (the registry itself
//! is [`crate::metrics`]).

pub mod health;
pub mod scrape;
