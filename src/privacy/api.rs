//! HTTP face of privacy: the account export, privacy-policy acceptance, the current policy,
//! and publishing policies. (Deletion's operations sit with their paths' other operations:
//! `DELETE /api/v1/account` in accounts, `DELETE /api/v1/admin/users/{id}` in admin; both
//! call [`super::service`].)

use crate::http::AdminAuth;
use poem::Request;
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, Object, OpenApi};

use super::export::{self, AccountExport};

use crate::clock::rfc3339;
use crate::db::DbError;
use crate::error::ApiError;
use crate::http::StrictJson;
use crate::http::auth::Auth;
use crate::http::request_meta;
use crate::http::tags::ApiTags;
use crate::policies;

/// What the privacy API uses (built by the route table).
#[derive(Clone)]
pub struct PrivacyState {
    pub privacy: std::sync::Arc<super::Privacy>,
    pub db: crate::db::Db,
    pub clock: std::sync::Arc<dyn crate::clock::Clock>,
    pub pii: crate::pii::FieldCipher,
}

type ApiResult<T> = Result<T, ApiError>;

#[derive(Object)]
pub struct PolicyView {
    version: String,
    /// The policy text (plain text).
    text: String,
    published_at: String,
}

#[derive(Object)]
pub struct PolicySummaryView {
    version: String,
    published_at: String,
    /// Accounts that accepted this version.
    acceptances: i64,
    /// The newest version is the current one.
    current: bool,
}

/// The current privacy policy, or the statement that none is published yet.
#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
pub struct CurrentPolicyView {
    /// False while no policy is published: the other fields are then absent, and
    /// registration needs no acceptance.
    published: bool,
    version: Option<String>,
    /// The policy text (plain text).
    text: Option<String>,
    published_at: Option<String>,
}

#[derive(Object)]
pub struct PublishPolicyRequest {
    /// A new, unique version label (1 to 64 characters), e.g. `2026-09`.
    version: String,
    /// The policy text (plain text, at most 200 000 bytes).
    text: String,
}

#[derive(ApiResponse)]
pub enum Published {
    /// The version is published and is now the current one.
    #[oai(status = 201)]
    Published(Json<PolicyView>),
}

#[derive(Object)]
pub struct AcceptPolicyRequest {
    /// The version accepted; it must be the current one.
    version: String,
}

#[derive(Object)]
pub struct AcceptanceView {
    version: String,
    accepted_at: String,
}

/// Where the caller stands with the privacy policy.
#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
pub struct PolicyStatus {
    /// The current version, or null when none is published.
    current_version: Option<String>,
    /// True when the current version is not accepted yet.
    acceptance_required: bool,
    /// The caller's acceptances, oldest first.
    acceptances: Vec<AcceptanceView>,
}

pub struct PrivacyApi {
    pub state: PrivacyState,
}

#[OpenApi(prefix_path = "/api/v1", tag = "ApiTags::Privacy")]
impl PrivacyApi {
    /// Everything Gatehouse holds about the caller, as one JSON document.
    ///
    /// Profile (decrypted), campus, sessions, API token families, email links and phone
    /// codes (state only, never a token or code), audit events by or about the caller,
    /// privacy-policy acceptances, two-step sign-in state (never the secret or recovery
    /// codes), and driver verification: the driver's status and reason, and every licence with
    /// the fields read from it, its review notes, decision and expiry reminders (not the
    /// images). `410 account_deleted` when the account was deleted while the credential was
    /// still valid.
    #[oai(path = "/account/export", method = "get", operation_id = "export_account")]
    async fn export(&self, auth: Auth) -> ApiResult<Json<AccountExport>> {
        let user_id = auth.principal().user_id.clone();
        let (pii, now, id) = (self.state.pii.clone(), self.state.clock.unix(), user_id.clone());
        let document = self
            .state
            .db
            .run_conn(move |c| export::export(c, &pii, &id, now).map_err(DbError::from))
            .await?;
        match document {
            Some(document) => Ok(Json(document)),
            None => Err(self.state.privacy.missing_account(&user_id).await.into()),
        }
    }

    /// The caller's privacy-policy status: the current version and their acceptances.
    #[oai(
        path = "/account/policy-acceptance",
        method = "get",
        operation_id = "get_policy_acceptance"
    )]
    async fn policy_status(&self, auth: Auth) -> ApiResult<Json<PolicyStatus>> {
        let user_id = auth.principal().user_id.clone();
        let (current, accepted) = self
            .state
            .db
            .run_conn(move |c| {
                Ok::<_, DbError>((policies::current(c)?, policies::acceptances_of(c, &user_id)?))
            })
            .await?;
        let current_version = current.map(|p| p.version);
        let acceptance_required =
            current_version.as_ref().is_some_and(|v| !accepted.iter().any(|a| &a.version == v));
        Ok(Json(PolicyStatus {
            current_version,
            acceptance_required,
            acceptances: accepted
                .into_iter()
                .map(|a| AcceptanceView { version: a.version, accepted_at: rfc3339(a.accepted_at) })
                .collect(),
        }))
    }

    /// Accept the current privacy-policy version.
    ///
    /// `409 policy_version_not_current` for any other version (an old one included),
    /// `404 no_policy` when none is published. Accepting again changes nothing.
    #[oai(path = "/account/policy-acceptance", method = "post", operation_id = "accept_policy")]
    async fn accept_policy(
        &self,
        req: &Request,
        auth: Auth,
        body: StrictJson<AcceptPolicyRequest>,
    ) -> ApiResult<Json<AcceptanceView>> {
        let accepted = self
            .state
            .privacy
            .accept_policy(auth.principal(), &body.0.version, &request_meta(req))
            .await?;
        Ok(Json(AcceptanceView {
            version: accepted.version,
            accepted_at: rfc3339(accepted.accepted_at),
        }))
    }

    /// The current privacy policy (the newest published version).
    ///
    /// While none is published the answer is still `200`: `{"published": false}` with no
    /// other field (registration then needs no acceptance). "No policy yet" is a normal state
    /// of a new installation, not an error.
    #[oai(path = "/policies/current", method = "get", operation_id = "get_current_policy")]
    async fn current_policy(&self) -> ApiResult<Json<CurrentPolicyView>> {
        let current =
            self.state.db.run_conn(|c| policies::current(c).map_err(DbError::from)).await?;
        Ok(Json(match current {
            Some(p) => CurrentPolicyView {
                published: true,
                version: Some(p.version),
                text: Some(p.text),
                published_at: Some(rfc3339(p.published_at)),
            },
            None => CurrentPolicyView {
                published: false,
                version: None,
                text: None,
                published_at: None,
            },
        }))
    }

    /// Published privacy-policy versions, newest (current) first. Admins only.
    #[oai(
        path = "/admin/policies",
        method = "get",
        operation_id = "list_policies",
        tag = "ApiTags::Admin"
    )]
    async fn list_policies(&self, _auth: AdminAuth) -> ApiResult<Json<Vec<PolicySummaryView>>> {
        let list = self.state.db.run_conn(|c| policies::list(c).map_err(DbError::from)).await?;
        Ok(Json(
            list.into_iter()
                .enumerate()
                .map(|(i, p)| PolicySummaryView {
                    version: p.version,
                    published_at: rfc3339(p.published_at),
                    acceptances: p.acceptances,
                    current: i == 0,
                })
                .collect(),
        ))
    }

    /// Publish a new privacy-policy version. Admins only.
    ///
    /// It becomes current at once: registration must accept it, and users who have not are
    /// asked to at their next sign-in. `409 policy_version_exists` for a version label used
    /// before.
    #[oai(
        path = "/admin/policies",
        method = "post",
        operation_id = "publish_policy",
        tag = "ApiTags::Admin"
    )]
    async fn publish_policy(
        &self,
        req: &Request,
        auth: AdminAuth,
        body: StrictJson<PublishPolicyRequest>,
    ) -> ApiResult<Published> {
        let admin = auth.principal();
        let policy = self
            .state
            .privacy
            .publish_policy(admin, &body.0.version, &body.0.text, &request_meta(req))
            .await?;
        Ok(Published::Published(Json(view(policy))))
    }
}

fn view(p: policies::Policy) -> PolicyView {
    PolicyView { version: p.version, text: p.text, published_at: rfc3339(p.published_at) }
}

// The feature's errors as the answers a client sees: status, stable `code`, and a detail in
// words a student understands. Internal causes go to the server's log, never to the client.
impl From<crate::privacy::service::PrivacyError> for ApiError {
    fn from(e: crate::privacy::service::PrivacyError) -> Self {
        use crate::privacy::service::PrivacyError as E;
        match e {
            E::Validation(errors) => Self::validation(errors),
            E::UserNotFound => Self::not_found("user_not_found", "There is no such account."),
            E::AccountDeleted => Self::gone("account_deleted", "This account has been deleted."),
            E::NoPolicy => Self::not_found("no_policy", "No privacy policy is published."),
            E::PolicyVersionExists => Self::conflict(
                "policy_version_exists",
                "A policy with this version was published already; choose a new version.",
            ),
            E::NotCurrentPolicy { current } => Self::conflict(
                "policy_version_not_current",
                format!("Only the current privacy policy (version {current}) can be accepted."),
            ),
            E::Internal(cause) => Self::internal(format!("{cause:#}")),
        }
    }
}
