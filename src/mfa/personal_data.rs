//! What two-step sign-in keeps about a person: the sealed TOTP secret, the hashes of the
//! recovery codes, pending second steps of a sign-in, and passkeys (public keys, sealed names)
//! with their ceremonies' challenges.

use poem_openapi::Object;

use crate::clock::{rfc3339, rfc3339_opt};
use crate::config::RetentionConfig;
use crate::db::conn::{Conn, Optional, SqlResult};
use crate::pii::sealed::SealedColumns;
use crate::pii::{AfterErase, Person, PersonalData, Purged};

/// The TOTP secret, sealed.
pub const SEALED: SealedColumns =
    SealedColumns { table: "totp_credentials", key: "user_id", columns: &["secret"] };

/// The names of passkeys, sealed.
pub const PASSKEYS_SEALED: SealedColumns =
    SealedColumns { table: "passkeys", key: "id", columns: &["name"] };

pub struct MfaData;

impl PersonalData for MfaData {
    fn feature(&self) -> &'static str {
        "mfa"
    }

    fn tables(&self) -> &'static [&'static str] {
        &["totp_credentials", "recovery_codes", "mfa_challenges", "passkeys", "passkey_challenges"]
    }

    fn erase_in(&self, tx: &Conn, person: &Person, _after: &mut AfterErase) -> SqlResult<()> {
        tx.execute("DELETE FROM totp_credentials WHERE user_id = ?1", [&person.id])?;
        tx.execute("DELETE FROM recovery_codes WHERE user_id = ?1", [&person.id])?;
        tx.execute("DELETE FROM mfa_challenges WHERE user_id = ?1", [&person.id])?;
        tx.execute("DELETE FROM passkeys WHERE user_id = ?1", [&person.id])?;
        tx.execute("DELETE FROM passkey_challenges WHERE user_id = ?1", [&person.id])?;
        Ok(())
    }

    /// Pending second steps and passkey challenges past their expiry.
    fn purge_in(
        &self,
        tx: &Conn,
        now: i64,
        _retention: &RetentionConfig,
        purged: &mut Purged,
    ) -> SqlResult<()> {
        let rows = tx.execute("DELETE FROM mfa_challenges WHERE expires_at <= ?1", [now])?;
        purged.add("mfa_challenges", rows);
        let rows = tx.execute("DELETE FROM passkey_challenges WHERE expires_at <= ?1", [now])?;
        purged.add("passkey_challenges", rows);
        Ok(())
    }
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
    /// The account's passkeys (never their keys).
    pub passkeys: Vec<ExportPasskey>,
}

#[derive(Debug, Object, serde::Serialize)]
#[oai(skip_serializing_if_is_none)]
pub struct ExportPasskey {
    pub name: String,
    pub created_at: String,
    pub last_used_at: Option<String>,
}

/// The two-step sign-in state of the account export (never the secret or the codes).
/// `paused_until`: the second factors' pause, which the accounts keep with the lockout.
pub fn export_mfa(
    conn: &Conn,
    pii: &crate::pii::FieldCipher,
    user_id: &str,
    paused_until: Option<i64>,
) -> SqlResult<ExportMfa> {
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
    Ok(ExportMfa {
        totp_enabled: credential.is_some_and(|(_, confirmed)| confirmed.is_some()),
        totp_since: credential.map(|(created, confirmed)| rfc3339(confirmed.unwrap_or(created))),
        recovery_codes_unused: unused,
        recovery_codes_used: used,
        paused_until: rfc3339_opt(paused_until),
        passkeys: super::passkey_store::for_user(conn, pii, user_id)?
            .into_iter()
            .map(|p| ExportPasskey {
                name: p.name,
                created_at: rfc3339(p.created_at),
                last_used_at: rfc3339_opt(p.last_used_at),
            })
            .collect(),
    })
}
