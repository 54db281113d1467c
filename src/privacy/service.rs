//! The rules of the privacy operations ([`Privacy`]): policy publication and acceptance.
//! Account deletion walks every feature's personal data ([`crate::pii::Erasure`]); the export
//! is in [`super::export`], retention in [`super::retention`].

use std::sync::Arc;

use crate::audit::RequestMeta;
use crate::audit::{self, AuditEvent};
use crate::clock::Clock;
use crate::config::Config;
use crate::db::Db;
use crate::db::{BlockingError, DbError};
use crate::error::FieldError;
use crate::identity::Principal;
use crate::pii::{Erasure, ErasureError};
use crate::policies;
use crate::policies::PendingPolicies;

/// The privacy operations: retention, the export, policy publication and acceptance.
pub struct Privacy {
    pub(super) db: Db,
    pub(super) clock: Arc<dyn Clock>,
    pub(super) config: Arc<Config>,
    /// Every feature's personal data, and account deletion across them.
    pub(super) erasure: Arc<Erasure>,
    pub(super) pending_policies: Arc<PendingPolicies>,
}

/// What [`Privacy`] works over.
pub struct PrivacyParts {
    pub db: Db,
    pub clock: Arc<dyn Clock>,
    pub config: Arc<Config>,
    pub erasure: Arc<Erasure>,
    pub pending_policies: Arc<PendingPolicies>,
}

impl Privacy {
    pub fn new(parts: PrivacyParts) -> Self {
        let PrivacyParts { db, clock, config, erasure, pending_policies } = parts;
        Self { db, clock, config, erasure, pending_policies }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum PrivacyError {
    #[error("validation failed")]
    Validation(Vec<FieldError>),
    #[error("no such account")]
    UserNotFound,
    #[error("the account was deleted")]
    AccountDeleted,
    #[error("no privacy policy is published")]
    NoPolicy,
    #[error("policy version exists")]
    PolicyVersionExists,
    #[error("not the current policy version")]
    NotCurrentPolicy { current: String },
    /// A failure of ours (database, blocking pool, ...): logged with its cause chain, never
    /// shown to the client.
    #[error("internal error")]
    Internal(#[source] anyhow::Error),
}

impl From<DbError> for PrivacyError {
    fn from(e: DbError) -> Self {
        Self::Internal(e.into())
    }
}

impl From<BlockingError> for PrivacyError {
    fn from(e: BlockingError) -> Self {
        Self::Internal(e.into())
    }
}

impl From<ErasureError> for PrivacyError {
    fn from(e: ErasureError) -> Self {
        match e {
            ErasureError::NotFound => Self::UserNotFound,
            ErasureError::AlreadyDeleted => Self::AccountDeleted,
            // Privacy erases only through retention, which never meets an admin.
            ErasureError::LastAdmin => Self::Internal(anyhow::anyhow!("the last admin")),
            ErasureError::Internal(cause) => Self::Internal(cause),
        }
    }
}

fn field(name: &str, message: impl Into<String>) -> PrivacyError {
    PrivacyError::Validation(vec![FieldError { field: name.into(), message: message.into() }])
}

impl Privacy {
    /// Whether the account behind a valid credential is gone (see [`Erasure::missing`]).
    pub async fn missing_account(&self, user_id: &str) -> PrivacyError {
        self.erasure.missing(user_id).await.into()
    }

    /// `POST /api/v1/admin/policies`.
    pub async fn publish_policy(
        &self,
        admin: &Principal,
        version: &str,
        text: &str,
        meta: &RequestMeta,
    ) -> Result<policies::Policy, PrivacyError> {
        let version = version.trim().to_string();
        if version.is_empty() || version.chars().count() > policies::MAX_VERSION_CHARS {
            return Err(field(
                "version",
                format!("Give a version of 1 to {} characters.", policies::MAX_VERSION_CHARS),
            ));
        }
        if version.chars().any(char::is_control) {
            return Err(field("version", "Control characters cannot be used."));
        }
        if text.trim().is_empty() || text.len() > policies::MAX_TEXT_BYTES {
            return Err(field(
                "text",
                format!("Give the policy text (at most {} bytes).", policies::MAX_TEXT_BYTES),
            ));
        }
        let (text, admin_id, ip, now) =
            (text.to_string(), admin.user_id.clone(), meta.ip.clone(), self.clock.unix());
        let published = self
            .db
            .run_conn(move |conn| {
                let tx = conn.transaction()?;
                if policies::version_exists(&tx, &version)? {
                    return Ok(Err(PrivacyError::PolicyVersionExists));
                }
                policies::publish(&tx, &version, &text, &admin_id, now)?;
                let event = AuditEvent {
                    subject_id: None,
                    ..AuditEvent::by_user(now, &admin_id, policies::POLICY_PUBLISHED, ip.as_deref())
                }
                .with_details(serde_json::json!({"version": version}));
                audit::record(&tx, &event)?;
                let policy = policies::current(&tx)?.expect("just published");
                tx.commit()?;
                Ok::<_, DbError>(Ok(policy))
            })
            .await?;
        if published.is_ok() {
            self.pending_policies.forget_all();
        }
        published
    }

    /// `POST /api/v1/account/policy-acceptance`: only the current version.
    pub async fn accept_policy(
        &self,
        principal: &Principal,
        version: &str,
        meta: &RequestMeta,
    ) -> Result<policies::Acceptance, PrivacyError> {
        let (user_id, version, ip, now) = (
            principal.user_id.clone(),
            version.trim().to_string(),
            meta.ip.clone(),
            self.clock.unix(),
        );
        let result = self
            .db
            .run_conn(move |conn| {
                let tx = conn.transaction()?;
                let exists: bool = tx.query_row(
                    "SELECT EXISTS(SELECT 1 FROM users WHERE id = ?1)",
                    [&user_id],
                    |r| r.get(0),
                )?;
                if !exists {
                    return Ok(Err(PrivacyError::UserNotFound));
                }
                let Some(current) = policies::current(&tx)? else {
                    return Ok(Err(PrivacyError::NoPolicy));
                };
                if current.version != version {
                    return Ok(Err(PrivacyError::NotCurrentPolicy { current: current.version }));
                }
                policies::accept(&tx, &user_id, current.id, now)?;
                let event =
                    AuditEvent::by_user(now, &user_id, policies::POLICY_ACCEPTED, ip.as_deref())
                        .with_details(serde_json::json!({"version": current.version}));
                audit::record(&tx, &event)?;
                let acceptance = policies::acceptances_of(&tx, &user_id)?
                    .into_iter()
                    .rfind(|a| a.version == current.version)
                    .expect("just accepted");
                tx.commit()?;
                Ok::<_, DbError>(Ok(acceptance))
            })
            .await?;
        self.pending_policies.forget_user(&principal.user_id);
        match result {
            Err(PrivacyError::UserNotFound) => Err(self.missing_account(&principal.user_id).await),
            other => other,
        }
    }
}
