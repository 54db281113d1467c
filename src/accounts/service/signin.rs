//! Signing in with a password (and the lockout, which also counts the account's own password
//! checks), signing out, ending sessions.

use super::*;
use crate::identity::Amr;
use crate::sessions::Ended;

/// How a sign-in request stands with the captcha, for the lockout.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SignInGate {
    /// The captcha is on and the request brought no solution: an account locked since its
    /// last sign-in answers `CaptchaRequired`.
    pub captcha_missing: bool,
    /// The request brought a solved captcha and may be evaluated during a lockout pause (the
    /// web sign-in). False with the captcha off, and at the token endpoint, which keeps
    /// refusing during a pause.
    pub through_pause: bool,
}

/// Which check a wrong password was entered at, for its audit row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum PasswordCheck {
    SignIn,
    ChangePassword,
    DeleteAccount,
    DisableTotp,
    RecoveryCodes,
    AddPasskey,
}

impl PasswordCheck {
    fn name(self) -> Option<&'static str> {
        match self {
            PasswordCheck::SignIn => None,
            PasswordCheck::ChangePassword => Some("change_password"),
            PasswordCheck::DeleteAccount => Some("delete_account"),
            PasswordCheck::DisableTotp => Some("disable_totp"),
            PasswordCheck::RecoveryCodes => Some("recovery_codes"),
            PasswordCheck::AddPasskey => Some("add_passkey"),
        }
    }
}

impl Accounts {
    /// Whose lockout state a sign-in with this normalised email counts on: the account's, or
    /// (so that the answers are alike) the email's own when no account has it. None for a
    /// malformed email, which no account can have, or with the lockout off.
    fn lockout_subject(&self, email: &str, user: Option<&User>) -> Option<lockout::Subject> {
        if !self.lockout {
            return None;
        }
        match user {
            Some(user) => Some(lockout::Subject::Account(user.id.clone())),
            None if email::problem(email).is_none() => {
                Some(lockout::Subject::UnknownEmail(self.email_index(email)))
            }
            None => None,
        }
    }

    /// Audits a failed password and counts it towards the lockout of `subject` (the account's
    /// or the unknown email's); true when this failure locked it. An account's owner is emailed
    /// at the first lock of a series.
    async fn record_failed_password(
        &self,
        user: Option<User>,
        subject: Option<lockout::Subject>,
        check: PasswordCheck,
        now: i64,
        meta: RequestMeta,
    ) -> Result<bool, AccountError> {
        let pii = self.pii().clone();
        let locked = self
            .db
            .run_conn(move |conn| {
                let tx = conn.transaction()?;
                let user_id = user.as_ref().map(|u| u.id.as_str());
                let mut details = serde_json::json!({"reason": "invalid_credentials"});
                if let Some(name) = check.name() {
                    details["for"] = name.into();
                }
                let event = AuditEvent {
                    subject_id: user_id,
                    actor_id: user_id,
                    ..AuditEvent::by_user(now, "", actions::LOGIN, meta.ip.as_deref())
                }
                .failed()
                .with_details(details);
                audit::record(&tx, &event)?;
                let lock = match &subject {
                    Some(subject) => lockout::record_failure(&tx, subject, now)?,
                    None => None,
                };
                // An unknown email's lock has no one to tell and nothing to audit about.
                if let (Some((until, level)), Some(user)) = (lock, &user) {
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
                            &pii,
                            &templates::account_locked(&brand, to, &user.display_name, minutes),
                            now,
                        )?;
                    }
                }
                tx.commit()?;
                Ok::<_, AccountError>(lock.is_some())
            })
            .await?;
        if locked {
            self.wake_outbox();
        }
        Ok(locked)
    }

    /// Refuses a request for a throttled subject, after the same work as a password check and
    /// with the refusal audited.
    async fn refuse_throttled(
        &self,
        password: &str,
        user_id: Option<String>,
        until: i64,
        now: i64,
        meta: &RequestMeta,
    ) -> AccountError {
        // The same work and the same answer whatever the password.
        if let Err(e) = self.hasher.verify(password, None).await {
            return e.into();
        }
        let ip = meta.ip.clone();
        let audited = self
            .db
            .run_conn(move |conn| {
                let event = AuditEvent {
                    subject_id: user_id.as_deref(),
                    actor_id: user_id.as_deref(),
                    ..AuditEvent::by_user(now, "", actions::LOGIN_THROTTLED, ip.as_deref())
                }
                .failed();
                audit::record(conn, &event).map_err(DbError::from)
            })
            .await;
        match audited {
            Ok(()) => AccountError::Throttled { retry_after: (until - now).max(1) as u64 },
            Err(e) => e.into(),
        }
    }

    /// Checks an email and password the way every sign-in does: the same answer and cost for
    /// a wrong password and an unknown email (whose lockout state is kept like an account's),
    /// a failure audited, and an unverified account told so only when the password is right.
    /// On success the caller stores the upgraded hash, if any, in its own transaction.
    ///
    /// During a lockout pause the answer is `Throttled` whatever the password, unless
    /// `gate.through_pause` (a solved captcha at the web sign-in): then the password is
    /// evaluated like any other. Past the hard cap it is `Throttled` in any case. An account
    /// that was locked since its last sign-in is "being throttled": with
    /// `gate.captcha_missing` it answers `CaptchaRequired` after the same work as any other
    /// answer.
    pub async fn check_password(
        &self,
        raw_email: &str,
        password: &str,
        gate: SignInGate,
        meta: &RequestMeta,
    ) -> Result<(User, Verified), AccountError> {
        let email = email::normalize(raw_email);
        let user = match email::problem(&email) {
            None => self.find_by_email(&email).await?,
            Some(_) => None,
        };
        let now = self.now();
        let subject = self.lockout_subject(&email, user.as_ref());
        if let Some(subject) = subject.clone() {
            let standing = self
                .db
                .run_conn(move |c| lockout::standing(c, &subject, now).map_err(DbError::from))
                .await?;
            let refused_until =
                if gate.through_pause { standing.capped_until } else { standing.refused_until() };
            if let Some(until) = refused_until {
                let user_id = user.as_ref().map(|u| u.id.clone());
                return Err(self.refuse_throttled(password, user_id, until, now, meta).await);
            }
            if standing.was_locked && gate.captcha_missing {
                self.hasher.verify(password, None).await?;
                return Err(AccountError::CaptchaRequired);
            }
        }
        let verified = self
            .hasher
            .verify(password, user.as_ref().and_then(|u| u.password_hash.as_deref()))
            .await?;
        let user = match user {
            Some(user) if verified != Verified::No => user,
            failed => {
                self.record_failed_password(
                    failed,
                    subject,
                    PasswordCheck::SignIn,
                    now,
                    meta.clone(),
                )
                .await?;
                return Err(AccountError::InvalidCredentials);
            }
        };
        // Told only to someone who knows the password, like an unverified email.
        let id = user.id.clone();
        if self.db.run_conn(move |c| store::is_disabled(c, &id).map_err(DbError::from)).await? {
            return Err(AccountError::AccountDisabled);
        }
        if user.email_verified_at.is_none() {
            return Err(AccountError::EmailNotVerified);
        }
        Ok((user, verified))
    }

    /// Checks the signed-in owner's current password before a sensitive change (a password
    /// change, deleting the account, turning off TOTP, new recovery codes), so that a stolen
    /// session cannot guess it outside the lockout: refused (`Throttled`) while the account's
    /// sign-ins are paused or capped, a wrong one counted like a failed sign-in. Returns
    /// whether the password is right.
    pub(super) async fn confirm_password(
        &self,
        user: &User,
        password: &str,
        check: PasswordCheck,
        meta: &RequestMeta,
    ) -> Result<bool, AccountError> {
        let now = self.now();
        let subject = self.lockout.then(|| lockout::Subject::Account(user.id.clone()));
        if let Some(subject) = subject.clone() {
            let standing = self
                .db
                .run_conn(move |c| lockout::standing(c, &subject, now).map_err(DbError::from))
                .await?;
            if let Some(until) = standing.refused_until() {
                return Err(self
                    .refuse_throttled(password, Some(user.id.clone()), until, now, meta)
                    .await);
            }
        }
        if self.hasher.verify(password, user.password_hash.as_deref()).await? != Verified::No {
            return Ok(true);
        }
        self.record_failed_password(Some(user.clone()), subject, check, now, meta.clone()).await?;
        Ok(false)
    }

    /// [`Accounts::confirm_password`] for account deletion, which lives in `privacy`.
    pub async fn confirm_password_to_delete(
        &self,
        user_id: &str,
        password: &str,
        meta: &RequestMeta,
    ) -> Result<bool, AccountError> {
        let user = self.user_from_db(user_id).await?.ok_or(AccountError::InvalidCredentials)?;
        self.confirm_password(&user, password, PasswordCheck::DeleteAccount, meta).await
    }

    /// A password sign-in: a session, or (with TOTP on) a pending sign-in that
    /// [`Accounts::complete_login`] finishes with a second factor.
    pub async fn login(
        &self,
        raw_email: &str,
        password: &str,
        remember_me: bool,
        gate: SignInGate,
        meta: &RequestMeta,
    ) -> Result<LoginOutcome, AccountError> {
        let (user, verified) = self.check_password(raw_email, password, gate, meta).await?;
        let (now, meta) = (self.now(), meta.clone());
        let signed_in_user = user.clone();
        let (mfa_token, mfa_hash) = crypto::new_token();
        let session = self
            .db
            .run_conn(move |conn| {
                let tx = conn.transaction()?;
                // A reset or change that committed while the hash was checked wins.
                if store::password_hash_for_update(&tx, &user.id)? != user.password_hash {
                    return Err(AccountError::InvalidCredentials);
                }
                if let (Verified::YesRehashed(new), Some(old)) = (&verified, &user.password_hash) {
                    store::upgrade_password_hash(&tx, &user.id, old, new)?;
                }
                if crate::mfa::totp::enabled(&tx, &user.id)? {
                    crate::mfa::totp::create_challenge(
                        &tx,
                        &mfa_hash,
                        &user.id,
                        remember_me,
                        Amr::PASSWORD,
                        now,
                    )?;
                    tx.commit().map_err(DbError::from)?;
                    return Ok(None);
                }
                let session = mfa::open_session(
                    &tx,
                    &user.id,
                    remember_me,
                    Amr::PASSWORD,
                    now,
                    &meta,
                    "password",
                )?;
                tx.commit().map_err(DbError::from)?;
                Ok::<_, AccountError>(Some(session))
            })
            .await?;
        let Some(session) = session else {
            return Ok(LoginOutcome::SecondFactor { mfa_token });
        };
        let csrf = self.sessions.csrf_token(&session.token);
        Ok(LoginOutcome::SignedIn(Box::new(SignedIn { user: signed_in_user, session, csrf })))
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
            .run_conn(move |conn| {
                let tx = conn.transaction()?;
                let ended = match method {
                    AuthMethod::Session => {
                        Sessions::sign_out_in(&tx, &user_id, &id, now, "signed_out")?
                            .unwrap_or_default()
                    }
                    AuthMethod::Bearer => {
                        crate::tokens::revoke_family(&tx, &id, now, "logout")
                            .map_err(DbError::from)?;
                        Ended::default()
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
        self.sessions.forget_ended(&ended).await;
        if method == AuthMethod::Bearer {
            self.tokens.forget_families(std::slice::from_ref(&principal.session_id));
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
            .run_conn(move |conn| {
                let tx = conn.transaction()?;
                let Some(ended) =
                    Sessions::sign_out_in(&tx, &user_id, &id, now, "session_revoked")?
                else {
                    return Err(AccountError::SessionNotFound);
                };
                let event =
                    AuditEvent::by_user(now, &user_id, actions::SESSION_REVOKED, ip.as_deref())
                        .with_details(serde_json::json!({"session_id": id}));
                audit::record(&tx, &event)?;
                tx.commit().map_err(DbError::from)?;
                Ok(ended)
            })
            .await?;
        self.sessions.forget_ended(&ended).await;
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
            .run_conn(move |conn| {
                let tx = conn.transaction()?;
                let ended =
                    Sessions::sign_out_all_in(&tx, &user_id, Some(&keep), now, "session_revoked")?;
                let event =
                    AuditEvent::by_user(now, &user_id, actions::SESSIONS_REVOKED, ip.as_deref())
                        .with_details(serde_json::json!({"count": ended.sessions.len()}));
                audit::record(&tx, &event)?;
                tx.commit().map_err(DbError::from)?;
                Ok::<_, AccountError>(ended)
            })
            .await?;
        self.sessions.forget_ended(&ended).await;
        Ok(ended.sessions.len())
    }
}
