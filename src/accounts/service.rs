//! The rules of campus accounts, testable without HTTP. Answers that could tell whether an
//! email has an account (register, resend, forgot) are the same either way, and the work done
//! is the same too (a password hash is computed on both paths).

use std::sync::Arc;

use rusqlite::Connection;
use tokio::sync::Notify;

use super::password::{self, PasswordHasherPool, Verified};
use super::store::{self, User};
use super::{email, lockout};
use crate::audit::{self, AuditEvent, actions};
use crate::campuses::store::campus_for_domain;
use crate::clock::Clock;
use crate::crypto;
use crate::db::{BlockingError, Db, DbError};
use crate::error::FieldError;
use crate::notify::{self, Email, templates};
use crate::sessions::{AuthMethod, IssuedSession, Principal, Sessions};

pub const RESET_TOKEN_SECONDS: i64 = 3600;
/// At most one email link per minute and five per day per account and purpose; requests past
/// that are answered the same but send nothing.
const LINK_COOLDOWN: i64 = 60;
const LINKS_PER_DAY: i64 = 5;
const PRODUCT: &str = "Gatehouse";

#[derive(Debug, thiserror::Error)]
pub enum AccountError {
    #[error("validation failed")]
    Validation(Vec<FieldError>),
    #[error("the email's domain is not a campus domain")]
    CampusDomainNotAllowed,
    #[error("invalid credentials")]
    InvalidCredentials,
    #[error("email not verified")]
    EmailNotVerified,
    #[error("invalid token")]
    InvalidToken,
    #[error("token expired")]
    TokenExpired,
    #[error("token already used")]
    TokenUsed,
    #[error("no such session")]
    SessionNotFound,
    #[error("the account is throttled")]
    Throttled { retry_after: u64 },
    #[error("internal: {0}")]
    Internal(String),
}

impl From<DbError> for AccountError {
    fn from(e: DbError) -> Self {
        Self::Internal(e.to_string())
    }
}

impl From<BlockingError> for AccountError {
    fn from(e: BlockingError) -> Self {
        Self::Internal(e.to_string())
    }
}

impl From<rusqlite::Error> for AccountError {
    fn from(e: rusqlite::Error) -> Self {
        Self::Internal(e.to_string())
    }
}

pub(crate) fn field(name: &str, message: impl Into<String>) -> FieldError {
    FieldError { field: name.into(), message: message.into() }
}

/// Where a request came from, for sessions and the audit log.
#[derive(Debug, Clone, Default)]
pub struct RequestMeta {
    pub ip: Option<String>,
    pub user_agent: Option<String>,
}

pub struct Registration {
    pub email: String,
    pub password: String,
    pub display_name: String,
    pub legal_name: Option<String>,
    pub phone: Option<String>,
}

/// A successful sign-in: the session to put in cookies and the user it belongs to.
pub struct SignedIn {
    pub user: User,
    pub session: IssuedSession,
    pub csrf: String,
}

/// What accounts take from the configuration.
pub struct AccountSettings {
    /// Links in emails are built from it.
    pub public_url: String,
    /// How long a verification link works (24 to 48).
    pub verify_hours: i64,
    /// Region for phone numbers written without `+`.
    pub default_region: String,
}

pub struct Accounts {
    pub(super) db: Db,
    clock: Arc<dyn Clock>,
    hasher: PasswordHasherPool,
    sessions: Arc<Sessions>,
    outbox_wake: Arc<Notify>,
    email_index_key: [u8; 32],
    phone_index_key: [u8; 32],
    default_region: String,
    pub(super) public_url: String,
    verify_hours: i64,
    users: moka::sync::Cache<String, Arc<User>>,
}

pub const USER_CACHE_TTL: std::time::Duration = std::time::Duration::from_secs(60);

/// Checks a display or legal name: trimmed, 1..=max characters, no control characters.
pub(super) fn clean_name(value: &str, max: usize) -> Result<String, String> {
    let value = value.trim();
    if value.is_empty() {
        return Err("This cannot be empty.".into());
    }
    if value.chars().count() > max {
        return Err(format!("Use at most {max} characters."));
    }
    if value.chars().any(char::is_control) {
        return Err("Control characters cannot be used.".into());
    }
    Ok(value.to_string())
}

impl Accounts {
    pub fn new(
        db: Db,
        clock: Arc<dyn Clock>,
        hasher: PasswordHasherPool,
        sessions: Arc<Sessions>,
        outbox_wake: Arc<Notify>,
        pii_key: &[u8; 32],
        settings: AccountSettings,
    ) -> Self {
        let index_key: [u8; 32] = crypto::keyed_hash(pii_key, &[b"email-index"])
            .try_into()
            .expect("HMAC-SHA256 is 32 bytes");
        let phone_index_key: [u8; 32] = crypto::keyed_hash(pii_key, &[b"phone-index"])
            .try_into()
            .expect("HMAC-SHA256 is 32 bytes");
        let users =
            moka::sync::Cache::builder().max_capacity(100_000).time_to_live(USER_CACHE_TTL).build();
        Self {
            db,
            clock,
            hasher,
            sessions,
            outbox_wake,
            email_index_key: index_key,
            phone_index_key,
            default_region: settings.default_region,
            public_url: settings.public_url,
            verify_hours: settings.verify_hours,
            users,
        }
    }

    pub fn sessions(&self) -> &Sessions {
        &self.sessions
    }

    pub fn hasher(&self) -> &PasswordHasherPool {
        &self.hasher
    }

    pub fn now(&self) -> i64 {
        self.clock.unix()
    }

    /// The blind index of a normalised email.
    pub fn email_index(&self, email: &str) -> Vec<u8> {
        crypto::keyed_hash(&self.email_index_key, &[email.as_bytes()])
    }

    /// The blind index of an E.164 phone number.
    pub fn phone_index(&self, e164: &str) -> Vec<u8> {
        crypto::keyed_hash(&self.phone_index_key, &[e164.as_bytes()])
    }

    /// A typed phone number in E.164, or a validation error on `field_name`.
    pub fn e164(&self, raw: &str, field_name: &str) -> Result<String, AccountError> {
        super::phone::to_e164(raw, &self.default_region)
            .map_err(|m| AccountError::Validation(vec![field(field_name, m)]))
    }

    fn link(&self, page: &str, token: &str) -> String {
        format!("{}/{page}?token={token}", self.public_url)
    }

    async fn find_by_email(&self, email: &str) -> Result<Option<User>, AccountError> {
        let index = self.email_index(email);
        Ok(self
            .db
            .run(move |c| store::find_by_email_index(c, &index).map_err(DbError::from))
            .await?)
    }

    /// A user for read-only views (who am I, profile), from a short-lived cache so that a
    /// session check costs no query. Every change made here drops the entry; a change made by
    /// another process (the CLI) is seen within [`USER_CACHE_TTL`].
    pub async fn user(&self, user_id: &str) -> Result<Option<Arc<User>>, AccountError> {
        if let Some(user) = self.users.get(user_id) {
            return Ok(Some(user));
        }
        let Some(user) = self.user_from_db(user_id).await? else { return Ok(None) };
        let user = Arc::new(user);
        self.users.insert(user_id.to_string(), user.clone());
        Ok(Some(user))
    }

    async fn user_from_db(&self, user_id: &str) -> Result<Option<User>, AccountError> {
        let id = user_id.to_string();
        Ok(self.db.run(move |c| store::find_by_id(c, &id).map_err(DbError::from)).await?)
    }

    /// Drops a user's cached copy after a change.
    pub async fn forget_user(&self, user_id: &str) {
        self.users.invalidate(user_id);
    }

    fn wake_outbox(&self) {
        self.outbox_wake.notify_one();
    }

    /// Validates a normalised email for endpoints that only take an email.
    fn checked_email(raw: &str) -> Result<String, AccountError> {
        let email = email::normalize(raw);
        match email::problem(&email) {
            Some(problem) => Err(AccountError::Validation(vec![field("email", problem)])),
            None => Ok(email),
        }
    }

    pub async fn register(
        &self,
        input: Registration,
        meta: &RequestMeta,
    ) -> Result<(), AccountError> {
        let email = email::normalize(&input.email);
        let mut errors = Vec::new();
        if let Some(problem) = email::problem(&email) {
            errors.push(field("email", problem));
        }
        let display_name = clean_name(&input.display_name, 100)
            .map_err(|m| errors.push(field("display_name", m)))
            .ok();
        let legal_name = match input.legal_name.as_deref().map(str::trim).filter(|s| !s.is_empty())
        {
            Some(name) => {
                clean_name(name, 200).map_err(|m| errors.push(field("legal_name", m))).ok()
            }
            None => None,
        };
        let phone = match input.phone.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
            Some(phone) => super::phone::to_e164(phone, &self.default_region)
                .map_err(|m| errors.push(field("phone", m)))
                .ok(),
            None => None,
        };
        if let Some(problem) = password::policy_violation(&input.password, &email) {
            errors.push(field("password", problem));
        }
        if !errors.is_empty() {
            return Err(AccountError::Validation(errors));
        }
        let domain = email::domain_of(&email).to_string();
        let campus =
            self.db.run(move |c| campus_for_domain(c, &domain).map_err(DbError::from)).await?;
        let Some((campus_id, campus_name)) = campus else {
            return Err(AccountError::CampusDomainNotAllowed);
        };

        // Both paths hash the password, so both take the same time.
        let password_hash = self.hasher.hash(&input.password).await?;
        let now = self.now();
        let (token, token_hash) = crypto::new_token();
        let verify_url = self.link("verify-email", &token);
        let reset_url = format!("{}/forgot-password", self.public_url);
        let index = self.email_index(&email);
        let phone_index = phone.as_deref().map(|p| self.phone_index(p));
        let user_id = uuid::Uuid::new_v4().to_string();
        let ip = meta.ip.clone();
        let display_name = display_name.unwrap_or_default();
        let hours = self.verify_hours;
        self.db
            .run(move |conn| {
                let tx = crate::db::write_tx(conn)?;
                let created = store::insert(
                    &tx,
                    &store::NewUser {
                        id: &user_id,
                        email_index: &index,
                        email: &email,
                        display_name: &display_name,
                        legal_name: legal_name.as_deref(),
                        phone: phone.as_deref(),
                        phone_index: phone_index.as_deref(),
                        password_hash: &password_hash,
                        campus_id: Some(campus_id),
                        role: "user",
                        email_verified_at: None,
                        now,
                    },
                )?;
                let brand = templates::Brand { product: PRODUCT, campus: Some(&campus_name) };
                if created {
                    let expires = now + hours * 3600;
                    store::insert_email_token(
                        &tx,
                        &token_hash,
                        &user_id,
                        store::VERIFY_EMAIL,
                        now,
                        expires,
                    )?;
                    let mail =
                        templates::verify_email(&brand, &email, &display_name, &verify_url, hours);
                    notify::enqueue_email(&tx, &mail, now)?;
                    audit::record(
                        &tx,
                        &AuditEvent::by_user(
                            now,
                            &user_id,
                            actions::USER_REGISTERED,
                            ip.as_deref(),
                        ),
                    )?;
                } else if let Some(owner) = store::find_by_email_index(&tx, &index)? {
                    notice_duplicate_signup(&tx, &owner, &brand, &reset_url, now, ip.as_deref())?;
                }
                tx.commit().map_err(DbError::from)
            })
            .await?;
        self.wake_outbox();
        Ok(())
    }

    pub async fn verify_email(&self, token: &str, meta: &RequestMeta) -> Result<(), AccountError> {
        let hash = token_hash(token)?;
        let now = self.now();
        let ip = meta.ip.clone();
        let user_id = self
            .db
            .run(move |conn| {
                let tx = crate::db::write_tx(conn)?;
                let token = usable_token(&tx, &hash, store::VERIFY_EMAIL, now)?;
                if !store::consume_email_token(&tx, &hash, now)? {
                    return Err(AccountError::TokenUsed);
                }
                store::mark_email_verified(&tx, &token.user_id, now)?;
                audit::record(
                    &tx,
                    &AuditEvent::by_user(
                        now,
                        &token.user_id,
                        actions::EMAIL_VERIFIED,
                        ip.as_deref(),
                    ),
                )?;
                tx.commit()?;
                Ok(token.user_id)
            })
            .await?;
        self.forget_user(&user_id).await;
        Ok(())
    }

    /// Sends a new verification link to an unverified account.
    pub async fn resend_verification(
        &self,
        raw_email: &str,
        meta: &RequestMeta,
    ) -> Result<(), AccountError> {
        let email = Self::checked_email(raw_email)?;
        let user = self.find_by_email(&email).await?.filter(|u| u.email_verified_at.is_none());
        self.send_link(user, LinkKind::Verify, meta).await
    }

    /// Sends a password-reset link.
    pub async fn forgot_password(
        &self,
        raw_email: &str,
        meta: &RequestMeta,
    ) -> Result<(), AccountError> {
        let email = Self::checked_email(raw_email)?;
        let user = self.find_by_email(&email).await?;
        self.send_link(user, LinkKind::Reset, meta).await
    }

    /// Emails `user` (when there is one and it has not had a link too recently) a new link of
    /// this kind, replacing older ones. Every path writes one audit row and commits, so the
    /// answer takes the same time whether or not the account exists.
    async fn send_link(
        &self,
        user: Option<User>,
        kind: LinkKind,
        meta: &RequestMeta,
    ) -> Result<(), AccountError> {
        let (now, hours, ip) = (self.now(), self.verify_hours, meta.ip.clone());
        let (token, token_hash) = crypto::new_token();
        let url = self.link(kind.page(), &token);
        let sent = self
            .db
            .run(move |conn| {
                let tx = crate::db::write_tx(conn)?;
                let purpose = kind.purpose();
                let sent = match &user {
                    Some(user) if may_send_link(&tx, &user.id, purpose, now)? => {
                        store::retire_email_tokens(&tx, &user.id, purpose, now)?;
                        let expires = now + kind.lifetime_seconds(hours);
                        store::insert_email_token(
                            &tx,
                            &token_hash,
                            &user.id,
                            purpose,
                            now,
                            expires,
                        )?;
                        let brand = templates::Brand {
                            product: PRODUCT,
                            campus: user.campus_name.as_deref(),
                        };
                        let mail = match kind {
                            LinkKind::Verify => templates::verify_email(
                                &brand,
                                user.email.as_deref().unwrap_or_default(),
                                &user.display_name,
                                &url,
                                hours,
                            ),
                            LinkKind::Reset => templates::password_reset(
                                &brand,
                                user.email.as_deref().unwrap_or_default(),
                                &user.display_name,
                                &url,
                            ),
                        };
                        notify::enqueue_email(&tx, &mail, now)?;
                        true
                    }
                    _ => false,
                };
                let subject = user.as_ref().map(|u| u.id.as_str());
                audit::record(
                    &tx,
                    &link_request_event(now, kind.action(), subject, ip.as_deref(), sent),
                )?;
                tx.commit().map_err(DbError::from)?;
                Ok::<_, AccountError>(sent)
            })
            .await?;
        if sent {
            self.wake_outbox();
        }
        Ok(())
    }

    /// Audits a failed password and counts it towards the account's lockout; true when this
    /// failure locked the account (its owner is emailed at the first lock of a series).
    async fn record_failed_password(
        &self,
        user: Option<User>,
        now: i64,
        meta: RequestMeta,
    ) -> Result<bool, AccountError> {
        let locked = self
            .db
            .run(move |conn| {
                let tx = crate::db::write_tx(conn)?;
                let subject = user.as_ref().map(|u| u.id.as_str());
                let event = AuditEvent {
                    subject_id: subject,
                    actor_id: subject,
                    ..AuditEvent::by_user(now, "", actions::LOGIN, meta.ip.as_deref())
                }
                .failed()
                .with_details(serde_json::json!({"reason": "invalid_credentials"}));
                audit::record(&tx, &event)?;
                let mut locked = false;
                if let Some(user) = &user
                    && let Some((until, level)) = lockout::record_failure(&tx, &user.id, now)?
                {
                    locked = true;
                    let event = AuditEvent {
                        actor_id: None,
                        ..AuditEvent::by_user(
                            now,
                            &user.id,
                            actions::ACCOUNT_LOCKED,
                            meta.ip.as_deref(),
                        )
                    }
                    .with_details(serde_json::json!({"until": until, "level": level}));
                    audit::record(&tx, &event)?;
                    if let (1, Some(to)) = (level, user.email.as_deref()) {
                        let brand = templates::Brand {
                            product: PRODUCT,
                            campus: user.campus_name.as_deref(),
                        };
                        let minutes = ((until - now) / 60).max(1);
                        notify::enqueue_email(
                            &tx,
                            &templates::account_locked(&brand, to, &user.display_name, minutes),
                            now,
                        )?;
                    }
                }
                tx.commit()?;
                Ok::<_, AccountError>(locked)
            })
            .await?;
        Ok(locked)
    }

    /// Checks an email and password the way every sign-in does: the same answer and cost for
    /// a wrong password and an unknown email, a failure audited, and an unverified account
    /// told so only when the password is right. On success the caller stores the upgraded
    /// hash, if any, in its own transaction.
    pub async fn check_password(
        &self,
        raw_email: &str,
        password: &str,
        meta: &RequestMeta,
    ) -> Result<(User, Verified), AccountError> {
        let email = email::normalize(raw_email);
        let user = match email::problem(&email) {
            None => self.find_by_email(&email).await?,
            Some(_) => None,
        };
        let now = self.now();
        if let Some(user) = &user {
            let id = user.id.clone();
            let until = self
                .db
                .run(move |c| lockout::throttled_until(c, &id, now).map_err(DbError::from))
                .await?;
            if let Some(until) = until {
                // The same work and the same answer whatever the password.
                self.hasher.verify(password, None).await?;
                let (id, ip) = (user.id.clone(), meta.ip.clone());
                self.db
                    .run(move |conn| {
                        let event =
                            AuditEvent::by_user(now, &id, actions::LOGIN_THROTTLED, ip.as_deref())
                                .failed();
                        audit::record(conn, &event).map_err(DbError::from)
                    })
                    .await?;
                return Err(AccountError::Throttled { retry_after: (until - now).max(1) as u64 });
            }
        }
        let verified = self
            .hasher
            .verify(password, user.as_ref().and_then(|u| u.password_hash.as_deref()))
            .await?;
        let meta = meta.clone();
        let user = match user {
            Some(user) if verified != Verified::No => user,
            failed => {
                let locked = self.record_failed_password(failed, now, meta).await?;
                if locked {
                    self.wake_outbox();
                }
                return Err(AccountError::InvalidCredentials);
            }
        };
        if user.email_verified_at.is_none() {
            return Err(AccountError::EmailNotVerified);
        }
        Ok((user, verified))
    }

    pub async fn login(
        &self,
        raw_email: &str,
        password: &str,
        remember_me: bool,
        meta: &RequestMeta,
    ) -> Result<SignedIn, AccountError> {
        let (user, verified) = self.check_password(raw_email, password, meta).await?;
        let (now, meta) = (self.now(), meta.clone());
        let csrf_source = self.sessions.clone();
        let signed_in_user = user.clone();
        let session = self
            .db
            .run(move |conn| {
                let tx = crate::db::write_tx(conn)?;
                // A reset or change that committed while the hash was checked wins.
                if store::password_hash_of(&tx, &user.id)? != user.password_hash {
                    return Err(AccountError::InvalidCredentials);
                }
                if let (Verified::YesRehashed(new), Some(old)) = (&verified, &user.password_hash) {
                    store::upgrade_password_hash(&tx, &user.id, old, new)?;
                }
                lockout::clear(&tx, &user.id)?;
                let session = Sessions::issue(
                    &tx,
                    &user.id,
                    remember_me,
                    now,
                    meta.ip.as_deref(),
                    meta.user_agent.as_deref(),
                )?;
                let event = AuditEvent::by_user(now, &user.id, actions::LOGIN, meta.ip.as_deref())
                    .with_details(
                        serde_json::json!({"method": "password", "remember_me": remember_me}),
                    );
                audit::record(&tx, &event)?;
                tx.commit().map_err(DbError::from)?;
                Ok::<_, AccountError>(session)
            })
            .await?;
        let csrf = csrf_source.csrf_token(&session.token);
        Ok(SignedIn { user: signed_in_user, session, csrf })
    }

    /// Ends what the request is signed in with: its session, or its API token family.
    pub async fn logout(
        &self,
        principal: &Principal,
        meta: &RequestMeta,
    ) -> Result<(), AccountError> {
        let (user_id, id, method) =
            (principal.user_id.clone(), principal.session_id.clone(), principal.method);
        let (now, ip) = (self.now(), meta.ip.clone());
        let ended = self
            .db
            .run(move |conn| {
                let tx = crate::db::write_tx(conn)?;
                let ended = match method {
                    AuthMethod::Session => {
                        Sessions::delete_in(&tx, &user_id, &id)?.into_iter().collect()
                    }
                    AuthMethod::Bearer => {
                        crate::tokens::store::revoke_family(&tx, &id, now, "logout")?;
                        Vec::new()
                    }
                };
                audit::record(
                    &tx,
                    &AuditEvent::by_user(now, &user_id, actions::LOGOUT, ip.as_deref()),
                )?;
                tx.commit().map_err(DbError::from)?;
                Ok::<_, AccountError>(ended)
            })
            .await?;
        self.sessions.forget(&ended).await;
        if method == AuthMethod::Bearer {
            self.sessions.forget_families(std::slice::from_ref(&principal.session_id));
        }
        Ok(())
    }

    /// Ends one of the caller's sessions; its audit row commits with it.
    pub async fn revoke_session(
        &self,
        principal: &Principal,
        session_id: &str,
        meta: &RequestMeta,
    ) -> Result<(), AccountError> {
        let (user_id, id) = (principal.user_id.clone(), session_id.to_string());
        let (now, ip) = (self.now(), meta.ip.clone());
        let ended = self
            .db
            .run(move |conn| {
                let tx = crate::db::write_tx(conn)?;
                let Some(hash) = Sessions::delete_in(&tx, &user_id, &id)? else {
                    return Err(AccountError::SessionNotFound);
                };
                let event =
                    AuditEvent::by_user(now, &user_id, actions::SESSION_REVOKED, ip.as_deref())
                        .with_details(serde_json::json!({"session_id": id}));
                audit::record(&tx, &event)?;
                tx.commit().map_err(DbError::from)?;
                Ok(hash)
            })
            .await?;
        self.sessions.forget(&[ended]).await;
        Ok(())
    }

    /// Ends every session of the caller but the current one; returns how many ended.
    pub async fn revoke_other_sessions(
        &self,
        principal: &Principal,
        meta: &RequestMeta,
    ) -> Result<usize, AccountError> {
        let (user_id, keep) = (principal.user_id.clone(), principal.session_id.clone());
        let (now, ip) = (self.now(), meta.ip.clone());
        let ended = self
            .db
            .run(move |conn| {
                let tx = crate::db::write_tx(conn)?;
                let ended = Sessions::delete_all_in(&tx, &user_id, Some(&keep))?;
                let event =
                    AuditEvent::by_user(now, &user_id, actions::SESSIONS_REVOKED, ip.as_deref())
                        .with_details(serde_json::json!({"count": ended.len()}));
                audit::record(&tx, &event)?;
                tx.commit().map_err(DbError::from)?;
                Ok::<_, AccountError>(ended)
            })
            .await?;
        self.sessions.forget(&ended).await;
        Ok(ended.len())
    }

    /// Changes the password (current one required) and ends every other session. Returns the
    /// new password's strength score.
    pub async fn change_password(
        &self,
        principal: &Principal,
        current: &str,
        new: &str,
        meta: &RequestMeta,
    ) -> Result<u8, AccountError> {
        let user =
            self.user_from_db(&principal.user_id).await?.ok_or(AccountError::InvalidCredentials)?;
        if self.hasher.verify(current, user.password_hash.as_deref()).await? == Verified::No {
            return Err(AccountError::Validation(vec![field(
                "current_password",
                "This is not your current password.",
            )]));
        }
        if let Some(problem) =
            password::policy_violation(new, user.email.as_deref().unwrap_or_default())
        {
            return Err(AccountError::Validation(vec![field("new_password", problem)]));
        }
        if new == current {
            return Err(AccountError::Validation(vec![field(
                "new_password",
                "Choose a password different from the current one.",
            )]));
        }
        let hash = self.hasher.hash(new).await?;
        let score = self.hasher.strength(new, user.email.as_deref().unwrap_or_default()).await?;
        let (keep, method) = (principal.session_id.clone(), principal.method);
        let (now, ip) = (self.now(), meta.ip.clone());
        let ended = self
            .db
            .run(move |conn| {
                let tx = crate::db::write_tx(conn)?;
                // The password checked must still be the stored one, and the caller still
                // signed in: a reset that committed meanwhile wins.
                if store::password_hash_of(&tx, &user.id)? != user.password_hash
                    || !Sessions::still_signed_in(&tx, method, &keep)?
                {
                    return Err(AccountError::InvalidCredentials);
                }
                store::set_password(&tx, &user.id, &hash, now)?;
                let ended = Sessions::delete_all_in(&tx, &user.id, Some(&keep))?;
                let families = crate::tokens::store::revoke_user_families(
                    &tx,
                    &user.id,
                    now,
                    "password_changed",
                )?;
                audit::record(
                    &tx,
                    &AuditEvent::by_user(now, &user.id, actions::PASSWORD_CHANGED, ip.as_deref()),
                )?;
                let brand =
                    templates::Brand { product: PRODUCT, campus: user.campus_name.as_deref() };
                // A phone-only account has no address to tell.
                if let Some(to) = user.email.as_deref() {
                    let notice =
                        templates::password_changed(&brand, to, &user.display_name, "changed");
                    notify::enqueue_email(&tx, &notice, now)?;
                }
                tx.commit().map_err(DbError::from)?;
                Ok::<_, AccountError>((ended, families))
            })
            .await?;
        self.sessions.forget(&ended.0).await;
        self.sessions.forget_families(&ended.1);
        self.forget_user(&principal.user_id).await;
        self.wake_outbox();
        Ok(score)
    }

    /// Sets a new password from an emailed link, ends every session and sends a notice. The
    /// link proves the mailbox, so the email counts as verified afterwards.
    pub async fn reset_password(
        &self,
        token: &str,
        new: &str,
        meta: &RequestMeta,
    ) -> Result<(), AccountError> {
        let hash = token_hash(token)?;
        let now = self.now();
        let lookup = hash.clone();
        let user = self
            .db
            .run(move |conn| {
                let token = usable_token(conn, &lookup, store::RESET_PASSWORD, now)?;
                store::find_by_id(conn, &token.user_id)?.ok_or(AccountError::InvalidToken)
            })
            .await?;
        if let Some(problem) =
            password::policy_violation(new, user.email.as_deref().unwrap_or_default())
        {
            return Err(AccountError::Validation(vec![field("new_password", problem)]));
        }
        let new_hash = self.hasher.hash(new).await?;
        let (ip, user_id) = (meta.ip.clone(), user.id.clone());
        let ended = self
            .db
            .run(move |conn| {
                let tx = crate::db::write_tx(conn)?;
                if !store::consume_email_token(&tx, &hash, now)? {
                    return Err(AccountError::TokenUsed);
                }
                store::set_password(&tx, &user.id, &new_hash, now)?;
                store::mark_email_verified(&tx, &user.id, now)?;
                lockout::clear(&tx, &user.id)?;
                let ended = Sessions::delete_all_in(&tx, &user.id, None)?;
                let families = crate::tokens::store::revoke_user_families(
                    &tx,
                    &user.id,
                    now,
                    "password_reset",
                )?;
                audit::record(
                    &tx,
                    &AuditEvent::by_user(now, &user.id, actions::PASSWORD_RESET, ip.as_deref()),
                )?;
                let brand =
                    templates::Brand { product: PRODUCT, campus: user.campus_name.as_deref() };
                // A phone-only account has no address to tell.
                if let Some(to) = user.email.as_deref() {
                    let notice = templates::password_changed(
                        &brand,
                        to,
                        &user.display_name,
                        "reset with an emailed link",
                    );
                    notify::enqueue_email(&tx, &notice, now)?;
                }
                tx.commit()?;
                Ok((ended, families))
            })
            .await?;
        self.sessions.forget(&ended.0).await;
        self.sessions.forget_families(&ended.1);
        self.forget_user(&user_id).await;
        self.wake_outbox();
        Ok(())
    }

    pub async fn update_profile(
        &self,
        principal: &Principal,
        display_name: Option<&str>,
        legal_name: Option<Option<&str>>,
        meta: &RequestMeta,
    ) -> Result<User, AccountError> {
        let mut errors = Vec::new();
        let display_name = display_name.and_then(|n| {
            clean_name(n, 100).map_err(|m| errors.push(field("display_name", m))).ok()
        });
        let legal_name = legal_name.map(|n| match n.map(str::trim).filter(|s| !s.is_empty()) {
            Some(n) => clean_name(n, 200).map_err(|m| errors.push(field("legal_name", m))).ok(),
            None => None,
        });
        if !errors.is_empty() {
            return Err(AccountError::Validation(errors));
        }
        let (user_id, now, ip) = (principal.user_id.clone(), self.now(), meta.ip.clone());
        let user = self
            .db
            .run(move |conn| {
                let tx = crate::db::write_tx(conn)?;
                store::update_profile(
                    &tx,
                    &user_id,
                    display_name.as_deref(),
                    legal_name.as_ref().map(|n| n.as_deref()),
                )?;
                audit::record(
                    &tx,
                    &AuditEvent::by_user(now, &user_id, actions::PROFILE_UPDATED, ip.as_deref()),
                )?;
                let user =
                    store::find_by_id(&tx, &user_id)?.ok_or(AccountError::InvalidCredentials)?;
                tx.commit()?;
                Ok::<_, AccountError>(user)
            })
            .await?;
        self.forget_user(&user.id).await;
        Ok(user)
    }
}

fn token_hash(token: &str) -> Result<Vec<u8>, AccountError> {
    let token = token.trim();
    if token.is_empty() || token.len() > 128 {
        return Err(AccountError::InvalidToken);
    }
    Ok(crypto::hash_token(token))
}

/// The token's row if it is unused and unexpired; otherwise the reason it is not.
fn usable_token(
    conn: &Connection,
    hash: &[u8],
    purpose: &str,
    now: i64,
) -> Result<store::EmailToken, AccountError> {
    let token = store::find_email_token(conn, hash, purpose)?.ok_or(AccountError::InvalidToken)?;
    if token.used_at.is_some() {
        return Err(AccountError::TokenUsed);
    }
    if now >= token.expires_at {
        return Err(AccountError::TokenExpired);
    }
    Ok(token)
}

/// The emailed links that `send_link` sends.
#[derive(Clone, Copy)]
enum LinkKind {
    Verify,
    Reset,
}

impl LinkKind {
    fn purpose(self) -> &'static str {
        match self {
            LinkKind::Verify => store::VERIFY_EMAIL,
            LinkKind::Reset => store::RESET_PASSWORD,
        }
    }

    fn page(self) -> &'static str {
        match self {
            LinkKind::Verify => "verify-email",
            LinkKind::Reset => "reset-password",
        }
    }

    fn action(self) -> &'static str {
        match self {
            LinkKind::Verify => actions::VERIFICATION_RESEND_REQUESTED,
            LinkKind::Reset => actions::PASSWORD_RESET_REQUESTED,
        }
    }

    fn lifetime_seconds(self, verify_hours: i64) -> i64 {
        match self {
            LinkKind::Verify => verify_hours * 3600,
            LinkKind::Reset => RESET_TOKEN_SECONDS,
        }
    }
}

/// An audit row for a link request: `success` when a link was sent; the subject is the account
/// when one exists (never the email that was typed).
fn link_request_event<'a>(
    now: i64,
    action: &'a str,
    subject: Option<&'a str>,
    ip: Option<&'a str>,
    sent: bool,
) -> AuditEvent<'a> {
    AuditEvent {
        at: now,
        actor_id: subject,
        action,
        subject_id: subject,
        ip,
        success: sent,
        details: serde_json::json!({"link_sent": sent}),
    }
}

fn may_send_link(
    conn: &Connection,
    user_id: &str,
    purpose: &str,
    now: i64,
) -> rusqlite::Result<bool> {
    let (count, last) = store::email_tokens_since(conn, user_id, purpose, now - 86_400)?;
    Ok(count < LINKS_PER_DAY && last.is_none_or(|last| now - last >= LINK_COOLDOWN))
}

/// Tells an account's owner that someone tried to sign up with their address, at most once an
/// hour, so the form cannot be used to flood their inbox.
fn notice_duplicate_signup(
    conn: &Connection,
    owner: &User,
    brand: &templates::Brand<'_>,
    reset_url: &str,
    now: i64,
    ip: Option<&str>,
) -> rusqlite::Result<()> {
    const ACTION: &str = "signup.duplicate";
    let recent: bool = conn.query_row(
        "SELECT EXISTS(SELECT 1 FROM audit_log WHERE action = ?1 AND subject_id = ?2 AND at > ?3)",
        rusqlite::params![ACTION, owner.id, now - 3600],
        |r| r.get(0),
    )?;
    let event = AuditEvent { actor_id: None, ..AuditEvent::by_user(now, &owner.id, ACTION, ip) };
    audit::record(conn, &event)?;
    if !recent {
        let mail: Email = templates::already_registered(
            brand,
            owner.email.as_deref().unwrap_or_default(),
            &owner.display_name,
            reset_url,
        );
        notify::enqueue_email(conn, &mail, now)?;
    }
    Ok(())
}
