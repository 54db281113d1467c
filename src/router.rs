//! The route table: the API list (written once), the OpenAPI service built from it, the
//! pages and the middleware stack around them.

use std::collections::HashMap;
use std::marker::PhantomData;
use std::sync::Arc;

use poem::endpoint::BoxEndpoint;
use poem::http::{Method, StatusCode};
use poem::middleware::{CatchPanic, CookieJarManager};
use poem::{EndpointExt, IntoEndpoint, Route, get, post};
use poem_openapi::registry::{MetaApi, Registry};
use poem_openapi::{OpenApi, OpenApiService};

use crate::accounts::api::{
    AccountApi, AccountsState, AuthApi, MfaApi, PasskeyAuthApi, PasskeysApi, TokensApi,
};
use crate::admin::AdminState;
use crate::admin::accounts::AccountsAdminApi;
use crate::admin::audit::AuditApi;
use crate::admin::bootstrap::BootstrapApi;
use crate::admin::outbox::OutboxApi;
use crate::admin::users::UsersApi;
use crate::backup::api::{BackupsApi, BackupsState};
use crate::campuses::api::{CampusesApi, CampusesState};
use crate::captcha::api::{CaptchaApi, CaptchaState};
use crate::drivers::api::{DriverApi, DriverReviewsApi, DriversState};
use crate::error::problem_response;
use crate::http::{BodyLimit, Cors, Csrf, HttpContext, Observe, RequestLimit};
use crate::oidc::api::{ClientsApi, ClientsState};
use crate::oidc::consent_api::ConsentApi;
use crate::oidc::endpoints as oidc;
use crate::ops::OpsState;
use crate::ops::health::OpsApi;
use crate::phone_codes::api::{PhoneCodesApi, PhoneCodesState};
use crate::privacy::api::{PrivacyApi, PrivacyState};
use crate::state::{AppState, SpecDocuments};
use crate::web;
use crate::webhooks::api::{WebhooksApi, WebhooksState};

/// The API list, written once: add a feature's API here, with the state it uses.
fn apis(state: &AppState) -> impl OpenApi + use<> {
    let accounts = AccountsState {
        config: state.config.clone(),
        accounts: state.accounts.clone(),
        tokens: state.tokens.clone(),
        limits: state.limits.clone(),
        captcha: state.captcha.clone(),
        pending_policies: state.pending_policies.clone(),
        erasure: state.erasure.clone(),
    };
    let phone_codes = PhoneCodesState {
        config: state.config.clone(),
        phone_codes: state.phone_codes.clone(),
        accounts: state.accounts.clone(),
        limits: state.limits.clone(),
        pending_policies: state.pending_policies.clone(),
    };
    let captcha = CaptchaState { captcha: state.captcha.clone() };
    let privacy = PrivacyState {
        privacy: state.privacy.clone(),
        db: state.db.clone(),
        clock: state.clock.clone(),
        pii: state.pii.clone(),
    };
    let drivers = DriversState { config: state.config.clone(), drivers: state.drivers.clone() };
    let campuses = CampusesState { db: state.db.clone(), clock: state.clock.clone() };
    let clients = ClientsState { db: state.db.clone(), clock: state.clock.clone() };
    let webhooks =
        WebhooksState { db: state.db.clone(), clock: state.clock.clone(), pii: state.pii.clone() };
    let admin = AdminState {
        config: state.config.clone(),
        db: state.db.clone(),
        clock: state.clock.clone(),
        accounts: state.accounts.clone(),
        limits: state.limits.clone(),
        outbox_wake: state.outbox_wake.clone(),
        erasure: state.erasure.clone(),
    };
    let backups = BackupsState {
        config: state.config.clone(),
        clock: state.clock.clone(),
        db: state.db.clone(),
        backups: state.backups.clone(),
    };
    (
        AuthApi { state: accounts.clone() },
        PhoneCodesApi { state: phone_codes },
        TokensApi { state: accounts.clone() },
        AccountApi { state: accounts.clone() },
        (
            MfaApi { state: accounts.clone() },
            PasskeysApi { state: accounts.clone() },
            PasskeyAuthApi { state: accounts },
        ),
        CaptchaApi { state: captcha },
        PrivacyApi { state: privacy },
        DriverApi { state: drivers.clone() },
        ConsentApi { provider: state.oidc.clone() },
        // Campus IT (nested: poem-openapi implements its trait for tuples of up to 16).
        (
            CampusesApi { state: campuses },
            UsersApi { state: admin.clone() },
            AccountsAdminApi { state: admin.clone() },
            AuditApi { state: admin.clone() },
            OutboxApi { state: admin.clone() },
            BackupsApi { state: backups },
            DriverReviewsApi { state: drivers },
            BootstrapApi { state: admin },
            ClientsApi { state: clients },
            WebhooksApi { state: webhooks },
        ),
        OpsApi { state: ops_state(state) },
    )
}

fn ops_state(state: &AppState) -> OpsState {
    OpsState {
        config: state.config.clone(),
        db: state.db.clone(),
        metrics: state.metrics.clone(),
        limits: state.limits.clone(),
        drivers: state.drivers.clone(),
        outbox_heartbeat: state.outbox_heartbeat.clone(),
    }
}

/// The OpenAPI service of an API list.
fn service<T: OpenApi>(apis: T) -> OpenApiService<T, ()> {
    OpenApiService::new(apis, "Gatehouse", env!("CARGO_PKG_VERSION")).description(
        "Identity and verification appliance for university campuses. Errors are \
         application/problem+json (RFC 9457) with a stable `code`.",
    )
}

/// The spec, from the API list's types alone: it depends on nothing but code, so it is the
/// same for every configuration (and matches the committed `openapi/openapi.yaml`).
pub fn spec_documents() -> SpecDocuments {
    let service = service(described(apis));
    SpecDocuments { json: service.spec(), yaml: service.spec_yaml() }
}

/// An API list that is described and never served: a spec needs its types, not the state
/// its values hold.
struct Described<T>(PhantomData<T>);

fn described<T: OpenApi>(_build: fn(&AppState) -> T) -> Described<T> {
    Described(PhantomData)
}

impl<T: OpenApi> OpenApi for Described<T> {
    fn meta() -> Vec<MetaApi> {
        T::meta()
    }

    fn register(registry: &mut Registry) {
        T::register(registry);
    }

    fn add_routes(self, _: &mut HashMap<String, HashMap<Method, BoxEndpoint<'static>>>) {}
}

/// An OpenID Connect endpoint, with the provider (and the accounts, for logout) it uses.
fn oidc_route(state: &AppState, methods: poem::RouteMethod) -> impl poem::Endpoint + use<> {
    methods.data(state.oidc.clone()).data(state.accounts.clone())
}

/// The whole route table, wrapped in the shared middleware.
pub fn routes(state: AppState) -> impl poem::Endpoint<Output = poem::Response> {
    // One API endpoint serves the /api tree and the two probes (which are documented in the
    // spec). `nest_no_strip` keeps the full path, so the spec's paths and the metrics' route
    // labels are the paths clients use.
    crate::http::allow::learn(&state.spec.json);
    let api = Arc::new(service(apis(&state)).into_endpoint());
    let mut route = Route::new()
        .nest_no_strip("/api", api.clone())
        .nest_no_strip("/health", api.clone())
        .nest_no_strip("/ready", api)
        .at("/metrics", get(crate::ops::scrape::metrics).data(ops_state(&state)))
        .at("/.well-known/jwks.json", get(crate::accounts::api::jwks))
        .nest("/.well-known/openid-configuration", oidc_route(&state, get(oidc::discovery)))
        .nest("/oauth/authorize", oidc_route(&state, get(oidc::authorize).post(oidc::authorize)))
        .nest("/oauth/token", oidc_route(&state, post(oidc::token)))
        .nest("/oauth/device_authorization", oidc_route(&state, post(oidc::device_authorization)))
        .nest("/oauth/userinfo", oidc_route(&state, get(oidc::userinfo).post(oidc::userinfo)))
        .nest("/oauth/revoke", oidc_route(&state, post(oidc::revoke)))
        .nest("/oauth/introspect", oidc_route(&state, post(oidc::introspect)))
        .nest("/oauth/logout", oidc_route(&state, get(oidc::logout).post(oidc::logout)))
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
