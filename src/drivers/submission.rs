//! Recording a checked licence upload ([`super::Drivers::submit`]) in the caller's
//! transaction: the licence and its images, the licences it supersedes, the driver's profile,
//! the audit row, the webhook event and, for a renewal approved without a reviewer, its email.
//!
//! Two uploads of one account at once each supersede the account's other pending licences.
//! SQLite's writers take turns, so the second sees the first's licence; on PostgreSQL it would
//! not (its statements see only what had committed), and both would stay pending. So the
//! submission first takes the account's turn ([`Conn::serialize_on`]); a lock on the profile
//! row is not enough, since a first upload has no profile row yet.

use serde_json::json;

use super::DriverError;
use super::events::queue_driver_event;
use super::extraction::Extraction;
use super::notices::{self, Decision};
use super::store::{self, NewLicence, Status};
use super::uploads::UploadRecord;
use crate::audit::{self, AuditEvent, actions};
use crate::db::conn::Conn;
use crate::pii::FieldCipher;
use crate::webhooks::EventType;

/// The reason recorded for a renewal approved without a reviewer.
const AUTO_APPROVED: &str = "renewal passed every check";

/// A checked upload, ready to record.
pub(super) struct Submission {
    pub user_id: String,
    pub ip: Option<String>,
    pub extraction: Extraction,
    /// What a reviewer should check (empty: every check passed).
    pub notes: Vec<String>,
    pub score: Option<f64>,
    pub renewal: bool,
    /// A renewal approved without a reviewer.
    pub automatic: bool,
    /// The stored front and back images, with their sizes in pixels.
    pub records: Vec<UploadRecord>,
    pub dims: [(u32, u32); 2],
}

/// Records `s` in the transaction `tx`; the image files of the licences it superseded, to
/// delete once the transaction commits.
pub(super) fn record(
    tx: &Conn,
    pii: &FieldCipher,
    s: &Submission,
    now: i64,
    base_url: &str,
) -> Result<Vec<String>, DriverError> {
    let (uid, extraction, automatic) = (s.user_id.as_str(), &s.extraction, s.automatic);
    tx.serialize_on(&format!("driver_submission:{uid}"))?;
    let review_notes = s.notes.join("\n");
    let new = NewLicence {
        user_id: uid,
        status: if automatic { "approved" } else { "pending_review" },
        source: extraction.source,
        fields: &extraction.fields,
        name_score: s.score,
        review_notes: &review_notes,
        front_check: extraction.front.outcome,
        front_mismatches: &extraction.front.mismatched,
    };
    let id = store::insert_licence(tx, pii, &new, now)?;
    for ((side, record), dims) in ["front", "back"].into_iter().zip(&s.records).zip(s.dims) {
        store::insert_upload(tx, id, side, record, dims)?;
    }
    let mut obsolete =
        store::take_uploads_of(tx, &store::supersede(tx, uid, "pending_review", id)?)?;
    let mut profile = store::profile_to_change(tx, uid)?;
    let ip = s.ip.as_deref();
    let event = if automatic {
        store::decide(tx, id, "approved", Some(AUTO_APPROVED), None, now)?;
        obsolete.extend(store::take_uploads_of(tx, &store::supersede(tx, uid, "approved", id)?)?);
        profile.status = Status::Approved;
        profile.licence_id = Some(id);
        profile.reason = None;
        AuditEvent { actor_id: None, ..AuditEvent::by_user(now, uid, actions::DRIVER_APPROVED, ip) }
            .with_details(json!({
                "licence_id": id,
                "reason": AUTO_APPROVED,
                "automatic": true,
                "front_check": extraction.front.outcome.as_str(),
            }))
    } else {
        if matches!(profile.status, Status::None | Status::Rejected | Status::Suspended) {
            profile.status = Status::PendingReview;
            profile.reason = None;
        }
        let reason = if !s.notes.is_empty() {
            review_notes.clone()
        } else if s.renewal {
            "a reviewer approves renewals (driver.auto_approve_renewals is off)".to_string()
        } else {
            "a reviewer approves every new driver".to_string()
        };
        AuditEvent::by_user(now, uid, actions::DRIVER_REQUESTED, ip)
            .with_details(json!({"licence_id": id, "reason": reason, "source": extraction.source}))
    };
    store::save_profile(tx, &profile, now)?;
    audit::record(tx, &event)?;
    let (kind, detail) = if automatic {
        (EventType::DriverApproved, json!({"automatic": true}))
    } else {
        (EventType::DriverSubmitted, json!({"renewal": s.renewal}))
    };
    queue_driver_event(tx, kind, uid, id, profile.status, detail, now)?;
    if let (true, Some(expiry)) = (automatic, extraction.fields.expiry) {
        let decision = Decision::Approved { expiry, automatic: true };
        notices::queue_decision(tx, pii, uid, &decision, base_url, now)?;
    }
    Ok(obsolete)
}

#[cfg(test)]
#[path = "submission_tests.rs"]
mod tests;
