//! Changing a password, and resetting a forgotten one.

use super::*;

impl Accounts {
    /// Changes the password (current one required) and ends every other session. Returns the
    /// new password's strength score. A wrong current password counts in the lockout, and
    /// while the account is throttled the change is refused.
    pub async fn change_password(
        &self,
        principal: &Principal,
        current: &str,
        new: &str,
        meta: &RequestMeta,
    ) -> Result<u8, AccountError> {
        let user =
            self.user_from_db(&principal.user_id).await?.ok_or(AccountError::InvalidCredentials)?;
        if !self.confirm_password(&user, current, PasswordCheck::ChangePassword, meta).await? {
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
        let pii = self.pii().clone();
        let ended = self
            .db
            .run_conn(move |conn| {
                let tx = conn.transaction()?;
                // The password checked must still be the stored one, and the caller still
                // signed in: a reset that committed meanwhile wins.
                if store::password_hash_for_update(&tx, &user.id)? != user.password_hash
                    || !Sessions::still_signed_in(&tx, method, &keep)?
                {
                    return Err(AccountError::InvalidCredentials);
                }
                store::set_password(&tx, &user.id, &hash, now)?;
                let ended =
                    Sessions::end_all_in(&tx, &user.id, Some(&keep), now, "password_changed")?;
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
                    notify::enqueue_email(&tx, &pii, &notice, now)?;
                }
                tx.commit().map_err(DbError::from)?;
                Ok::<_, AccountError>(ended)
            })
            .await?;
        self.forget_signed_out(&principal.user_id, &ended).await;
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
        let pii = self.pii().clone();
        let user = self
            .db
            .run_conn(move |conn| {
                let token = usable_token(conn, &lookup, store::RESET_PASSWORD, now)?;
                store::find_by_id(conn, &pii, &token.user_id)?.ok_or(AccountError::InvalidToken)
            })
            .await?;
        if let Some(problem) =
            password::policy_violation(new, user.email.as_deref().unwrap_or_default())
        {
            return Err(AccountError::Validation(vec![field("new_password", problem)]));
        }
        let new_hash = self.hasher.hash(new).await?;
        let (ip, user_id) = (meta.ip.clone(), user.id.clone());
        let pii = self.pii().clone();
        let ended = self
            .db
            .run_conn(move |conn| {
                let tx = conn.transaction()?;
                if !store::consume_email_token(&tx, &hash, now)? {
                    return Err(AccountError::TokenUsed);
                }
                store::set_password(&tx, &user.id, &new_hash, now)?;
                crate::accounts::events::email_verified_in(&tx, &user.id, now)?;
                lockout::clear(&tx, &user.id)?;
                let ended = Sessions::end_all_in(&tx, &user.id, None, now, "password_reset")?;
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
                    notify::enqueue_email(&tx, &pii, &notice, now)?;
                }
                tx.commit()?;
                Ok(ended)
            })
            .await?;
        self.forget_signed_out(&user_id, &ended).await;
        self.wake_outbox();
        Ok(())
    }
}
