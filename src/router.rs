//! The route table: the API list (written once), the OpenAPI service built from it, the
//! pages and the middleware stack around them.

use std::sync::Arc;

use poem::http::StatusCode;
use poem::middleware::{CatchPanic, CookieJarManager};
use poem::{EndpointExt, IntoEndpoint, Route, get};
use poem_openapi::{OpenApi, OpenApiService};

use crate::accounts::api::{AccountApi, AuthApi, MfaApi, TokensApi};
use crate::admin::accounts::AccountsAdminApi;
use crate::admin::audit::AuditApi;
use crate::admin::bootstrap::BootstrapApi;
use crate::admin::outbox::OutboxApi;
use crate::admin::users::UsersApi;
use crate::backup::api::BackupsApi;
use crate::campuses::api::CampusesApi;
use crate::captcha::api::CaptchaApi;
use crate::drivers::api::{DriverApi, DriverReviewsApi};
use crate::error::problem_response;
use crate::http::{BodyLimit, Cors, Csrf, HttpContext, Observe, RequestLimit};
use crate::ops::health::OpsApi;
use crate::phone_codes::api::PhoneCodesApi;
use crate::privacy::api::PrivacyApi;
use crate::state::{AppState, SpecDocuments};
use crate::web;

/// The OpenAPI service. It depends on nothing but code, so the spec it produces is the same
/// for every configuration (and matches the committed `openapi/openapi.yaml`).
pub fn api_service() -> OpenApiService<impl OpenApi, ()> {
    // The API list, written once: add a feature's API here.
    OpenApiService::new(
        (
            AuthApi,
            PhoneCodesApi,
            TokensApi,
            AccountApi,
            MfaApi,
            CaptchaApi,
            PrivacyApi,
            DriverApi,
            // Campus IT (nested: poem-openapi implements its trait for tuples of up to 16).
            (
                CampusesApi,
                UsersApi,
                AccountsAdminApi,
                AuditApi,
                OutboxApi,
                BackupsApi,
                DriverReviewsApi,
                BootstrapApi,
            ),
            OpsApi,
        ),
        "Gatehouse",
        env!("CARGO_PKG_VERSION"),
    )
    .description(
        "Identity and verification appliance for university campuses. Errors are \
         application/problem+json (RFC 9457) with a stable `code`.",
    )
}

pub fn spec_documents() -> SpecDocuments {
    let service = api_service();
    SpecDocuments { json: service.spec(), yaml: service.spec_yaml() }
}

/// The whole route table, wrapped in the shared middleware.
pub fn routes(state: AppState) -> impl poem::Endpoint<Output = poem::Response> {
    // One API endpoint serves the /api tree and the two probes (which are documented in the
    // spec). `nest_no_strip` keeps the full path, so the spec's paths and the metrics' route
    // labels are the paths clients use.
    crate::http::allow::learn(&state.spec.json);
    let api = Arc::new(api_service().into_endpoint());
    let mut route = Route::new()
        .nest_no_strip("/api", api.clone())
        .nest_no_strip("/health", api.clone())
        .nest_no_strip("/ready", api)
        .at("/metrics", get(crate::ops::scrape::metrics))
        .at("/.well-known/jwks.json", get(crate::accounts::api::jwks))
        .at("/docs", get(web::swagger_ui))
        .at("/openapi.json", get(web::openapi_json))
        .at("/openapi.yaml", get(web::openapi_yaml))
        .at("/assets/*path", get(web::asset));
    for page in web::UI_PAGES {
        route = route.at(*page, get(web::ui_page));
    }
    // Outermost last: Observe sees every answer; the anonymous limit and CSRF run after the
    // cookies are parsed.
    let observe = Observe::new(
        state.metrics.clone(),
        &state.config.server.trusted_proxies,
        state.config.is_production(),
    );
    route
        .with(Csrf)
        .with(RequestLimit)
        .with(CookieJarManager::new())
        .with(Cors)
        .with(BodyLimit::new(state.config.server.max_body_bytes).with_path(
            "/api/v1/driver/license",
            // Two images and the multipart framing around them.
            2 * state.config.driver.max_image_bytes + 64 * 1024,
        ))
        .with(CatchPanic::new().with_handler(|_| {
            problem_response(
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal_error",
                "Something went wrong on our side. It has been logged; please try again.",
            )
        }))
        .data(HttpContext {
            config: state.config.clone(),
            db: state.db.clone(),
            sessions: state.sessions.clone(),
            tokens: state.tokens.clone(),
            limits: state.limits.clone(),
        })
        .data(state)
        .with(observe)
}
