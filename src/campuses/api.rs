//! `/api/v1/admin/campuses`: list, create, update, remove (admin only).

use poem::Request;
use poem_openapi::param::Path;
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, Object, OpenApi};

use super::store::{self, Campus, CampusError};
use crate::audit::Actor;
use crate::clock::rfc3339;
use crate::db::DbError;
use crate::db::conn::Conn;
use crate::error::{ApiError, FieldError};
use crate::http::AdminAuth;
use crate::http::StrictJson;
use crate::http::request_meta;
use crate::http::tags::ApiTags;

/// What the campus API uses (built by the route table).
#[derive(Clone)]
pub struct CampusesState {
    pub db: crate::db::Db,
    pub clock: std::sync::Arc<dyn crate::clock::Clock>,
}

/// A campus and the email domains whose owners may sign up.
#[derive(Object)]
pub struct CampusView {
    id: i64,
    name: String,
    /// Exact domains; a subdomain must be listed itself.
    domains: Vec<String>,
    created_at: String,
}

impl From<Campus> for CampusView {
    fn from(c: Campus) -> Self {
        Self { id: c.id, name: c.name, domains: c.domains, created_at: rfc3339(c.created_at) }
    }
}

#[derive(Object)]
pub struct NewCampus {
    name: String,
    domains: Vec<String>,
}

/// Fields to change; absent fields stay. `domains` replaces the whole list.
#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
pub struct CampusPatch {
    name: Option<String>,
    domains: Option<Vec<String>>,
}

#[derive(ApiResponse)]
pub enum Created {
    /// Created.
    #[oai(status = 201)]
    Created(Json<CampusView>),
}

#[derive(ApiResponse)]
pub enum Removed {
    /// Removed. Accounts of the campus remain.
    #[oai(status = 204)]
    Removed,
}

pub struct CampusesApi {
    pub state: CampusesState,
}

#[OpenApi(prefix_path = "/api/v1/admin/campuses", tag = "ApiTags::Admin")]
impl CampusesApi {
    /// List campuses and their domains.
    #[oai(path = "/", method = "get", operation_id = "list_campuses")]
    async fn list(&self, _auth: AdminAuth) -> Result<Json<Vec<CampusView>>, ApiError> {
        let campuses = self.state.db.run_conn(|c| store::list(c).map_err(DbError::from)).await?;
        Ok(Json(campuses.into_iter().map(Into::into).collect()))
    }

    /// Create a campus with its email domains.
    #[oai(path = "/", method = "post", operation_id = "create_campus")]
    async fn create(
        &self,
        req: &Request,
        auth: AdminAuth,
        body: StrictJson<NewCampus>,
    ) -> Result<Created, ApiError> {
        let body = body.0;
        let campus = change(&self.state, req, &auth, move |c, now, actor| {
            store::create(c, &body.name, &body.domains, now, actor)
        })
        .await?;
        Ok(Created::Created(Json(campus.into())))
    }

    /// Rename a campus or replace its domains.
    #[oai(path = "/:id", method = "patch", operation_id = "update_campus")]
    async fn update(
        &self,
        req: &Request,
        auth: AdminAuth,
        id: Path<i64>,
        body: StrictJson<CampusPatch>,
    ) -> Result<Json<CampusView>, ApiError> {
        let body = body.0;
        let campus = change(&self.state, req, &auth, move |c, now, actor| {
            store::update(c, id.0, body.name.as_deref(), body.domains.as_deref(), now, actor)
        })
        .await?;
        Ok(Json(campus.into()))
    }

    /// Remove a campus. Its domains can no longer sign up; its accounts remain.
    #[oai(path = "/:id", method = "delete", operation_id = "remove_campus")]
    async fn remove(
        &self,
        req: &Request,
        auth: AdminAuth,
        id: Path<i64>,
    ) -> Result<Removed, ApiError> {
        change(&self.state, req, &auth, move |c, now, actor| {
            store::remove(c, &id.0.to_string(), now, actor)
        })
        .await?;
        Ok(Removed::Removed)
    }
}

/// Runs a campus change for an admin, on the database pool, with the admin and address for
/// the audit log.
async fn change<T: Send + 'static>(
    state: &CampusesState,
    req: &Request,
    auth: &AdminAuth,
    work: impl FnOnce(&Conn, i64, &Actor<'_>) -> Result<T, CampusError> + Send + 'static,
) -> Result<T, ApiError> {
    let admin = auth.principal().user_id.clone();
    let (ip, now) = (request_meta(req).ip, state.clock.unix());
    state
        .db
        .run_conn(move |c| {
            let actor = Actor { user_id: Some(&admin), ip: ip.as_deref() };
            work(c, now, &actor).map_err(ApiError::from)
        })
        .await
}

// The feature's errors as the answers a client sees: status, stable `code`, and a detail in
// words a student understands. Internal causes go to the server's log, never to the client.
impl From<crate::campuses::CampusError> for ApiError {
    fn from(e: crate::campuses::CampusError) -> Self {
        use crate::campuses::CampusError as E;
        let message = e.to_string();
        match e {
            E::NotFound => Self::not_found("campus_not_found", "There is no such campus."),
            E::InvalidName | E::NoDomains | E::InvalidDomain(_) => {
                let field = if matches!(e, E::InvalidName) { "name" } else { "domains" };
                Self::validation(vec![FieldError { field: field.into(), message }])
            }
            E::NameTaken(_) => Self::conflict("campus_name_taken", message),
            E::DomainTaken(_) => Self::conflict("campus_domain_taken", message),
            E::Sql(cause) => Self::internal(cause),
        }
    }
}
