//! The daily expiry job: alerts by email 7, 3 and 1 days before a licence
//! expires (each once: sends are recorded in `driver_expiry_alerts`, so a restart or a second
//! run the same day sends nothing twice), and on the expiry day availability off and driving
//! suspended until a new licence is approved. Days are counted on the injected clock, in UTC.
//!
//! The job is a plain function; the scheduler that calls it daily lives elsewhere. Running it
//! more often is harmless.

use super::events::queue_driver_event;
use crate::webhooks::EventType::{DriverLicenceExpiring, DriverSuspended};
use chrono::NaiveDate;
use serde_json::json;

use super::Drivers;
use super::notices;
use super::store::{self, ApprovedDriver, Status};
use crate::audit::{self, AuditEvent, actions};
use crate::db::DbError;
use crate::db::conn::Conn;
use crate::notify::templates;
use crate::pii::FieldCipher;

/// Days before expiry on which an alert goes out.
pub const ALERT_DAYS: [i64; 3] = [7, 3, 1];

/// What one run did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ExpiryReport {
    pub alerts_sent: usize,
    pub suspended: usize,
}

/// The alert due `days_left` days before expiry: the nearest threshold at or above it, so a
/// job that missed a day sends the alert that is due now, not a stale one.
fn alert_for(days_left: i64) -> Option<i64> {
    ALERT_DAYS.iter().rev().copied().find(|d| days_left >= 1 && days_left <= *d)
}

impl Drivers {
    pub async fn run_expiry_job(&self) -> Result<ExpiryReport, DbError> {
        let today = self.clock.now().date_naive();
        let now = self.clock.unix();
        let base_url = self.config.server.public_url.trim_end_matches('/').to_string();
        let pii = self.pii.clone();
        let report = self
            .db
            .run_conn(move |c| {
                let mut report = ExpiryReport::default();
                for driver in store::approved_drivers(c)? {
                    let tx = c.transaction()?;
                    let did = handle(&tx, &pii, &driver, today, now, &base_url)?;
                    tx.commit()?;
                    report.alerts_sent += usize::from(did == Outcome::Alerted);
                    report.suspended += usize::from(did == Outcome::Suspended);
                }
                Ok::<_, DbError>(report)
            })
            .await?;
        if report.alerts_sent > 0 {
            self.outbox_wake.notify_one();
        }
        tracing::info!(
            alerts = report.alerts_sent,
            suspended = report.suspended,
            "driver expiry job ran"
        );
        Ok(report)
    }
}

#[derive(Debug, PartialEq, Eq)]
enum Outcome {
    Nothing,
    Alerted,
    Suspended,
}

fn handle(
    conn: &Conn,
    pii: &FieldCipher,
    driver: &ApprovedDriver,
    today: NaiveDate,
    now: i64,
    base_url: &str,
) -> rusqlite::Result<Outcome> {
    // Read again inside the transaction (locked on PostgreSQL): a review may have replaced the
    // licence meanwhile.
    let mut profile = store::profile_to_change(conn, &driver.user_id)?;
    if profile.status != Status::Approved || profile.licence_id != Some(driver.licence_id) {
        return Ok(Outcome::Nothing);
    }
    let Some(expiry) = driver.expiry else { return Ok(Outcome::Nothing) };
    let days_left = (expiry - today).num_days();
    let url = notices::driver_page(base_url);
    let expiry_text = notices::day(expiry);
    let renewal_waiting = store::has_pending(conn, &driver.user_id)?;
    if days_left <= 0 {
        let was_available = profile.available;
        profile.status = Status::Suspended;
        profile.available = false;
        profile.reason = Some(format!("Your licence expired on {expiry_text}."));
        store::save_profile(conn, &profile, now)?;
        let system = |action| AuditEvent {
            actor_id: None,
            ..AuditEvent::by_user(now, &driver.user_id, action, None)
        };
        if was_available {
            audit::record(
                conn,
                &system(actions::DRIVER_UNAVAILABLE).with_details(
                    json!({"reason": "licence expired", "licence_id": driver.licence_id}),
                ),
            )?;
        }
        audit::record(
            conn,
            &system(actions::DRIVER_SUSPENDED).with_details(
                json!({"reason": "licence expired", "licence_id": driver.licence_id}),
            ),
        )?;
        let why = json!({"reason": "licence_expired"});
        let (user, licence) = (&driver.user_id, driver.licence_id);
        queue_driver_event(conn, DriverSuspended, user, licence, profile.status, why, now)?;
        notices::queue(conn, pii, &driver.user_id, now, |brand, to, name| {
            templates::driving_suspended(brand, to, name, &expiry_text, renewal_waiting, &url)
        })?;
        return Ok(Outcome::Suspended);
    }
    let Some(days) = alert_for(days_left) else { return Ok(Outcome::Nothing) };
    if !store::record_alert(conn, driver.licence_id, days, now)? {
        return Ok(Outcome::Nothing);
    }
    let (user, licence, left) = (&driver.user_id, driver.licence_id, json!({"days_left": days}));
    queue_driver_event(conn, DriverLicenceExpiring, user, licence, profile.status, left, now)?;
    notices::queue(conn, pii, &driver.user_id, now, |brand, to, name| {
        templates::licence_expiring(brand, to, name, days_left, &expiry_text, renewal_waiting, &url)
    })?;
    Ok(Outcome::Alerted)
}

#[cfg(test)]
#[path = "expiry_tests.rs"]
mod tests;
