//! `GET /api/v1/account/export`: every stored fact about the caller, as one JSON document
//! ([`AccountExport`]). Each section is produced by its feature (in its `personal_data.rs`)
//! over the same snapshot ([`Conn::snapshot`]: REPEATABLE READ on PostgreSQL), so the document
//! shows one moment of the database; a feature that stores more about a user adds its section
//! there and a field here.
//!
//! Not included, because they are not about the caller or cannot be tied to them: outbox rows
//! (recipients are sealed with random nonces, so they are not searchable; their bodies are
//! erased once sent), other people's ids in audit rows (shown as `actor: "other"`).

use crate::accounts::personal_data::{
    ExportEmailLink, ExportProfile, export_email_links, export_links, export_profile,
};
use crate::audit::export::{ExportAuditEvent, export_events};
use crate::campuses::export::{ExportCampus, export_campus};
use crate::clock::rfc3339;
use crate::db::conn::{AsConn, Conn, SqlResult};
use crate::drivers::personal_data::{ExportDriver, export_driver};
use crate::mfa::personal_data::{ExportMfa, export_mfa};
use crate::oidc::personal_data::{ExportConsent, export_consents};
use crate::phone_codes::personal_data::{ExportPhoneCode, export_phone_codes};
use crate::pii::FieldCipher;
use crate::policies::personal_data::{ExportPolicyAcceptance, export_acceptances};
use crate::sessions::personal_data::{ExportSession, export_sessions};
use crate::tokens::personal_data::{ExportTokenFamily, export_token_families};
use poem_openapi::Object;

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
    /// Token families (one per API sign-in, and one per app's grant, with its client id and
    /// scopes) and their refresh tokens' state; no token.
    pub api_tokens: Vec<ExportTokenFamily>,
    /// Apps allowed on the consent or device page, and what they may read.
    pub app_consents: Vec<ExportConsent>,
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

/// The document for `user_id`, or None when there is no such account.
pub fn export(
    conn: &impl AsConn,
    pii: &FieldCipher,
    user_id: &str,
    now: i64,
) -> SqlResult<Option<AccountExport>> {
    conn.with_conn(|conn| export_seeing(conn, pii, user_id, now, &mut || {}))
}

/// [`export`], with `after_first_read` run between its first read and the rest: the tests
/// commit a change there from another connection, which the document must not show.
pub(super) fn export_seeing(
    conn: &Conn,
    pii: &FieldCipher,
    user_id: &str,
    now: i64,
    after_first_read: &mut dyn FnMut(),
) -> SqlResult<Option<AccountExport>> {
    // One snapshot: every section sees the same moment (REPEATABLE READ on PostgreSQL, whose
    // READ COMMITTED would let each statement see a later one).
    let tx = conn.snapshot()?;
    let Some(profile) = export_profile(&tx, pii, user_id)? else { return Ok(None) };
    after_first_read();
    let links = export_links(&tx, user_id)?;
    let document = AccountExport {
        format: "gatehouse.account-export".into(),
        format_version: 1,
        exported_at: rfc3339(now),
        campus: export_campus(&tx, links.campus_id)?,
        sessions: export_sessions(&tx, user_id)?,
        api_tokens: export_token_families(&tx, user_id)?,
        app_consents: export_consents(&tx, user_id)?,
        email_links: export_email_links(&tx, user_id)?,
        phone_codes: export_phone_codes(&tx, links.phone_index.as_deref())?,
        audit_events: export_events(&tx, user_id)?,
        policy_acceptances: export_acceptances(&tx, user_id)?,
        mfa: export_mfa(&tx, pii, user_id, links.mfa_paused_until)?,
        driver: export_driver(&tx, pii, user_id)?,
        profile,
    };
    drop(tx);
    Ok(Some(document))
}
