//! The audit log: an append-only table of who did what to whom, from where, with what outcome.
//! Features record events inside their own transactions with [`record`], so an action and its
//! audit row commit together or not at all.

pub mod export;

use rusqlite::params;

use crate::db::conn::AsConn;
use serde_json::Value;

/// Where a request came from.
#[derive(Debug, Clone, Default)]
pub struct RequestMeta {
    pub ip: Option<String>,
    pub user_agent: Option<String>,
}

/// Who made a change an admin can make (an admin, or the command line), for the audit log.
pub struct Actor<'a> {
    /// None: the command line.
    pub user_id: Option<&'a str>,
    pub ip: Option<&'a str>,
}

/// One audit event. `details` never holds secrets (passwords, tokens, codes).
#[derive(Debug, Clone)]
pub struct AuditEvent<'a> {
    pub at: i64,
    pub actor_id: Option<&'a str>,
    pub action: &'a str,
    pub subject_id: Option<&'a str>,
    pub ip: Option<&'a str>,
    pub success: bool,
    pub details: Value,
}

impl<'a> AuditEvent<'a> {
    /// An event about `subject` done by the subject itself.
    pub fn by_user(at: i64, user_id: &'a str, action: &'a str, ip: Option<&'a str>) -> Self {
        Self {
            at,
            actor_id: Some(user_id),
            action,
            subject_id: Some(user_id),
            ip,
            success: true,
            details: Value::Object(Default::default()),
        }
    }

    /// An event about `subject` done by Gatehouse itself (a job), not by a person.
    pub fn about(at: i64, subject_id: &'a str, action: &'a str) -> Self {
        Self { actor_id: None, ..Self::by_user(at, subject_id, action, None) }
    }

    pub fn failed(mut self) -> Self {
        self.success = false;
        self
    }

    pub fn with_details(mut self, details: Value) -> Self {
        self.details = details;
        self
    }
}

pub fn record(conn: &impl AsConn, event: &AuditEvent<'_>) -> rusqlite::Result<()> {
    conn.with_conn(|conn| {
        conn.execute(
            "INSERT INTO audit_log (at, actor_id, action, subject_id, ip, outcome, details)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            params![
                event.at,
                event.actor_id,
                event.action,
                event.subject_id,
                event.ip,
                if event.success { "success" } else { "failure" },
                event.details.to_string(),
            ],
        )
    })?;
    Ok(())
}

/// Actions recorded in the audit log (the `action` column).
pub mod actions {
    pub const USER_REGISTERED: &str = "user.registered";
    pub const EMAIL_VERIFIED: &str = "email.verified";
    pub const VERIFICATION_RESEND_REQUESTED: &str = "email.verification_resend_requested";
    pub const LOGIN: &str = "login";
    pub const LOGIN_THROTTLED: &str = "login.throttled";
    pub const ACCOUNT_LOCKED: &str = "account.locked";
    pub const ACCOUNT_UNLOCKED: &str = "account.unlocked";
    /// Too many wrong second-factor codes: the account's second factors are paused.
    pub const MFA_PAUSED: &str = "account.mfa_paused";
    pub const LOGOUT: &str = "logout";
    pub const SESSION_REVOKED: &str = "session.revoked";
    pub const SESSIONS_REVOKED: &str = "sessions.revoked";
    pub const PASSWORD_CHANGED: &str = "password.changed";
    pub const PASSWORD_RESET_REQUESTED: &str = "password.reset_requested";
    pub const PASSWORD_RESET: &str = "password.reset";
    pub const PROFILE_UPDATED: &str = "profile.updated";
    pub const CAMPUS_CREATED: &str = "campus.created";
    pub const CAMPUS_UPDATED: &str = "campus.updated";
    pub const CAMPUS_REMOVED: &str = "campus.removed";
    pub const CLIENT_ADDED: &str = "oidc.client_added";
    pub const CLIENT_REMOVED: &str = "oidc.client_removed";
    pub const CLIENT_SECRET_ROTATED: &str = "oidc.client_secret_rotated";
    /// A student let an (untrusted) app have the scopes in `details`.
    pub const CONSENT_GRANTED: &str = "oidc.consent_granted";
    pub const CONSENT_DENIED: &str = "oidc.consent_denied";
    /// "Remove access" on the account page: the consent and the app's grants are gone.
    pub const CONSENT_REMOVED: &str = "oidc.consent_removed";
    /// An authorization code was used a second time: the tokens it opened are revoked.
    pub const CODE_REUSED: &str = "oidc.code_reused";
    /// A token request refused (details: the client and the OAuth error).
    pub const TOKEN_REFUSED: &str = "oidc.token_refused";
    /// RP-initiated logout ended a session.
    pub const OIDC_LOGOUT: &str = "oidc.logout";
    /// A back-channel logout token was delivered (or given up on: outcome failure).
    pub const BACKCHANNEL_LOGOUT: &str = "oidc.backchannel_logout";
    pub const WEBHOOK_ADDED: &str = "webhook.added";
    pub const WEBHOOK_REMOVED: &str = "webhook.removed";
    pub const WEBHOOK_SECRET_ROTATED: &str = "webhook.secret_rotated";
    /// An admin queued a delivery again ("send again").
    pub const WEBHOOK_REDELIVERED: &str = "webhook.redelivered";
    /// A delivery was given up on after about a day of tries.
    pub const WEBHOOK_FAILED: &str = "webhook.delivery_failed";
    pub const ADMIN_CREATED: &str = "admin.created";
    pub const PHONE_CODE_REQUESTED: &str = "phone_code.requested";
    pub const PHONE_CODE_VERIFIED: &str = "phone_code.verified";
    pub const PHONE_LINKED: &str = "phone.linked";
    pub const ACCOUNT_DISABLED: &str = "account.disabled";
    pub const ACCOUNT_ENABLED: &str = "account.enabled";
    pub const ROLE_CHANGED: &str = "role.changed";
    pub const BACKUP_CREATED: &str = "backup.created";
    /// `gatehouse keys rotate --jwt` (details: the old and new key ids, never a key).
    pub const JWT_KEY_ROTATED: &str = "keys.jwt_rotated";
    pub const OUTBOX_RETRIED: &str = "outbox.retried";
    pub const TOTP_ENROLMENT_STARTED: &str = "totp.enrolment_started";
    pub const TOTP_ENABLED: &str = "totp.enabled";
    pub const TOTP_DISABLED: &str = "totp.disabled";
    /// A second factor was entered at sign-in (failure: wrong or replayed, see details).
    pub const LOGIN_SECOND_FACTOR: &str = "login.second_factor";
    pub const RECOVERY_CODE_USED: &str = "recovery_code.used";
    pub const RECOVERY_CODES_REGENERATED: &str = "recovery_codes.regenerated";
    pub const PASSKEY_ADDED: &str = "passkey.added";
    pub const PASSKEY_RENAMED: &str = "passkey.renamed";
    pub const PASSKEY_REMOVED: &str = "passkey.removed";
    /// A passkey's signature counter did not go up: refused, the passkey may have been copied.
    pub const PASSKEY_COUNTER_WENT_BACKWARDS: &str = "passkey.counter_went_backwards";
    /// A licence was uploaded and waits for a reviewer.
    pub const DRIVER_REQUESTED: &str = "driver.requested";
    pub const DRIVER_APPROVED: &str = "driver.approved";
    pub const DRIVER_REJECTED: &str = "driver.rejected";
    pub const DRIVER_SUSPENDED: &str = "driver.suspended";
    pub const DRIVER_ENABLED: &str = "driver.enabled";
    pub const DRIVER_AVAILABLE: &str = "driver.availability_on";
    pub const DRIVER_UNAVAILABLE: &str = "driver.availability_off";
}

/// Replaces `user_id` by `pseudonym` in every row done by or to it and erases those rows' IP
/// addresses (an account deletion keeps the story, not the person).
pub fn pseudonymise(conn: &impl AsConn, user_id: &str, pseudonym: &str) -> rusqlite::Result<()> {
    conn.with_conn(|conn| {
        conn.execute(
            "UPDATE audit_log SET
             actor_id = CASE WHEN actor_id = ?1 THEN ?2 ELSE actor_id END,
             subject_id = CASE WHEN subject_id = ?1 THEN ?2 ELSE subject_id END,
             ip = NULL
         WHERE actor_id = ?1 OR subject_id = ?1",
            params![user_id, pseudonym],
        )
    })?;
    Ok(())
}

/// Deletes the rows written at or before `before` (retention). Returns how many.
pub fn purge_before(conn: &impl AsConn, before: i64) -> rusqlite::Result<usize> {
    Ok(conn.with_conn(|conn| conn.execute("DELETE FROM audit_log WHERE at <= ?1", [before]))?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::conn::Conn;
    use crate::db::conn_tests::on_both_engines;

    fn rows(conn: &Conn) -> Vec<(String, Option<String>, Option<String>, String)> {
        conn.query_map(
            "SELECT action, actor_id, ip, outcome FROM audit_log ORDER BY id",
            [] as [i64; 0],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
        )
        .unwrap()
    }

    #[test]
    fn records_pseudonymises_and_purges_alike_on_both_engines() {
        on_both_engines(|conn| {
            record(conn, &AuditEvent::by_user(10, "u1", actions::LOGIN, Some("10.0.0.1"))).unwrap();
            record(conn, &AuditEvent::by_user(20, "u1", actions::LOGIN, None).failed()).unwrap();
            record(conn, &AuditEvent::about(30, "u2", actions::ROLE_CHANGED)).unwrap();
            pseudonymise(conn, "u1", "deleted:abc").unwrap();
            assert_eq!(
                rows(conn),
                [
                    ("login".into(), Some("deleted:abc".into()), None, "success".into()),
                    ("login".into(), Some("deleted:abc".into()), None, "failure".into()),
                    ("role.changed".into(), None, None, "success".into()),
                ]
            );
            // The log refuses any other change (a trigger on both engines).
            assert!(conn.execute("UPDATE audit_log SET action = 'x'", [] as [i64; 0]).is_err());
            assert_eq!(purge_before(conn, 20).unwrap(), 2);
            assert_eq!(rows(conn).len(), 1);
        });
    }

    #[test]
    fn the_export_names_the_account_self_and_everyone_else_other_on_both_engines() {
        on_both_engines(|conn| {
            let details = serde_json::json!({"reason": "wrong"});
            let login = AuditEvent::by_user(10, "u1", actions::LOGIN, Some("10.0.0.1"));
            record(conn, &login.failed().with_details(details)).unwrap();
            let by_admin = AuditEvent {
                actor_id: Some("admin"),
                ..AuditEvent::by_user(20, "u1", actions::ROLE_CHANGED, None)
            };
            record(conn, &by_admin).unwrap();
            record(conn, &AuditEvent::by_user(30, "u2", actions::LOGIN, None)).unwrap();
            let events = export::export_events(conn, "u1").unwrap();
            let seen: Vec<_> = events
                .iter()
                .map(|e| {
                    (e.action.as_str(), e.outcome.as_str(), e.actor.as_str(), e.subject.as_str())
                })
                .collect();
            assert_eq!(
                seen,
                [
                    ("login", "failure", "self", "self"),
                    ("role.changed", "success", "other", "self")
                ]
            );
            assert_eq!(events[0].details["reason"], "wrong");
            assert_eq!(events[0].ip.as_deref(), Some("10.0.0.1"));
        });
    }
}
