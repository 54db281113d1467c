//! CORS for the API: only `server.public_url` and `server.allowed_origins` may call it from a
//! browser, with credentials (cookies). A preflight from an allowed origin gets the methods
//! and headers the API uses; one from any other origin is refused (`origin_not_allowed`).
//! Other origins' simple requests get no CORS headers, so their pages cannot read the answer
//! (and unsafe ones are refused by the CSRF check).

use poem::http::{HeaderValue, Method, StatusCode, header};
use poem::{Endpoint, IntoResponse, Middleware, Request, Response, Result};

use super::HttpContext;
use crate::error::problem_error;

pub struct Cors;

impl<E: Endpoint> Middleware<E> for Cors {
    type Output = CorsEndpoint<E>;

    fn transform(&self, inner: E) -> Self::Output {
        CorsEndpoint { inner }
    }
}

pub struct CorsEndpoint<E> {
    inner: E,
}

const ALLOW_METHODS: &str = "GET, POST, PUT, PATCH, DELETE";
const ALLOW_HEADERS: &str = "content-type, authorization, x-csrf-token";

impl<E: Endpoint> Endpoint for CorsEndpoint<E> {
    type Output = Response;

    async fn call(&self, req: Request) -> Result<Response> {
        let is_api = req.uri().path().starts_with("/api/");
        let origin = req.headers().get(header::ORIGIN).cloned();
        let (Some(origin), Some(state), true) = (origin, req.data::<HttpContext>(), is_api) else {
            return self.inner.call(req).await.map(IntoResponse::into_response);
        };
        let server = &state.config.server;
        let allowed = origin
            .to_str()
            .is_ok_and(|o| o == server.public_url || server.allowed_origins.iter().any(|a| a == o));
        let preflight = req.method() == Method::OPTIONS
            && req.headers().contains_key(header::ACCESS_CONTROL_REQUEST_METHOD);
        if preflight {
            if !allowed {
                return Err(problem_error(
                    StatusCode::FORBIDDEN,
                    "origin_not_allowed",
                    "Requests from this site are not accepted.",
                ));
            }
            let mut response = Response::builder()
                .status(StatusCode::NO_CONTENT)
                .header(header::ACCESS_CONTROL_ALLOW_METHODS, ALLOW_METHODS)
                .header(header::ACCESS_CONTROL_ALLOW_HEADERS, ALLOW_HEADERS)
                .header(header::ACCESS_CONTROL_MAX_AGE, "600")
                .finish();
            allow(&mut response, origin);
            return Ok(response);
        }
        // Errors become their problem answer here, so that an allowed page can read them too.
        let mut response = match self.inner.call(req).await {
            Ok(response) => response.into_response(),
            Err(err) => super::allow::error_response(err),
        };
        if allowed {
            allow(&mut response, origin);
        }
        Ok(response)
    }
}

fn allow(response: &mut Response, origin: HeaderValue) {
    let headers = response.headers_mut();
    headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin);
    headers.insert(header::ACCESS_CONTROL_ALLOW_CREDENTIALS, HeaderValue::from_static("true"));
    headers.insert(header::VARY, HeaderValue::from_static("Origin"));
}
