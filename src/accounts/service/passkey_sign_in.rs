//! Signing in with a passkey (no email typed: the passkey names its account), and adding a
//! passkey with an emailed link (a password-reset link, or the setup token a password-less
//! account's verification hands out), which is how a passkey-only student gets back in.

use serde_json::Value;

use super::mfa::{notify_mfa, open_session};
use super::passkeys::{PasskeyChallenge, PasskeyView};
use super::*;
use crate::identity::Amr;
use crate::mfa::passkey_store::{self, REGISTER, SIGN_IN};
use crate::mfa::passkeys::CeremonyError;
use crate::notify::templates::MfaChange;

/// Why an emailed link may not add a passkey to this account, if it may not: a disabled
/// account, or one with two-step sign-in, where the link alone would otherwise replace the
/// mailbox and a TOTP code by the mailbox alone (a passkey is two factors).
fn refuse_link_setup(conn: &Conn, user_id: &str) -> Result<(), AccountError> {
    if store::is_disabled(conn, user_id)? {
        return Err(AccountError::AccountDisabled);
    }
    if crate::mfa::totp::enabled(conn, user_id)? {
        return Err(AccountError::SecondFactorRequired);
    }
    Ok(())
}

impl Accounts {
    /// Begins a sign-in that any of the site's passkeys may answer.
    pub async fn start_passkey_sign_in(&self) -> Result<PasskeyChallenge, AccountError> {
        let rp = self.passkey_rp()?;
        let started = rp.start_sign_in().map_err(AccountError::Internal)?;
        self.keep_challenge(SIGN_IN, None, started).await
    }

    /// The credential id an answer claims, for the rate limit (before anything is checked).
    pub fn passkey_claimed_id(&self, answer: &Value) -> Option<String> {
        let claimed = self.passkey_rp.as_ref()?.claimed(answer).ok()?;
        Some(crypto::base64url(
            &crypto::hash_token(&crypto::base64url(&claimed.credential_id))[..8],
        ))
    }

    /// Checks a sign-in's answer: the challenge (once, within 5 minutes), the passkey it
    /// names and its account, the signature, origin, RP id, user verification and counter.
    /// A refusal says nothing of which check failed; the audit log and server log do.
    pub async fn passkey_sign_in(
        &self,
        challenge_id: &str,
        answer: Value,
        remember_me: bool,
        meta: &RequestMeta,
    ) -> Result<SignedIn, AccountError> {
        let rp = self.passkey_rp()?;
        let hash = super::passkeys::challenge_hash(challenge_id)?;
        let claimed = rp.claimed(&answer).map_err(|e| match e {
            CeremonyError::Malformed(_) => AccountError::PasskeyMalformed,
            _ => AccountError::PasskeyNotAccepted,
        })?;
        let (now, meta, pii) = (self.now(), meta.clone(), self.pii.clone());
        let outcome = self
            .db
            .run_conn(move |conn| {
                let tx = conn.transaction()?;
                let ip = meta.ip.as_deref();
                let challenge = passkey_store::take_challenge(&tx, &hash)?
                    .filter(|c| c.purpose == SIGN_IN && c.expires_at > now);
                let Some(challenge) = challenge else {
                    tx.commit()?;
                    return Ok(Err(AccountError::PasskeyChallengeInvalid));
                };
                let stored = passkey_store::by_credential_id(&tx, &pii, &claimed.credential_id)?
                    .filter(|p| p.user_id == claimed.user_id);
                let Some(mut stored) = stored else {
                    let event = AuditEvent {
                        at: now,
                        actor_id: None,
                        action: actions::LOGIN,
                        subject_id: None,
                        ip,
                        success: false,
                        details: serde_json::json!({"method": "passkey", "reason": "unknown_passkey"}),
                    };
                    audit::record(&tx, &event)?;
                    tx.commit()?;
                    return Ok(Err(AccountError::PasskeyNotAccepted));
                };
                let refused = |reason: &str| {
                    AuditEvent::by_user(now, &stored.user_id, actions::LOGIN, ip).failed().with_details(
                        serde_json::json!({"method": "passkey", "passkey_id": stored.id, "reason": reason}),
                    )
                };
                let result = match rp.finish_sign_in(&claimed, &challenge.state, &stored.passkey) {
                    Ok(result) => result,
                    Err(CeremonyError::CounterWentBackwards) => {
                        let event = AuditEvent::by_user(
                            now,
                            &stored.user_id,
                            actions::PASSKEY_COUNTER_WENT_BACKWARDS,
                            ip,
                        )
                        .failed()
                        .with_details(serde_json::json!({"passkey_id": stored.id}));
                        audit::record(&tx, &event)?;
                        tx.commit()?;
                        return Ok(Err(AccountError::PasskeyNotAccepted));
                    }
                    Err(e) => {
                        tracing::info!(passkey_id = %stored.id, "passkey sign-in refused: {e}");
                        audit::record(&tx, &refused("refused"))?;
                        tx.commit()?;
                        return Ok(Err(AccountError::PasskeyNotAccepted));
                    }
                };
                if store::is_disabled(&tx, &stored.user_id)? {
                    audit::record(&tx, &refused("account_disabled"))?;
                    tx.commit()?;
                    return Ok(Err(AccountError::AccountDisabled));
                }
                let user = store::find_by_id(&tx, &pii, &stored.user_id)?
                    .ok_or(AccountError::PasskeyNotAccepted)?;
                let synced = stored.synced || result.backup_eligible();
                stored.passkey.update_credential(&result);
                passkey_store::record_use(&tx, &stored.id, &stored.passkey, synced, now)?;
                let key = if synced { Amr::SOFTWARE_KEY } else { Amr::HARDWARE_KEY };
                let amr = key.with(Amr::USER_VERIFIED);
                let session =
                    open_session(&tx, &user.id, remember_me, amr, now, &meta, "passkey")?;
                tx.commit()?;
                Ok::<_, AccountError>(Ok((user, session)))
            })
            .await?;
        let (user, session) = outcome?;
        let csrf = self.sessions.csrf_token(&session.token);
        Ok(SignedIn { user, session, csrf })
    }

    /// Begins adding a passkey with an emailed link's token (not spent until the passkey is
    /// added).
    pub async fn start_passkey_setup(&self, token: &str) -> Result<PasskeyChallenge, AccountError> {
        let rp = self.passkey_rp()?;
        let hash = token_hash(token)?;
        let (now, pii) = (self.now(), self.pii.clone());
        let user = self
            .db
            .run_conn(move |conn| {
                let token = usable_token(conn, &hash, store::RESET_PASSWORD, now)?;
                refuse_link_setup(conn, &token.user_id)?;
                store::find_by_id(conn, &pii, &token.user_id)?.ok_or(AccountError::InvalidToken)
            })
            .await?;
        self.begin_registration(&rp, &user).await
    }

    /// Adds a passkey with an emailed link: like a password reset, it spends the link, counts
    /// the email as verified, lifts the lockout and ends every session.
    pub async fn finish_passkey_setup(
        &self,
        token: &str,
        challenge_id: &str,
        name: &str,
        answer: Value,
        meta: &RequestMeta,
    ) -> Result<PasskeyView, AccountError> {
        let name = super::passkeys::passkey_name(name)?;
        let rp = self.passkey_rp()?;
        let token_hash = token_hash(token)?;
        let hash = super::passkeys::challenge_hash(challenge_id)?;
        let (now, ip, pii) = (self.now(), meta.ip.clone(), self.pii.clone());
        let outcome = self
            .db
            .run_conn(move |conn| {
                let tx = conn.transaction()?;
                let link = usable_token(&tx, &token_hash, store::RESET_PASSWORD, now)?;
                refuse_link_setup(&tx, &link.user_id)?;
                let challenge = passkey_store::take_challenge(&tx, &hash)?.filter(|c| {
                    c.purpose == REGISTER
                        && c.expires_at > now
                        && c.user_id.as_deref() == Some(&link.user_id)
                });
                let Some(challenge) = challenge else {
                    tx.commit()?;
                    return Ok(Err(AccountError::PasskeyChallengeInvalid));
                };
                let user = store::find_by_id(&tx, &pii, &link.user_id)?
                    .ok_or(AccountError::InvalidToken)?;
                let stored = match super::passkeys::register_in(
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
                if !store::consume_email_token(&tx, &token_hash, now)? {
                    return Err(AccountError::TokenUsed);
                }
                crate::accounts::events::email_verified_in(&tx, &user.id, now)?;
                lockout::clear(&tx, &user.id)?;
                let ended = Sessions::end_all_in(&tx, &user.id, None, now, "passkey_added")?;
                super::passkeys::audit_passkey(
                    &tx,
                    &user.id,
                    actions::PASSKEY_ADDED,
                    &stored.id,
                    now,
                    ip.as_deref(),
                )?;
                notify_mfa(&tx, &pii, &user, MfaChange::PasskeyAdded { name: name.clone() }, now)?;
                tx.commit()?;
                Ok::<_, AccountError>(Ok((user.id, ended, PasskeyView::from(stored))))
            })
            .await?;
        let (user_id, ended, view) = outcome?;
        self.forget_signed_out(&user_id, &ended).await;
        self.wake_outbox();
        Ok(view)
    }
}
