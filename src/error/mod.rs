//! The one error model: every error a client sees is `application/problem+json` (RFC 9457)
//! with a stable machine `code`. [`ApiError`] is what operations return; [`problem_response`]
//! turns framework errors (unknown path, wrong method, bad JSON, ...) into the same shape.
//! This module knows no feature: each feature maps its own error type to problem documents in
//! its API layer (`impl From<FeatureError> for ApiError`), with the constructors below.

use poem::http::StatusCode;
use poem::{IntoResponse, Response};
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, Object};

pub const PROBLEM_CONTENT_TYPE: &str = "application/problem+json";

/// An RFC 9457 problem document.
#[derive(Debug, Clone, Object, serde::Serialize)]
#[oai(skip_serializing_if_is_none)]
pub struct Problem {
    /// A URI naming the kind of problem: `urn:gatehouse:problem:<code>`.
    #[oai(rename = "type")]
    #[serde(rename = "type")]
    pub kind: String,
    /// A short, human-readable summary of the kind of problem.
    pub title: String,
    /// The HTTP status code.
    pub status: u16,
    /// What went wrong with this request, in words a person can act on.
    pub detail: String,
    /// A stable machine-readable code, e.g. `invalid_credentials` or `validation_failed`.
    pub code: String,
    /// Per-field errors (with `validation_failed`).
    #[oai(skip_serializing_if_is_none)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub errors: Option<Vec<FieldError>>,
}

/// One invalid field of a request.
#[derive(Debug, Clone, Object, serde::Serialize)]
pub struct FieldError {
    /// The field's name in the request body, e.g. `email`.
    pub field: String,
    /// Why it was refused.
    pub message: String,
}

impl Problem {
    pub fn new(status: StatusCode, code: &str, detail: impl Into<String>) -> Self {
        Self {
            kind: format!("urn:gatehouse:problem:{code}"),
            title: status.canonical_reason().unwrap_or("Error").to_string(),
            status: status.as_u16(),
            detail: detail.into(),
            code: code.to_string(),
            errors: None,
        }
    }
}

/// The errors an API operation can answer with. Each variant is a status; the body says which
/// problem it is.
#[derive(Debug, ApiResponse)]
pub enum ApiError {
    /// The request is malformed.
    #[oai(status = 400, content_type = "application/problem+json")]
    BadRequest(Json<Problem>),
    /// Authentication is missing or not valid.
    #[oai(status = 401, content_type = "application/problem+json")]
    Unauthorized(Json<Problem>),
    /// The caller may not do this.
    #[oai(status = 403, content_type = "application/problem+json")]
    Forbidden(Json<Problem>),
    /// No such resource.
    #[oai(status = 404, content_type = "application/problem+json")]
    NotFound(Json<Problem>),
    /// The request conflicts with the current state.
    #[oai(status = 409, content_type = "application/problem+json")]
    Conflict(Json<Problem>),
    /// The resource existed and was deleted.
    #[oai(status = 410, content_type = "application/problem+json")]
    Gone(Json<Problem>),
    /// The request body is larger than `server.max_body_bytes` (`payload_too_large`).
    #[oai(status = 413, content_type = "application/problem+json")]
    PayloadTooLarge(Json<Problem>),
    /// The request body is not JSON, or its `Content-Type` is missing
    /// (`unsupported_media_type`).
    #[oai(status = 415, content_type = "application/problem+json")]
    UnsupportedMediaType(Json<Problem>),
    /// The request is well-formed but its values are not acceptable.
    #[oai(status = 422, content_type = "application/problem+json")]
    Unprocessable(Json<Problem>),
    /// A solved proof-of-work captcha is needed first (`captcha_required`): get one from
    /// `GET /api/v1/captcha` and send the solution with the request.
    #[oai(status = 428, content_type = "application/problem+json")]
    PreconditionRequired(Json<Problem>),
    /// Too many requests; retry after the number of seconds in `Retry-After`.
    #[oai(status = 429, content_type = "application/problem+json")]
    TooManyRequests(
        Json<Problem>,
        #[oai(header = "Retry-After")] u64,
        /// Requests allowed per window (absent for per-code limits).
        #[oai(header = "RateLimit-Limit")]
        Option<u32>,
        /// Requests left in the window: 0.
        #[oai(header = "RateLimit-Remaining")]
        Option<u32>,
        /// Seconds until the whole allowance is back.
        #[oai(header = "RateLimit-Reset")]
        Option<u64>,
    ),
    /// Something failed inside Gatehouse; the request id in `X-Request-Id` finds it in the log.
    #[oai(status = 500, content_type = "application/problem+json")]
    Internal(Json<Problem>),
    /// Gatehouse cannot serve this now.
    #[oai(status = 503, content_type = "application/problem+json")]
    Unavailable(Json<Problem>),
}

impl ApiError {
    pub fn bad_request(code: &str, detail: impl Into<String>) -> Self {
        Self::BadRequest(Json(Problem::new(StatusCode::BAD_REQUEST, code, detail)))
    }

    pub fn forbidden(code: &str, detail: impl Into<String>) -> Self {
        Self::Forbidden(Json(Problem::new(StatusCode::FORBIDDEN, code, detail)))
    }

    pub fn unauthorized(code: &str, detail: impl Into<String>) -> Self {
        Self::Unauthorized(Json(Problem::new(StatusCode::UNAUTHORIZED, code, detail)))
    }

    pub fn conflict(code: &str, detail: impl Into<String>) -> Self {
        Self::Conflict(Json(Problem::new(StatusCode::CONFLICT, code, detail)))
    }

    pub fn gone(code: &str, detail: impl Into<String>) -> Self {
        Self::Gone(Json(Problem::new(StatusCode::GONE, code, detail)))
    }

    pub fn unprocessable(code: &str, detail: impl Into<String>) -> Self {
        Self::Unprocessable(Json(Problem::new(StatusCode::UNPROCESSABLE_ENTITY, code, detail)))
    }

    pub fn not_found(code: &str, detail: impl Into<String>) -> Self {
        Self::NotFound(Json(Problem::new(StatusCode::NOT_FOUND, code, detail)))
    }

    pub fn validation(errors: Vec<FieldError>) -> Self {
        let mut problem = Problem::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
            "Some fields are not valid; see errors.",
        );
        problem.errors = Some(errors);
        Self::Unprocessable(Json(problem))
    }

    /// An internal failure. The cause is logged here, with the request's span, and never sent.
    pub fn internal(cause: impl std::fmt::Display) -> Self {
        tracing::error!(error = %cause, "internal error");
        Self::Internal(Json(Problem::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal_error",
            "Something went wrong on our side. It has been logged; please try again.",
        )))
    }

    pub fn captcha_required() -> Self {
        Self::PreconditionRequired(Json(Problem::new(
            StatusCode::PRECONDITION_REQUIRED,
            "captcha_required",
            "Solve a captcha first: get a challenge from GET /api/v1/captcha and send its \
             solution as `captcha` with this request.",
        )))
    }

    pub fn unavailable(code: &str, detail: impl Into<String>) -> Self {
        Self::Unavailable(Json(Problem::new(StatusCode::SERVICE_UNAVAILABLE, code, detail)))
    }
}

/// A problem raised as a `poem::Error` (from middleware or a security checker), answered as is.
#[derive(Debug, thiserror::Error)]
#[error("{}", .0.detail)]
pub struct ProblemError(pub Problem);

impl poem::error::ResponseError for ProblemError {
    fn status(&self) -> StatusCode {
        StatusCode::from_u16(self.0.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    }

    fn as_response(&self) -> Response {
        self.0.clone().into_response()
    }
}

pub fn problem_error(status: StatusCode, code: &str, detail: impl Into<String>) -> poem::Error {
    ProblemError(Problem::new(status, code, detail)).into()
}

/// A problem+json response for a status and code, outside the typed API (middleware, fallbacks).
pub fn problem_response(status: StatusCode, code: &str, detail: impl Into<String>) -> Response {
    Problem::new(status, code, detail).into_response()
}

/// Turns any framework error into problem+json. Statuses other than the ones listed are
/// reported with a generic detail so that no internal message reaches the client.
/// The matched route travels with the answer, for the access log and the metrics. (The
/// `Allow` header of a 405 is the HTTP layer's: `http/allow.rs`.)
pub fn framework_error_response(err: poem::Error) -> Response {
    let pattern = err.data::<poem::PathPattern>().cloned();
    let mut response = problem_for(err);
    if let Some(pattern) = pattern {
        response.set_data(pattern);
    }
    response
}

fn problem_for(err: poem::Error) -> Response {
    // Our own problems (an operation's ApiError, which poem-openapi carries as a response,
    // or a ProblemError from middleware) are answered as they are.
    if err.is::<ProblemError>() || err.is_from_response() {
        return err.into_response();
    }
    let status = err.status();
    let (code, detail): (&str, String) = match status {
        StatusCode::NOT_FOUND => ("not_found", "No resource at this path.".into()),
        StatusCode::METHOD_NOT_ALLOWED => {
            ("method_not_allowed", "This path does not accept this method.".into())
        }
        StatusCode::UNSUPPORTED_MEDIA_TYPE => {
            ("unsupported_media_type", "The request body must be sent as application/json.".into())
        }
        StatusCode::PAYLOAD_TOO_LARGE => {
            ("payload_too_large", "The request body is larger than this server accepts.".into())
        }
        StatusCode::BAD_REQUEST => ("malformed_request", bad_request_detail(&err)),
        StatusCode::UNAUTHORIZED => ("unauthenticated", "Sign in first.".into()),
        s if s.is_server_error() => {
            tracing::error!(error = %err, "unhandled framework error");
            ("internal_error", "Something went wrong on our side; please try again.".into())
        }
        _ => ("bad_request", "The request could not be processed.".into()),
    };
    problem_response(status, code, detail)
}

/// The parser's own message says which field or position is wrong. It names only the client's
/// own input, never a server path, so it is kept, but bounded in length.
fn bad_request_detail(err: &poem::Error) -> String {
    let message = err.to_string();
    let message = message.trim();
    if message.is_empty() {
        return "The request could not be parsed.".into();
    }
    let mut detail: String = message.chars().take(300).collect();
    if detail.len() < message.len() {
        detail.push('…');
    }
    detail
}

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let body = serde_json::to_vec(&self).unwrap_or_default();
        Response::builder().status(status).content_type(PROBLEM_CONTENT_TYPE).body(body)
    }
}

pub fn rate_limited_problem(retry_after: u64) -> Problem {
    Problem::new(
        StatusCode::TOO_MANY_REQUESTS,
        "rate_limited",
        format!("Too many tries for now. Try again in {retry_after} seconds."),
    )
}

impl From<crate::ratelimit::Limited> for ApiError {
    fn from(l: crate::ratelimit::Limited) -> Self {
        Self::TooManyRequests(
            Json(rate_limited_problem(l.retry_after)),
            l.retry_after,
            Some(l.limit),
            Some(0),
            Some(l.reset),
        )
    }
}

/// A 429 answer for middleware (outside the typed API), with the same headers.
pub fn limited_error(l: crate::ratelimit::Limited) -> poem::Error {
    let response = rate_limited_problem(l.retry_after).into_response();
    let mut response = response;
    let headers = response.headers_mut();
    for (name, value) in [
        ("retry-after", l.retry_after.to_string()),
        ("ratelimit-limit", l.limit.to_string()),
        ("ratelimit-remaining", "0".to_string()),
        ("ratelimit-reset", l.reset.to_string()),
    ] {
        if let Ok(value) = poem::http::HeaderValue::from_str(&value) {
            headers.insert(name, value);
        }
    }
    poem::Error::from_response(response)
}

impl From<rusqlite::Error> for ApiError {
    fn from(e: rusqlite::Error) -> Self {
        Self::internal(e)
    }
}

impl From<crate::db::DbError> for ApiError {
    fn from(e: crate::db::DbError) -> Self {
        Self::internal(e)
    }
}

impl ApiError {
    /// The account's sign-ins (and checks of its password) are paused by the lockout.
    pub fn account_throttled(retry_after: u64) -> Self {
        Self::TooManyRequests(
            Json(Problem::new(
                StatusCode::TOO_MANY_REQUESTS,
                "account_throttled",
                format!(
                    "Too many wrong passwords for this account: sign-ins are paused. Try again in \
                     {retry_after} seconds, or reset your password."
                ),
            )),
            retry_after,
            None,
            None,
            None,
        )
    }
}
