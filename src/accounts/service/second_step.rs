//! The second step of a password sign-in (a pending sign-in's token and a TOTP or recovery
//! code) and the TOTP check of a token grant. Wrong and replayed codes are audited and count
//! towards the account's second-factor pause (see [`super::mfa`]).

use super::mfa::{
    FactorCheck, audit_factor, count_factor_failure, notify_mfa, open_session, paused_refusal,
    spend_factor,
};
use super::*;
use crate::identity::Amr;
use crate::mfa::totp;
use crate::notify::templates::MfaChange;

impl Accounts {
    /// The second step of a password sign-in: the pending sign-in's token and a TOTP or
    /// recovery code. A pending sign-in lasts [`totp::CHALLENGE_SECONDS`] and survives
    /// [`totp::CHALLENGE_ATTEMPTS`] wrong codes; every wrong code also counts towards the
    /// account's second-factor pause, during which no code is evaluated.
    pub async fn complete_login(
        &self,
        mfa_token: &str,
        code: &str,
        meta: &RequestMeta,
    ) -> Result<SignedIn, AccountError> {
        let mfa_token = mfa_token.trim();
        if mfa_token.is_empty() || mfa_token.len() > 128 {
            return Err(AccountError::MfaTokenInvalid);
        }
        let hash = crypto::hash_token(mfa_token);
        let (code, now, meta, key) =
            (code.to_string(), self.now(), meta.clone(), self.recovery_key);
        let pii = self.pii.clone();
        let (outcome, woken) = self
            .db
            .run_conn(move |conn| {
                let tx = conn.transaction()?;
                let challenge = totp::find_challenge(&tx, &hash)?
                    .filter(|c| c.expires_at > now)
                    .ok_or(AccountError::MfaTokenInvalid)?;
                let user = store::find_by_id(&tx, &pii, &challenge.user_id)?
                    .ok_or(AccountError::MfaTokenInvalid)?;
                // A password changed or reset since the password step ends the pending sign-in.
                let changed = store::password_changed_at_for_update(&tx, &user.id)?;
                if changed.is_some_and(|at| at > challenge.created_at) {
                    totp::delete_challenge(&tx, &hash)?;
                    tx.commit()?;
                    return Err(AccountError::MfaTokenInvalid);
                }
                if let Some(refused) =
                    paused_refusal(&tx, &user.id, now, meta.ip.as_deref(), "login")?
                {
                    tx.commit()?;
                    return Ok((Err(refused), false));
                }
                let check = spend_factor(&tx, &pii, &key, &user.id, &code, now, true)?;
                audit_factor(&tx, &user.id, check, now, meta.ip.as_deref(), "login")?;
                if !check.accepted() {
                    totp::fail_challenge(&tx, &hash)?;
                    let paused = count_factor_failure(&tx, &pii, &user, now, meta.ip.as_deref())?;
                    tx.commit()?;
                    return Ok((Err(AccountError::InvalidSecondFactor), paused));
                }
                totp::delete_challenge(&tx, &hash)?;
                if check == FactorCheck::RecoveryCode {
                    let remaining = totp::unused_recovery_codes(&tx, &user.id)?;
                    let event = AuditEvent::by_user(
                        now,
                        &user.id,
                        actions::RECOVERY_CODE_USED,
                        meta.ip.as_deref(),
                    )
                    .with_details(serde_json::json!({"remaining": remaining}));
                    audit::record(&tx, &event)?;
                    notify_mfa(&tx, &pii, &user, MfaChange::RecoveryCodeUsed { remaining }, now)?;
                }
                let first = if challenge.first_factor == Amr::PHONE_CODE {
                    "phone_code"
                } else {
                    "password"
                };
                let method = format!("{first}+{}", check.name());
                let amr = challenge.first_factor.with(Amr::ONE_TIME_CODE);
                let session =
                    open_session(&tx, &user.id, challenge.remember_me, amr, now, &meta, &method)?;
                tx.commit()?;
                let emailed = check == FactorCheck::RecoveryCode;
                Ok::<_, AccountError>((Ok((user, session)), emailed))
            })
            .await?;
        if woken {
            self.wake_outbox();
        }
        let (user, session) = outcome?;
        let csrf = self.sessions.csrf_token(&session.token);
        Ok(SignedIn { user, session, csrf })
    }

    /// For an API token grant: nothing when the account has no TOTP; otherwise a right,
    /// unused TOTP code is required (recovery codes are for the web sign-in). A wrong code
    /// counts towards the account's second-factor pause; while paused, no code is evaluated.
    /// True when a code was required and right.
    pub async fn check_totp_for_token(
        &self,
        user: &User,
        code: Option<&str>,
        meta: &RequestMeta,
    ) -> Result<bool, AccountError> {
        let (user, code, now, ip, key) = (
            user.clone(),
            code.map(str::to_string),
            self.now(),
            meta.ip.clone(),
            self.recovery_key,
        );
        let pii = self.pii.clone();
        let (outcome, paused) = self
            .db
            .run_conn(move |conn| {
                let tx = conn.transaction()?;
                if !totp::enabled(&tx, &user.id)? {
                    return Ok((Ok(false), false));
                }
                if let Some(refused) = paused_refusal(&tx, &user.id, now, ip.as_deref(), "token")? {
                    tx.commit()?;
                    return Ok((Err(refused), false));
                }
                let Some(code) = code else { return Ok((Err(AccountError::TotpRequired), false)) };
                let check = spend_factor(&tx, &pii, &key, &user.id, &code, now, false)?;
                audit_factor(&tx, &user.id, check, now, ip.as_deref(), "token")?;
                let paused = !check.accepted()
                    && count_factor_failure(&tx, &pii, &user, now, ip.as_deref())?;
                tx.commit()?;
                let outcome = if check.accepted() {
                    Ok(true)
                } else {
                    Err(AccountError::InvalidSecondFactor)
                };
                Ok::<_, AccountError>((outcome, paused))
            })
            .await?;
        if paused {
            self.wake_outbox();
        }
        outcome
    }
}
