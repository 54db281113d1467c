//! The OpenID Connect endpoints over HTTP (plain routes beside the OpenAPI tree: their
//! formats are OAuth's and OpenID Connect's, not the API's): discovery, authorize, token,
//! device authorization, userinfo, revoke, introspect, logout. Every answer that holds a token is `no-store`.

use std::sync::Arc;

use poem::http::{HeaderValue, StatusCode, header};
use poem::web::Data;
use poem::{Body, IntoResponse, Request, Response, handler};
use serde_json::{Value, json};

use super::logout::EndSession;
use super::provider::{Authorized, Provider};
use super::resource::BearerRefusal;
use super::token_endpoint::{ClientCredentials, Form, OAuthError};
use crate::http::ClientIp;
use crate::http::HttpContext;
use crate::http::request_meta;
use crate::identity::Principal;
use crate::sessions::cookies;

/// The most a form or query may hold (a request is a few hundred bytes; an ID token hint a
/// few thousand).
const MAX_PARAMS_BYTES: usize = 16 * 1024;

/// `/.well-known/openid-configuration`.
#[handler]
pub fn discovery(provider: Data<&Arc<Provider>>) -> Response {
    let issuer = provider.issuer();
    let document = json!({
        "issuer": issuer,
        "authorization_endpoint": format!("{issuer}/oauth/authorize"),
        "token_endpoint": format!("{issuer}/oauth/token"),
        "userinfo_endpoint": format!("{issuer}/oauth/userinfo"),
        "jwks_uri": format!("{issuer}/.well-known/jwks.json"),
        "revocation_endpoint": format!("{issuer}/oauth/revoke"),
        "introspection_endpoint": format!("{issuer}/oauth/introspect"),
        "end_session_endpoint": format!("{issuer}/oauth/logout"),
        "device_authorization_endpoint": format!("{issuer}/oauth/device_authorization"),
        "scopes_supported": super::clients::SCOPES,
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "grant_types_supported":
            ["authorization_code", "refresh_token", super::token_endpoint::DEVICE_CODE_GRANT],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": super::clients::ID_TOKEN_ALGS,
        "token_endpoint_auth_methods_supported":
            ["client_secret_basic", "client_secret_post", "none"],
        "revocation_endpoint_auth_methods_supported":
            ["client_secret_basic", "client_secret_post", "none"],
        "introspection_endpoint_auth_methods_supported":
            ["client_secret_basic", "client_secret_post"],
        "code_challenge_methods_supported": ["S256"],
        "prompt_values_supported": ["none", "login", "consent", "select_account"],
        "claims_supported": [
            "sub", "iss", "aud", "exp", "iat", "auth_time", "nonce", "sid", "amr", "at_hash",
            "email", "email_verified", "name", "preferred_username", "updated_at",
            "phone_number", "phone_number_verified", "campus", "driver_verified",
            "driver_licence_valid_until"
        ],
        "authorization_response_iss_parameter_supported": true,
        "backchannel_logout_supported": true,
        "backchannel_logout_session_supported": true,
        "frontchannel_logout_supported": false,
        "request_parameter_supported": false,
        "request_uri_parameter_supported": false,
        "claims_parameter_supported": false,
    });
    poem::web::Json(document)
        .with_header(header::CACHE_CONTROL, "public, max-age=300")
        .into_response()
}

/// The parameters of a query or a form body; None when there are too many bytes.
async fn params_of(req: &Request, body: Body) -> Option<Vec<(String, String)>> {
    let mut pairs: Vec<(String, String)> = match req.uri().query() {
        Some(q) if q.len() > MAX_PARAMS_BYTES => return None,
        Some(q) => url::form_urlencoded::parse(q.as_bytes()).into_owned().collect(),
        None => Vec::new(),
    };
    if *req.method() == poem::http::Method::POST {
        let bytes = body.into_bytes_limit(MAX_PARAMS_BYTES).await.ok()?;
        pairs.extend(url::form_urlencoded::parse(&bytes).into_owned());
    }
    Some(pairs)
}

/// The form of a POST (the query string is not read: RFC 6749 section 3.2 sends credentials
/// in the body).
async fn form_of(req: &Request, body: Body) -> Result<Form, OAuthError> {
    let is_form = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
    if !is_form {
        return Err(OAuthError::new(
            400,
            "invalid_request",
            "Send the parameters as application/x-www-form-urlencoded.",
        ));
    }
    let bytes = body
        .into_bytes_limit(MAX_PARAMS_BYTES)
        .await
        .map_err(|_| OAuthError::new(400, "invalid_request", "The request is too large."))?;
    Ok(Form::new(url::form_urlencoded::parse(&bytes).into_owned().collect()))
}

/// The signed-in session of a browser request.
async fn session_of(req: &Request, http: &HttpContext) -> Option<Principal> {
    let name = cookies::session_cookie_name(http.config.is_production());
    let cookie = req.cookie().get(name)?.value_str().to_string();
    let ip = req.data::<ClientIp>().map(|ip| ip.0);
    http.sessions.authenticate(&cookie, ip).await.ok().flatten()
}

fn redirect(to: &str) -> Response {
    Response::builder()
        .status(StatusCode::SEE_OTHER)
        .header(header::LOCATION, to)
        .header(header::CACHE_CONTROL, "no-store")
        .finish()
}

/// A page saying what went wrong, for requests that must not be redirected back.
fn error_page(status: StatusCode, message: &str) -> Response {
    let message = html_escape(message);
    let body = format!(
        "<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>Sign-in problem · Gatehouse</title>\n\
         <link rel=\"stylesheet\" href=\"/assets/css/app.css\">\n</head>\n<body>\n\
         <main id=\"main\">\n<h1>This sign-in cannot go on</h1>\n\
         <p class=\"alert error\">{message}</p>\n\
         <p>Go back to the app and try again. If it keeps happening, tell the app's \
         support or campus IT.</p>\n<p><a href=\"/\">Gatehouse home</a></p>\n</main>\n\
         </body>\n</html>\n"
    );
    Response::builder()
        .status(status)
        .header(header::CACHE_CONTROL, "no-store")
        .content_type("text/html; charset=utf-8")
        .body(body)
}

fn html_escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

fn internal(e: anyhow::Error) -> Response {
    tracing::error!(error = format!("{e:#}"), "an OpenID Connect request failed");
    error_page(StatusCode::INTERNAL_SERVER_ERROR, "Something went wrong on our side.")
}

/// `/oauth/authorize` (GET and POST, OpenID Connect Core 3.1.2.1).
#[handler]
pub async fn authorize(
    req: &Request,
    body: Body,
    provider: Data<&Arc<Provider>>,
    http: Data<&HttpContext>,
) -> Response {
    let Some(params) = params_of(req, body).await else {
        return error_page(StatusCode::BAD_REQUEST, "The sign-in request is too large.");
    };
    let session = session_of(req, &http).await;
    match provider.authorize(&params, session.as_ref()).await {
        Ok(Authorized::ErrorPage(message)) => error_page(StatusCode::BAD_REQUEST, &message),
        Ok(Authorized::ToApp(to) | Authorized::SignIn(to) | Authorized::Consent(to)) => {
            redirect(&to)
        }
        Err(e) => internal(e),
    }
}

/// An OAuth JSON answer, never cached.
fn oauth_json(status: StatusCode, body: &Value) -> Response {
    Response::builder()
        .status(status)
        .header(header::CACHE_CONTROL, "no-store")
        .header(header::PRAGMA, "no-cache")
        .content_type("application/json")
        .body(body.to_string())
}

fn oauth_error(e: OAuthError) -> Response {
    let status = StatusCode::from_u16(e.status).unwrap_or(StatusCode::BAD_REQUEST);
    let mut response =
        oauth_json(status, &json!({"error": e.error, "error_description": e.description}));
    if e.status == 401 {
        response.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Basic realm=\"gatehouse\""),
        );
    }
    if let Some(seconds) = e.retry_after
        && let Ok(value) = HeaderValue::from_str(&seconds.to_string())
    {
        response.headers_mut().insert(header::RETRY_AFTER, value);
    }
    response
}

/// HTTP Basic client credentials (RFC 6749 section 2.3.1: each part form-urlencoded).
fn basic_credentials(req: &Request) -> Result<ClientCredentials, OAuthError> {
    let Some(value) = req.headers().get(header::AUTHORIZATION) else {
        return Ok(ClientCredentials { basic: None });
    };
    let value = value.to_str().map_err(|_| OAuthError::invalid_client())?;
    let Some(encoded) = value.strip_prefix("Basic ").or_else(|| value.strip_prefix("basic "))
    else {
        return Err(OAuthError::invalid_client());
    };
    use base64::Engine as _;
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .ok()
        .and_then(|bytes| String::from_utf8(bytes).ok())
        .ok_or_else(OAuthError::invalid_client)?;
    let (id, secret) = decoded.split_once(':').ok_or_else(OAuthError::invalid_client)?;
    let decode = |s: &str| {
        url::form_urlencoded::parse(format!("x={s}").as_bytes())
            .next()
            .map(|(_, v)| v.into_owned())
            .unwrap_or_default()
    };
    Ok(ClientCredentials { basic: Some((decode(id), decode(secret))) })
}

/// The client of a request to the token, revocation or introspection endpoint.
async fn client_of(
    req: &Request,
    form: &Form,
    provider: &Provider,
) -> Result<super::Client, OAuthError> {
    let credentials = basic_credentials(req)?;
    let ip = req.data::<ClientIp>().map(|ip| ip.0);
    provider.authenticate_client(form, &credentials, ip).await
}

/// `/oauth/token`.
#[handler]
pub async fn token(req: &Request, body: Body, provider: Data<&Arc<Provider>>) -> Response {
    let answer = async {
        let form = form_of(req, body).await?;
        let client = client_of(req, &form, &provider).await?;
        provider.token(&client, &form, &request_meta(req)).await
    };
    match answer.await {
        Ok(issued) => oauth_json(StatusCode::OK, &issued.body),
        Err(e) => oauth_error(e),
    }
}

/// `/oauth/device_authorization` (RFC 8628 section 3.1).
#[handler]
pub async fn device_authorization(
    req: &Request,
    body: Body,
    provider: Data<&Arc<Provider>>,
) -> Response {
    let answer = async {
        let form = form_of(req, body).await?;
        let client = client_of(req, &form, &provider).await?;
        provider.device_authorization(&client, &form).await
    };
    match answer.await {
        Ok(body) => oauth_json(StatusCode::OK, &body),
        Err(e) => oauth_error(e),
    }
}

/// `/oauth/revoke` (RFC 7009).
#[handler]
pub async fn revoke(req: &Request, body: Body, provider: Data<&Arc<Provider>>) -> Response {
    let answer = async {
        let form = form_of(req, body).await?;
        let client = client_of(req, &form, &provider).await?;
        provider.revoke(&client, &form, &request_meta(req)).await
    };
    match answer.await {
        Ok(()) => oauth_json(StatusCode::OK, &json!({})),
        Err(e) => oauth_error(e),
    }
}

/// `/oauth/introspect` (RFC 7662).
#[handler]
pub async fn introspect(req: &Request, body: Body, provider: Data<&Arc<Provider>>) -> Response {
    let answer = async {
        let form = form_of(req, body).await?;
        let client = client_of(req, &form, &provider).await?;
        provider.introspect(&client, &form).await
    };
    match answer.await {
        Ok(body) => oauth_json(StatusCode::OK, &body),
        Err(e) => oauth_error(e),
    }
}

/// `/oauth/userinfo` (GET and POST; the token in the `Authorization` header, or for POST in
/// the form as `access_token`, RFC 6750 section 2.2).
#[handler]
pub async fn userinfo(req: &Request, body: Body, provider: Data<&Arc<Provider>>) -> Response {
    let header_token = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer ").or_else(|| v.strip_prefix("bearer ")))
        .map(|t| t.trim().to_string());
    let form_token = if header_token.is_none() && *req.method() == poem::http::Method::POST {
        form_of(req, body)
            .await
            .ok()
            .and_then(|f| f.get("access_token").ok().flatten().map(str::to_string))
    } else {
        None
    };
    let bearer = header_token.or(form_token);
    match provider.userinfo(bearer.as_deref()).await {
        Ok(Ok(claims)) => oauth_json(StatusCode::OK, &claims),
        Ok(Err(refusal)) => {
            let challenge = match refusal {
                BearerRefusal::Missing => "Bearer realm=\"gatehouse\"",
                BearerRefusal::InvalidToken => {
                    "Bearer realm=\"gatehouse\", error=\"invalid_token\", \
                     error_description=\"The access token is not valid.\""
                }
            };
            let mut response = oauth_json(
                StatusCode::UNAUTHORIZED,
                &json!({"error": "invalid_token", "error_description": "The access token is not valid."}),
            );
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static(challenge));
            response
        }
        Err(e) => oauth_error(OAuthError::internal(e)),
    }
}

/// `/oauth/logout` (RP-Initiated Logout 1.0, GET and POST).
#[handler]
pub async fn logout(
    req: &Request,
    body: Body,
    provider: Data<&Arc<Provider>>,
    http: Data<&HttpContext>,
    accounts: Data<&Arc<crate::accounts::Accounts>>,
) -> Response {
    let Some(params) = params_of(req, body).await else {
        return error_page(StatusCode::BAD_REQUEST, "The sign-out request is too large.");
    };
    let session = session_of(req, &http).await;
    match provider.end_session(&params, session.as_ref()).await {
        Ok(EndSession::SignOutThen(to)) => {
            let session = session.expect("a session to sign out");
            if let Err(e) = accounts.logout(&session, &request_meta(req)).await {
                return internal(anyhow::anyhow!("signing out: {e}"));
            }
            provider.logout_wake.notify_one();
            cookies::clear(req.cookie(), http.config.is_production());
            redirect(&to)
        }
        Ok(EndSession::Go(to) | EndSession::Confirm(to)) => redirect(&to),
        Ok(EndSession::ErrorPage(message)) => error_page(StatusCode::BAD_REQUEST, &message),
        Err(e) => internal(e),
    }
}
