//! Emailed links: a new verification link, a password-reset link.

use std::sync::atomic::{AtomicUsize, Ordering};

use super::*;

impl Accounts {
    /// Sends a new verification link to an unverified account.
    pub async fn resend_verification(
        &self,
        raw_email: &str,
        meta: &RequestMeta,
    ) -> Result<(), AccountError> {
        let email = Self::checked_email(raw_email)?;
        self.send_link_later(&email, LinkKind::Verify, meta);
        Ok(())
    }

    /// Sends a password-reset link.
    pub async fn forgot_password(
        &self,
        raw_email: &str,
        meta: &RequestMeta,
    ) -> Result<(), AccountError> {
        let email = Self::checked_email(raw_email)?;
        self.send_link_later(&email, LinkKind::Reset, meta);
        Ok(())
    }

    /// Link jobs started and not finished yet (tests wait for them before counting mail).
    pub fn link_jobs_in_flight(&self) -> usize {
        self.link_jobs.load(Ordering::SeqCst)
    }

    /// Looks the email up and sends its owner (when there is one and it has not had a link
    /// too recently) a new link of this kind, after the answer: the request does the same
    /// work, and so takes the same time, whether or not the account exists (no answer may
    /// tell whether an email has an account). Every path writes one audit row.
    fn send_link_later(&self, email: &str, kind: LinkKind, meta: &RequestMeta) {
        let (token, token_hash) = crypto::new_token();
        let job = LinkJob {
            db: self.db.clone(),
            index: self.email_index(email),
            kind,
            now: self.now(),
            verify_hours: self.verify_hours,
            ip: meta.ip.clone(),
            token_hash,
            url: self.link(kind.page(), &token),
            pii: self.pii().clone(),
            outbox_wake: self.outbox_wake.clone(),
            in_flight: InFlight::start(self.link_jobs.clone()),
        };
        tokio::spawn(async move {
            // The answer goes out first: on a busy machine the job (more work for an existing
            // account: a link, a sealed email, its delivery) would otherwise share the CPU
            // with it and make it slower, telling who has an account.
            tokio::time::sleep(JOB_DELAY).await;
            if let Err(e) = job.run().await {
                tracing::error!(error = %e, "sending an emailed link failed");
            }
        });
    }
}

/// How long after its answer an emailed-link job starts (an answer takes a few milliseconds).
const JOB_DELAY: std::time::Duration = std::time::Duration::from_millis(50);

/// Counts a link job as running until dropped.
struct InFlight(Arc<AtomicUsize>);

impl InFlight {
    fn start(counter: Arc<AtomicUsize>) -> Self {
        counter.fetch_add(1, Ordering::SeqCst);
        Self(counter)
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

/// A link to send, if the email has an account: what `send_link_later` hands its task.
struct LinkJob {
    db: Db,
    index: Vec<u8>,
    kind: LinkKind,
    now: i64,
    verify_hours: i64,
    ip: Option<String>,
    token_hash: Vec<u8>,
    url: String,
    pii: FieldCipher,
    outbox_wake: Arc<Notify>,
    in_flight: InFlight,
}

impl LinkJob {
    async fn run(self) -> Result<(), AccountError> {
        let LinkJob {
            db,
            index,
            kind,
            now,
            verify_hours,
            ip,
            token_hash,
            url,
            pii,
            outbox_wake,
            in_flight,
        } = self;
        let sent = db
            .run_conn(move |conn| {
                let tx = conn.transaction()?;
                let user = store::find_by_email_index(&tx, &pii, &index)?.filter(|u| match kind {
                    LinkKind::Verify => u.email_verified_at.is_none(),
                    LinkKind::Reset => true,
                });
                let purpose = kind.purpose();
                let sent = match &user {
                    Some(user) if may_send_link(&tx, &user.id, purpose, now)? => {
                        store::retire_email_tokens(&tx, &user.id, purpose, now)?;
                        let expires = now + kind.lifetime_seconds(verify_hours);
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
                        let to = user.email.as_deref().unwrap_or_default();
                        let mail = match kind {
                            LinkKind::Verify => templates::verify_email(
                                &brand,
                                to,
                                &user.display_name,
                                &url,
                                verify_hours,
                            ),
                            LinkKind::Reset => {
                                templates::password_reset(&brand, to, &user.display_name, &url)
                            }
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
            outbox_wake.notify_one();
        }
        drop(in_flight);
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

fn may_send_link(conn: &Conn, user_id: &str, purpose: &str, now: i64) -> SqlResult<bool> {
    let (count, last) = store::email_tokens_since(conn, user_id, purpose, now - 86_400)?;
    Ok(count < LINKS_PER_DAY && last.is_none_or(|last| now - last >= LINK_COOLDOWN))
}
