//! Prometheus metrics, one registry per running app (so tests can run several apps in one
//! process). `GET /metrics` renders them in the text exposition format: requests and latency
//! by route, sign-ins by method and outcome, rate-limited requests and the limiter keys held
//! per tier, outbox depth, the licence review queue, job results and database pool usage. With `metrics.token` (or
//! `metrics.token_file`) set, it answers only requests that carry `Authorization: Bearer
//! <token>`.

use std::sync::Arc;
use std::time::Duration;

use prometheus::{
    Encoder, HistogramOpts, HistogramVec, IntCounterVec, IntGauge, IntGaugeVec, Opts, Registry,
    TextEncoder,
};

use crate::jobs::JobMetrics;

pub struct Metrics {
    registry: Registry,
    http_requests: IntCounterVec,
    http_duration: HistogramVec,
    sign_ins: IntCounterVec,
    rate_limited: IntCounterVec,
    pub(crate) rate_limit_keys: IntGaugeVec,
    pub(crate) outbox_messages: IntGaugeVec,
    pub(crate) db_connections: IntGaugeVec,
    pub(crate) review_queue_size: IntGauge,
    pub(crate) review_oldest_age: IntGauge,
    pub jobs: Arc<JobMetrics>,
}

/// Sign-in routes and the method each stands for in `gatehouse_sign_ins_total`.
const SIGN_IN_ROUTES: &[(&str, &str)] = &[
    ("/api/v1/auth/login", "password"),
    ("/api/v1/auth/login/mfa", "mfa"),
    ("/api/v1/auth/otp/verify", "phone_code"),
    ("/api/v1/auth/token", "api_token"),
];

impl Metrics {
    pub fn new() -> Self {
        let registry = Registry::new_custom(Some("gatehouse".into()), None)
            .expect("a static prefix is a valid registry");
        let http_requests = IntCounterVec::new(
            Opts::new("http_requests_total", "HTTP requests answered, by route and status"),
            &["method", "route", "status"],
        )
        .expect("static metric definition");
        let http_duration = HistogramVec::new(
            HistogramOpts::new("http_request_duration_seconds", "Time to answer a request")
                .buckets(vec![
                    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
                ]),
            &["method", "route"],
        )
        .expect("static metric definition");
        let sign_ins = IntCounterVec::new(
            Opts::new(
                "sign_ins_total",
                "Sign-in attempts by method (password, mfa, phone_code, api_token) and outcome",
            ),
            &["method", "outcome"],
        )
        .expect("static metric definition");
        let rate_limited = IntCounterVec::new(
            Opts::new("rate_limited_requests_total", "Requests refused with 429, by route"),
            &["route"],
        )
        .expect("static metric definition");
        let rate_limit_keys = IntGaugeVec::new(
            Opts::new(
                "rate_limit_keys",
                "Rate-limiter keys held in memory by tier (a key is forgotten once its limiter \
                 is full again)",
            ),
            &["tier"],
        )
        .expect("static metric definition");
        let outbox_messages = IntGaugeVec::new(
            Opts::new("outbox_messages", "Outbox messages by state (pending, failed)"),
            &["state"],
        )
        .expect("static metric definition");
        let db_connections = IntGaugeVec::new(
            Opts::new("db_pool_connections", "Database pool connections by state"),
            &["state"],
        )
        .expect("static metric definition");
        let review_queue_size =
            IntGauge::new("driver_review_queue_size", "Driving licences waiting for a reviewer")
                .expect("static metric definition");
        let review_oldest_age = IntGauge::new(
            "driver_review_oldest_age_seconds",
            "Seconds the oldest licence waiting for a reviewer has waited (0: none waits)",
        )
        .expect("static metric definition");
        for collector in [
            Box::new(http_requests.clone()) as Box<dyn prometheus::core::Collector>,
            Box::new(http_duration.clone()),
            Box::new(sign_ins.clone()),
            Box::new(rate_limited.clone()),
            Box::new(rate_limit_keys.clone()),
            Box::new(outbox_messages.clone()),
            Box::new(db_connections.clone()),
            Box::new(review_queue_size.clone()),
            Box::new(review_oldest_age.clone()),
        ] {
            registry.register(collector).expect("each metric is registered once");
        }
        for (_, method) in SIGN_IN_ROUTES {
            for outcome in ["success", "failure"] {
                sign_ins.with_label_values(&[method, outcome]);
            }
        }
        let jobs = Arc::new(JobMetrics::new(&registry));
        Self {
            registry,
            http_requests,
            http_duration,
            sign_ins,
            rate_limited,
            rate_limit_keys,
            outbox_messages,
            db_connections,
            review_queue_size,
            review_oldest_age,
            jobs,
        }
    }

    pub fn observe_request(&self, method: &str, route: &str, status: u16, elapsed: Duration) {
        // Any token is a valid HTTP method: only the standard ones become label values, so a
        // client cannot create series at will.
        let method = match method {
            "GET" | "HEAD" | "POST" | "PUT" | "PATCH" | "DELETE" | "OPTIONS" => method,
            _ => "OTHER",
        };
        self.http_requests.with_label_values(&[method, route, &status.to_string()]).inc();
        self.http_duration.with_label_values(&[method, route]).observe(elapsed.as_secs_f64());
        if status == 429 {
            self.rate_limited.with_label_values(&[route]).inc();
        }
        // A sign-in is a success when it answers 200 (a password accepted with a second
        // factor still to come counts as a password success); a refusal is a 4xx other than
        // 429 (counted above) and a server error is neither.
        if method == "POST"
            && let Some((_, kind)) = SIGN_IN_ROUTES.iter().find(|(r, _)| *r == route)
        {
            let outcome = match status {
                200..=299 => Some("success"),
                429 => None,
                400..=499 => Some("failure"),
                _ => None,
            };
            if let Some(outcome) = outcome {
                self.sign_ins.with_label_values(&[kind, outcome]).inc();
            }
        }
    }

    pub fn render(&self) -> String {
        let mut buffer = Vec::new();
        if let Err(e) = TextEncoder::new().encode(&self.registry.gather(), &mut buffer) {
            tracing::error!(error = %e, "cannot encode metrics");
        }
        String::from_utf8(buffer).unwrap_or_default()
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}
