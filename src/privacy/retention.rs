//! Retention: what is purged, and when. [`Privacy::run_retention`] does one run; the
//! in-process scheduler calls it daily. Times come from the injected clock, so tests move a
//! `ManualClock` instead of waiting.
//!
//! Each feature purges its own rows ([`crate::pii::PersonalData::purge_in`]): sessions past
//! their absolute or idle lifetime, refresh tokens past their expiry (and token families left
//! without tokens), email links and phone codes expired more than a day ago (the per-day
//! sending limits count them until then), phone-code attempts older than a day, expired
//! bootstrap links and pending second steps, driver upload attempts older than a day, and
//! lockout series (of accounts and of unknown emails alike) with no failed password for 30
//! days. Configurable (`[retention]`): accounts never verified (deleted like any account,
//! audit rows pseudonymised), audit rows, sent or failed outbox messages.

use super::service::Privacy;
use crate::db::DbError;
use crate::pii::erasure::run_after;
use crate::pii::{DeleteReason, Purged};

const DAY: i64 = 86_400;
/// Unverified accounts are deleted a few at a time, each in its own transaction.
const ACCOUNT_BATCH: usize = 100;

/// How many rows one run removed.
#[derive(Debug, Default, Clone, PartialEq, Eq, serde::Serialize)]
pub struct RetentionReport {
    pub sessions: usize,
    pub refresh_tokens: usize,
    pub token_families: usize,
    pub email_links: usize,
    pub phone_codes: usize,
    pub phone_code_checks: usize,
    pub bootstrap_links: usize,
    pub mfa_challenges: usize,
    pub driver_upload_attempts: usize,
    /// Accounts whose quiet lockout series was forgotten.
    pub lockout_series: usize,
    /// Lockout rows of unknown emails deleted.
    pub unknown_email_lockouts: usize,
    pub unverified_accounts: usize,
    pub audit_rows: usize,
    pub outbox_messages: usize,
}

#[derive(Debug, thiserror::Error)]
pub enum RetentionError {
    #[error(transparent)]
    Db(#[from] DbError),
}

impl RetentionReport {
    fn from_purged(purged: &Purged) -> Self {
        Self {
            sessions: purged.get("sessions"),
            refresh_tokens: purged.get("refresh_tokens"),
            token_families: purged.get("token_families"),
            email_links: purged.get("email_links"),
            phone_codes: purged.get("phone_codes"),
            phone_code_checks: purged.get("phone_code_checks"),
            bootstrap_links: purged.get("bootstrap_links"),
            mfa_challenges: purged.get("mfa_challenges"),
            driver_upload_attempts: purged.get("driver_upload_attempts"),
            lockout_series: purged.get("lockout_series"),
            unknown_email_lockouts: purged.get("unknown_email_lockouts"),
            unverified_accounts: 0,
            audit_rows: purged.get("audit_rows"),
            outbox_messages: purged.get("outbox_messages"),
        }
    }
}

impl Privacy {
    /// One retention run: every feature's purge in one transaction, then the lapsed accounts
    /// a batch at a time, each batch in its own.
    pub async fn run_retention(&self) -> Result<RetentionReport, RetentionError> {
        let now = self.clock.unix();
        let retention = self.config.retention.clone();
        let erasure = self.erasure.clone();
        let purged = self
            .db
            .run_conn(move |conn| {
                let tx = conn.transaction()?;
                let mut purged = Purged::default();
                for part in erasure.parts() {
                    part.purge_in(&tx, now, &retention, &mut purged)?;
                }
                let audit_before = now - i64::from(retention.audit_days) * DAY;
                purged.add("audit_rows", crate::audit::purge_before(&tx, audit_before)?);
                tx.commit()?;
                Ok::<_, DbError>(purged)
            })
            .await?;
        let mut report = RetentionReport::from_purged(&purged);
        loop {
            let (erasure, retention) = (self.erasure.clone(), self.config.retention.clone());
            let erased = self
                .db
                .run_conn(move |conn| {
                    let tx = conn.transaction()?;
                    let mut ids = Vec::new();
                    for part in erasure.parts() {
                        ids.extend(part.lapsed_in(&tx, now, &retention, ACCOUNT_BATCH)?);
                    }
                    let mut done = Vec::new();
                    for id in &ids {
                        let reason = DeleteReason::Retention;
                        if let Some(after) = erasure.erase_in(&tx, id, reason, None, None, now)? {
                            done.push(after);
                        }
                    }
                    tx.commit()?;
                    Ok::<_, DbError>((ids.len(), done))
                })
                .await?;
            let (found, done) = erased;
            report.unverified_accounts += done.len();
            for after in done {
                run_after(after).await;
            }
            if found < ACCOUNT_BATCH {
                break;
            }
        }
        tracing::info!(?report, "retention run finished");
        Ok(report)
    }
}
