//! Passkeys: adding one (signed in within the last 5 minutes or with the password again, or
//! with an emailed link for an account that has no way in), renaming and removing them, and
//! signing in with one. Each ceremony's challenge is used once, whatever its answer; every
//! change is audited and emailed to the owner; a signature counter that goes backwards is
//! refused and audited. A user-verified passkey is two factors: its session's `amr` says
//! `hwk` or `swk`, `user` and `mfa`, which two-step sign-in and the admins' rule accept.

use std::sync::Arc;

use serde_json::Value;

use super::mfa::notify_mfa;
use super::*;
use crate::mfa::passkey_store::{self, REGISTER, StoredPasskey};
use crate::mfa::passkeys::{self, CHALLENGE_SECONDS, CeremonyError, PasskeyRp};
use crate::notify::templates::MfaChange;
use signin::PasswordCheck;

/// A session at most this old may add a passkey without the password again.
pub const RECENT_SIGN_IN_SECONDS: i64 = 300;
const NAME_MAX: usize = 60;

/// A ceremony begun: the id to send back with the answer, and the browser's options.
pub struct PasskeyChallenge {
    pub challenge_id: String,
    pub public_key: Value,
}

/// A passkey as its owner sees it (never its key).
pub struct PasskeyView {
    pub id: String,
    pub name: String,
    pub created_at: i64,
    pub last_used_at: Option<i64>,
    pub synced: bool,
}

impl From<StoredPasskey> for PasskeyView {
    fn from(p: StoredPasskey) -> Self {
        Self {
            id: p.id,
            name: p.name,
            created_at: p.created_at,
            last_used_at: p.last_used_at,
            synced: p.synced,
        }
    }
}

/// An answer that was refused after its challenge was used up: the refusal is committed
/// with the challenge's removal (and its audit row), then returned.
type Committed<T> = Result<T, AccountError>;

pub(super) fn passkey_name(raw: &str) -> Result<String, AccountError> {
    clean_name(raw, NAME_MAX).map_err(|m| AccountError::Validation(vec![field("name", m)]))
}

pub(super) fn challenge_hash(challenge_id: &str) -> Result<Vec<u8>, AccountError> {
    let id = challenge_id.trim();
    if id.is_empty() || id.len() > 128 {
        return Err(AccountError::PasskeyChallengeInvalid);
    }
    Ok(crypto::hash_token(id))
}

fn ceremony_refusal(e: CeremonyError) -> AccountError {
    match e {
        CeremonyError::Malformed(_) => AccountError::PasskeyMalformed,
        CeremonyError::CounterWentBackwards
        | CeremonyError::NotDiscoverable
        | CeremonyError::Refused(_) => AccountError::PasskeyNotAccepted,
    }
}

/// Checks a registration's answer and stores the passkey, inside the caller's transaction
/// (which has taken the challenge). The outer error rolls back; the inner is a refusal.
#[allow(clippy::too_many_arguments)]
pub(super) fn register_in(
    tx: &Conn,
    rp: &PasskeyRp,
    pii: &FieldCipher,
    user: &User,
    state: &str,
    name: &str,
    answer: &Value,
    now: i64,
) -> Result<Committed<StoredPasskey>, AccountError> {
    let passkey = match rp.finish_registration(answer, state) {
        Ok(passkey) => passkey,
        Err(e) => {
            tracing::info!(user_id = %user.id, "passkey registration refused: {e}");
            return Ok(Err(ceremony_refusal(e)));
        }
    };
    let stored = StoredPasskey {
        id: format!("pk_{}", uuid::Uuid::new_v4().simple()),
        user_id: user.id.clone(),
        name: name.to_string(),
        synced: passkeys::synced(&passkey),
        passkey,
        created_at: now,
        last_used_at: None,
    };
    if !passkey_store::insert(tx, pii, &stored)? {
        return Ok(Err(AccountError::PasskeyAlreadyRegistered));
    }
    Ok(Ok(stored))
}

pub(super) fn audit_passkey(
    tx: &Conn,
    user_id: &str,
    action: &str,
    passkey_id: &str,
    now: i64,
    ip: Option<&str>,
) -> SqlResult<()> {
    let event = AuditEvent::by_user(now, user_id, action, ip)
        .with_details(serde_json::json!({"passkey_id": passkey_id}));
    Ok(audit::record(tx, &event)?)
}

impl Accounts {
    /// Whether the caller signed in within [`RECENT_SIGN_IN_SECONDS`]: a browser session only.
    /// An API access token's time is when it was refreshed, not when its holder signed in.
    pub(super) fn signed_in_recently(&self, principal: &Principal) -> bool {
        principal.method == AuthMethod::Session
            && self.now() - principal.created_at <= RECENT_SIGN_IN_SECONDS
    }

    pub(super) fn passkey_rp(&self) -> Result<Arc<PasskeyRp>, AccountError> {
        self.passkey_rp.clone().ok_or(AccountError::PasskeysUnavailable)
    }

    /// The account's passkeys, and whether it has a password.
    pub async fn passkeys(&self, user_id: &str) -> Result<(Vec<PasskeyView>, bool), AccountError> {
        let (id, pii) = (user_id.to_string(), self.pii.clone());
        Ok(self
            .db
            .run_conn(move |c| {
                let list = passkey_store::for_user(c, &pii, &id)?;
                let has_password = store::password_hash_of(c, &id)?.is_some();
                Ok::<_, DbError>((list.into_iter().map(PasskeyView::from).collect(), has_password))
            })
            .await?)
    }

    /// Begins adding a passkey: the session must be at most [`RECENT_SIGN_IN_SECONDS`] old,
    /// or the password given again (checked like every password check: a wrong one counts).
    pub async fn start_passkey_enrolment(
        &self,
        principal: &Principal,
        password: Option<&str>,
        meta: &RequestMeta,
    ) -> Result<PasskeyChallenge, AccountError> {
        let rp = self.passkey_rp()?;
        let user =
            self.user_from_db(&principal.user_id).await?.ok_or(AccountError::InvalidCredentials)?;
        if !self.signed_in_recently(principal) {
            let password = password.filter(|p| !p.is_empty());
            let (Some(password), Some(_)) = (password, &user.password_hash) else {
                return Err(AccountError::ReauthenticationRequired);
            };
            if !self.confirm_password(&user, password, PasswordCheck::AddPasskey, meta).await? {
                return Err(AccountError::Validation(vec![field(
                    "password",
                    "This is not your current password.",
                )]));
            }
        }
        self.begin_registration(&rp, &user).await
    }

    pub(super) async fn begin_registration(
        &self,
        rp: &PasskeyRp,
        user: &User,
    ) -> Result<PasskeyChallenge, AccountError> {
        let (id, pii) = (user.id.clone(), self.pii.clone());
        let existing = self
            .db
            .run_conn(move |c| passkey_store::for_user(c, &pii, &id).map_err(DbError::from))
            .await?;
        let existing = existing.iter().map(|p| p.passkey.cred_id().to_vec()).collect();
        let user_name = user.email.as_deref().or(user.phone.as_deref()).unwrap_or(&user.id);
        let started = rp
            .start_registration(&user.id, user_name, &user.display_name, existing)
            .map_err(AccountError::Internal)?;
        self.keep_challenge(REGISTER, Some(user.id.clone()), started).await
    }

    pub(super) async fn keep_challenge(
        &self,
        purpose: &'static str,
        user_id: Option<String>,
        started: passkeys::Started,
    ) -> Result<PasskeyChallenge, AccountError> {
        let (challenge_id, hash) = crypto::new_token();
        let now = self.now();
        let state = started.state;
        self.db
            .run_conn(move |c| {
                passkey_store::insert_challenge(
                    c,
                    &hash,
                    purpose,
                    user_id.as_deref(),
                    &state,
                    now,
                    now + CHALLENGE_SECONDS,
                )
                .map_err(DbError::from)
            })
            .await?;
        Ok(PasskeyChallenge { challenge_id, public_key: started.public_key })
    }

    /// Adds the passkey a signed-in owner's authenticator made for `challenge_id`.
    pub async fn finish_passkey_enrolment(
        &self,
        principal: &Principal,
        challenge_id: &str,
        name: &str,
        answer: Value,
        meta: &RequestMeta,
    ) -> Result<PasskeyView, AccountError> {
        let name = passkey_name(name)?;
        let rp = self.passkey_rp()?;
        let hash = challenge_hash(challenge_id)?;
        let (user_id, method, session) =
            (principal.user_id.clone(), principal.method, principal.session_id.clone());
        let (now, ip, pii) = (self.now(), meta.ip.clone(), self.pii.clone());
        let outcome = self
            .db
            .run_conn(move |conn| {
                let tx = conn.transaction()?;
                let challenge = passkey_store::take_challenge(&tx, &hash)?.filter(|c| {
                    c.purpose == REGISTER
                        && c.expires_at > now
                        && c.user_id.as_deref() == Some(&user_id)
                });
                let Some(challenge) = challenge else {
                    tx.commit()?;
                    return Ok(Err(AccountError::PasskeyChallengeInvalid));
                };
                if !Sessions::still_signed_in(&tx, method, &session)? {
                    return Err(AccountError::InvalidCredentials);
                }
                let user = store::find_by_id(&tx, &pii, &user_id)?
                    .ok_or(AccountError::InvalidCredentials)?;
                let stored = match register_in(
                    &tx,
                    &rp,
                    &pii,
                    &user,
                    &challenge.state,
                    &name,
                    &answer,
                    now,
                )? {
                    Ok(stored) => stored,
                    Err(refused) => {
                        tx.commit()?;
                        return Ok(Err(refused));
                    }
                };
                audit_passkey(
                    &tx,
                    &user.id,
                    actions::PASSKEY_ADDED,
                    &stored.id,
                    now,
                    ip.as_deref(),
                )?;
                notify_mfa(&tx, &pii, &user, MfaChange::PasskeyAdded { name: name.clone() }, now)?;
                tx.commit()?;
                Ok::<_, AccountError>(Ok(PasskeyView::from(stored)))
            })
            .await?;
        let view = outcome?;
        self.wake_outbox();
        Ok(view)
    }

    pub async fn rename_passkey(
        &self,
        principal: &Principal,
        passkey_id: &str,
        name: &str,
        meta: &RequestMeta,
    ) -> Result<PasskeyView, AccountError> {
        let name = passkey_name(name)?;
        let (user_id, id) = (principal.user_id.clone(), passkey_id.to_string());
        let (now, ip, pii) = (self.now(), meta.ip.clone(), self.pii.clone());
        let view = self
            .db
            .run_conn(move |conn| {
                let tx = conn.transaction()?;
                if !passkey_store::rename(&tx, &pii, &user_id, &id, &name)? {
                    return Err(AccountError::PasskeyNotFound);
                }
                let user = store::find_by_id(&tx, &pii, &user_id)?
                    .ok_or(AccountError::InvalidCredentials)?;
                audit_passkey(&tx, &user_id, actions::PASSKEY_RENAMED, &id, now, ip.as_deref())?;
                notify_mfa(&tx, &pii, &user, MfaChange::PasskeyRenamed { name }, now)?;
                let stored = passkey_store::for_user(&tx, &pii, &user_id)?
                    .into_iter()
                    .find(|p| p.id == id)
                    .ok_or(AccountError::PasskeyNotFound)?;
                tx.commit()?;
                Ok(PasskeyView::from(stored))
            })
            .await?;
        self.wake_outbox();
        Ok(view)
    }

    /// Removes a passkey, unless it is the account's only way in (no password, no other
    /// passkey): the student would then need an emailed link to get back in.
    pub async fn remove_passkey(
        &self,
        principal: &Principal,
        passkey_id: &str,
        meta: &RequestMeta,
    ) -> Result<(), AccountError> {
        let (user_id, id) = (principal.user_id.clone(), passkey_id.to_string());
        let (now, ip, pii) = (self.now(), meta.ip.clone(), self.pii.clone());
        self.db
            .run_conn(move |conn| {
                let tx = conn.transaction()?;
                let all = passkey_store::for_user_to_change(&tx, &pii, &user_id)?;
                let Some(removed) = all.iter().find(|p| p.id == id) else {
                    return Err(AccountError::PasskeyNotFound);
                };
                if all.len() == 1 && store::password_hash_of(&tx, &user_id)?.is_none() {
                    return Err(AccountError::LastSignInMethod);
                }
                passkey_store::delete(&tx, &user_id, &id)?;
                let user = store::find_by_id(&tx, &pii, &user_id)?
                    .ok_or(AccountError::InvalidCredentials)?;
                audit_passkey(&tx, &user_id, actions::PASSKEY_REMOVED, &id, now, ip.as_deref())?;
                let change = MfaChange::PasskeyRemoved { name: removed.name.clone() };
                notify_mfa(&tx, &pii, &user, change, now)?;
                tx.commit()?;
                Ok(())
            })
            .await?;
        self.wake_outbox();
        Ok(())
    }
}
