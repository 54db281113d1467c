//! Reviews of licences: the queue with the driver's names beside what was read, the images,
//! and the decisions. Who may decide (a reviewer or admin, never on their own licence) and
//! every decision's audit row are here.

use super::events::queue_driver_event;
use crate::webhooks::EventType::{DriverApproved, DriverRejected};
use chrono::NaiveDate;
use serde_json::json;

use super::DriverError;
use super::Drivers;
use super::licence::aamva::LicenceFields;
use super::notices::{self, Decision};
use super::store::{self, Licence, Status};
use crate::accounts;
use crate::audit::{self, AuditEvent, actions};
use crate::db::conn::AsConn;
use crate::pii::FieldCipher;

/// A licence waiting for review, with the driver's names for comparison and, for a renewal,
/// the licence it would replace.
#[derive(Debug, Clone)]
pub struct Review {
    pub licence: Licence,
    pub display_name: String,
    pub legal_name: Option<String>,
    pub email: Option<String>,
    pub renewal: bool,
    /// The driver's current licence (approved, or suspended since it expired).
    pub previous: Option<Licence>,
    /// The fields that differ from the previous licence's, by their API names.
    pub changes: Vec<&'static str>,
    /// Seconds since the upload.
    pub waiting_seconds: i64,
}

impl Drivers {
    /// The queue, oldest first: the order a driver waiting longest is served in.
    pub async fn reviews(&self, limit: i64) -> Result<Vec<Review>, DriverError> {
        let (pii, now) = (self.pii.clone(), self.clock.unix());
        self.db
            .run_conn(move |c| {
                // Several reads: one moment, so each licence and its driver's profile agree.
                let c = &c.snapshot()?;
                let mut out = Vec::new();
                for licence in store::pending(c, &pii, limit)? {
                    let Some(user) = accounts::find_by_id(c, &pii, &licence.user_id)? else {
                        continue;
                    };
                    let profile = store::profile(c, &licence.user_id)?;
                    let previous = match (profile.ever_approved, profile.licence_id) {
                        (true, Some(id)) => store::licence(c, &pii, id)?,
                        _ => None,
                    };
                    let changes = previous
                        .as_ref()
                        .map(|p| changes(&p.fields, &licence.fields))
                        .unwrap_or_default();
                    out.push(Review {
                        waiting_seconds: (now - licence.created_at).max(0),
                        licence,
                        display_name: user.display_name,
                        legal_name: user.legal_name,
                        email: user.email,
                        renewal: profile.ever_approved,
                        previous,
                        changes,
                    });
                }
                Ok(out)
            })
            .await
    }

    /// How many licences wait for a reviewer, and the seconds the oldest has waited (0 when none).
    pub async fn queue_stats(&self) -> Result<(i64, i64), DriverError> {
        let now = self.clock.unix();
        let (size, oldest) =
            self.db.run_conn(|c| Ok::<_, DriverError>(store::queue_size(c)?)).await?;
        Ok((size, oldest.map_or(0, |at| (now - at).max(0))))
    }

    /// `approve`: the licence becomes the driver's; `expiry` fills in a date the reviewer read.
    pub async fn approve(
        &self,
        reviewer: &str,
        licence_id: i64,
        ip: Option<String>,
        expiry: Option<NaiveDate>,
    ) -> Result<(), DriverError> {
        let (reviewer, today, now) = (reviewer.to_string(), self.today(), self.clock.unix());
        let (pii, base_url) = (self.pii.clone(), self.config.server.public_url.clone());
        let obsolete = self
            .db
            .run_conn(move |c| {
                let tx = c.transaction()?;
                let licence = pending_licence(&tx, &pii, licence_id, &reviewer)?;
                let expiry = expiry.or(licence.fields.expiry).ok_or(DriverError::ExpiryUnknown)?;
                if expiry <= today {
                    return Err(DriverError::LicenceExpired(expiry));
                }
                if licence.fields.expiry != Some(expiry) {
                    store::set_expiry(&tx, licence_id, expiry)?;
                }
                store::decide(&tx, licence_id, "approved", None, Some(&reviewer), now)?;
                let obsolete = store::take_uploads_of(
                    &tx,
                    &store::supersede(&tx, &licence.user_id, "approved", licence_id)?,
                )?;
                let mut profile = store::profile_to_change(&tx, &licence.user_id)?;
                profile.status = Status::Approved;
                profile.licence_id = Some(licence_id);
                profile.ever_approved = true;
                profile.reason = None;
                store::save_profile(&tx, &profile, now)?;
                let event = AuditEvent {
                    actor_id: Some(&reviewer),
                    ..AuditEvent::by_user(
                        now,
                        &licence.user_id,
                        actions::DRIVER_APPROVED,
                        ip.as_deref(),
                    )
                }
                .with_details(
                    json!({"licence_id": licence_id, "reason": "approved by a reviewer"}),
                );
                audit::record(&tx, &event)?;
                let (user, auto) = (&licence.user_id, json!({"automatic": false}));
                queue_driver_event(
                    &tx,
                    DriverApproved,
                    user,
                    licence_id,
                    profile.status,
                    auto,
                    now,
                )?;
                let decision = Decision::Approved { expiry, automatic: false };
                notices::queue_decision(&tx, &pii, &licence.user_id, &decision, &base_url, now)?;
                tx.commit()?;
                Ok(obsolete)
            })
            .await?;
        self.outbox_wake.notify_one();
        self.delete_files(obsolete).await;
        Ok(())
    }

    /// `reject`: the driver reads `reason`.
    pub async fn reject(
        &self,
        reviewer: &str,
        licence_id: i64,
        ip: Option<String>,
        reason: String,
    ) -> Result<(), DriverError> {
        let reason = reason.trim().to_string();
        if reason.is_empty() || reason.chars().count() > 500 {
            return Err(DriverError::ReasonRequired);
        }
        let (reviewer, today, now) = (reviewer.to_string(), self.today(), self.clock.unix());
        let (pii, base_url) = (self.pii.clone(), self.config.server.public_url.clone());
        self.db
            .run_conn(move |c| {
                let tx = c.transaction()?;
                let licence = pending_licence(&tx, &pii, licence_id, &reviewer)?;
                store::decide(&tx, licence_id, "rejected", Some(&reason), Some(&reviewer), now)?;
                let mut profile = store::profile_to_change(&tx, &licence.user_id)?;
                if profile.status == Status::PendingReview {
                    profile.status = Status::Rejected;
                }
                // An approved driver whose renewal was rejected still drives on the current
                // licence; the rejected licence carries the reason.
                if profile.status != Status::Approved {
                    profile.reason = Some(reason.clone());
                }
                store::save_profile(&tx, &profile, now)?;
                let event = AuditEvent {
                    actor_id: Some(&reviewer),
                    ..AuditEvent::by_user(
                        now,
                        &licence.user_id,
                        actions::DRIVER_REJECTED,
                        ip.as_deref(),
                    )
                }
                .with_details(json!({"licence_id": licence_id, "reason": reason}));
                audit::record(&tx, &event)?;
                let user = &licence.user_id;
                queue_driver_event(
                    &tx,
                    DriverRejected,
                    user,
                    licence_id,
                    profile.status,
                    json!({}),
                    now,
                )?;
                let still_valid_until = match (profile.status, profile.licence_id) {
                    (Status::Approved, Some(current)) => store::licence(&tx, &pii, current)?
                        .and_then(|l| l.fields.expiry)
                        .filter(|expiry| *expiry > today),
                    _ => None,
                };
                let decision = Decision::Rejected { reason: &reason, still_valid_until };
                notices::queue_decision(&tx, &pii, &licence.user_id, &decision, &base_url, now)?;
                tx.commit()?;
                Ok::<_, DriverError>(())
            })
            .await?;
        self.outbox_wake.notify_one();
        Ok(())
    }

    /// One side of a licence's images, for reviewers: the bytes and their type.
    pub async fn image(
        &self,
        licence_id: i64,
        side: String,
    ) -> Result<(Vec<u8>, String), DriverError> {
        if side != "front" && side != "back" {
            return Err(DriverError::ImageNotFound);
        }
        let record = self
            .db
            .run_conn(move |c| Ok::<_, DriverError>(store::upload(c, licence_id, &side)?))
            .await?
            .ok_or(DriverError::ImageNotFound)?;
        let store = self.uploads.clone();
        let path = record.path.clone();
        let bytes = self.images.run(move || store.get(&path)).await?.map_err(|e| {
            DriverError::Internal(anyhow::Error::new(e).context("reading a licence image"))
        })?;
        Ok((bytes, record.content_type))
    }
}

/// The fields of `new` that differ from `old`'s (names compared without case or spacing).
pub fn changes(old: &LicenceFields, new: &LicenceFields) -> Vec<&'static str> {
    let text = |v: &Option<String>| {
        v.as_deref().map(|t| t.split_whitespace().collect::<Vec<_>>().join(" ").to_uppercase())
    };
    let mut changed = Vec::new();
    if text(&old.family_name) != text(&new.family_name) {
        changed.push("family_name");
    }
    if text(&old.given_names) != text(&new.given_names) {
        changed.push("given_names");
    }
    if text(&old.licence_number) != text(&new.licence_number) {
        changed.push("licence_number");
    }
    if old.expiry != new.expiry {
        changed.push("expiry_date");
    }
    if old.birth_date != new.birth_date {
        changed.push("birth_date");
    }
    if text(&old.issuer) != text(&new.issuer) {
        changed.push("issuer");
    }
    changed
}

/// The licence `id` if `reviewer` may decide it now. On PostgreSQL its row stays locked until
/// the decision commits, so a second reviewer deciding it at the same moment on another node
/// waits, then finds it decided ([`DriverError::AlreadyDecided`]).
fn pending_licence(
    conn: &impl AsConn,
    pii: &FieldCipher,
    id: i64,
    reviewer: &str,
) -> Result<Licence, DriverError> {
    let licence = store::licence_to_decide(conn, pii, id)?.ok_or(DriverError::ReviewNotFound)?;
    if licence.user_id == reviewer {
        return Err(DriverError::OwnReview);
    }
    if licence.status != "pending_review" {
        return Err(DriverError::AlreadyDecided);
    }
    Ok(licence)
}
