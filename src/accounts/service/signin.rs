//! Signing in with a password (and the lockout), signing out, ending sessions.

use super::*;
use crate::sessions::Amr;

impl Accounts {
    /// Audits a failed password and counts it towards the account's lockout; true when this
    /// failure locked the account (its owner is emailed at the first lock of a series).
    async fn record_failed_password(
        &self,
        user: Option<User>,
        now: i64,
        meta: RequestMeta,
    ) -> Result<bool, AccountError> {
        let (pii, lockout_on) = (self.pii().clone(), self.lockout);
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
                    && lockout_on
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
                            &pii,
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
    ///
    /// An account that was locked since its last sign-in is "being throttled": with
    /// `captcha_missing` (the captcha is on and the request brought no solution) it answers
    /// `CaptchaRequired` after the same work as any other answer.
    pub async fn check_password(
        &self,
        raw_email: &str,
        password: &str,
        captcha_missing: bool,
        meta: &RequestMeta,
    ) -> Result<(User, Verified), AccountError> {
        let email = email::normalize(raw_email);
        let user = match email::problem(&email) {
            None => self.find_by_email(&email).await?,
            Some(_) => None,
        };
        let now = self.now();
        if let Some(user) = &user
            && self.lockout
        {
            let id = user.id.clone();
            let (until, was_locked) = self
                .db
                .run(move |c| {
                    let until = lockout::throttled_until(c, &id, now)?;
                    Ok::<_, DbError>((until, lockout::was_locked(c, &id)?))
                })
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
            if was_locked && captcha_missing {
                self.hasher.verify(password, None).await?;
                return Err(AccountError::CaptchaRequired);
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
        // Told only to someone who knows the password, like an unverified email.
        let id = user.id.clone();
        if self
            .db
            .run(move |c| crate::admin::store::is_disabled(c, &id).map_err(DbError::from))
            .await?
        {
            return Err(AccountError::AccountDisabled);
        }
        if user.email_verified_at.is_none() {
            return Err(AccountError::EmailNotVerified);
        }
        Ok((user, verified))
    }

    /// A password sign-in: a session, or (with TOTP on) a pending sign-in that
    /// [`Accounts::complete_login`] finishes with a second factor.
    pub async fn login(
        &self,
        raw_email: &str,
        password: &str,
        remember_me: bool,
        captcha_missing: bool,
        meta: &RequestMeta,
    ) -> Result<LoginOutcome, AccountError> {
        let (user, verified) =
            self.check_password(raw_email, password, captcha_missing, meta).await?;
        let (now, meta) = (self.now(), meta.clone());
        let signed_in_user = user.clone();
        let (mfa_token, mfa_hash) = crypto::new_token();
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
                if crate::accounts::totp::enabled(&tx, &user.id)? {
                    crate::accounts::totp::create_challenge(
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
}
