//! Refuses request bodies above a size limit with 413, whether or not the client announced a
//! `Content-Length` (a chunked body is read up to the limit and no further).

use poem::http::StatusCode;
use poem::http::header::CONTENT_LENGTH;
use poem::{Body, Endpoint, Error, Middleware, Request, Result};

pub struct BodyLimit {
    max_bytes: usize,
    /// Paths with a limit of their own (uploads).
    exceptions: Vec<(&'static str, usize)>,
}

impl BodyLimit {
    pub fn new(max_bytes: usize) -> Self {
        Self { max_bytes, exceptions: Vec::new() }
    }

    /// `path` (exactly) accepts bodies up to `max_bytes` instead.
    pub fn with_path(mut self, path: &'static str, max_bytes: usize) -> Self {
        self.exceptions.push((path, max_bytes));
        self
    }
}

impl<E: Endpoint> Middleware<E> for BodyLimit {
    type Output = BodyLimitEndpoint<E>;

    fn transform(&self, inner: E) -> Self::Output {
        BodyLimitEndpoint { inner, max_bytes: self.max_bytes, exceptions: self.exceptions.clone() }
    }
}

pub struct BodyLimitEndpoint<E> {
    inner: E,
    max_bytes: usize,
    exceptions: Vec<(&'static str, usize)>,
}

fn too_large() -> Error {
    Error::from_status(StatusCode::PAYLOAD_TOO_LARGE)
}

impl<E: Endpoint> Endpoint for BodyLimitEndpoint<E> {
    type Output = E::Output;

    async fn call(&self, mut req: Request) -> Result<Self::Output> {
        let max_bytes = self
            .exceptions
            .iter()
            .find(|(path, _)| req.uri().path() == *path)
            .map_or(self.max_bytes, |(_, max)| *max);
        let declared = req
            .headers()
            .get(CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok());
        match declared {
            Some(length) if length > max_bytes as u64 => return Err(too_large()),
            Some(_) => {}
            None => {
                let body = req.take_body();
                if !body.is_empty() {
                    let bytes = body.into_bytes_limit(max_bytes).await.map_err(|e| match e {
                        poem::error::ReadBodyError::PayloadTooLarge => too_large(),
                        other => Error::from(other),
                    })?;
                    req.set_body(Body::from_bytes(bytes));
                }
            }
        }
        self.inner.call(req).await
    }
}
