//! The rules: what an upload must pass (and how many an hour), when a licence is approved
//! automatically, and when driving and availability may be switched on (reviews are in
//! [`super::reviews`]). Every change of a driver's capability is written to the audit log in
//! the transaction that makes it.

use chrono::{Days, NaiveDate};
use serde_json::json;

use super::DriverError;
use super::Drivers;
use super::extraction::check_fields;
use super::licence::front_check::FrontCheck;
use super::store::{self, Licence, Profile, Status};
use super::submission::{self, Submission};
use super::uploads::{self, CheckedImage, ImageError, UploadRecord};
use crate::accounts;
use crate::audit::{self, AuditEvent, actions};
use crate::db::conn::{AsConn, Conn};
use crate::pii::FieldCipher;
use crate::ratelimit::Limited;

/// Days before expiry from which a new licence may be uploaded.
pub const RENEWAL_WINDOW_DAYS: u64 = 7;

/// Licence uploads one account may make in an hour, whatever their outcome: each is decoded,
/// searched for a barcode and perhaps OCR'd, and a stored one waits for a reviewer. A driver
/// needs one or two (another photo when the first is blurred); ten leaves room for bad photos
/// and stops one account from keeping the image pool and OCR busy for everyone.
pub const UPLOADS_PER_HOUR: u32 = 10;
const HOUR: i64 = 3600;

impl Drivers {
    /// The calendar day of the injected clock (UTC).
    pub fn today(&self) -> NaiveDate {
        self.clock.now().date_naive()
    }

    pub async fn snapshot(&self, user_id: &str) -> Result<Snapshot, DriverError> {
        let (user_id, today, pii) = (user_id.to_string(), self.today(), self.pii.clone());
        self.db
            .run_conn(move |c| {
                // Several reads: one moment, so the profile and its licences agree.
                let snapshot = c.snapshot()?;
                Ok(Snapshot::load(&snapshot, &pii, &user_id, today)?)
            })
            .await
    }

    /// Counts a licence upload of `user_id` against [`UPLOADS_PER_HOUR`] in the database, or
    /// refuses it. Called before the upload's images are read, so a refused one costs nothing.
    pub async fn count_upload(&self, user_id: &str) -> Result<(), DriverError> {
        let (uid, now) = (user_id.to_string(), self.clock.unix());
        self.db
            .run_conn(move |c| {
                let tx = c.transaction()?;
                let (count, oldest, newest) = store::upload_attempts_since(&tx, &uid, now - HOUR)?;
                if count >= i64::from(UPLOADS_PER_HOUR) {
                    let wait = |at: Option<i64>| at.map_or(1, |t| (t + HOUR - now).max(1) as u64);
                    return Err(DriverError::RateLimited(Limited {
                        limit: UPLOADS_PER_HOUR,
                        retry_after: wait(oldest),
                        reset: wait(newest),
                    }));
                }
                store::record_upload_attempt(&tx, &uid, now, now - HOUR)?;
                tx.commit()?;
                Ok(())
            })
            .await
    }

    /// `POST /driver/license`: checks, reads and stores a licence; approves a renewal that passes
    /// every check, else queues it for a reviewer.
    pub async fn submit(
        &self,
        user_id: &str,
        ip: Option<String>,
        front: Vec<u8>,
        back: Vec<u8>,
    ) -> Result<Snapshot, DriverError> {
        let config = &self.config.driver;
        let checking = config.clone();
        // Reading the headers and dropping metadata are passes over up to two whole files.
        let (front, back) = self
            .images
            .run(move || -> Result<_, ImageError> {
                let front = uploads::check("front", front, &checking)?;
                Ok((front, uploads::check("back", back, &checking)?))
            })
            .await??;
        let today = self.today();
        let uid = user_id.to_string();
        let pii = self.pii.clone();
        let (user, before) = self
            .db
            .run_conn(move |c| {
                let snapshot = c.snapshot()?;
                let user = accounts::find_by_id(&snapshot, &pii, &uid)?;
                Ok::<_, DriverError>((user, Snapshot::load(&snapshot, &pii, &uid, today)?))
            })
            .await?;
        let user = user.ok_or(DriverError::NotVerified)?;
        if user.email_verified_at.is_none() {
            return Err(DriverError::NotVerified);
        }
        let legal_name = user
            .legal_name
            .filter(|n| !n.trim().is_empty())
            .ok_or(DriverError::LegalNameRequired)?;
        if let (Some(from), Some(expiry)) =
            (before.upload_from(), before.current.as_ref().and_then(|l| l.fields.expiry))
        {
            return Err(DriverError::TooEarly { expiry, from });
        }

        let extraction = self.extract(&front, &back).await?;
        if let Some(expiry) = extraction.fields.expiry
            && expiry <= today
        {
            return Err(DriverError::LicenceExpired(expiry));
        }
        let previous = before.profile.ever_approved.then_some(before.current.as_ref()).flatten();
        let (score, notes) = check_fields(&extraction, &legal_name, previous, config);
        let renewal = previous.is_some();
        let automatic = renewal
            && notes.is_empty()
            && config.auto_approve_renewals
            && extraction.front.outcome == FrontCheck::Agrees;

        let stored = self.store_images([&front, &back]).await?;
        let submission = Submission {
            user_id: user_id.to_string(),
            ip,
            extraction,
            notes,
            score,
            renewal,
            automatic,
            records: stored.clone(),
            dims: [(front.width, front.height), (back.width, back.height)],
        };
        let pii = self.pii.clone();
        let now = self.clock.unix();
        let base_url = self.config.server.public_url.clone();
        let result = self
            .db
            .run_conn(move |c| {
                let tx = c.transaction()?;
                let obsolete = submission::record(&tx, &pii, &submission, now, &base_url)?;
                // Read before the commit: what this submission made, not a later change.
                let after = Snapshot::load(&tx, &pii, &submission.user_id, today)?;
                tx.commit()?;
                Ok::<_, DriverError>((obsolete, after))
            })
            .await;
        match result {
            Ok((obsolete, snapshot)) => {
                if automatic {
                    self.outbox_wake.notify_one();
                }
                self.delete_files(obsolete).await;
                Ok(snapshot)
            }
            Err(e) => {
                self.delete_files(stored.into_iter().map(|r| r.path).collect()).await;
                Err(e)
            }
        }
    }

    async fn store_images(
        &self,
        images: [&CheckedImage; 2],
    ) -> Result<Vec<UploadRecord>, DriverError> {
        let store = self.uploads.clone();
        let images: Vec<CheckedImage> = images.into_iter().cloned().collect();
        self.images
            .run(move || {
                let mut records: Vec<UploadRecord> = Vec::new();
                for image in images {
                    match store.put(&image.bytes) {
                        Ok((path, key_id)) => records.push(UploadRecord {
                            path,
                            size: image.bytes.len() as i64,
                            sha256: image.sha256(),
                            content_type: image.kind.content_type().into(),
                            key_id: Some(key_id),
                        }),
                        Err(e) => {
                            for r in &records {
                                let _ = store.delete(&r.path);
                            }
                            return Err(DriverError::Internal(
                                anyhow::Error::new(e).context("storing a licence image"),
                            ));
                        }
                    }
                }
                Ok(records)
            })
            .await?
    }

    /// Deletes image files no longer referenced as wanted; failures are logged, not fatal.
    pub(super) async fn delete_files(&self, paths: Vec<String>) {
        if paths.is_empty() {
            return;
        }
        let store = self.uploads.clone();
        let outcome = self
            .images
            .run(move || {
                for path in paths {
                    if let Err(e) = store.delete(&path) {
                        tracing::warn!(error = %e, "could not delete a licence image");
                    }
                }
            })
            .await;
        if let Err(e) = outcome {
            tracing::warn!(error = %e, "could not delete licence images");
        }
    }

    /// `POST /driver/enable`: switches driving on for an approved driver with a valid licence.
    pub async fn enable(&self, user_id: &str, ip: Option<String>) -> Result<Snapshot, DriverError> {
        self.change(user_id, move |c, snapshot, now| {
            if snapshot.profile.enabled {
                return Ok(());
            }
            let mut profile = snapshot.profile.clone();
            profile.enabled = true;
            store::save_profile(c, &profile, now)?;
            let event =
                AuditEvent::by_user(now, &profile.user_id, actions::DRIVER_ENABLED, ip.as_deref())
                    .with_details(json!({"reason": "requested by the driver"}));
            audit::record(c, &event)?;
            Ok(())
        })
        .await
    }

    /// `POST /driver/availability`.
    pub async fn set_availability(
        &self,
        user_id: &str,
        ip: Option<String>,
        available: bool,
    ) -> Result<Snapshot, DriverError> {
        self.change(user_id, move |c, snapshot, now| {
            if available && !snapshot.profile.enabled {
                return Err(DriverError::NotApproved("Enable driving first.".into()));
            }
            if snapshot.profile.available == available {
                return Ok(());
            }
            let mut profile = snapshot.profile.clone();
            profile.available = available;
            store::save_profile(c, &profile, now)?;
            let action =
                if available { actions::DRIVER_AVAILABLE } else { actions::DRIVER_UNAVAILABLE };
            let event = AuditEvent::by_user(now, &profile.user_id, action, ip.as_deref())
                .with_details(json!({"reason": "switched by the driver"}));
            audit::record(c, &event)?;
            Ok(())
        })
        .await
    }

    /// Runs a driver's own capability change in a write transaction, for a driver who may drive.
    async fn change(
        &self,
        user_id: &str,
        work: impl FnOnce(&Conn, &Snapshot, i64) -> Result<(), DriverError> + Send + 'static,
    ) -> Result<Snapshot, DriverError> {
        self.count_change(user_id).map_err(DriverError::RateLimited)?;
        let (uid, today, now) = (user_id.to_string(), self.today(), self.clock.unix());
        let pii = self.pii.clone();
        self.db
            .run_conn(move |c| {
                let tx = c.transaction()?;
                // The profile is saved whole from the snapshot: on PostgreSQL its row is locked
                // first, so a decision or the expiry job on another node cannot be overwritten.
                store::profile_to_change(&tx, &uid)?;
                let snapshot = Snapshot::load(&tx, &pii, &uid, today)?;
                if !snapshot.can_drive() {
                    return Err(not_approved(&snapshot));
                }
                work(&tx, &snapshot, now)?;
                let after = Snapshot::load(&tx, &pii, &uid, today)?;
                tx.commit()?;
                Ok(after)
            })
            .await
    }
}

/// What a driver sees of their own state.
#[derive(Debug, Clone)]
pub struct Snapshot {
    pub profile: Profile,
    /// The licence that made the driver approved.
    pub current: Option<Licence>,
    /// The latest licence waiting for a reviewer.
    pub pending: Option<Licence>,
    /// The latest rejected licence, if newer than the others.
    pub rejected: Option<Licence>,
    pub today: NaiveDate,
}

impl Snapshot {
    fn load(
        conn: &impl AsConn,
        pii: &FieldCipher,
        user_id: &str,
        today: NaiveDate,
    ) -> rusqlite::Result<Self> {
        let profile = store::profile(conn, user_id)?;
        let current = match profile.licence_id {
            Some(id) => store::licence(conn, pii, id)?,
            None => None,
        };
        let pending = store::latest_licence(conn, pii, user_id, "pending_review")?;
        let rejected = store::latest_licence(conn, pii, user_id, "rejected")?
            .filter(|r| pending.as_ref().is_none_or(|p| r.id > p.id));
        Ok(Self { profile, current, pending, rejected, today })
    }

    /// The first day a new licence is accepted, when that is still to come.
    pub fn upload_from(&self) -> Option<NaiveDate> {
        if self.profile.status != Status::Approved {
            return None;
        }
        let expiry = self.current.as_ref()?.fields.expiry?;
        let from = expiry.checked_sub_days(Days::new(RENEWAL_WINDOW_DAYS))?;
        (self.today < from).then_some(from)
    }

    /// Approved, and the licence still valid today.
    pub fn can_drive(&self) -> bool {
        self.profile.status == Status::Approved
            && self.current.as_ref().and_then(|l| l.fields.expiry).is_some_and(|e| self.today < e)
    }
}

fn not_approved(snapshot: &Snapshot) -> DriverError {
    let message = match snapshot.profile.status {
        Status::None => "Upload your driving licence first.",
        Status::PendingReview => "Your licence is waiting for a reviewer.",
        Status::Rejected => "Your licence was rejected; upload a new one.",
        Status::Suspended | Status::Approved => {
            "Your licence has expired: driving is suspended until a new licence is approved."
        }
    };
    DriverError::NotApproved(message.into())
}
