//! The outbox worker: delivers due messages, oldest first, and reschedules failures with
//! exponential backoff (5 s doubling to 1 h) until [`MAX_ATTEMPTS`], after which the row is
//! marked failed for an admin to see and retry (`POST /api/v1/admin/outbox/{id}/retry`); its
//! body is kept for that retry and erased once the message is sent. A message whose delivery
//! succeeded but whose row was not yet marked (a crash in between) is sent again: delivery is
//! at least once, and the Message-ID of an email, or the `id` of an SMS (`outbox-<id>`), is
//! the same both times, so a receiver can drop the repeat.
//!
//! It runs as the `outbox` job of the scheduler ([`crate::jobs`]): every few seconds, and at
//! once when a feature queues a message and notifies the wake handle.

use std::sync::Arc;
use std::time::Duration;

use rusqlite::params;

use super::mail::{MailSender, OutgoingMail};
use super::sms::SmsSender;
use crate::clock::Clock;
use crate::db::conn::{Conn, SqlResult};
use crate::db::{Db, DbError};
use crate::jobs::heartbeat::Heartbeat;
use crate::pii::FieldCipher;

pub const MAX_ATTEMPTS: i64 = 12;
const BATCH: i64 = 20;
/// How often the outbox job looks for due messages when nothing wakes it.
pub const POLL: Duration = Duration::from_secs(5);

pub struct Outbox {
    db: Db,
    mail: MailSender,
    sms: SmsSender,
    clock: Arc<dyn Clock>,
    heartbeat: Arc<Heartbeat>,
    pii: FieldCipher,
}

struct DueMessage {
    id: i64,
    channel: String,
    recipient: String,
    subject: String,
    text: String,
    html: Option<String>,
    attempts: i64,
}

/// A due row as stored: recipient and bodies sealed.
struct SealedMessage {
    id: i64,
    channel: String,
    recipient: String,
    subject: String,
    text: String,
    html: Option<String>,
    attempts: i64,
}

impl SealedMessage {
    fn open(self, pii: &FieldCipher) -> Result<DueMessage, crate::pii::CipherError> {
        // A body erased after delivery is empty, not sealed.
        let open = |context, value: &str| {
            if value.is_empty() { Ok(String::new()) } else { pii.open_text(context, value) }
        };
        Ok(DueMessage {
            id: self.id,
            channel: self.channel,
            recipient: open(super::RECIPIENT, &self.recipient)?,
            subject: self.subject,
            text: open(super::BODY_TEXT, &self.text)?,
            html: self.html.as_deref().map(|h| open(super::BODY_HTML, h)).transpose()?,
            attempts: self.attempts,
        })
    }
}

fn backoff_seconds(attempts: i64) -> i64 {
    (5i64 << attempts.clamp(0, 10)).min(3600)
}

impl Outbox {
    pub fn new(
        db: Db,
        mail: MailSender,
        sms: SmsSender,
        clock: Arc<dyn Clock>,
        heartbeat: Arc<Heartbeat>,
        pii: FieldCipher,
    ) -> Self {
        Self { db, mail, sms, clock, heartbeat, pii }
    }

    /// Delivers everything that is due, batch after batch; returns how many were attempted.
    pub async fn deliver_all(&self) -> Result<usize, DbError> {
        let mut total = 0;
        loop {
            self.heartbeat.beat();
            let n = self.deliver_due().await?;
            total += n;
            if n < BATCH as usize {
                return Ok(total);
            }
        }
    }

    /// Sends every message that is due now; returns how many were attempted.
    pub async fn deliver_due(&self) -> Result<usize, DbError> {
        let now = self.clock.unix();
        let pii = self.pii.clone();
        let sealed = self.db.run_conn(move |conn| Ok::<_, DbError>(due(conn, now)?)).await?;
        // Opened one by one: a message that cannot be opened (a damaged row) fails alone
        // instead of holding up the queue.
        let mut due = Vec::with_capacity(sealed.len());
        for message in sealed {
            let id = message.id;
            match message.open(&pii) {
                Ok(message) => due.push(message),
                Err(e) => {
                    tracing::error!(outbox_id = id, error = %e, "outbox: cannot open a queued message");
                    self.record_outcome(
                        id,
                        MAX_ATTEMPTS,
                        Err(format!("cannot open the sealed message: {e}")),
                    )
                    .await?;
                }
            }
        }
        let count = due.len();
        for message in due {
            self.heartbeat.beat();
            let outcome = match message.channel.as_str() {
                "email" => self
                    .mail
                    .send(&OutgoingMail {
                        outbox_id: message.id,
                        to: &message.recipient,
                        subject: &message.subject,
                        text: &message.text,
                        html: message.html.as_deref(),
                    })
                    .await
                    .map_err(|e| e.to_string()),
                "sms" => self
                    .sms
                    .send(message.id, &message.recipient, &message.text)
                    .await
                    .map_err(|e| e.to_string()),
                other => Err(format!("no transport for channel {other}")),
            };
            self.record_outcome(message.id, message.attempts, outcome).await?;
        }
        Ok(count)
    }

    async fn record_outcome(
        &self,
        id: i64,
        attempts: i64,
        outcome: Result<(), String>,
    ) -> Result<(), DbError> {
        let now = self.clock.unix();
        match outcome {
            Ok(()) => {
                tracing::info!(outbox_id = id, "outbox: message delivered");
                self.db.run_conn(move |conn| Ok::<_, DbError>(mark_sent(conn, id, now)?)).await?;
            }
            Err(error) => {
                let attempts = attempts + 1;
                let give_up = attempts >= MAX_ATTEMPTS;
                // The relay's reply may quote the recipient's address: it goes to the row's
                // last_error for admins, not to the log. (SMS errors never quote the reply.)
                tracing::warn!(outbox_id = id, attempts, give_up, "outbox: delivery failed");
                let failure = Failure {
                    attempts,
                    next_attempt_at: now + backoff_seconds(attempts),
                    error,
                    failed_at: give_up.then_some(now),
                };
                self.db
                    .run_conn(move |conn| Ok::<_, DbError>(mark_failed(conn, id, &failure)?))
                    .await?;
            }
        }
        Ok(())
    }
}

/// Messages waiting to be sent, and messages given up on.
pub async fn depth(db: &Db) -> Result<(i64, i64), DbError> {
    db.run_conn(|conn| Ok::<_, DbError>(depth_in(conn)?)).await
}

/// The next [`BATCH`] messages due at `now`, oldest first, as stored.
fn due(conn: &Conn, now: i64) -> SqlResult<Vec<SealedMessage>> {
    conn.query_map(
        "SELECT id, channel, recipient, subject, body_text, body_html, attempts
         FROM outbox
         WHERE sent_at IS NULL AND failed_at IS NULL AND next_attempt_at <= ?1
         ORDER BY next_attempt_at, id LIMIT ?2",
        params![now, BATCH],
        |r| {
            Ok(SealedMessage {
                id: r.get(0)?,
                channel: r.get(1)?,
                recipient: r.get(2)?,
                subject: r.get(3)?,
                text: r.get(4)?,
                html: r.get(5)?,
                attempts: r.get(6)?,
            })
        },
    )
}

/// Records a delivery and erases the bodies (the recipient stays for deletion and export).
fn mark_sent(conn: &Conn, id: i64, now: i64) -> SqlResult<()> {
    conn.execute(
        "UPDATE outbox SET sent_at = ?2, attempts = attempts + 1,
                body_text = '', body_html = NULL, last_error = NULL
         WHERE id = ?1",
        params![id, now],
    )?;
    Ok(())
}

/// A failed try: when to try again, or (`failed_at`) that the outbox gave up.
struct Failure {
    attempts: i64,
    next_attempt_at: i64,
    error: String,
    failed_at: Option<i64>,
}

/// Records a failed try. Whether it gave up is decided here in Rust, not by a `CASE` on a
/// parameter: PostgreSQL cannot tell the type of a parameter a `CASE` yields.
fn mark_failed(conn: &Conn, id: i64, failure: &Failure) -> SqlResult<()> {
    conn.execute(
        "UPDATE outbox SET attempts = ?2, next_attempt_at = ?3, last_error = ?4, failed_at = ?5
         WHERE id = ?1",
        params![id, failure.attempts, failure.next_attempt_at, failure.error, failure.failed_at],
    )?;
    Ok(())
}

fn depth_in(conn: &Conn) -> SqlResult<(i64, i64)> {
    conn.query_row(
        "SELECT count(*) FILTER (WHERE sent_at IS NULL AND failed_at IS NULL),
                count(*) FILTER (WHERE failed_at IS NOT NULL)
         FROM outbox",
        [] as [i64; 0],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )
}

#[cfg(test)]
#[path = "outbox_tests.rs"]
mod tests;
