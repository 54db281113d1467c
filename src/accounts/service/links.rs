//! Emailed links: a new verification link, a password-reset link.

use super::*;

impl Accounts {
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
        let pii = self.pii().clone();
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
                        notify::enqueue_email(&tx, &pii, &mail, now)?;
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
