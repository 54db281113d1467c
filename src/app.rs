//! The application: shared state, the OpenAPI service and the route table.

use std::sync::Arc;

use poem::http::StatusCode;
use poem::middleware::{CatchPanic, CookieJarManager};
use poem::{EndpointExt, IntoEndpoint, Route, get};
use poem_openapi::{OpenApiService, Tags};
use tokio::sync::Notify;

use crate::accounts::Accounts;
use crate::accounts::api::{AccountApi, AuthApi, MfaApi};
use crate::admin::accounts::AccountsAdminApi;
use crate::admin::audit::AuditApi;
use crate::admin::bootstrap::BootstrapApi;
use crate::admin::outbox::OutboxApi;
use crate::admin::users::UsersApi;
use crate::backup::api::BackupsApi;
use crate::campuses::api::CampusesApi;
use crate::captcha::api::CaptchaApi;
use crate::clock::Clock;
use crate::config::Config;
use crate::db::Db;
use crate::driver::api::{DriverApi, DriverReviewsApi};
use crate::error::problem_response;
use crate::http::{BodyLimit, Cors, Csrf, Observe, RequestLimit};
use crate::keys::Keys;
use crate::ops::health::OpsApi;
use crate::ops::metrics::{self, Metrics};
use crate::otp::api::OtpApi;
use crate::privacy::api::PrivacyApi;
use crate::tokens::api::TokensApi;
use crate::web;

/// The groups operations are listed under in the spec and Swagger UI.
#[derive(Tags)]
pub enum ApiTags {
    /// Sign-up, email verification, sign-in (password or SMS code) and sign-out, password reset.
    Auth,
    /// The signed-in user's profile, password and sessions.
    Account,
    /// Campus IT: campuses, accounts, the audit log, the outbox, backups, driver reviews, the
    /// first admin.
    Admin,
    /// The caller's data: export, privacy-policy acceptance; the current policy.
    Privacy,
    /// Driver verification: licence upload, driving and availability.
    Driver,
    /// Liveness and readiness probes for load balancers and systemd.
    Operations,
}

/// The spec rendered once at start-up.
pub struct SpecDocuments {
    pub json: String,
    pub yaml: String,
}

/// What every handler can reach. Cheap to clone.
#[derive(Clone)]
pub struct AppState {
    pub config: Arc<Config>,
    pub db: Db,
    pub keys: Arc<Keys>,
    /// Seals and opens personal data at rest (see [`crate::privacy`]).
    pub pii: crate::privacy::FieldCipher,
    pub metrics: Arc<Metrics>,
    pub spec: Arc<SpecDocuments>,
    pub clock: Arc<dyn Clock>,
    pub accounts: Arc<Accounts>,
    /// Notified when a message is queued, so the outbox worker sends it at once.
    pub outbox_wake: Arc<Notify>,
    pub tokens: Arc<crate::tokens::Tokens>,
    pub limits: Arc<crate::ratelimit::RateLimits>,
    pub captcha: Arc<crate::captcha::Captcha>,
    pub phone_codes: Arc<crate::otp::PhoneCodes>,
    /// The outbox worker's sign of life, for `/ready`.
    pub outbox_heartbeat: Arc<crate::ops::heartbeat::Heartbeat>,
    /// Backups on demand and on schedule (one at a time).
    pub backups: Arc<crate::backup::Backups>,
    /// Driver verification: licence image storage, OCR, the image decoding pool.
    pub driver: Arc<crate::driver::Driver>,
    /// Privacy-policy versions users still have to accept (cached).
    pub pending_policies: Arc<crate::privacy::pending::PendingPolicies>,
}

pub type Apis = (
    AuthApi,
    OtpApi,
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
);

/// The OpenAPI service. It depends on nothing but code, so the spec it produces is the same
/// for every configuration (and matches the committed `openapi/openapi.yaml`).
pub fn api_service() -> OpenApiService<Apis, ()> {
    OpenApiService::new(
        (
            AuthApi,
            OtpApi,
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
    let api = Arc::new(api_service().into_endpoint());
    let mut route = Route::new()
        .nest_no_strip("/api", api.clone())
        .nest_no_strip("/health", api.clone())
        .nest_no_strip("/ready", api)
        .at("/metrics", get(metrics::metrics))
        .at("/.well-known/jwks.json", get(crate::tokens::api::jwks))
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
        .data(state)
        .with(observe)
}
