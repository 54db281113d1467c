//! SQL for driver profiles, licences, their images, expiry alerts and upload attempts (for the
//! hourly cap). Every read and write of
//! licence fields goes through here: the fields that identify a person are sealed with the PII
//! key on the way in and opened on the way out ([`SEALED_COLUMNS`]), so the rest of the driver
//! code sees plain values.
//!
//! On either engine ([`crate::db::conn`]): every function takes any connection or transaction
//! ([`AsConn`]) and answers with rusqlite's error type, so its callers need no change while the
//! port goes on.

use chrono::NaiveDate;
use rusqlite::params;

use super::licence::aamva::LicenceFields;
use super::licence::front_check::FrontCheck;
use crate::db::conn::{AsConn, Conn, Optional, Row, SqlError, SqlResult};
use crate::pii::FieldCipher;

mod alerts;
mod images;

pub use alerts::{ApprovedDriver, approved_drivers, record_alert};
pub use images::{
    insert_upload, record_upload_attempt, take_uploads_of, upload, upload_attempts_since,
};

/// The `driver_licences` columns sealed under the PII key (context `driver_licences.<column>`).
/// `expiry_date` stays plain: the expiry job selects and compares by it, and a date alone does
/// not say whose licence it is.
pub const SEALED_COLUMNS: &[&str] =
    &["family_name", "given_names", "licence_number", "birth_date", "issuer"];

/// Runs `work` on the connection, with rusqlite's error for the callers.
fn on<T>(conn: &impl AsConn, work: impl FnOnce(&Conn) -> SqlResult<T>) -> rusqlite::Result<T> {
    Ok(conn.with_conn(work)?)
}

fn seal(pii: &FieldCipher, column: &str, value: Option<&str>) -> Option<String> {
    value.map(|v| pii.seal_text(&format!("driver_licences.{column}"), v))
}

/// A user's driver state. Users who never uploaded have no row: [`profile`] answers `none`.
#[derive(Debug, Clone, PartialEq)]
pub struct Profile {
    pub user_id: String,
    pub status: Status,
    pub licence_id: Option<i64>,
    pub enabled: bool,
    pub available: bool,
    pub ever_approved: bool,
    pub reason: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    None,
    PendingReview,
    Approved,
    Rejected,
    Suspended,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::None => "none",
            Self::PendingReview => "pending_review",
            Self::Approved => "approved",
            Self::Rejected => "rejected",
            Self::Suspended => "suspended",
        }
    }

    fn parse(s: &str) -> Self {
        match s {
            "pending_review" => Self::PendingReview,
            "approved" => Self::Approved,
            "rejected" => Self::Rejected,
            "suspended" => Self::Suspended,
            _ => Self::None,
        }
    }
}

/// An uploaded licence and what was read from it.
#[derive(Debug, Clone, PartialEq)]
pub struct Licence {
    pub id: i64,
    pub user_id: String,
    /// `pending_review`, `approved`, `rejected` or `superseded`.
    pub status: String,
    /// `barcode`, `ocr` or `none`.
    pub source: String,
    pub fields: LicenceFields,
    pub name_score: Option<f64>,
    pub review_notes: String,
    pub decision_reason: Option<String>,
    pub created_at: i64,
    /// When a reviewer (or the automatic renewal) approved or rejected it.
    pub decided_at: Option<i64>,
    /// How the front compared with the barcode ([`FrontCheck::as_str`]).
    pub front_check: String,
    /// The fields printed on the front that differ from the barcode's.
    pub front_mismatches: Vec<String>,
}

pub fn profile(conn: &impl AsConn, user_id: &str) -> rusqlite::Result<Profile> {
    read_profile(conn, user_id, false)
}

/// [`profile`], its row locked on PostgreSQL until the transaction ends: for a change that
/// reads the profile first (a decision, a renewal replacing the current licence), which
/// another node could otherwise change in between.
pub fn profile_to_change(conn: &impl AsConn, user_id: &str) -> rusqlite::Result<Profile> {
    read_profile(conn, user_id, true)
}

fn read_profile(conn: &impl AsConn, user_id: &str, locked: bool) -> rusqlite::Result<Profile> {
    let found = on(conn, |conn| {
        let lock = if locked { conn.for_update() } else { "" };
        conn.query_row(
            &format!(
                "SELECT status, licence_id, enabled, available, ever_approved, reason
                 FROM driver_profiles WHERE user_id = ?1{lock}"
            ),
            [user_id],
            |r| {
                Ok(Profile {
                    user_id: user_id.to_string(),
                    status: Status::parse(&r.get::<String>(0)?),
                    licence_id: r.get(1)?,
                    enabled: r.get(2)?,
                    available: r.get(3)?,
                    ever_approved: r.get(4)?,
                    reason: r.get(5)?,
                })
            },
        )
        .optional()
    })?;
    Ok(found.unwrap_or(Profile {
        user_id: user_id.to_string(),
        status: Status::None,
        licence_id: None,
        enabled: false,
        available: false,
        ever_approved: false,
        reason: None,
    }))
}

pub fn save_profile(conn: &impl AsConn, p: &Profile, now: i64) -> rusqlite::Result<()> {
    on(conn, |conn| {
        conn.execute(
            "INSERT INTO driver_profiles (user_id, status, licence_id, enabled, available,
                                      ever_approved, reason, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)
         ON CONFLICT (user_id) DO UPDATE SET status = ?2, licence_id = ?3, enabled = ?4,
             available = ?5, ever_approved = ?6, reason = ?7, updated_at = ?8",
            params![
                p.user_id,
                p.status.as_str(),
                p.licence_id,
                p.enabled,
                p.available,
                p.ever_approved,
                p.reason,
                now
            ],
        )
    })?;
    Ok(())
}

fn date_text(date: Option<NaiveDate>) -> Option<String> {
    date.map(|d| d.format("%Y-%m-%d").to_string())
}

fn date_of(text: Option<String>) -> Option<NaiveDate> {
    text.and_then(|t| NaiveDate::parse_from_str(&t, "%Y-%m-%d").ok())
}

pub struct NewLicence<'a> {
    pub user_id: &'a str,
    pub status: &'a str,
    pub source: &'a str,
    pub fields: &'a LicenceFields,
    pub name_score: Option<f64>,
    pub review_notes: &'a str,
    pub front_check: FrontCheck,
    pub front_mismatches: &'a [&'static str],
}

pub fn insert_licence(
    conn: &impl AsConn,
    pii: &FieldCipher,
    l: &NewLicence<'_>,
    now: i64,
) -> rusqlite::Result<i64> {
    let f = l.fields;
    let birth_date = date_text(f.birth_date);
    on(conn, |conn| {
        conn.query_row(
            "INSERT INTO driver_licences (user_id, status, source, family_name, given_names,
             licence_number, expiry_date, birth_date, issuer, name_score, review_notes, created_at,
             front_check, front_mismatches)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14) RETURNING id",
            params![
                l.user_id,
                l.status,
                l.source,
                seal(pii, "family_name", f.family_name.as_deref()),
                seal(pii, "given_names", f.given_names.as_deref()),
                seal(pii, "licence_number", f.licence_number.as_deref()),
                date_text(f.expiry),
                seal(pii, "birth_date", birth_date.as_deref()),
                seal(pii, "issuer", f.issuer.as_deref()),
                l.name_score,
                l.review_notes,
                now,
                l.front_check.as_str(),
                l.front_mismatches.join(","),
            ],
            |r| r.get(0),
        )
    })
}

const LICENCE_COLUMNS: &str = "id, user_id, status, source, family_name, given_names,
    licence_number, expiry_date, birth_date, issuer, name_score, review_notes, decision_reason,
    created_at, decided_at, front_check, front_mismatches";

/// A sealed column of `row`, opened.
fn opened(
    pii: &FieldCipher,
    row: &Row<'_>,
    index: usize,
    column: &str,
) -> SqlResult<Option<String>> {
    let sealed: Option<String> = row.get(index)?;
    sealed
        .map(|s| {
            pii.open_text(&format!("driver_licences.{column}"), &s)
                .map_err(|e| SqlError::Conversion { column: index, message: e.to_string() })
        })
        .transpose()
}

fn licence_from_row(pii: &FieldCipher, r: &Row<'_>) -> SqlResult<Licence> {
    let open = |index: usize, column: &str| opened(pii, r, index, column);
    Ok(Licence {
        id: r.get(0)?,
        user_id: r.get(1)?,
        status: r.get(2)?,
        source: r.get(3)?,
        fields: LicenceFields {
            family_name: open(4, "family_name")?,
            given_names: open(5, "given_names")?,
            licence_number: open(6, "licence_number")?,
            expiry: date_of(r.get(7)?),
            birth_date: date_of(open(8, "birth_date")?),
            issuer: open(9, "issuer")?,
        },
        name_score: r.get(10)?,
        review_notes: r.get(11)?,
        decision_reason: r.get(12)?,
        created_at: r.get(13)?,
        decided_at: r.get(14)?,
        front_check: r.get(15)?,
        front_mismatches: r
            .get::<String>(16)?
            .split(',')
            .filter(|f| !f.is_empty())
            .map(str::to_string)
            .collect(),
    })
}

pub fn licence(
    conn: &impl AsConn,
    pii: &FieldCipher,
    id: i64,
) -> rusqlite::Result<Option<Licence>> {
    read_licence(conn, pii, id, false)
}

/// [`licence`], its row locked on PostgreSQL until the transaction ends: for a decision,
/// which reads the status before it changes it, so two reviewers deciding one licence at once
/// on two nodes cannot both find it pending (the second waits, then sees it decided).
pub fn licence_to_decide(
    conn: &impl AsConn,
    pii: &FieldCipher,
    id: i64,
) -> rusqlite::Result<Option<Licence>> {
    read_licence(conn, pii, id, true)
}

fn read_licence(
    conn: &impl AsConn,
    pii: &FieldCipher,
    id: i64,
    locked: bool,
) -> rusqlite::Result<Option<Licence>> {
    on(conn, |conn| {
        let lock = if locked { conn.for_update() } else { "" };
        conn.query_row(
            &format!("SELECT {LICENCE_COLUMNS} FROM driver_licences WHERE id = ?1{lock}"),
            [id],
            |r| licence_from_row(pii, r),
        )
        .optional()
    })
}

/// Every licence of a user, oldest first (the account export).
pub fn licences_of(
    conn: &impl AsConn,
    pii: &FieldCipher,
    user_id: &str,
) -> rusqlite::Result<Vec<Licence>> {
    on(conn, |conn| {
        conn.query_map(
            &format!(
                "SELECT {LICENCE_COLUMNS} FROM driver_licences WHERE user_id = ?1 ORDER BY id"
            ),
            [user_id],
            |r| licence_from_row(pii, r),
        )
    })
}

/// The user's most recent licence in `status`.
pub fn latest_licence(
    conn: &impl AsConn,
    pii: &FieldCipher,
    user_id: &str,
    status: &str,
) -> rusqlite::Result<Option<Licence>> {
    on(conn, |conn| {
        conn.query_row(
            &format!(
                "SELECT {LICENCE_COLUMNS} FROM driver_licences WHERE user_id = ?1 AND status = ?2
             ORDER BY id DESC LIMIT 1"
            ),
            params![user_id, status],
            |r| licence_from_row(pii, r),
        )
        .optional()
    })
}

/// Whether a licence of the user waits for a reviewer.
pub fn has_pending(conn: &impl AsConn, user_id: &str) -> rusqlite::Result<bool> {
    on(conn, |conn| {
        conn.query_row(
            "SELECT EXISTS (SELECT 1 FROM driver_licences
                        WHERE user_id = ?1 AND status = 'pending_review')",
            [user_id],
            |r| r.get(0),
        )
    })
}

/// How many licences wait for a reviewer, and when the oldest was uploaded.
pub fn queue_size(conn: &impl AsConn) -> rusqlite::Result<(i64, Option<i64>)> {
    on(conn, |conn| {
        conn.query_row(
            "SELECT count(*), min(created_at) FROM driver_licences WHERE status = 'pending_review'",
            [] as [i64; 0],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
    })
}

/// Licences waiting for a reviewer, oldest first.
pub fn pending(
    conn: &impl AsConn,
    pii: &FieldCipher,
    limit: i64,
) -> rusqlite::Result<Vec<Licence>> {
    on(conn, |conn| {
        conn.query_map(
            &format!(
                "SELECT {LICENCE_COLUMNS} FROM driver_licences WHERE status = 'pending_review'
                 ORDER BY id LIMIT ?1"
            ),
            [limit],
            |r| licence_from_row(pii, r),
        )
    })
}

/// Fills in an expiry date a reviewer read from the images.
pub fn set_expiry(conn: &impl AsConn, id: i64, expiry: NaiveDate) -> rusqlite::Result<()> {
    on(conn, |conn| {
        conn.execute(
            "UPDATE driver_licences SET expiry_date = ?2 WHERE id = ?1",
            params![id, date_text(Some(expiry))],
        )
    })?;
    Ok(())
}

pub fn decide(
    conn: &impl AsConn,
    id: i64,
    status: &str,
    reason: Option<&str>,
    by: Option<&str>,
    now: i64,
) -> rusqlite::Result<()> {
    on(conn, |conn| {
        conn.execute(
            "UPDATE driver_licences SET status = ?2, decision_reason = ?3, decided_by = ?4,
             decided_at = ?5 WHERE id = ?1",
            params![id, status, reason, by, now],
        )
    })?;
    Ok(())
}

/// Marks the user's other licences in `status` as superseded by `keep`, returning their ids.
pub fn supersede(
    conn: &impl AsConn,
    user_id: &str,
    status: &str,
    keep: i64,
) -> rusqlite::Result<Vec<i64>> {
    on(conn, |conn| {
        conn.query_map(
            "UPDATE driver_licences SET status = 'superseded'
             WHERE user_id = ?1 AND status = ?2 AND id <> ?3 RETURNING id",
            params![user_id, status, keep],
            |r| r.get(0),
        )
    })
}

#[cfg(test)]
mod tests;
