//! Second factors: TOTP enrolment, confirmation and removal, recovery codes, and the second
//! step of a password sign-in. Every change is audited and emailed to the owner; every wrong
//! or replayed code is audited as a failure and counted per account (see
//! [`lockout`](crate::accounts::lockout)): past the limit the account's second factors pause,
//! and while paused no code is evaluated anywhere (sign-in, token grant, turning TOTP off, new
//! recovery codes).

use super::*;
use crate::identity::Amr;
use crate::mfa::totp::{self, CodeCheck};
use crate::notify::templates::MfaChange;

/// What enrolment hands the user: the secret to type or the QR code to scan.
pub struct TotpEnrolment {
    /// Base32, unpadded.
    pub secret: String,
    pub otpauth_uri: String,
    pub qr_svg: String,
}

/// A right password: either a session, or a pending sign-in that needs a second factor.
pub enum LoginOutcome {
    SignedIn(Box<SignedIn>),
    SecondFactor { mfa_token: String },
}

/// The TOTP and recovery-code state of an account.
pub struct MfaStatus {
    pub totp_enabled: bool,
    pub recovery_codes_left: i64,
}

/// What a second-factor code turned out to be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum FactorCheck {
    Totp,
    RecoveryCode,
    Wrong,
    Replayed,
}

impl FactorCheck {
    pub(super) fn accepted(self) -> bool {
        matches!(self, FactorCheck::Totp | FactorCheck::RecoveryCode)
    }

    pub(super) fn name(self) -> &'static str {
        match self {
            FactorCheck::Totp => "totp",
            FactorCheck::RecoveryCode => "recovery_code",
            FactorCheck::Wrong => "wrong",
            FactorCheck::Replayed => "replayed",
        }
    }
}

/// Checks a TOTP code (or, when `allow_recovery`, a recovery code) of an account with TOTP on,
/// and spends it when right. Runs inside the caller's transaction.
pub(super) fn spend_factor(
    conn: &Conn,
    pii: &FieldCipher,
    recovery_key: &[u8; 32],
    user_id: &str,
    code: &str,
    now: i64,
    allow_recovery: bool,
) -> SqlResult<FactorCheck> {
    let Some(credential) = totp::credential(conn, pii, user_id)?.filter(|c| c.confirmed) else {
        return Ok(FactorCheck::Wrong);
    };
    if code.len() > 64 {
        return Ok(FactorCheck::Wrong);
    }
    if totp::looks_like_recovery_code(code) {
        if !allow_recovery {
            return Ok(FactorCheck::Wrong);
        }
        let hash = totp::recovery_code_hash(recovery_key, code);
        return Ok(if totp::use_recovery_code(conn, user_id, &hash, now)? {
            FactorCheck::RecoveryCode
        } else {
            FactorCheck::Wrong
        });
    }
    Ok(match totp::check_code(&credential.secret, code, now, credential.last_step) {
        CodeCheck::Accepted(step) if totp::use_step(conn, user_id, step)? => FactorCheck::Totp,
        CodeCheck::Accepted(_) | CodeCheck::Replayed => FactorCheck::Replayed,
        CodeCheck::Wrong => FactorCheck::Wrong,
    })
}

/// Audits a second factor entered at sign-in (or for a token), right or not.
pub(super) fn audit_factor(
    conn: &Conn,
    user_id: &str,
    check: FactorCheck,
    now: i64,
    ip: Option<&str>,
    purpose: &str,
) -> SqlResult<()> {
    let event = AuditEvent::by_user(now, user_id, actions::LOGIN_SECOND_FACTOR, ip)
        .with_details(serde_json::json!({"result": check.name(), "for": purpose}));
    let event = if check.accepted() { event } else { event.failed() };
    Ok(audit::record(conn, &event)?)
}

/// While the account's second factors are paused: the refusal to answer, without looking at
/// the code (and audited). None when they are not paused.
pub(super) fn paused_refusal(
    conn: &Conn,
    user_id: &str,
    now: i64,
    ip: Option<&str>,
    purpose: &str,
) -> SqlResult<Option<AccountError>> {
    let Some(until) = lockout::mfa_paused_until(conn, user_id, now)? else { return Ok(None) };
    let event = AuditEvent::by_user(now, user_id, actions::LOGIN_SECOND_FACTOR, ip)
        .failed()
        .with_details(serde_json::json!({"result": "paused", "for": purpose}));
    audit::record(conn, &event)?;
    Ok(Some(AccountError::MfaThrottled { retry_after: (until - now).max(1) as u64 }))
}

/// Counts a wrong second factor towards the account's pause; when it pauses, the pause is
/// audited and the owner emailed at the first pause of a series. True when it paused.
pub(super) fn count_factor_failure(
    conn: &Conn,
    pii: &FieldCipher,
    user: &User,
    now: i64,
    ip: Option<&str>,
) -> SqlResult<bool> {
    let Some((until, level)) = lockout::record_mfa_failure(conn, &user.id, now)? else {
        return Ok(false);
    };
    let event = AuditEvent {
        actor_id: None,
        ..AuditEvent::by_user(now, &user.id, actions::MFA_PAUSED, ip)
    }
    .with_details(serde_json::json!({"until": until, "level": level}));
    audit::record(conn, &event)?;
    if let (1, Some(to)) = (level, user.email.as_deref()) {
        let brand = templates::Brand { product: PRODUCT, campus: user.campus_name.as_deref() };
        let minutes = ((until - now) / 60).max(1);
        notify::enqueue_email(
            conn,
            pii,
            &templates::second_factor_paused(&brand, to, &user.display_name, minutes),
            now,
        )?;
    }
    Ok(true)
}

pub(super) fn notify_mfa(
    conn: &Conn,
    pii: &FieldCipher,
    user: &User,
    change: MfaChange,
    now: i64,
) -> SqlResult<()> {
    if let Some(to) = user.email.as_deref() {
        let brand = templates::Brand { product: PRODUCT, campus: user.campus_name.as_deref() };
        notify::enqueue_email(
            conn,
            pii,
            &templates::mfa_changed(&brand, to, &user.display_name, change),
            now,
        )?;
    }
    Ok(())
}

fn wrong_code() -> AccountError {
    AccountError::Validation(vec![field(
        "code",
        "This code is not right. Enter the current 6-digit code from your authenticator app.",
    )])
}

fn qr_svg(text: &str) -> Result<String, AccountError> {
    use qrcode::render::svg;
    let code = qrcode::QrCode::new(text.as_bytes())
        .map_err(|e| AccountError::Internal(anyhow::anyhow!("QR code: {e}")))?;
    Ok(code
        .render::<svg::Color<'_>>()
        .min_dimensions(200, 200)
        .dark_color(svg::Color("#000000"))
        .light_color(svg::Color("#ffffff"))
        .build())
}

impl Accounts {
    /// The owner proves themselves before a change to their second factors: with the password,
    /// or, for an account without one (it signs in with passkeys), by a browser sign-in within
    /// the last [`super::passkeys::RECENT_SIGN_IN_SECONDS`].
    async fn confirm_owner(
        &self,
        principal: &Principal,
        user: &User,
        password: &str,
        check: PasswordCheck,
        meta: &RequestMeta,
    ) -> Result<(), AccountError> {
        if user.password_hash.is_none() {
            return if self.signed_in_recently(principal) {
                Ok(())
            } else {
                Err(AccountError::ReauthenticationRequired)
            };
        }
        if password.is_empty() {
            return Err(AccountError::Validation(vec![field("password", "Enter your password.")]));
        }
        if !self.confirm_password(user, password, check, meta).await? {
            return Err(AccountError::Validation(vec![field(
                "password",
                "This is not your current password.",
            )]));
        }
        Ok(())
    }

    pub async fn mfa_status(&self, user_id: &str) -> Result<MfaStatus, AccountError> {
        let id = user_id.to_string();
        Ok(self
            .db
            .run_conn(move |c| {
                Ok::<_, DbError>(MfaStatus {
                    totp_enabled: totp::enabled(c, &id)?,
                    recovery_codes_left: totp::unused_recovery_codes(c, &id)?,
                })
            })
            .await?)
    }

    /// Starts TOTP enrolment with a new secret (restarting one that was not confirmed).
    pub async fn start_totp(
        &self,
        principal: &Principal,
        meta: &RequestMeta,
    ) -> Result<TotpEnrolment, AccountError> {
        let user =
            self.user_from_db(&principal.user_id).await?.ok_or(AccountError::InvalidCredentials)?;
        let secret = totp::new_secret();
        let label = user.email.clone().or(user.phone.clone()).unwrap_or(user.id.clone());
        let (user_id, now, ip) = (user.id.clone(), self.now(), meta.ip.clone());
        let pii = self.pii.clone();
        self.db
            .run_conn(move |conn| {
                let tx = conn.transaction()?;
                if totp::enabled(&tx, &user_id)? {
                    return Err(AccountError::TotpAlreadyEnabled);
                }
                totp::start_enrolment(&tx, &pii, &user_id, &secret, now)?;
                let event = AuditEvent::by_user(
                    now,
                    &user_id,
                    actions::TOTP_ENROLMENT_STARTED,
                    ip.as_deref(),
                );
                audit::record(&tx, &event)?;
                tx.commit()?;
                Ok(())
            })
            .await?;
        let generator = totp::totp(&secret, &label);
        let otpauth_uri = generator
            .to_url()
            .map_err(|e| AccountError::Internal(anyhow::anyhow!("otpauth URI: {e}")))?;
        Ok(TotpEnrolment {
            secret: generator.secret().to_base32(),
            qr_svg: qr_svg(&otpauth_uri)?,
            otpauth_uri,
        })
    }

    /// Confirms enrolment with a code from the app: TOTP is on from now, and the ten recovery
    /// codes returned here are shown this once.
    pub async fn confirm_totp(
        &self,
        principal: &Principal,
        code: &str,
        meta: &RequestMeta,
    ) -> Result<Vec<String>, AccountError> {
        let codes = totp::new_recovery_codes();
        let hashes: Vec<Vec<u8>> =
            codes.iter().map(|c| totp::recovery_code_hash(&self.recovery_key, c)).collect();
        let (user_id, code, now, ip) =
            (principal.user_id.clone(), code.to_string(), self.now(), meta.ip.clone());
        let pii = self.pii.clone();
        self.db
            .run_conn(move |conn| {
                let tx = conn.transaction()?;
                let credential =
                    totp::credential(&tx, &pii, &user_id)?.ok_or(AccountError::TotpNotStarted)?;
                if credential.confirmed {
                    return Err(AccountError::TotpAlreadyEnabled);
                }
                let CodeCheck::Accepted(step) =
                    totp::check_code(&credential.secret, &code, now, credential.last_step)
                else {
                    return Err(wrong_code());
                };
                let user = store::find_by_id(&tx, &pii, &user_id)?
                    .ok_or(AccountError::InvalidCredentials)?;
                totp::use_step(&tx, &user_id, step)?;
                totp::confirm(&tx, &user_id, now)?;
                totp::replace_recovery_codes(&tx, &user_id, &hashes, now)?;
                audit::record(
                    &tx,
                    &AuditEvent::by_user(now, &user_id, actions::TOTP_ENABLED, ip.as_deref()),
                )?;
                notify_mfa(&tx, &pii, &user, MfaChange::Enabled, now)?;
                tx.commit()?;
                Ok(())
            })
            .await?;
        self.wake_outbox();
        Ok(codes)
    }

    /// Turns TOTP off; needs the password and a current TOTP or recovery code. Both count in
    /// the account's lockouts (the password's and the second factors'), so that a stolen
    /// session cannot guess them.
    pub async fn disable_totp(
        &self,
        principal: &Principal,
        password: &str,
        code: &str,
        meta: &RequestMeta,
    ) -> Result<(), AccountError> {
        let user =
            self.user_from_db(&principal.user_id).await?.ok_or(AccountError::InvalidCredentials)?;
        self.confirm_owner(principal, &user, password, PasswordCheck::DisableTotp, meta).await?;
        let (code, now, ip, key) =
            (code.to_string(), self.now(), meta.ip.clone(), self.recovery_key);
        let pii = self.pii.clone();
        // Whether mail was queued (a pause, or the notice): the outbox is woken for it.
        let (outcome, woken) = self
            .db
            .run_conn(move |conn| {
                let tx = conn.transaction()?;
                if !totp::enabled(&tx, &user.id)? {
                    return Err(AccountError::TotpNotEnabled);
                }
                if let Some(refused) =
                    paused_refusal(&tx, &user.id, now, ip.as_deref(), "disable_totp")?
                {
                    tx.commit()?;
                    return Ok((Err(refused), false));
                }
                let check = spend_factor(&tx, &pii, &key, &user.id, &code, now, true)?;
                audit_factor(&tx, &user.id, check, now, ip.as_deref(), "disable_totp")?;
                if !check.accepted() {
                    let paused = count_factor_failure(&tx, &pii, &user, now, ip.as_deref())?;
                    tx.commit()?;
                    return Ok((Err(wrong_code()), paused));
                }
                totp::remove(&tx, &user.id)?;
                audit::record(
                    &tx,
                    &AuditEvent::by_user(now, &user.id, actions::TOTP_DISABLED, ip.as_deref()),
                )?;
                notify_mfa(&tx, &pii, &user, MfaChange::Disabled, now)?;
                tx.commit()?;
                Ok((Ok(()), true))
            })
            .await?;
        if woken {
            self.wake_outbox();
        }
        outcome
    }

    /// Replaces the recovery codes (the password and a current TOTP code required, each
    /// counted in the account's lockouts); returns the new ones, shown this once.
    pub async fn regenerate_recovery_codes(
        &self,
        principal: &Principal,
        password: &str,
        code: &str,
        meta: &RequestMeta,
    ) -> Result<Vec<String>, AccountError> {
        let user =
            self.user_from_db(&principal.user_id).await?.ok_or(AccountError::InvalidCredentials)?;
        self.confirm_owner(principal, &user, password, PasswordCheck::RecoveryCodes, meta).await?;
        let codes = totp::new_recovery_codes();
        let hashes: Vec<Vec<u8>> =
            codes.iter().map(|c| totp::recovery_code_hash(&self.recovery_key, c)).collect();
        let (user_id, code, now, ip, key) =
            (user.id.clone(), code.to_string(), self.now(), meta.ip.clone(), self.recovery_key);
        let pii = self.pii.clone();
        // Whether mail was queued (a pause, or the notice): the outbox is woken for it.
        let (outcome, woken) = self
            .db
            .run_conn(move |conn| {
                let tx = conn.transaction()?;
                if !totp::enabled(&tx, &user_id)? {
                    return Err(AccountError::TotpNotEnabled);
                }
                if let Some(refused) =
                    paused_refusal(&tx, &user_id, now, ip.as_deref(), "recovery_codes")?
                {
                    tx.commit()?;
                    return Ok((Err(refused), false));
                }
                let check = spend_factor(&tx, &pii, &key, &user_id, &code, now, false)?;
                audit_factor(&tx, &user_id, check, now, ip.as_deref(), "recovery_codes")?;
                if !check.accepted() {
                    let paused = count_factor_failure(&tx, &pii, &user, now, ip.as_deref())?;
                    tx.commit()?;
                    return Ok((Err(wrong_code()), paused));
                }
                totp::replace_recovery_codes(&tx, &user_id, &hashes, now)?;
                audit::record(
                    &tx,
                    &AuditEvent::by_user(
                        now,
                        &user_id,
                        actions::RECOVERY_CODES_REGENERATED,
                        ip.as_deref(),
                    ),
                )?;
                notify_mfa(&tx, &pii, &user, MfaChange::RecoveryCodesRegenerated, now)?;
                tx.commit()?;
                Ok((Ok(()), true))
            })
            .await?;
        if woken {
            self.wake_outbox();
        }
        outcome.map(|()| codes)
    }
}

/// Opens a session after a complete sign-in, in the caller's transaction: clears the lockout,
/// issues the session (proved by `amr`) and audits the sign-in (`method`, as the audit log
/// names it).
pub(super) fn open_session(
    tx: &Conn,
    user_id: &str,
    remember_me: bool,
    amr: Amr,
    now: i64,
    meta: &RequestMeta,
    method: &str,
) -> Result<IssuedSession, AccountError> {
    lockout::clear(tx, user_id)?;
    let session = Sessions::issue(
        tx,
        user_id,
        remember_me,
        amr,
        now,
        meta.ip.as_deref(),
        meta.user_agent.as_deref(),
    )?;
    let event = AuditEvent::by_user(now, user_id, actions::LOGIN, meta.ip.as_deref())
        .with_details(serde_json::json!({"method": method, "remember_me": remember_me}));
    audit::record(tx, &event)?;
    Ok(session)
}
