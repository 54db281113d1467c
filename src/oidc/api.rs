//! `/api/v1/admin/clients`: the OpenID Connect clients (campus apps), admin only. A secret is
//! in the answer that makes it (registration, rotation) and nowhere else.

use poem::Request;
use poem_openapi::param::Path;
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, Object, OpenApi};

use super::clients::{self, Client, ClientError, NewClient, Registered};
use crate::audit::Actor;
use crate::clock::{rfc3339, rfc3339_opt};
use crate::db::conn::Conn;
use crate::error::{ApiError, FieldError};
use crate::http::AdminAuth;
use crate::http::StrictJson;
use crate::http::tags::ApiTags;

/// What the client API uses (built by the route table).
#[derive(Clone)]
pub struct ClientsState {
    pub db: crate::db::Db,
    pub clock: std::sync::Arc<dyn crate::clock::Clock>,
}

/// An app registered to sign people in through Gatehouse.
#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
pub struct ClientView {
    /// The `client_id` the app is configured with.
    client_id: String,
    name: String,
    /// A public client (a mobile or desktop app) has no secret and must use PKCE.
    public: bool,
    /// A campus-owned app: users are not asked to consent.
    trusted: bool,
    /// Where sign-ins may return to, matched exactly.
    redirect_uris: Vec<String>,
    /// Where the app may send users after signing out.
    post_logout_redirect_uris: Vec<String>,
    /// Where Gatehouse posts logout tokens when a user's session ends.
    backchannel_logout_uri: Option<String>,
    /// The scopes the app may ask for (`openid` always; `driver` only when allowed here).
    scopes: Vec<String>,
    /// How the app's ID tokens are signed: `RS256` or `EdDSA`.
    id_token_alg: String,
    created_at: String,
    secret_rotated_at: Option<String>,
}

impl From<Client> for ClientView {
    fn from(c: Client) -> Self {
        Self {
            client_id: c.id,
            name: c.name,
            public: c.public,
            trusted: c.trusted,
            redirect_uris: c.redirect_uris,
            post_logout_redirect_uris: c.post_logout_redirect_uris,
            backchannel_logout_uri: c.backchannel_logout_uri,
            scopes: c.scopes,
            id_token_alg: c.id_token_alg,
            created_at: rfc3339(c.created_at),
            secret_rotated_at: rfc3339_opt(c.secret_rotated_at),
        }
    }
}

/// A registration.
#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
pub struct NewClientRequest {
    name: String,
    /// At least one: `https`, `http` on a loopback address, or (public clients) a private-use
    /// scheme like `edu.north.rides:/callback`. No fragments.
    redirect_uris: Vec<String>,
    /// A public client (no secret; PKCE only). Default false.
    #[oai(default)]
    public: bool,
    /// Skip the consent page (campus-owned apps). Default false.
    #[oai(default)]
    trusted: bool,
    /// The scopes the app may ask for, from `openid email profile phone campus driver`.
    /// Default `openid email profile`.
    #[oai(default)]
    scopes: Vec<String>,
    #[oai(default)]
    post_logout_redirect_uris: Vec<String>,
    backchannel_logout_uri: Option<String>,
    /// How ID tokens are signed: `RS256` (default) or `EdDSA`.
    id_token_alg: Option<String>,
}

/// A client and, for a confidential one, its secret: shown here once, stored only hashed.
#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
pub struct RegisteredClient {
    #[oai(flatten)]
    client: ClientView,
    /// The `client_secret` (confidential clients only). It cannot be shown again: a lost one
    /// is replaced with `POST /api/v1/admin/clients/{id}/secret`.
    client_secret: Option<String>,
}

impl From<Registered> for RegisteredClient {
    fn from(r: Registered) -> Self {
        Self { client: r.client.into(), client_secret: r.secret }
    }
}

#[derive(ApiResponse)]
pub enum ClientCreated {
    /// Registered.
    #[oai(status = 201)]
    Created(Json<RegisteredClient>),
}

#[derive(ApiResponse)]
pub enum ClientRemoved {
    /// Removed: the app can no longer sign anyone in.
    #[oai(status = 204)]
    Removed,
}

pub struct ClientsApi {
    pub state: ClientsState,
}

#[OpenApi(prefix_path = "/api/v1/admin/clients", tag = "ApiTags::Admin")]
impl ClientsApi {
    /// List the OpenID Connect clients.
    #[oai(path = "/", method = "get", operation_id = "list_clients")]
    async fn list(&self, _auth: AdminAuth) -> Result<Json<Vec<ClientView>>, ApiError> {
        let clients = self.state.db.run_conn(|c| clients::list(c).map_err(ApiError::from)).await?;
        Ok(Json(clients.into_iter().map(Into::into).collect()))
    }

    /// Register an OpenID Connect client.
    ///
    /// The answer holds the `client_secret` of a confidential client, once.
    #[oai(path = "/", method = "post", operation_id = "create_client")]
    async fn create(
        &self,
        req: &Request,
        auth: AdminAuth,
        body: StrictJson<NewClientRequest>,
    ) -> Result<ClientCreated, ApiError> {
        let body = body.0;
        let new = NewClient {
            name: body.name,
            redirect_uris: body.redirect_uris,
            public: body.public,
            trusted: body.trusted,
            scopes: body.scopes,
            post_logout_redirect_uris: body.post_logout_redirect_uris,
            backchannel_logout_uri: body.backchannel_logout_uri,
            id_token_alg: body.id_token_alg,
        };
        let registered =
            self.change(req, &auth, move |c, now, actor| clients::add(c, &new, actor, now)).await?;
        Ok(ClientCreated::Created(Json(registered.into())))
    }

    /// View an OpenID Connect client.
    #[oai(path = "/:client_id", method = "get", operation_id = "get_client")]
    async fn get(
        &self,
        _auth: AdminAuth,
        client_id: Path<String>,
    ) -> Result<Json<ClientView>, ApiError> {
        let id = client_id.0;
        let client =
            self.state.db.run_conn(move |c| clients::get(c, &id).map_err(ApiError::from)).await?;
        Ok(Json(client.ok_or(ClientError::NotFound)?.into()))
    }

    /// Remove an OpenID Connect client.
    #[oai(path = "/:client_id", method = "delete", operation_id = "remove_client")]
    async fn remove(
        &self,
        req: &Request,
        auth: AdminAuth,
        client_id: Path<String>,
    ) -> Result<ClientRemoved, ApiError> {
        let id = client_id.0;
        self.change(req, &auth, move |c, now, actor| clients::remove(c, &id, actor, now)).await?;
        Ok(ClientRemoved::Removed)
    }

    /// Give a confidential client a new secret.
    ///
    /// The old secret stops working at once. The answer holds the new one, once.
    #[oai(path = "/:client_id/secret", method = "post", operation_id = "rotate_client_secret")]
    async fn rotate_secret(
        &self,
        req: &Request,
        auth: AdminAuth,
        client_id: Path<String>,
    ) -> Result<Json<RegisteredClient>, ApiError> {
        let id = client_id.0;
        let registered = self
            .change(req, &auth, move |c, now, actor| clients::rotate_secret(c, &id, actor, now))
            .await?;
        Ok(Json(registered.into()))
    }
}

impl ClientsApi {
    /// [`crate::http::admin_change`] with this API's state.
    async fn change<T: Send + 'static>(
        &self,
        req: &Request,
        auth: &AdminAuth,
        work: impl FnOnce(&Conn, i64, &Actor<'_>) -> Result<T, ClientError> + Send + 'static,
    ) -> Result<T, ApiError> {
        crate::http::admin_change(&self.state.db, &*self.state.clock, req, auth, work).await
    }
}

// The feature's errors as the answers a client sees: status, stable `code`, and a detail in
// words an admin understands. Internal causes go to the server's log, never to the client.
impl From<ClientError> for ApiError {
    fn from(e: ClientError) -> Self {
        match e {
            ClientError::NotFound => {
                Self::not_found("client_not_found", "There is no such client.")
            }
            ClientError::PublicClient => {
                Self::conflict("client_is_public", "A public client has no secret to rotate.")
            }
            ClientError::Invalid(field, message) => {
                Self::validation(vec![FieldError { field: field.into(), message }])
            }
            ClientError::Sql(cause) => Self::internal(cause),
        }
    }
}
