//! `/api/v1/admin/webhooks`: webhook endpoints and their recent deliveries, admin only. A
//! secret is in the answer that makes it (registration, rotation) and nowhere else.

use poem::Request;
use poem_openapi::param::{Path, Query};
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, Object, OpenApi};

use super::endpoints::{self, Endpoint, NewEndpoint, Registered, WebhookError};
use super::store;
use crate::audit::{self, Actor, AuditEvent, actions};
use crate::clock::{rfc3339, rfc3339_opt};
use crate::db::DbError;
use crate::db::conn::Conn;
use crate::error::{ApiError, FieldError};
use crate::http::AdminAuth;
use crate::http::StrictJson;
use crate::http::tags::ApiTags;
use crate::pii::FieldCipher;

/// What the webhook API uses (built by the route table).
#[derive(Clone)]
pub struct WebhooksState {
    pub db: crate::db::Db,
    pub clock: std::sync::Arc<dyn crate::clock::Clock>,
    pub pii: FieldCipher,
}

/// An endpoint events are posted to.
#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
pub struct WebhookView {
    id: String,
    url: String,
    /// The event types sent there.
    events: Vec<String>,
    created_at: String,
    secret_rotated_at: Option<String>,
}

impl From<Endpoint> for WebhookView {
    fn from(e: Endpoint) -> Self {
        Self {
            id: e.id,
            url: e.url,
            events: e.events,
            created_at: rfc3339(e.created_at),
            secret_rotated_at: rfc3339_opt(e.secret_rotated_at),
        }
    }
}

/// A registration.
#[derive(Object)]
pub struct NewWebhookRequest {
    /// `https` (or `http` on a loopback address, for development).
    url: String,
    /// Event types (see the Webhooks section of the docs); empty or absent: every type.
    #[oai(default)]
    events: Vec<String>,
}

/// An endpoint and its secret: shown here once.
#[derive(Object)]
pub struct RegisteredWebhook {
    #[oai(flatten)]
    webhook: WebhookView,
    /// The signing secret (`whsec_...`), for the receiver's Standard Webhooks library. It is
    /// not shown again: a lost one is replaced with `POST /api/v1/admin/webhooks/{id}/secret`.
    secret: String,
}

impl From<Registered> for RegisteredWebhook {
    fn from(r: Registered) -> Self {
        Self { webhook: r.endpoint.into(), secret: r.secret }
    }
}

/// One delivery of an event to an endpoint.
#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
pub struct DeliveryView {
    id: i64,
    /// The `webhook-id` header: the same on every try.
    message_id: String,
    /// The event type.
    event_type: String,
    created_at: String,
    /// `pending`, `sent` or `failed`.
    state: String,
    attempts: i64,
    /// When it is tried next (pending only).
    next_attempt_at: Option<String>,
    sent_at: Option<String>,
    failed_at: Option<String>,
    /// The receiver's last HTTP status.
    last_status: Option<i64>,
    /// What went wrong last (no answer, a status).
    last_error: Option<String>,
}

impl From<store::DeliveryRow> for DeliveryView {
    fn from(d: store::DeliveryRow) -> Self {
        let state = match (d.sent_at, d.failed_at) {
            (Some(_), _) => "sent",
            (None, Some(_)) => "failed",
            (None, None) => "pending",
        };
        Self {
            id: d.id,
            message_id: d.message_id,
            event_type: d.event_type,
            created_at: rfc3339(d.created_at),
            state: state.into(),
            attempts: d.attempts,
            next_attempt_at: (state == "pending").then(|| rfc3339(d.next_attempt_at)),
            sent_at: rfc3339_opt(d.sent_at),
            failed_at: rfc3339_opt(d.failed_at),
            last_status: d.last_status,
            last_error: d.last_error,
        }
    }
}

#[derive(ApiResponse)]
pub enum WebhookCreated {
    /// Registered.
    #[oai(status = 201)]
    Created(Json<RegisteredWebhook>),
}

#[derive(ApiResponse)]
pub enum WebhookChanged {
    /// Done.
    #[oai(status = 204)]
    Done,
}

pub struct WebhooksApi {
    pub state: WebhooksState,
}

#[OpenApi(prefix_path = "/api/v1/admin/webhooks", tag = "ApiTags::Admin")]
impl WebhooksApi {
    /// List the webhook endpoints.
    #[oai(path = "/", method = "get", operation_id = "list_webhooks")]
    async fn list(&self, _auth: AdminAuth) -> Result<Json<Vec<WebhookView>>, ApiError> {
        let list = self.state.db.run_conn(|c| endpoints::list(c).map_err(ApiError::from)).await?;
        Ok(Json(list.into_iter().map(Into::into).collect()))
    }

    /// Register a webhook endpoint.
    ///
    /// The answer holds its signing secret, once.
    #[oai(path = "/", method = "post", operation_id = "create_webhook")]
    async fn create(
        &self,
        req: &Request,
        auth: AdminAuth,
        body: StrictJson<NewWebhookRequest>,
    ) -> Result<WebhookCreated, ApiError> {
        let new = NewEndpoint { url: body.0.url, events: body.0.events };
        let pii = self.state.pii.clone();
        let registered = self
            .change(req, &auth, move |c, now, actor| endpoints::add(c, &pii, &new, actor, now))
            .await?;
        Ok(WebhookCreated::Created(Json(registered.into())))
    }

    /// Remove a webhook endpoint; its waiting deliveries are dropped.
    #[oai(path = "/:id", method = "delete", operation_id = "remove_webhook")]
    async fn remove(
        &self,
        req: &Request,
        auth: AdminAuth,
        id: Path<String>,
    ) -> Result<WebhookChanged, ApiError> {
        let id = id.0;
        self.change(req, &auth, move |c, now, actor| endpoints::remove(c, &id, actor, now)).await?;
        Ok(WebhookChanged::Done)
    }

    /// Give a webhook endpoint a new secret.
    ///
    /// The old secret keeps signing beside the new one for 24 hours (both signatures are
    /// sent), so the receiver can switch without missing a delivery.
    #[oai(path = "/:id/secret", method = "post", operation_id = "rotate_webhook_secret")]
    async fn rotate_secret(
        &self,
        req: &Request,
        auth: AdminAuth,
        id: Path<String>,
    ) -> Result<Json<RegisteredWebhook>, ApiError> {
        let (id, pii) = (id.0, self.state.pii.clone());
        let registered = self
            .change(req, &auth, move |c, now, actor| {
                endpoints::rotate_secret(c, &pii, &id, actor, now)
            })
            .await?;
        Ok(Json(registered.into()))
    }

    /// The newest deliveries to a webhook endpoint (at most `limit`, default 50).
    #[oai(path = "/:id/deliveries", method = "get", operation_id = "list_webhook_deliveries")]
    async fn deliveries(
        &self,
        _auth: AdminAuth,
        id: Path<String>,
        #[oai(validator(minimum(value = "1"), maximum(value = "200")))] limit: Query<Option<i64>>,
    ) -> Result<Json<Vec<DeliveryView>>, ApiError> {
        let (id, limit) = (id.0, limit.0.unwrap_or(50));
        let rows = self
            .state
            .db
            .run_conn(move |c| {
                if store::find_endpoint(c, &id)?.is_none() {
                    return Ok(None);
                }
                Ok::<_, DbError>(Some(store::recent(c, &id, limit)?))
            })
            .await?
            .ok_or(WebhookError::NotFound)?;
        Ok(Json(rows.into_iter().map(Into::into).collect()))
    }

    /// Send a delivery again ("send again"), with the same `webhook-id`.
    #[oai(
        path = "/:id/deliveries/:delivery_id/redeliver",
        method = "post",
        operation_id = "redeliver_webhook"
    )]
    async fn redeliver(
        &self,
        req: &Request,
        auth: AdminAuth,
        id: Path<String>,
        delivery_id: Path<i64>,
    ) -> Result<WebhookChanged, ApiError> {
        let (id, delivery) = (id.0, delivery_id.0);
        self.change(req, &auth, move |c, now, actor| {
            let tx = c.transaction()?;
            if !store::redeliver(&tx, &id, delivery, now)? {
                return Err(WebhookError::DeliveryNotFound);
            }
            let event = AuditEvent {
                at: now,
                actor_id: actor.user_id,
                action: actions::WEBHOOK_REDELIVERED,
                subject_id: None,
                ip: actor.ip,
                success: true,
                details: serde_json::json!({"webhook_id": id, "delivery_id": delivery}),
            };
            audit::record(&tx, &event)?;
            tx.commit()?;
            Ok(())
        })
        .await?;
        Ok(WebhookChanged::Done)
    }
}

impl WebhooksApi {
    /// [`crate::http::admin_change`] with this API's state.
    async fn change<T: Send + 'static>(
        &self,
        req: &Request,
        auth: &AdminAuth,
        work: impl FnOnce(&Conn, i64, &Actor<'_>) -> Result<T, WebhookError> + Send + 'static,
    ) -> Result<T, ApiError> {
        crate::http::admin_change(&self.state.db, &*self.state.clock, req, auth, work).await
    }
}

impl From<WebhookError> for ApiError {
    fn from(e: WebhookError) -> Self {
        match e {
            WebhookError::NotFound => {
                Self::not_found("webhook_not_found", "There is no such webhook.")
            }
            WebhookError::DeliveryNotFound => {
                Self::not_found("delivery_not_found", "That webhook has no such delivery.")
            }
            WebhookError::Invalid(field, message) => {
                Self::validation(vec![FieldError { field: field.into(), message }])
            }
            WebhookError::Sql(cause) => Self::internal(cause),
        }
    }
}
