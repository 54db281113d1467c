//! The rules of the privacy operations ([`Privacy`]): account deletion (by the owner, by
//! an admin), policy publication and acceptance. The export is in [`super::export`],
//! retention in [`super::retention`].

use super::deletion::{self, DeleteReason, Deleted};
use crate::accounts::Accounts;
use crate::audit::RequestMeta;
use crate::audit::{self, AuditEvent};
use crate::clock::Clock;
use crate::config::Config;
use crate::crypto;
use crate::db::Db;
use crate::db::{BlockingError, DbError};
use crate::drivers::Drivers;
use crate::error::FieldError;
use crate::identity::Principal;
use crate::keys::Keys;
use crate::pii::FieldCipher;
use crate::policies;
use crate::policies::PendingPolicies;
use crate::tokens::Tokens;
use std::sync::Arc;

/// The privacy operations: account deletion, retention, policy publication and acceptance.
pub struct Privacy {
    pub(super) db: Db,
    pub(super) clock: Arc<dyn Clock>,
    pub(super) config: Arc<Config>,
    pub(super) keys: Arc<Keys>,
    pub(super) pii: FieldCipher,
    pub(super) accounts: Arc<Accounts>,
    pub(super) tokens: Arc<Tokens>,
    pub(super) drivers: Arc<Drivers>,
    pub(super) pending_policies: Arc<PendingPolicies>,
}

/// What [`Privacy`] works over.
pub struct PrivacyParts {
    pub db: Db,
    pub clock: Arc<dyn Clock>,
    pub config: Arc<Config>,
    pub keys: Arc<Keys>,
    pub pii: FieldCipher,
    pub accounts: Arc<Accounts>,
    pub tokens: Arc<Tokens>,
    pub drivers: Arc<Drivers>,
    pub pending_policies: Arc<PendingPolicies>,
}

impl Privacy {
    pub fn new(parts: PrivacyParts) -> Self {
        let PrivacyParts {
            db,
            clock,
            config,
            keys,
            pii,
            accounts,
            tokens,
            drivers,
            pending_policies,
        } = parts;
        Self { db, clock, config, keys, pii, accounts, tokens, drivers, pending_policies }
    }
}

/// A password-less (phone-only) account proves itself by a sign-in this recent instead.
pub const RECENT_SIGN_IN_SECONDS: i64 = 600;

#[derive(Debug, thiserror::Error)]
pub enum PrivacyError {
    #[error("validation failed")]
    Validation(Vec<FieldError>),
    #[error("wrong password")]
    WrongPassword,
    #[error("the account is throttled")]
    Throttled { retry_after: u64 },
    #[error("sign in again first")]
    ReauthenticationRequired,
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
    #[error("an admin cannot delete their own account here")]
    CannotDeleteSelf,
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

impl From<rusqlite::Error> for PrivacyError {
    fn from(e: rusqlite::Error) -> Self {
        Self::Internal(e.into())
    }
}

impl From<BlockingError> for PrivacyError {
    fn from(e: BlockingError) -> Self {
        Self::Internal(e.into())
    }
}

impl From<crate::accounts::AccountError> for PrivacyError {
    fn from(e: crate::accounts::AccountError) -> Self {
        match e {
            crate::accounts::AccountError::Throttled { retry_after } => {
                Self::Throttled { retry_after }
            }
            other => Self::Internal(other.into()),
        }
    }
}

fn field(name: &str, message: impl Into<String>) -> PrivacyError {
    PrivacyError::Validation(vec![FieldError { field: name.into(), message: message.into() }])
}

impl Privacy {
    /// The key of audit pseudonyms, derived from the session secret (not a PII key: rotation
    /// must not change pseudonyms).
    pub fn pseudonym_key(&self) -> [u8; 32] {
        crypto::keyed_hash(self.keys.session_secret.expose(), &[b"audit-pseudonym-key"])
            .try_into()
            .expect("HMAC-SHA256 is 32 bytes")
    }

    /// After a deletion committed: its sessions and token families end at once (caches
    /// included), its cached profile goes, its uploads are removed.
    pub async fn after_deletion(&self, user_id: &str, deleted: Deleted) {
        let sessions = self.accounts.sessions();
        sessions.forget(&deleted.session_hashes).await;
        self.tokens.forget_families(&deleted.token_families);
        self.accounts.forget_user(user_id).await;
        if let Err(e) = deletion::remove_uploads(&self.config.storage.data_dir, user_id) {
            tracing::error!(error = %e, "cannot remove a deleted account's uploads");
        }
        let uploads = self.drivers.uploads.clone();
        let names = deleted.licence_images;
        let removed = tokio::task::spawn_blocking(move || {
            names.iter().try_for_each(|name| uploads.delete(name))
        })
        .await;
        if !matches!(removed, Ok(Ok(()))) {
            tracing::error!("cannot remove a deleted account's licence images");
        }
    }

    /// Whether the account behind a valid credential is gone: a clear answer for a request that
    /// raced its deletion (or a bearer token used after it).
    pub async fn missing_account(&self, user_id: &str) -> PrivacyError {
        let id = user_id.to_string();
        match self.db.run(move |c| deletion::was_deleted(c, &id).map_err(DbError::from)).await {
            Ok(true) => PrivacyError::AccountDeleted,
            Ok(false) => PrivacyError::UserNotFound,
            Err(e) => e.into(),
        }
    }

    /// `DELETE /api/v1/account`: the owner, with their password (or, for an account without one,
    /// a sign-in in the last ten minutes). The password is checked like the account's other
    /// password checks: a wrong one counts in the lockout, and a throttled account is refused.
    pub async fn delete_own_account(
        &self,
        principal: &Principal,
        password: &str,
        meta: &RequestMeta,
    ) -> Result<(), PrivacyError> {
        let Some(user) = self.accounts.user(&principal.user_id).await? else {
            return Err(self.missing_account(&principal.user_id).await);
        };
        let stored = {
            let id = user.id.clone();
            self.db
                .run(move |c| crate::accounts::password_hash_of(c, &id).map_err(DbError::from))
                .await?
        };
        match stored {
            Some(_) => {
                if password.is_empty() {
                    return Err(field("password", "Enter your password to delete the account."));
                }
                if !self.accounts.confirm_password_to_delete(&user.id, password, meta).await? {
                    return Err(PrivacyError::WrongPassword);
                }
            }
            None if self.clock.unix() - principal.created_at > RECENT_SIGN_IN_SECONDS => {
                return Err(PrivacyError::ReauthenticationRequired);
            }
            None => {}
        }
        self.delete(&user.id, DeleteReason::Owner, None, meta).await
    }

    /// `DELETE /api/v1/admin/users/{id}`.
    pub async fn admin_delete_account(
        &self,
        admin: &Principal,
        user_id: &str,
        meta: &RequestMeta,
    ) -> Result<(), PrivacyError> {
        if admin.user_id == user_id {
            return Err(PrivacyError::CannotDeleteSelf);
        }
        self.delete(user_id, DeleteReason::Admin, Some(&admin.user_id), meta).await
    }

    async fn delete(
        &self,
        user_id: &str,
        reason: DeleteReason,
        actor: Option<&str>,
        meta: &RequestMeta,
    ) -> Result<(), PrivacyError> {
        let key = self.pseudonym_key();
        let pii = self.pii.clone();
        let (id, actor, ip, now) =
            (user_id.to_string(), actor.map(str::to_string), meta.ip.clone(), self.clock.unix());
        let deleted = self
            .db
            .run(move |conn| {
                let tx = crate::db::write_tx(conn)?;
                let deleted = deletion::delete_in(
                    &tx,
                    &pii,
                    &key,
                    &id,
                    reason,
                    actor.as_deref(),
                    ip.as_deref(),
                    now,
                )?;
                let Some(deleted) = deleted else {
                    return Ok(Err(if deletion::was_deleted(&tx, &id)? {
                        PrivacyError::AccountDeleted
                    } else {
                        PrivacyError::UserNotFound
                    }));
                };
                tx.commit()?;
                Ok::<_, DbError>(Ok(deleted))
            })
            .await??;
        self.after_deletion(user_id, deleted).await;
        Ok(())
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
            .run(move |conn| {
                let tx = crate::db::write_tx(conn)?;
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
            .run(move |conn| {
                let tx = crate::db::write_tx(conn)?;
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
