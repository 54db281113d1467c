//! Retention: what is purged, and when. [`run_retention`] does one run; the in-process
//! scheduler calls it daily. Times come from the injected clock, so tests move a
//! `ManualClock` instead of waiting.
//!
//! Always purged: sessions past their absolute or idle lifetime, refresh tokens past their
//! expiry (and token families left without tokens), email links and phone codes expired more
//! than a day ago (the per-day sending limits count them until then), phone-code attempts
//! older than a day, expired bootstrap links, and lockout series (of accounts and of unknown
//! emails alike) with no failed password for 30 days (`accounts::lockout::forget_stale`).
//! Configurable (`[retention]`): accounts never
//! verified (deleted like any account, audit rows pseudonymised), audit rows, sent or failed
//! outbox messages.

use rusqlite::{Connection, params};

use super::deletion::{self, DeleteReason};
use super::service::Privacy;
use crate::config::RetentionConfig;
use crate::db::DbError;
use crate::sessions::{BROWSER_SESSION, REMEMBERED_SESSION};

const DAY: i64 = 86_400;
/// Last activity is written at most once a minute: a session is idle only past that too.
const TOUCH_SLACK: i64 = 60;
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

impl Privacy {
    /// One retention run.
    pub async fn run_retention(&self) -> Result<RetentionReport, RetentionError> {
        let now = self.clock.unix();
        let config = self.config.retention.clone();
        let mut report = self
            .db
            .run(move |conn| purge_expired(conn, &config, now).map_err(DbError::from))
            .await?;
        let cutoff = now - i64::from(self.config.retention.unverified_account_days) * DAY;
        let key = self.pseudonym_key();
        loop {
            let pii = self.pii.clone();
            let deleted = self
                .db
                .run(move |conn| {
                    let tx = crate::db::write_tx(conn)?;
                    let ids: Vec<String> = {
                        let mut stmt = tx.prepare(
                            "SELECT id FROM users
                         WHERE email_verified_at IS NULL AND phone_verified_at IS NULL
                           AND created_at < ?1
                         LIMIT ?2",
                        )?;
                        stmt.query_map(params![cutoff, ACCOUNT_BATCH as i64], |r| r.get(0))?
                            .collect::<Result<_, _>>()?
                    };
                    let mut done = Vec::new();
                    for id in ids {
                        let deleted = deletion::delete_in(
                            &tx,
                            &pii,
                            &key,
                            &id,
                            DeleteReason::Retention,
                            None,
                            None,
                            now,
                        )?;
                        if let Some(deleted) = deleted {
                            done.push((id, deleted));
                        }
                    }
                    tx.commit()?;
                    Ok::<_, DbError>(done)
                })
                .await?;
            let count = deleted.len();
            for (id, deleted) in deleted {
                self.after_deletion(&id, deleted).await;
            }
            report.unverified_accounts += count;
            if count < ACCOUNT_BATCH {
                break;
            }
        }
        tracing::info!(?report, "retention run finished");
        Ok(report)
    }
}

fn purge_expired(
    conn: &mut Connection,
    config: &RetentionConfig,
    now: i64,
) -> rusqlite::Result<RetentionReport> {
    let tx = crate::db::write_tx(conn)?;
    let sessions = tx.execute(
        "DELETE FROM sessions
         WHERE expires_at <= ?1
            OR last_seen_at + CASE WHEN remember_me THEN ?2 ELSE ?3 END + ?4 <= ?1",
        params![now, REMEMBERED_SESSION.idle, BROWSER_SESSION.idle, TOUCH_SLACK],
    )?;
    let refresh_tokens = tx.execute("DELETE FROM refresh_tokens WHERE expires_at <= ?1", [now])?;
    let token_families = tx.execute(
        "DELETE FROM token_families
         WHERE NOT EXISTS (SELECT 1 FROM refresh_tokens t WHERE t.family_id = token_families.id)",
        [],
    )?;
    let email_links = tx.execute("DELETE FROM email_tokens WHERE expires_at <= ?1", [now - DAY])?;
    let phone_codes = tx.execute("DELETE FROM phone_codes WHERE expires_at <= ?1", [now - DAY])?;
    let phone_code_checks =
        tx.execute("DELETE FROM phone_code_checks WHERE at <= ?1", [now - DAY])?;
    let bootstrap_links =
        tx.execute("DELETE FROM bootstrap_tokens WHERE expires_at <= ?1", [now])?;
    let mfa_challenges = tx.execute("DELETE FROM mfa_challenges WHERE expires_at <= ?1", [now])?;
    let forgotten = crate::accounts::lockout::forget_stale(&tx, now)?;
    let audit_rows = tx.execute(
        "DELETE FROM audit_log WHERE at <= ?1",
        [now - i64::from(config.audit_days) * DAY],
    )?;
    let outbox_messages = tx.execute(
        "DELETE FROM outbox WHERE (sent_at IS NOT NULL OR failed_at IS NOT NULL) AND created_at <= ?1",
        [now - i64::from(config.outbox_days) * DAY],
    )?;
    tx.commit()?;
    Ok(RetentionReport {
        sessions,
        refresh_tokens,
        token_families,
        email_links,
        phone_codes,
        phone_code_checks,
        bootstrap_links,
        mfa_challenges,
        lockout_series: forgotten.accounts,
        unknown_email_lockouts: forgotten.unknown_emails,
        unverified_accounts: 0,
        audit_rows,
        outbox_messages,
    })
}
