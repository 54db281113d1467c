//! The consent page's API (`/api/v1/oauth/consent`), the device page's
//! (`/api/v1/oauth/device`) and the account page's connected apps (`/api/v1/account/apps`),
//! for the signed-in student.

use std::sync::Arc;

use poem::Request;
use poem_openapi::param::{Path, Query};
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, Object, OpenApi};

use super::device::DeviceRefusal;
use super::provider::Provider;
use crate::clock::rfc3339;
use crate::error::ApiError;
use crate::http::StrictJson;
use crate::http::auth::Auth;
use crate::http::request_meta;
use crate::http::tags::ApiTags;
use crate::identity::AuthMethod;

pub struct ConsentApi {
    pub provider: Arc<Provider>,
}

/// One scope, in plain words.
#[derive(Object)]
pub struct ScopeView {
    scope: String,
    description: String,
}

/// What an app asks for.
#[derive(Object)]
pub struct ConsentRequestView {
    /// The app's registered name.
    client_name: String,
    /// Where the student will be sent back to.
    redirect_host: String,
    scopes: Vec<ScopeView>,
}

/// The student's answer.
#[derive(Object)]
pub struct ConsentDecision {
    /// The authorization request: the query string of the consent page's address.
    request: String,
    /// True to allow the app, false to refuse.
    approve: bool,
}

/// Where the browser goes next: the app, with a code or with `access_denied`.
#[derive(Object)]
pub struct ConsentAnswer {
    redirect_to: String,
}

/// An app with access to the account.
#[derive(Object)]
pub struct ConnectedAppView {
    client_id: String,
    name: String,
    /// What it may read, in plain words.
    scopes: Vec<ScopeView>,
    since: String,
}

#[derive(ApiResponse)]
pub enum AccessRemoved {
    /// The app's access and its tokens are gone; it has been told by back-channel logout.
    #[oai(status = 204)]
    Removed,
}

fn invalid_request() -> ApiError {
    ApiError::bad_request(
        "invalid_authorization_request",
        "This sign-in request is not valid any more; go back to the app and start again.",
    )
}

fn pairs(query: &str) -> Vec<(String, String)> {
    url::form_urlencoded::parse(query.trim_start_matches('?').as_bytes()).into_owned().collect()
}

fn described(scopes: Vec<(&str, &str)>) -> Vec<ScopeView> {
    let view = |(scope, description): (&str, &str)| ScopeView {
        scope: scope.into(),
        description: description.into(),
    };
    scopes.into_iter().map(view).collect()
}

fn scope_views(scope: &str) -> Vec<ScopeView> {
    super::scopes::Scopes::stored(scope)
        .iter()
        .map(|s| ScopeView { scope: s.into(), description: super::scopes::describe(s).into() })
        .collect()
}

/// The consent page acts only for a browser session (an app's token cannot consent for it).
fn session_only(auth: &Auth) -> Result<(), ApiError> {
    if auth.principal().method != AuthMethod::Session {
        return Err(ApiError::forbidden(
            "session_required",
            "Only the signed-in browser may answer.",
        ));
    }
    Ok(())
}

/// An app waiting on a device (a lab machine, a command-line tool) for the student's answer.
#[derive(Object)]
pub struct DeviceRequestView {
    /// The code, as the device shows it (`XXXX-XXXX`).
    user_code: String,
    /// The app's registered name.
    client_name: String,
    scopes: Vec<ScopeView>,
}

/// The student's answer on the device page.
#[derive(Object)]
pub struct DeviceDecision {
    /// The code the device shows (any case; spaces and dashes are ignored).
    #[oai(validator(max_length = 40))]
    user_code: String,
    /// True to allow the app, false to refuse.
    approve: bool,
}

#[derive(ApiResponse)]
pub enum DeviceAnswered {
    /// Answered: the device goes on (or stops) at its next poll.
    #[oai(status = 204)]
    Answered,
}

fn device_refusal(refusal: DeviceRefusal) -> ApiError {
    match refusal {
        DeviceRefusal::Unknown => ApiError::not_found(
            "device_code_unknown",
            "No app is waiting for this code: check it, or start again on the device (codes \
             last ten minutes and work once).",
        ),
        DeviceRefusal::TooManyTries(limited) => limited.into(),
    }
}

#[OpenApi(tag = "ApiTags::Account")]
impl ConsentApi {
    /// The app waiting for a device code, for the device page.
    #[oai(path = "/api/v1/oauth/device", method = "get", operation_id = "get_device_request")]
    async fn device_request(
        &self,
        auth: Auth,
        /// The code the device shows.
        #[oai(validator(max_length = 40))]
        user_code: Query<String>,
    ) -> Result<Json<DeviceRequestView>, ApiError> {
        session_only(&auth)?;
        let view = self
            .provider
            .device_view(&user_code.0, auth.principal())
            .await
            .map_err(ApiError::internal)?
            .map_err(device_refusal)?;
        Ok(Json(DeviceRequestView {
            user_code: view.user_code,
            client_name: view.client_name,
            scopes: described(view.scopes),
        }))
    }

    /// Allow or refuse the app waiting for a device code.
    #[oai(path = "/api/v1/oauth/device", method = "post", operation_id = "decide_device_request")]
    async fn device_decide(
        &self,
        req: &Request,
        auth: Auth,
        body: StrictJson<DeviceDecision>,
    ) -> Result<DeviceAnswered, ApiError> {
        session_only(&auth)?;
        self.provider
            .device_decide(
                &body.0.user_code,
                auth.principal(),
                body.0.approve,
                request_meta(req).ip,
            )
            .await
            .map_err(ApiError::internal)?
            .map_err(device_refusal)?;
        Ok(DeviceAnswered::Answered)
    }

    /// What an app asks for, for the consent page.
    #[oai(path = "/api/v1/oauth/consent", method = "get", operation_id = "get_consent_request")]
    async fn consent_request(
        &self,
        auth: Auth,
        /// The authorization request (the consent page's query string).
        request: Query<String>,
    ) -> Result<Json<ConsentRequestView>, ApiError> {
        session_only(&auth)?;
        if request.0.len() > 16 * 1024 {
            return Err(invalid_request());
        }
        let view = self
            .provider
            .consent_view(&pairs(&request.0))
            .await
            .map_err(ApiError::internal)?
            .ok_or_else(invalid_request)?;
        Ok(Json(ConsentRequestView {
            client_name: view.client_name,
            redirect_host: view.redirect_host,
            scopes: described(view.scopes),
        }))
    }

    /// Allow or refuse an app; the answer says where the browser goes next.
    #[oai(path = "/api/v1/oauth/consent", method = "post", operation_id = "decide_consent")]
    async fn decide(
        &self,
        req: &Request,
        auth: Auth,
        body: StrictJson<ConsentDecision>,
    ) -> Result<Json<ConsentAnswer>, ApiError> {
        session_only(&auth)?;
        if body.0.request.len() > 16 * 1024 {
            return Err(invalid_request());
        }
        let to = self
            .provider
            .consent_decide(
                &pairs(&body.0.request),
                auth.principal(),
                body.0.approve,
                request_meta(req).ip,
            )
            .await
            .map_err(ApiError::internal)?
            .ok_or_else(invalid_request)?;
        Ok(Json(ConsentAnswer { redirect_to: to }))
    }

    /// The apps with access to the caller's account.
    #[oai(path = "/api/v1/account/apps", method = "get", operation_id = "list_connected_apps")]
    async fn apps(&self, auth: Auth) -> Result<Json<Vec<ConnectedAppView>>, ApiError> {
        let apps = self
            .provider
            .connected_apps(&auth.principal().user_id)
            .await
            .map_err(ApiError::internal)?;
        Ok(Json(
            apps.into_iter()
                .map(|a| ConnectedAppView {
                    scopes: scope_views(&a.scope),
                    client_id: a.client_id,
                    name: a.name,
                    since: rfc3339(a.since),
                })
                .collect(),
        ))
    }

    /// Remove an app's access: its consent is forgotten and its tokens end.
    #[oai(
        path = "/api/v1/account/apps/:client_id",
        method = "delete",
        operation_id = "remove_connected_app"
    )]
    async fn remove(
        &self,
        req: &Request,
        auth: Auth,
        client_id: Path<String>,
    ) -> Result<AccessRemoved, ApiError> {
        let removed = self
            .provider
            .remove_access(&auth.principal().user_id, &client_id.0, request_meta(req).ip)
            .await
            .map_err(ApiError::internal)?;
        if !removed {
            return Err(ApiError::not_found("app_not_connected", "That app has no access."));
        }
        Ok(AccessRemoved::Removed)
    }
}
