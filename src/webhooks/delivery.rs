//! Delivering webhooks: a job looks for due deliveries every second and posts each in a task
//! of its own, up to 64 at once, so a receiver that hangs (cut after 10 s) holds up no other
//! delivery; while there is a backlog the run goes on, starting one as another finishes. At least
//! once: a delivery is marked sent only after a 2xx answer, so a crash between the post and
//! the mark sends it again, with the same `webhook-id` for the receiver to drop. Tries: at
//! once, then 5 s, doubling to an hour between tries; a day after the event it is given up,
//! audited, and shown failed on the admin page, which can send it again.
//!
//! Events reach the table in their cause's transaction (see [`super::queue_in`]); the job
//! polls rather than being woken, so no feature needs to know of it (a second at most).

use std::collections::{HashMap, HashSet};
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
/// On PostgreSQL, how long a node holds the deliveries it claimed ([`store::claim_due`]):
/// past the wait for a slot and the try itself, so that no other node tries one meanwhile.
const CLAIM_SECONDS: i64 = 300;
/// Deliveries in flight at once, at most ...
const MAX_IN_FLIGHT: usize = 64;
/// ... and to one endpoint.
const MAX_PER_ENDPOINT: usize = 16;
/// How long a run with a backlog waits for a free slot before it looks again.
const ROOM_WAIT: Duration = Duration::from_millis(250);

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
    /// Deliveries being posted.
    in_flight: Mutex<InFlight>,
    /// Deliveries that failed to record in this run.
    broken: Arc<Mutex<HashSet<i64>>>,
    /// Fired when a delivery finishes: room for the next.
    finished: tokio::sync::Notify,
    /// One permit per delivery in flight.
    slots: Arc<tokio::sync::Semaphore>,
}

impl Deliveries {
    pub fn new(db: Db, clock: Arc<dyn Clock>, pii: FieldCipher) -> anyhow::Result<Self> {
        // reqwest is built without a bundled crypto provider; ring is the binary's.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let http = reqwest::Client::builder()
            .timeout(TIMEOUT)
            .redirect(reqwest::redirect::Policy::none())
            .build()?;
        let slots = Arc::new(tokio::sync::Semaphore::new(MAX_IN_FLIGHT));
        Ok(Self {
            db,
            clock,
            pii,
            http,
            in_flight: Mutex::default(),
            broken: Default::default(),
            finished: tokio::sync::Notify::new(),
            slots,
        })
    }

    /// Starts every due delivery not already in flight, at most [`MAX_IN_FLIGHT`] at once:
    /// while there is a backlog the run goes on, starting one as another finishes.
    pub async fn start_due(self: &Arc<Self>) -> anyhow::Result<Started> {
        let mut started = 0;
        // Deliveries that could not be recorded (or not signed) wait for the next run, so that
        // a broken one is not started again at once, again and again.
        self.broken.lock().unwrap_or_else(|e| e.into_inner()).clear();
        loop {
            let now = self.clock.unix();
            // A delivery that finishes while the query runs may be read as still due: it is
            // in this set, and is skipped.
            self.in_flight().finished_since_query.clear();
            let due = self
                .db
                .run_conn(move |c| {
                    let (limit, until) = (MAX_IN_FLIGHT as i64 * 4, now + CLAIM_SECONDS);
                    Ok::<_, DbError>(store::claim_due(c, now, limit, until)?)
                })
                .await?;
            let (mut started_now, mut waiting_for_room) = (0, false);
            // Claimed here but not started: given back for the next run, here or elsewhere.
            let mut not_started = Vec::new();
            for delivery in due {
                if self.broken.lock().unwrap_or_else(|e| e.into_inner()).contains(&delivery.id) {
                    not_started.push(delivery);
                    continue;
                }
                match self.in_flight().start(&delivery) {
                    Start::Started => {}
                    Start::AlreadyInFlight => continue,
                    Start::EndpointFull => {
                        waiting_for_room = true;
                        not_started.push(delivery);
                        continue;
                    }
                }
                let permit = self.slots.clone().acquire_owned().await?;
                started_now += 1;
                let this = self.clone();
                tokio::spawn(async move {
                    let (id, endpoint) = (delivery.id, delivery.endpoint_id.clone());
                    if let Err(e) = this.deliver(delivery).await {
                        this.broken.lock().unwrap_or_else(|e| e.into_inner()).insert(id);
                        tracing::error!(
                            error = format!("{e:#}"),
                            "a webhook delivery failed to record"
                        );
                    }
                    this.in_flight().finish(id, &endpoint);
                    drop(permit);
                    this.finished.notify_one();
                });
            }
            started += started_now;
            if not_started.iter().any(|d| d.claimed_until.is_some()) {
                self.db
                    .run_conn(move |c| {
                        for delivery in &not_started {
                            store::release(c, delivery)?;
                        }
                        Ok::<_, DbError>(())
                    })
                    .await?;
            }
            if started_now == 0 && !waiting_for_room {
                return Ok(Started { deliveries: started });
            }
            if started_now == 0 {
                // A backlog for an endpoint whose slots are all taken: go on when one frees
                // (or soon, for deliveries to other endpoints queued meanwhile).
                let _ = tokio::time::timeout(ROOM_WAIT, self.finished.notified()).await;
            }
        }
    }

    fn in_flight(&self) -> std::sync::MutexGuard<'_, InFlight> {
        self.in_flight.lock().unwrap_or_else(|e| e.into_inner())
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
            .run_conn(move |c| {
                let tx = c.transaction()?;
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

enum Start {
    Started,
    AlreadyInFlight,
    EndpointFull,
}

/// The deliveries being posted: so that a run does not start one twice, and so that one
/// endpoint (a receiver that hangs, with a backlog) takes at most [`MAX_PER_ENDPOINT`] of the
/// slots and never holds up the others.
#[derive(Default)]
struct InFlight {
    ids: HashSet<i64>,
    /// Finished since the last query for due deliveries began.
    finished_since_query: HashSet<i64>,
    per_endpoint: HashMap<String, usize>,
}

impl InFlight {
    /// Marks `delivery` in flight, unless it is already or its endpoint is full.
    fn start(&mut self, delivery: &DueDelivery) -> Start {
        if self.ids.contains(&delivery.id) || self.finished_since_query.contains(&delivery.id) {
            return Start::AlreadyInFlight;
        }
        let count = self.per_endpoint.entry(delivery.endpoint_id.clone()).or_default();
        if *count >= MAX_PER_ENDPOINT {
            return Start::EndpointFull;
        }
        *count += 1;
        self.ids.insert(delivery.id);
        Start::Started
    }

    fn finish(&mut self, id: i64, endpoint: &str) {
        self.ids.remove(&id);
        self.finished_since_query.insert(id);
        if let Some(count) = self.per_endpoint.get_mut(endpoint) {
            *count -= 1;
            if *count == 0 {
                self.per_endpoint.remove(endpoint);
            }
        }
    }
}

/// The wait after try `attempts + 1`: 5 s, doubling, at most an hour.
fn backoff(attempts: i64) -> i64 {
    (FIRST_BACKOFF_SECONDS << attempts.clamp(0, 12)).min(MAX_BACKOFF_SECONDS)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn due(id: i64, endpoint: &str) -> DueDelivery {
        DueDelivery {
            id,
            message_id: format!("msg_{id}"),
            endpoint_id: endpoint.into(),
            event_type: "user.updated".into(),
            payload: "{}".into(),
            created_at: 0,
            attempts: 0,
            url: "https://a.example/h".into(),
            secret: String::new(),
            previous_secret: None,
            due_at: 0,
            claimed_until: None,
        }
    }

    #[test]
    fn one_endpoint_takes_at_most_its_share_and_a_finished_delivery_is_not_restarted() {
        let mut in_flight = InFlight::default();
        for id in 0..MAX_PER_ENDPOINT as i64 {
            assert!(matches!(in_flight.start(&due(id, "slow")), Start::Started));
        }
        assert!(matches!(in_flight.start(&due(99, "slow")), Start::EndpointFull));
        assert!(matches!(in_flight.start(&due(100, "other")), Start::Started));
        assert!(matches!(in_flight.start(&due(100, "other")), Start::AlreadyInFlight));
        in_flight.finish(0, "slow");
        // Read as due by a query that began before it finished: skipped.
        assert!(matches!(in_flight.start(&due(0, "slow")), Start::AlreadyInFlight));
        assert!(matches!(in_flight.start(&due(99, "slow")), Start::Started));
        in_flight.finished_since_query.clear();
        in_flight.finish(100, "other");
        assert!(!in_flight.per_endpoint.contains_key("other"));
    }

    #[test]
    fn backoff_doubles_from_five_seconds_up_to_an_hour() {
        assert_eq!(backoff(0), 5);
        assert_eq!(backoff(1), 10);
        assert_eq!(backoff(9), 2560);
        assert_eq!(backoff(10), 3600);
        assert_eq!(backoff(400), 3600);
    }
}
