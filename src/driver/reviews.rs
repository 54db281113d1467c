//! Reviews of licences: the queue with the driver's names beside what was read, the images,
//! and the decisions. Who may decide (a reviewer or admin, never on their own licence) and
//! every decision's audit row are here.

use chrono::NaiveDate;
use rusqlite::Connection;
use serde_json::json;

use super::DriverError;
use super::service::{delete_files, take_files, today};
use super::store::{self, Licence, Status};
use crate::accounts::store as accounts;
use crate::app::AppState;
use crate::audit::{self, AuditEvent, actions};
use crate::privacy::FieldCipher;

/// A licence waiting for review, with the driver's names for comparison.
#[derive(Debug, Clone)]
pub struct Review {
    pub licence: Licence,
    pub display_name: String,
    pub legal_name: Option<String>,
    pub email: Option<String>,
    pub renewal: bool,
}

pub async fn reviews(state: &AppState, limit: i64) -> Result<Vec<Review>, DriverError> {
    let pii = state.pii.clone();
    state
        .db
        .run(move |c| {
            let mut out = Vec::new();
            for licence in store::pending(c, &pii, limit)? {
                let Some(user) = accounts::find_by_id(c, &pii, &licence.user_id)? else { continue };
                let renewal = store::profile(c, &licence.user_id)?.ever_approved;
                out.push(Review {
                    licence,
                    display_name: user.display_name,
                    legal_name: user.legal_name,
                    email: user.email,
                    renewal,
                });
            }
            Ok(out)
        })
        .await
}

/// `approve`: the licence becomes the driver's; `expiry` fills in a date the reviewer read.
pub async fn approve(
    state: &AppState,
    reviewer: &str,
    licence_id: i64,
    ip: Option<String>,
    expiry: Option<NaiveDate>,
) -> Result<(), DriverError> {
    let (reviewer, today, now) = (reviewer.to_string(), today(state), state.clock.unix());
    let pii = state.pii.clone();
    let obsolete = state
        .db
        .run(move |c| {
            let tx = crate::db::write_tx(c)?;
            let licence = pending_licence(&tx, &pii, licence_id, &reviewer)?;
            let expiry = expiry.or(licence.fields.expiry).ok_or(DriverError::ExpiryUnknown)?;
            if expiry <= today {
                return Err(DriverError::LicenceExpired(expiry));
            }
            if licence.fields.expiry != Some(expiry) {
                store::set_expiry(&tx, licence_id, expiry)?;
            }
            store::decide(&tx, licence_id, "approved", None, Some(&reviewer), now)?;
            let obsolete =
                take_files(&tx, &store::supersede(&tx, &licence.user_id, "approved", licence_id)?)?;
            let mut profile = store::profile(&tx, &licence.user_id)?;
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
            .with_details(json!({"licence_id": licence_id, "reason": "approved by a reviewer"}));
            audit::record(&tx, &event)?;
            tx.commit()?;
            Ok(obsolete)
        })
        .await?;
    delete_files(state, obsolete).await;
    Ok(())
}

/// `reject`: the driver reads `reason`.
pub async fn reject(
    state: &AppState,
    reviewer: &str,
    licence_id: i64,
    ip: Option<String>,
    reason: String,
) -> Result<(), DriverError> {
    let reason = reason.trim().to_string();
    if reason.is_empty() || reason.chars().count() > 500 {
        return Err(DriverError::ReasonRequired);
    }
    let (reviewer, now, pii) = (reviewer.to_string(), state.clock.unix(), state.pii.clone());
    state
        .db
        .run(move |c| {
            let tx = crate::db::write_tx(c)?;
            let licence = pending_licence(&tx, &pii, licence_id, &reviewer)?;
            store::decide(&tx, licence_id, "rejected", Some(&reason), Some(&reviewer), now)?;
            let mut profile = store::profile(&tx, &licence.user_id)?;
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
            tx.commit()?;
            Ok(())
        })
        .await
}

fn pending_licence(
    conn: &Connection,
    pii: &FieldCipher,
    id: i64,
    reviewer: &str,
) -> Result<Licence, DriverError> {
    let licence = store::licence(conn, pii, id)?.ok_or(DriverError::ReviewNotFound)?;
    if licence.user_id == reviewer {
        return Err(DriverError::OwnReview);
    }
    if licence.status != "pending_review" {
        return Err(DriverError::AlreadyDecided);
    }
    Ok(licence)
}

/// One side of a licence's images, for reviewers: the bytes and their type.
pub async fn image(
    state: &AppState,
    licence_id: i64,
    side: String,
) -> Result<(Vec<u8>, String), DriverError> {
    if side != "front" && side != "back" {
        return Err(DriverError::ImageNotFound);
    }
    let record = state
        .db
        .run(move |c| Ok::<_, DriverError>(store::upload(c, licence_id, &side)?))
        .await?
        .ok_or(DriverError::ImageNotFound)?;
    let store = state.driver.uploads.clone();
    let path = record.path.clone();
    let bytes = state.driver.images.run(move || store.get(&path)).await?.map_err(|e| {
        DriverError::Internal(anyhow::Error::new(e).context("reading a licence image"))
    })?;
    Ok((bytes, record.content_type))
}
