//! The outermost layer around every request: gives it a request id and a client IP, turns any
//! framework error into problem+json, adds the security headers and `X-Request-Id`, records
//! metrics and writes one access-log line. The access log names the matched route pattern,
//! never the raw path or query string, and never a body.

use std::sync::Arc;
use std::time::Instant;

use ipnet::IpNet;
use poem::PathPattern;
use poem::http::HeaderValue;
use poem::{Endpoint, IntoResponse, Middleware, Request, Response, Result};
use tracing::Instrument;

use super::client_ip::{ClientIp, client_ip};
use super::security_headers;
use crate::metrics::Metrics;

/// The id of a request, in the request's data, in `X-Request-Id` and in every log line of it.
#[derive(Debug, Clone)]
pub struct RequestId(pub Arc<str>);

/// The user a request acted for: a slot in the request's data that the authentication layer
/// fills, so that the access log can name the user.
#[derive(Debug, Clone, Default)]
pub struct AccessUser(Arc<std::sync::OnceLock<String>>);

impl AccessUser {
    pub fn set(&self, user_id: &str) {
        let _ = self.0.set(user_id.to_string());
    }

    pub fn get(&self) -> &str {
        self.0.get().map(String::as_str).unwrap_or("")
    }
}

pub struct Observe {
    metrics: Arc<Metrics>,
    trusted_proxies: Arc<[IpNet]>,
    production: bool,
}

impl Observe {
    pub fn new(metrics: Arc<Metrics>, trusted_proxies: &[IpNet], production: bool) -> Self {
        Self { metrics, trusted_proxies: trusted_proxies.into(), production }
    }
}

impl<E: Endpoint> Middleware<E> for Observe {
    type Output = ObserveEndpoint<E>;

    fn transform(&self, inner: E) -> Self::Output {
        ObserveEndpoint {
            inner,
            metrics: self.metrics.clone(),
            trusted_proxies: self.trusted_proxies.clone(),
            production: self.production,
        }
    }
}

pub struct ObserveEndpoint<E> {
    inner: E,
    metrics: Arc<Metrics>,
    trusted_proxies: Arc<[IpNet]>,
    production: bool,
}

fn new_request_id() -> Arc<str> {
    hex::encode(rand::random::<[u8; 12]>()).into()
}

impl<E: Endpoint> Endpoint for ObserveEndpoint<E> {
    type Output = Response;

    async fn call(&self, mut req: Request) -> Result<Response> {
        let started = Instant::now();
        let request_id = new_request_id();
        let peer = req
            .remote_addr()
            .as_socket_addr()
            .map(|addr| addr.ip())
            .unwrap_or(std::net::Ipv4Addr::UNSPECIFIED.into());
        let ip = client_ip(peer, req.headers(), &self.trusted_proxies);
        let method = req.method().clone();
        let is_api = req.uri().path().starts_with("/api/");
        let user = AccessUser::default();
        req.set_data(RequestId(request_id.clone()));
        req.set_data(ClientIp(ip));
        req.set_data(user.clone());

        let span = tracing::info_span!("request", request_id = %request_id);
        let result = self.inner.call(req).instrument(span).await;
        let mut response = match result {
            Ok(response) => response.into_response(),
            Err(err) => super::allow::error_response(err),
        };

        security_headers::apply(response.headers_mut(), self.production, is_api);
        if let Ok(value) = HeaderValue::from_str(&request_id) {
            response.headers_mut().insert("x-request-id", value);
        }

        let route = response
            .data::<PathPattern>()
            .map(|p| p.0.to_string())
            .filter(|p| !p.is_empty())
            .unwrap_or_else(|| "unmatched".into());
        let status = response.status().as_u16();
        let elapsed = started.elapsed();
        self.metrics.observe_request(method.as_str(), &route, status, elapsed);
        let user_id = user.get();
        tracing::info!(
            target: "access",
            request_id = %request_id,
            method = %method,
            route = %route,
            status,
            duration_ms = elapsed.as_secs_f64() * 1000.0,
            client_ip = %ip,
            user_id,
            "request"
        );
        Ok(response)
    }
}
