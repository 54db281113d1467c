//! The rules of campus accounts, testable without HTTP. Answers that could tell whether an
//! email has an account (register, login, resend, forgot) are the same either way, and the work
//! done is the same too: a password hash is computed on both paths of register and login, and
//! resend and forgot look the email up and send the link after answering.
//!
//! One `impl Accounts` per concern: `signup` (registration, verification), `links` (emailed
//! links), `signin` (passwords, sessions, lockout), `mfa` (TOTP, recovery codes, the second
//! sign-in step), `passkeys` (adding, renaming, removing) and `passkey_sign_in` (signing in,
//! adding one with an emailed link), `passwords` (change, reset), `profile`.

mod cached_user;
mod deletion;
mod links;
mod mfa;
mod passkey_sign_in;
mod passkeys;
mod passwords;
mod profile;
mod second_step;
mod signin;
mod signup;
mod token_grant;

use std::sync::Arc;

pub use cached_user::CachedUser;
pub use deletion::DeletionError;
pub use mfa::{LoginOutcome, MfaStatus, TotpEnrolment};
pub use passkeys::{PasskeyChallenge, PasskeyView};
use signin::PasswordCheck;
pub use signin::SignInGate;
pub use token_grant::Grant;

use crate::db::conn::{Conn, SqlResult};
use tokio::sync::Notify;

use super::lockout;
use super::password::{self, PasswordHasherPool, Verified};
use super::store::{self, User};
use crate::audit::RequestMeta;
use crate::audit::{self, AuditEvent, actions};
use crate::campuses::campus_for_domain;
use crate::clock::Clock;
use crate::contact::email;
use crate::contact::phone::PhoneRegions;
use crate::crypto;
use crate::db::{BlockingError, Db, DbError};
use crate::error::FieldError;
use crate::identity::{AuthMethod, Principal};
use crate::notify::{self, Email, templates};
use crate::pii::FieldCipher;
use crate::sessions::{IssuedSession, Sessions};
use crate::tokens::Tokens;

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
    #[error("the account is disabled")]
    AccountDisabled,
    #[error("TOTP is already on")]
    TotpAlreadyEnabled,
    #[error("no TOTP enrolment was started")]
    TotpNotStarted,
    #[error("TOTP is not on")]
    TotpNotEnabled,
    #[error("a TOTP code is required")]
    TotpRequired,
    #[error("wrong or used second-factor code")]
    InvalidSecondFactor,
    #[error("the pending sign-in is unknown, expired or ended")]
    MfaTokenInvalid,
    #[error("sign in again, or give the password again")]
    ReauthenticationRequired,
    #[error("passkeys are off: public_url is not a domain name")]
    PasskeysUnavailable,
    #[error("the passkey challenge is unknown, expired or used")]
    PasskeyChallengeInvalid,
    #[error("not a WebAuthn response")]
    PasskeyMalformed,
    #[error("the passkey was not accepted")]
    PasskeyNotAccepted,
    #[error("this passkey is already registered")]
    PasskeyAlreadyRegistered,
    #[error("no such passkey")]
    PasskeyNotFound,
    #[error("the account has two-step sign-in: a link alone cannot add a passkey")]
    SecondFactorRequired,
    #[error("the only way left to sign in")]
    LastSignInMethod,
    #[error("a solved captcha is required")]
    CaptchaRequired,
    #[error("the account is throttled")]
    Throttled { retry_after: u64 },
    #[error("the account's second factors are paused")]
    MfaThrottled { retry_after: u64 },
    /// A failure of ours (database, blocking pool, ...): logged with its cause chain, never
    /// shown to the client.
    #[error("internal error")]
    Internal(#[source] anyhow::Error),
}

impl From<DbError> for AccountError {
    fn from(e: DbError) -> Self {
        Self::Internal(e.into())
    }
}

impl From<BlockingError> for AccountError {
    fn from(e: BlockingError) -> Self {
        Self::Internal(e.into())
    }
}

impl From<rusqlite::Error> for AccountError {
    fn from(e: rusqlite::Error) -> Self {
        Self::Internal(e.into())
    }
}

impl From<crate::db::conn::SqlError> for AccountError {
    fn from(e: crate::db::conn::SqlError) -> Self {
        Self::Internal(e.into())
    }
}

pub(crate) fn field(name: &str, message: impl Into<String>) -> FieldError {
    FieldError { field: name.into(), message: message.into() }
}

pub struct Registration {
    pub email: String,
    /// None: the account signs in with a passkey, added once the email is verified.
    pub password: Option<String>,
    pub display_name: String,
    pub legal_name: Option<String>,
    pub phone: Option<String>,
    /// Must be the current privacy-policy version once one is published.
    pub accepted_policy_version: Option<String>,
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
    /// Where phone numbers are read (`sms.default_region`) and which may be used
    /// (`sms.allowed_regions`).
    pub phone_regions: PhoneRegions,
    /// Account lockout on failed passwords (`rate_limit.lockout`).
    pub lockout: bool,
}

/// The keys accounts use for personal data.
pub struct AccountKeys {
    /// Seals the email, names and phone.
    pub pii: FieldCipher,
    /// `pii.key`: the blind indexes are derived from it ([`blind_index_keys`]).
    pub index_root: [u8; 32],
}

/// What a sign-in issues: browser sessions and API token families.
pub struct Credentials {
    pub sessions: Arc<Sessions>,
    pub tokens: Arc<Tokens>,
}

pub struct Accounts {
    pub(super) db: Db,
    clock: Arc<dyn Clock>,
    hasher: PasswordHasherPool,
    sessions: Arc<Sessions>,
    /// API token families (the grant opens them, a sign-out may end one).
    tokens: Arc<Tokens>,
    outbox_wake: Arc<Notify>,
    email_index_key: [u8; 32],
    phone_index_key: [u8; 32],
    /// Keys the stored hashes of recovery codes.
    recovery_key: [u8; 32],
    pub(super) pii: FieldCipher,
    phone_regions: PhoneRegions,
    pub(super) public_url: String,
    verify_hours: i64,
    /// Whether failed passwords lock accounts (off only for benchmarks and API fuzzing).
    lockout: bool,
    users: crate::cache::Cache<String, Arc<CachedUser>>,
    /// The passkeys' relying party; None when `public_url` cannot have passkeys.
    passkey_rp: Option<Arc<crate::mfa::passkeys::PasskeyRp>>,
    /// Emailed-link jobs still running (see `links.rs`).
    link_jobs: Arc<std::sync::atomic::AtomicUsize>,
}

/// The keys of the email and phone blind indexes, derived from `pii.key` (the index root,
/// which key rotation never replaces: the indexes would all change).
pub fn blind_index_keys(root: &[u8; 32]) -> ([u8; 32], [u8; 32]) {
    let derive = |label: &[u8]| -> [u8; 32] {
        crypto::keyed_hash(root, &[label]).try_into().expect("HMAC-SHA256 is 32 bytes")
    };
    (derive(b"email-index"), derive(b"phone-index"))
}

/// The cache notices of users between nodes (see `crate::db::notices`).
const USERS_TOPIC: &str = "user";

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
        credentials: Credentials,
        outbox_wake: Arc<Notify>,
        keys: AccountKeys,
        settings: AccountSettings,
    ) -> Self {
        let (index_key, phone_index_key) = blind_index_keys(&keys.index_root);
        let pii = keys.pii;
        // Recovery-code hashes are keyed from the same root as the blind indexes.
        let recovery_key: [u8; 32] = crypto::keyed_hash(&keys.index_root, &[b"recovery-codes"])
            .try_into()
            .expect("HMAC-SHA256 is 32 bytes");
        let users = crate::cache::with_ttl(100_000, USER_CACHE_TTL);
        // A user disabled, demoted or changed on another node is dropped here too.
        db.drop_on_notice(USERS_TOPIC, &users);
        let passkey_rp = match crate::mfa::passkeys::PasskeyRp::new(&settings.public_url) {
            Ok(rp) => Some(Arc::new(rp)),
            Err(why) => {
                tracing::info!("passkeys are off: {why}");
                None
            }
        };
        Self {
            db,
            clock,
            hasher,
            sessions: credentials.sessions,
            tokens: credentials.tokens,
            outbox_wake,
            email_index_key: index_key,
            phone_index_key,
            recovery_key,
            pii,
            phone_regions: settings.phone_regions,
            public_url: settings.public_url,
            verify_hours: settings.verify_hours,
            lockout: settings.lockout,
            users,
            passkey_rp,
            link_jobs: Arc::default(),
        }
    }

    /// Seals and opens personal data.
    pub fn pii(&self) -> &FieldCipher {
        &self.pii
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

    /// A typed phone number in E.164, or a validation error on `field_name` (also for a
    /// number outside the allowed regions).
    pub fn e164(&self, raw: &str, field_name: &str) -> Result<String, AccountError> {
        self.phone_regions
            .to_e164(raw)
            .map_err(|m| AccountError::Validation(vec![field(field_name, m)]))
    }

    fn link(&self, page: &str, token: &str) -> String {
        format!("{}/{page}?token={token}", self.public_url)
    }

    async fn find_by_email(&self, email: &str) -> Result<Option<User>, AccountError> {
        let index = self.email_index(email);
        let pii = self.pii.clone();
        Ok(self
            .db
            .run_conn(move |c| store::find_by_email_index(c, &pii, &index).map_err(DbError::from))
            .await?)
    }

    /// A user for read-only views (who am I, profile), from a short-lived cache so that a
    /// session check costs no query. Every change made here drops the entry; a change made by
    /// another process (the CLI) is seen within [`USER_CACHE_TTL`].
    pub async fn user(&self, user_id: &str) -> Result<Option<Arc<CachedUser>>, AccountError> {
        if let Some(user) = self.users.get(user_id) {
            return Ok(Some(user));
        }
        let Some(user) = self.user_from_db(user_id).await? else { return Ok(None) };
        let user = Arc::new(CachedUser::new(user));
        self.users.insert(user_id.to_string(), user.clone());
        Ok(Some(user))
    }

    async fn user_from_db(&self, user_id: &str) -> Result<Option<User>, AccountError> {
        let id = user_id.to_string();
        let pii = self.pii.clone();
        Ok(self
            .db
            .run_conn(move |c| store::find_by_id(c, &pii, &id).map_err(DbError::from))
            .await?)
    }

    /// Drops a user's cached copy after a change, here and on the other nodes.
    pub fn forget_user(&self, user_id: &str) {
        self.users.invalidate(user_id);
        self.db.announce_soon(USERS_TOPIC, vec![user_id.to_string()]);
    }

    /// After a transaction that ended everything `user_id` was signed in with
    /// ([`Sessions::end_all_in`]) committed: drops the ended credentials and the user's cached
    /// copy.
    pub async fn forget_signed_out(&self, user_id: &str, ended: &crate::sessions::Ended) {
        self.sessions.forget_ended(ended).await;
        self.forget_user(user_id);
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
    conn: &Conn,
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
