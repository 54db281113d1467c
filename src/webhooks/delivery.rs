//! Delivering webhooks: a job looks for due deliveries every second and posts each in a task
//! of its own, so a receiver that hangs (cut after 10 s) holds up no other delivery. At least
//! once: a delivery is marked sent only after a 2xx answer, so a crash between the post and
//! the mark sends it again, with the same `webhook-id` for the receiver to drop. Tries: at
//! once, then 5 s, doubling to an hour between tries; a day after the event it is given up,
//! audited, and shown failed on the admin page, which can send it again.
//!
//! Events reach the table in their cause's transaction (see [`super::queue_in`]); the job
//! polls rather than being woken, so no feature needs to know of it (a second at most).

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::endpoints::{PREVIOUS_SECRET_CONTEXT, SECRET_CONTEXT};
use super::signing;
use super::store::{self, DueDelivery, TryOutcome};
use crate::audit::{self, AuditEvent, actions};
use crate::clock::Clock;
use crate::db::{Db, DbError};
use crate::pii::FieldCipher;

/// How often the job looks for due deliveries.
pub const POLL: Duration = Duration::from_secs(1);
/// How long one delivery may take.
pub const TIMEOUT: Duration = Duration::from_secs(10);
const FIRST_BACKOFF_SECONDS: i64 = 5;
const MAX_BACKOFF_SECONDS: i64 = 3600;
const GIVE_UP_AFTER_SECONDS: i64 = 24 * 3600;
/// Deliveries in flight at once, at most.
const MAX_IN_FLIGHT: usize = 64;

/// What one run started: counts, for the job log.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Started {
    pub deliveries: usize,
}

pub struct Deliveries {
    db: Db,
    clock: Arc<dyn Clock>,
    pii: FieldCipher,
    http: reqwest::Client,
    /// Deliveries being posted, so the next run does not start them twice.
    in_flight: Arc<Mutex<HashSet<i64>>>,
}

impl Deliveries {
    pub fn new(db: Db, clock: Arc<dyn Clock>, pii: FieldCipher) -> anyhow::Result<Self> {
        // reqwest is built without a bundled crypto provider; ring is the binary's.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let http = reqwest::Client::builder()
            .timeout(TIMEOUT)
            .redirect(reqwest::redirect::Policy::none())
            .build()?;
        Ok(Self { db, clock, pii, http, in_flight: Default::default() })
    }

    /// Starts every due delivery not already in flight.
    pub async fn start_due(self: &Arc<Self>) -> anyhow::Result<Started> {
        let now = self.clock.unix();
        let due = self
            .db
            .run(move |c| Ok::<_, DbError>(store::due(c, now, MAX_IN_FLIGHT as i64 * 2)?))
            .await?;
        let mut started = 0;
        for delivery in due {
            {
                let mut in_flight = self.in_flight.lock().unwrap_or_else(|e| e.into_inner());
                if in_flight.len() >= MAX_IN_FLIGHT || !in_flight.insert(delivery.id) {
                    continue;
                }
            }
            started += 1;
            let this = self.clone();
            tokio::spawn(async move {
                let id = delivery.id;
                if let Err(e) = this.deliver(delivery).await {
                    tracing::error!(
                        error = format!("{e:#}"),
                        "a webhook delivery failed to record"
                    );
                }
                this.in_flight.lock().unwrap_or_else(|e| e.into_inner()).remove(&id);
            });
        }
        Ok(Started { deliveries: started })
    }

    async fn deliver(&self, delivery: DueDelivery) -> anyhow::Result<()> {
        let secret = self.pii.open_text(SECRET_CONTEXT, &delivery.secret)?;
        let previous = match &delivery.previous_secret {
            Some(sealed) => Some(self.pii.open_text(PREVIOUS_SECRET_CONTEXT, sealed)?),
            None => None,
        };
        let mut secrets = vec![secret.as_str()];
        secrets.extend(previous.as_deref());
        let timestamp = self.clock.unix();
        let signature =
            signing::signature(&secrets, &delivery.message_id, timestamp, &delivery.payload);
        let answer = self
            .http
            .post(&delivery.url)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header("webhook-id", &delivery.message_id)
            .header("webhook-timestamp", timestamp.to_string())
            .header("webhook-signature", signature)
            .body(delivery.payload.clone())
            .send()
            .await;
        let (status, error) = match answer {
            Ok(answer) if answer.status().is_success() => (Some(answer.status().as_u16()), None),
            Ok(answer) => {
                let status = answer.status().as_u16();
                (Some(status), Some(format!("the receiver answered {status}")))
            }
            Err(e) if e.is_timeout() => {
                (None, Some(format!("no answer within {} s", TIMEOUT.as_secs())))
            }
            Err(e) if e.is_connect() => (None, Some("could not connect".to_string())),
            Err(_) => (None, Some("the request failed".to_string())),
        };
        let now = self.clock.unix();
        let outcome = match &error {
            None => TryOutcome::Sent,
            Some(_) if now - delivery.created_at >= GIVE_UP_AFTER_SECONDS => TryOutcome::Failed,
            Some(_) => TryOutcome::Retry(now + backoff(delivery.attempts)),
        };
        self.db
            .run(move |c| {
                let tx = crate::db::write_tx(c)?;
                store::record_try(&tx, delivery.id, now, status, error.as_deref(), outcome)?;
                if matches!(outcome, TryOutcome::Failed) {
                    let event = AuditEvent {
                        at: now,
                        actor_id: None,
                        action: actions::WEBHOOK_FAILED,
                        subject_id: None,
                        ip: None,
                        success: false,
                        details: serde_json::json!({
                            "webhook_id": delivery.endpoint_id,
                            "message_id": delivery.message_id,
                            "type": delivery.event_type,
                            "error": error,
                        }),
                    };
                    audit::record(&tx, &event)?;
                }
                tx.commit()?;
                Ok::<_, DbError>(())
            })
            .await?;
        Ok(())
    }
}

/// The wait after try `attempts + 1`: 5 s, doubling, at most an hour.
fn backoff(attempts: i64) -> i64 {
    (FIRST_BACKOFF_SECONDS << attempts.clamp(0, 12)).min(MAX_BACKOFF_SECONDS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_from_five_seconds_up_to_an_hour() {
        assert_eq!(backoff(0), 5);
        assert_eq!(backoff(1), 10);
        assert_eq!(backoff(9), 2560);
        assert_eq!(backoff(10), 3600);
        assert_eq!(backoff(400), 3600);
    }
}
