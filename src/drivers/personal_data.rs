//! What driver verification keeps about a person: their driver state, every licence with what
//! was read from it, its sealed images, the expiry alerts sent, and their recent uploads (for
//! the hourly cap). A reviewer's own decisions on others' licences keep no id of theirs once
//! they are deleted (`decided_by` is set to NULL by its foreign key).

use std::sync::Arc;

use poem_openapi::Object;

use super::Drivers;
use crate::clock::{rfc3339, rfc3339_opt};
use crate::config::RetentionConfig;
use crate::db::conn::{Conn, Optional, SqlResult};
use crate::pii::sealed::SealedColumns;
use crate::pii::{AfterErase, FieldCipher, Person, PersonalData, Purged};

const DAY: i64 = 86_400;

/// The licence fields that identify a person, sealed.
pub const SEALED: SealedColumns =
    SealedColumns { table: "driver_licences", key: "id", columns: super::SEALED_COLUMNS };

pub struct DriversData {
    pub drivers: Arc<Drivers>,
}

impl PersonalData for DriversData {
    fn feature(&self) -> &'static str {
        "drivers"
    }

    fn tables(&self) -> &'static [&'static str] {
        &[
            "driver_profiles",
            "driver_licences",
            "driver_uploads",
            "driver_expiry_alerts",
            "driver_upload_attempts",
        ]
    }

    /// The rows go in the transaction; the image files once it has committed.
    fn erase_in(&self, tx: &Conn, person: &Person, after: &mut AfterErase) -> SqlResult<()> {
        let images: Vec<String> = tx.query_map(
            "SELECT u.path FROM driver_uploads u
             JOIN driver_licences l ON l.id = u.licence_id WHERE l.user_id = ?1",
            [&person.id],
            |r| r.get(0),
        )?;
        tx.execute("DELETE FROM driver_profiles WHERE user_id = ?1", [&person.id])?;
        // Uploads and expiry alerts hang on their licence (`ON DELETE CASCADE`).
        tx.execute("DELETE FROM driver_licences WHERE user_id = ?1", [&person.id])?;
        tx.execute("DELETE FROM driver_upload_attempts WHERE user_id = ?1", [&person.id])?;
        let uploads = self.drivers.uploads.clone();
        after.then(move || {
            if images.iter().try_for_each(|name| uploads.delete(name)).is_err() {
                tracing::error!("cannot remove a deleted account's licence images");
            }
        });
        Ok(())
    }

    /// Upload attempts older than a day (the cap counts the last hour).
    fn purge_in(
        &self,
        tx: &Conn,
        now: i64,
        _retention: &RetentionConfig,
        purged: &mut Purged,
    ) -> SqlResult<()> {
        let rows = tx.execute("DELETE FROM driver_upload_attempts WHERE at <= ?1", [now - DAY])?;
        purged.add("driver_upload_attempts", rows);
        Ok(())
    }
}

#[derive(Debug, Object, serde::Serialize)]
#[oai(skip_serializing_if_is_none)]
pub struct ExportDriver {
    /// `none`, `pending_review`, `approved`, `rejected` or `suspended`.
    pub status: String,
    /// Why the driver was last rejected or suspended, as the driver was told.
    pub reason: Option<String>,
    pub enabled: bool,
    pub available: bool,
    pub licences: Vec<ExportLicence>,
}

#[derive(Debug, Object, serde::Serialize)]
#[oai(skip_serializing_if_is_none)]
pub struct ExportLicence {
    pub status: String,
    /// `barcode`, `ocr` or `none`.
    pub source: String,
    pub family_name: Option<String>,
    pub given_names: Option<String>,
    pub licence_number: Option<String>,
    pub expiry_date: Option<String>,
    pub birth_date: Option<String>,
    pub issuer: Option<String>,
    /// How well the name read from the licence matched the legal name at upload (0 to 1).
    pub name_score: Option<f64>,
    /// Why a reviewer had to look at it (empty when every check passed).
    pub review_notes: String,
    /// How the front's printed fields compared with the barcode: `agrees`, `disagrees`,
    /// `unreadable`, `not_available` or `no_barcode`.
    pub front_check: String,
    /// The fields printed on the front that differed from the barcode's.
    pub front_mismatches: Vec<String>,
    /// The reviewer's reason for the decision, if they gave one.
    pub decision_reason: Option<String>,
    /// When it was approved or rejected (by a reviewer, or automatically).
    pub decided_at: Option<String>,
    pub uploaded_at: String,
    /// Expiry reminders emailed about this licence, oldest first.
    pub expiry_alerts: Vec<ExportExpiryAlert>,
}

#[derive(Debug, Object, serde::Serialize)]
pub struct ExportExpiryAlert {
    /// How many days before the expiry date it was sent for (7, 3 or 1).
    pub days_before: i64,
    pub sent_at: String,
}

/// The driver section of the account export (not the images).
pub fn export_driver(conn: &Conn, pii: &FieldCipher, user_id: &str) -> SqlResult<ExportDriver> {
    let state: Option<(String, Option<String>, bool, bool)> = conn
        .query_row(
            "SELECT status, reason, enabled, available FROM driver_profiles WHERE user_id = ?1",
            [user_id],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
        )
        .optional()?;
    let (status, reason, enabled, available) = state.unwrap_or(("none".into(), None, false, false));
    let date = |d: Option<chrono::NaiveDate>| d.map(|d| d.format("%Y-%m-%d").to_string());
    let mut licences = Vec::new();
    for l in super::licences_of(conn, pii, user_id)? {
        let expiry_alerts = conn.query_map(
            "SELECT days_before, sent_at FROM driver_expiry_alerts WHERE licence_id = ?1
             ORDER BY sent_at, days_before DESC",
            [l.id],
            |r| Ok(ExportExpiryAlert { days_before: r.get(0)?, sent_at: rfc3339(r.get(1)?) }),
        )?;
        licences.push(ExportLicence {
            status: l.status,
            source: l.source,
            family_name: l.fields.family_name,
            given_names: l.fields.given_names,
            licence_number: l.fields.licence_number,
            expiry_date: date(l.fields.expiry),
            birth_date: date(l.fields.birth_date),
            issuer: l.fields.issuer,
            name_score: l.name_score,
            review_notes: l.review_notes,
            front_check: l.front_check,
            front_mismatches: l.front_mismatches,
            decision_reason: l.decision_reason,
            decided_at: rfc3339_opt(l.decided_at),
            uploaded_at: rfc3339(l.created_at),
            expiry_alerts,
        });
    }
    Ok(ExportDriver { status, reason, enabled, available, licences })
}
