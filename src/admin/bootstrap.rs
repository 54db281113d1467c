//! `POST /api/v1/bootstrap`: spends the one-time link printed at first start to create the
//! first admin.

use poem::Request;
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, Object, OpenApi};

use crate::admin::AdminState;
use crate::error::ApiError;
use crate::http::StrictJson;
use crate::http::request_meta;
use crate::http::tags::ApiTags;

#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
pub struct BootstrapRequest {
    /// The token from the bootstrap link.
    token: String,
    email: String,
    password: String,
    display_name: Option<String>,
}

#[derive(Object)]
pub struct BootstrapBody {
    status: String,
}

#[derive(ApiResponse)]
pub enum BootstrapResponse {
    /// The admin exists; sign in with the email and password.
    #[oai(status = 201)]
    Created(Json<BootstrapBody>),
}

pub struct BootstrapApi {
    pub state: AdminState,
}

#[OpenApi(prefix_path = "/api/v1", tag = "ApiTags::Admin")]
impl BootstrapApi {
    /// Create the first admin with the one-time bootstrap link.
    #[oai(path = "/bootstrap", method = "post", operation_id = "bootstrap_admin")]
    async fn bootstrap(
        &self,
        req: &Request,
        body: StrictJson<BootstrapRequest>,
    ) -> Result<BootstrapResponse, ApiError> {
        let body = body.0;
        // A sign-in tier: the link is a secret that anyone who reaches the server can guess at.
        crate::http::limit_sensitive(&self.state.limits, req, "bootstrap")?;
        self.state
            .accounts
            .create_admin(
                &body.email,
                Some(&body.password),
                body.display_name.as_deref(),
                Some(&body.token),
                &request_meta(req),
            )
            .await?;
        Ok(BootstrapResponse::Created(Json(BootstrapBody { status: "admin_created".into() })))
    }
}
