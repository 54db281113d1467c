//! The application: shared state, the OpenAPI service and the route table.

use std::sync::Arc;

use poem::{EndpointExt, IntoEndpoint, Route, get};
use poem_openapi::{OpenApiService, Tags};

use crate::config::Config;
use crate::db::Db;
use crate::http::{BodyLimit, Observe};
use crate::keys::Keys;
use crate::ops::health::OpsApi;
use crate::ops::metrics::{self, Metrics};
use crate::web;

/// The groups operations are listed under in the spec and Swagger UI.
#[derive(Tags)]
pub enum ApiTags {
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
    pub metrics: Arc<Metrics>,
    pub spec: Arc<SpecDocuments>,
}

pub type Apis = OpsApi;

/// The OpenAPI service. It depends on nothing but code, so the spec it produces is the same
/// for every configuration (and matches the committed `openapi/openapi.yaml`).
pub fn api_service() -> OpenApiService<Apis, ()> {
    OpenApiService::new(OpsApi, "Gatehouse", env!("CARGO_PKG_VERSION")).description(
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
        .at("/docs", get(web::swagger_ui))
        .at("/openapi.json", get(web::openapi_json))
        .at("/openapi.yaml", get(web::openapi_yaml))
        .at("/assets/*path", get(web::asset));
    for page in web::UI_PAGES {
        route = route.at(*page, get(web::ui_page));
    }
    route.with(BodyLimit::new(state.config.server.max_body_bytes)).data(state.clone()).with(
        Observe::new(
            state.metrics.clone(),
            &state.config.server.trusted_proxies,
            state.config.is_production(),
        ),
    )
}
