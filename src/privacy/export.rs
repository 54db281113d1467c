//! `GET /api/v1/account/export`: every stored fact about the caller, as one JSON document
//! ([`AccountExport`]). Each section is produced by one function over the same read
//! transaction, so the document is a consistent snapshot; a feature that stores more about a
//! user (like driver records) adds a field and a function here.
//!
//! Not included, because they are not about the caller or cannot be tied to them: outbox rows
//! (recipients are sealed with random nonces, so they are not searchable; their bodies are
//! erased once sent), other people's ids in audit rows (shown as `actor: "other"`).

use poem_openapi::Object;
use rusqlite::{Connection, OptionalExtension};

use crate::accounts;
use crate::clock::rfc3339;
use crate::pii::FieldCipher;
use crate::policies;

/// Everything Gatehouse holds about one account.
#[derive(Debug, Object, serde::Serialize)]
#[oai(skip_serializing_if_is_none)]
pub struct AccountExport {
    /// Always `gatehouse.account-export`.
    pub format: String,
    /// The document's shape version (1).
    pub format_version: u32,
    pub exported_at: String,
    pub profile: ExportProfile,
    /// The campus the account belongs to (from its email domain), if any.
    pub campus: Option<ExportCampus>,
    /// Signed-in browser sessions.
    pub sessions: Vec<ExportSession>,
    /// API token families (one per API sign-in) and their refresh tokens' state; no token.
    pub api_tokens: Vec<ExportTokenFamily>,
    /// Verification and reset links sent by email (state only; no token).
    pub email_links: Vec<ExportEmailLink>,
    /// Sign-in codes sent to the account's phone (state only; no code).
    pub phone_codes: Vec<ExportPhoneCode>,
    /// Audit-log events done by or to the account, oldest first.
    pub audit_events: Vec<ExportAuditEvent>,
    /// Privacy-policy versions accepted, oldest first.
    pub policy_acceptances: Vec<ExportPolicyAcceptance>,
    /// Two-step sign-in: its state, never the secret or the recovery codes.
    pub mfa: ExportMfa,
    /// Driver verification: the driver's state and every licence uploaded with what was read
    /// from it (the images themselves are not included).
    pub driver: ExportDriver,
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

#[derive(Debug, Object, serde::Serialize)]
#[oai(skip_serializing_if_is_none)]
pub struct ExportMfa {
    /// Whether sign-in asks for an authenticator-app code.
    pub totp_enabled: bool,
    /// When the current authenticator app was confirmed (or an enrolment started, if not yet).
    pub totp_since: Option<String>,
    pub recovery_codes_unused: i64,
    pub recovery_codes_used: i64,
    /// Codes paused until then after too many wrong ones, if they were.
    pub paused_until: Option<String>,
}

#[derive(Debug, Object, serde::Serialize)]
#[oai(skip_serializing_if_is_none)]
pub struct ExportProfile {
    pub id: String,
    pub email: Option<String>,
    pub email_verified_at: Option<String>,
    pub display_name: String,
    pub legal_name: Option<String>,
    pub phone: Option<String>,
    pub phone_verified_at: Option<String>,
    pub role: String,
    pub created_at: String,
    /// When an admin disabled the account, if it is disabled.
    pub disabled_at: Option<String>,
    /// Whether a password is set (the hash itself is not exported).
    pub has_password: bool,
    pub password_changed_at: Option<String>,
    /// Failed sign-ins since the last success.
    pub failed_sign_ins: i64,
    /// Sign-in paused until then (lockout), if it is.
    pub locked_until: Option<String>,
}

#[derive(Debug, Object, serde::Serialize)]
pub struct ExportCampus {
    pub id: i64,
    pub name: String,
    pub domains: Vec<String>,
}

#[derive(Debug, Object, serde::Serialize)]
#[oai(skip_serializing_if_is_none)]
pub struct ExportSession {
    pub id: String,
    pub created_at: String,
    pub last_seen_at: String,
    pub expires_at: String,
    pub remember_me: bool,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
}

#[derive(Debug, Object, serde::Serialize)]
#[oai(skip_serializing_if_is_none)]
pub struct ExportTokenFamily {
    pub id: String,
    pub created_at: String,
    pub revoked_at: Option<String>,
    pub revoked_reason: Option<String>,
    /// Refresh tokens issued in this family (each refresh issues one).
    pub refresh_tokens_issued: i64,
    pub last_refreshed_at: Option<String>,
}

#[derive(Debug, Object, serde::Serialize)]
#[oai(skip_serializing_if_is_none)]
pub struct ExportEmailLink {
    /// `verify_email` or `reset_password`.
    pub purpose: String,
    pub created_at: String,
    pub expires_at: String,
    pub used_at: Option<String>,
}

#[derive(Debug, Object, serde::Serialize)]
#[oai(skip_serializing_if_is_none)]
pub struct ExportPhoneCode {
    pub created_at: String,
    pub expires_at: String,
    pub attempts: i64,
    pub used_at: Option<String>,
}

#[derive(Debug, Object, serde::Serialize)]
#[oai(skip_serializing_if_is_none)]
pub struct ExportAuditEvent {
    pub at: String,
    pub action: String,
    /// `success` or `failure`.
    pub outcome: String,
    /// Who did it: `self`, `other` (e.g. an admin) or `none` (the system, or unknown).
    pub actor: String,
    /// Whether the event is about the account (`self`), about something else, or `none`.
    pub subject: String,
    pub ip: Option<String>,
    pub details: serde_json::Value,
}

#[derive(Debug, Object, serde::Serialize)]
pub struct ExportPolicyAcceptance {
    pub version: String,
    pub accepted_at: String,
}

fn time(t: Option<i64>) -> Option<String> {
    t.map(rfc3339)
}

/// The document for `user_id`, or None when there is no such account.
pub fn export(
    conn: &mut Connection,
    pii: &FieldCipher,
    user_id: &str,
    now: i64,
) -> rusqlite::Result<Option<AccountExport>> {
    // One read transaction: every section sees the same moment.
    let tx = conn.transaction()?;
    let Some(profile) = profile(&tx, pii, user_id)? else { return Ok(None) };
    let document = AccountExport {
        format: "gatehouse.account-export".into(),
        format_version: 1,
        exported_at: rfc3339(now),
        campus: campus(&tx, user_id)?,
        sessions: sessions(&tx, user_id)?,
        api_tokens: api_tokens(&tx, user_id)?,
        email_links: email_links(&tx, user_id)?,
        phone_codes: phone_codes(&tx, user_id)?,
        audit_events: audit_events(&tx, user_id)?,
        policy_acceptances: policy_acceptances(&tx, user_id)?,
        mfa: mfa(&tx, user_id)?,
        driver: driver(&tx, pii, user_id)?,
        profile,
    };
    tx.finish()?;
    Ok(Some(document))
}

fn profile(
    conn: &Connection,
    pii: &FieldCipher,
    user_id: &str,
) -> rusqlite::Result<Option<ExportProfile>> {
    let Some(user) = accounts::find_by_id(conn, pii, user_id)? else { return Ok(None) };
    type Stored = (bool, Option<i64>, i64, Option<i64>, Option<i64>);
    let (has_password, changed, failed, locked, disabled): Stored = conn.query_row(
        "SELECT password_hash IS NOT NULL, password_changed_at, failed_logins, locked_until,
                disabled_at
         FROM users WHERE id = ?1",
        [user_id],
        |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)),
    )?;
    Ok(Some(ExportProfile {
        id: user.id,
        email: user.email,
        email_verified_at: time(user.email_verified_at),
        display_name: user.display_name,
        legal_name: user.legal_name,
        phone: user.phone,
        phone_verified_at: time(user.phone_verified_at),
        role: user.role,
        created_at: rfc3339(user.created_at),
        disabled_at: time(disabled),
        has_password,
        password_changed_at: time(changed),
        failed_sign_ins: failed,
        locked_until: time(locked),
    }))
}

fn campus(conn: &Connection, user_id: &str) -> rusqlite::Result<Option<ExportCampus>> {
    let found: Option<(i64, String)> = conn
        .query_row(
            "SELECT c.id, c.name FROM users u JOIN campuses c ON c.id = u.campus_id WHERE u.id = ?1",
            [user_id],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()?;
    let Some((id, name)) = found else { return Ok(None) };
    let mut stmt =
        conn.prepare("SELECT domain FROM campus_domains WHERE campus_id = ?1 ORDER BY domain")?;
    let domains = stmt.query_map([id], |r| r.get(0))?.collect::<Result<_, _>>()?;
    Ok(Some(ExportCampus { id, name, domains }))
}

fn sessions(conn: &Connection, user_id: &str) -> rusqlite::Result<Vec<ExportSession>> {
    let mut stmt = conn.prepare(
        "SELECT id, created_at, last_seen_at, expires_at, remember_me, ip, user_agent
         FROM sessions WHERE user_id = ?1 ORDER BY created_at",
    )?;
    let rows = stmt.query_map([user_id], |r| {
        Ok(ExportSession {
            id: r.get(0)?,
            created_at: rfc3339(r.get(1)?),
            last_seen_at: rfc3339(r.get(2)?),
            expires_at: rfc3339(r.get(3)?),
            remember_me: r.get(4)?,
            ip: r.get(5)?,
            user_agent: r.get(6)?,
        })
    })?;
    rows.collect()
}

fn api_tokens(conn: &Connection, user_id: &str) -> rusqlite::Result<Vec<ExportTokenFamily>> {
    let mut stmt = conn.prepare(
        "SELECT f.id, f.created_at, f.revoked_at, f.revoked_reason,
                (SELECT count(*) FROM refresh_tokens t WHERE t.family_id = f.id),
                (SELECT max(created_at) FROM refresh_tokens t WHERE t.family_id = f.id)
         FROM token_families f WHERE f.user_id = ?1 ORDER BY f.created_at",
    )?;
    let rows = stmt.query_map([user_id], |r| {
        Ok(ExportTokenFamily {
            id: r.get(0)?,
            created_at: rfc3339(r.get(1)?),
            revoked_at: time(r.get(2)?),
            revoked_reason: r.get(3)?,
            refresh_tokens_issued: r.get(4)?,
            last_refreshed_at: time(r.get(5)?),
        })
    })?;
    rows.collect()
}

fn email_links(conn: &Connection, user_id: &str) -> rusqlite::Result<Vec<ExportEmailLink>> {
    let mut stmt = conn.prepare(
        "SELECT purpose, created_at, expires_at, used_at FROM email_tokens
         WHERE user_id = ?1 ORDER BY created_at",
    )?;
    let rows = stmt.query_map([user_id], |r| {
        Ok(ExportEmailLink {
            purpose: r.get(0)?,
            created_at: rfc3339(r.get(1)?),
            expires_at: rfc3339(r.get(2)?),
            used_at: time(r.get(3)?),
        })
    })?;
    rows.collect()
}

fn phone_codes(conn: &Connection, user_id: &str) -> rusqlite::Result<Vec<ExportPhoneCode>> {
    let mut stmt = conn.prepare(
        "SELECT p.created_at, p.expires_at, p.attempts, p.used_at
         FROM phone_codes p JOIN users u ON u.phone_index = p.phone_index
         WHERE u.id = ?1 ORDER BY p.created_at",
    )?;
    let rows = stmt.query_map([user_id], |r| {
        Ok(ExportPhoneCode {
            created_at: rfc3339(r.get(0)?),
            expires_at: rfc3339(r.get(1)?),
            attempts: r.get(2)?,
            used_at: time(r.get(3)?),
        })
    })?;
    rows.collect()
}

fn audit_events(conn: &Connection, user_id: &str) -> rusqlite::Result<Vec<ExportAuditEvent>> {
    let mut stmt = conn.prepare(
        "SELECT at, action, outcome, actor_id, subject_id, ip, details FROM audit_log
         WHERE actor_id = ?1 OR subject_id = ?1 ORDER BY at, id",
    )?;
    let who = |id: Option<String>| match id {
        Some(id) if id == user_id => "self".to_string(),
        Some(_) => "other".to_string(),
        None => "none".to_string(),
    };
    let rows = stmt.query_map([user_id], |r| {
        let details: String = r.get(6)?;
        Ok(ExportAuditEvent {
            at: rfc3339(r.get(0)?),
            action: r.get(1)?,
            outcome: r.get(2)?,
            actor: who(r.get(3)?),
            subject: who(r.get(4)?),
            ip: r.get(5)?,
            details: serde_json::from_str(&details).unwrap_or(serde_json::Value::Null),
        })
    })?;
    rows.collect()
}

fn policy_acceptances(
    conn: &Connection,
    user_id: &str,
) -> rusqlite::Result<Vec<ExportPolicyAcceptance>> {
    Ok(policies::acceptances_of(conn, user_id)?
        .into_iter()
        .map(|a| ExportPolicyAcceptance { version: a.version, accepted_at: rfc3339(a.accepted_at) })
        .collect())
}

fn mfa(conn: &Connection, user_id: &str) -> rusqlite::Result<ExportMfa> {
    let credential: Option<(i64, Option<i64>)> = conn
        .query_row(
            "SELECT created_at, confirmed_at FROM totp_credentials WHERE user_id = ?1",
            [user_id],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()?;
    let (unused, used) = conn.query_row(
        "SELECT count(*) FILTER (WHERE used_at IS NULL), count(*) FILTER (WHERE used_at IS NOT NULL)
         FROM recovery_codes WHERE user_id = ?1",
        [user_id],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )?;
    let paused: Option<i64> = conn
        .query_row("SELECT mfa_paused_until FROM users WHERE id = ?1", [user_id], |r| r.get(0))
        .optional()?
        .flatten();
    Ok(ExportMfa {
        totp_enabled: credential.is_some_and(|(_, confirmed)| confirmed.is_some()),
        totp_since: credential.map(|(created, confirmed)| rfc3339(confirmed.unwrap_or(created))),
        recovery_codes_unused: unused,
        recovery_codes_used: used,
        paused_until: time(paused),
    })
}

fn driver(conn: &Connection, pii: &FieldCipher, user_id: &str) -> rusqlite::Result<ExportDriver> {
    let state: Option<(String, Option<String>, bool, bool)> = conn
        .query_row(
            "SELECT status, reason, enabled, available FROM driver_profiles WHERE user_id = ?1",
            [user_id],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
        )
        .optional()?;
    let (status, reason, enabled, available) = state.unwrap_or(("none".into(), None, false, false));
    let date = |d: Option<chrono::NaiveDate>| d.map(|d| d.format("%Y-%m-%d").to_string());
    let mut alerts = conn.prepare(
        "SELECT days_before, sent_at FROM driver_expiry_alerts WHERE licence_id = ?1
         ORDER BY sent_at, days_before DESC",
    )?;
    let mut licences = Vec::new();
    for l in crate::drivers::licences_of(conn, pii, user_id)? {
        let expiry_alerts = alerts
            .query_map([l.id], |r| {
                Ok(ExportExpiryAlert { days_before: r.get(0)?, sent_at: rfc3339(r.get(1)?) })
            })?
            .collect::<Result<_, _>>()?;
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
            decided_at: time(l.decided_at),
            uploaded_at: rfc3339(l.created_at),
            expiry_alerts,
        });
    }
    Ok(ExportDriver { status, reason, enabled, available, licences })
}
