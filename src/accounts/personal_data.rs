//! What the accounts keep about a person: the account row (email, names, phone, password
//! hash, lockout state), the emailed links, and failed sign-ins for emails with no account.
//! Its part of a deletion reads the person first and removes the row last.

use std::sync::Arc;

use poem_openapi::Object;
use rusqlite::params;

use super::{Accounts, EMAIL, PHONE, lockout};
use crate::clock::{rfc3339, rfc3339_opt};
use crate::config::RetentionConfig;
use crate::db::conn::{Conn, Optional, SqlResult};
use crate::pii::cipher::open_column;
use crate::pii::sealed::SealedColumns;
use crate::pii::{AfterErase, FieldCipher, Person, PersonalData, Purged};

const DAY: i64 = 86_400;

/// The account row's sealed columns.
pub const SEALED: SealedColumns = SealedColumns {
    table: "users",
    key: "id",
    columns: &["email", "display_name", "legal_name", "phone"],
};

pub struct AccountsData {
    pub accounts: Arc<Accounts>,
}

impl PersonalData for AccountsData {
    fn feature(&self) -> &'static str {
        "accounts"
    }

    fn tables(&self) -> &'static [&'static str] {
        &["users", "email_tokens", "unknown_email_lockouts", "unknown_email_failures"]
    }

    fn person_in(&self, tx: &Conn, user_id: &str) -> SqlResult<Option<Person>> {
        let pii = self.accounts.pii();
        // Locked to the end of the deletion: on PostgreSQL a second deletion of the account
        // waits and then finds it gone (instead of erasing it again, with a second
        // `account.deleted` event and webhook), and rows other nodes add for it wait too.
        let lock = tx.for_update();
        let row = tx
            .query_row(
                &format!("SELECT phone_index, email, phone FROM users WHERE id = ?1{lock}"),
                [user_id],
                |r| {
                    let phone_index: Option<Vec<u8>> = r.get(0)?;
                    Ok((
                        phone_index,
                        open_column(pii, r, 1, EMAIL)?,
                        open_column(pii, r, 2, PHONE)?,
                    ))
                },
            )
            .optional()?;
        let Some((phone_index, email, phone)) = row else { return Ok(None) };
        // An account from before phone indexes (migration 0004) may have a phone and no index:
        // nobody can be known to share it.
        let phone_shared = match &phone_index {
            Some(index) => tx.query_row(
                "SELECT EXISTS(SELECT 1 FROM users WHERE phone_index = ?1 AND id <> ?2)",
                params![index, user_id],
                |r| r.get(0),
            )?,
            None => false,
        };
        let unshared_phone_index = phone_index.filter(|_| !phone_shared);
        Ok(Some(Person {
            id: user_id.to_string(),
            pseudonym: String::new(),
            email,
            phone,
            unshared_phone_index,
            phone_shared,
        }))
    }

    /// The row goes last: what other features keep hangs on it (`ON DELETE CASCADE`).
    fn erase_in(&self, tx: &Conn, person: &Person, after: &mut AfterErase) -> SqlResult<()> {
        tx.execute("DELETE FROM email_tokens WHERE user_id = ?1", [&person.id])?;
        tx.execute("DELETE FROM users WHERE id = ?1", [&person.id])?;
        let (accounts, id) = (self.accounts.clone(), person.id.clone());
        after.then(move || accounts.forget_user(&id));
        Ok(())
    }

    /// Email links expired more than a day ago (the per-day sending limits count them until
    /// then), expired bootstrap links, and lockout series (of accounts and of unknown emails
    /// alike) with no failed password for 30 days.
    fn purge_in(
        &self,
        tx: &Conn,
        now: i64,
        _retention: &RetentionConfig,
        purged: &mut Purged,
    ) -> SqlResult<()> {
        let links = tx.execute("DELETE FROM email_tokens WHERE expires_at <= ?1", [now - DAY])?;
        let bootstrap = tx.execute("DELETE FROM bootstrap_tokens WHERE expires_at <= ?1", [now])?;
        let forgotten = lockout::forget_stale(tx, now)?;
        purged.add("email_links", links);
        purged.add("bootstrap_links", bootstrap);
        purged.add("lockout_series", forgotten.accounts);
        purged.add("unknown_email_lockouts", forgotten.unknown_emails);
        Ok(())
    }

    /// Accounts with neither the email nor a phone verified within
    /// `retention.unverified_account_days`.
    fn lapsed_in(
        &self,
        tx: &Conn,
        now: i64,
        retention: &RetentionConfig,
        limit: usize,
    ) -> SqlResult<Vec<String>> {
        let cutoff = now - i64::from(retention.unverified_account_days) * DAY;
        tx.query_map(
            "SELECT id FROM users
             WHERE email_verified_at IS NULL AND phone_verified_at IS NULL AND created_at < ?1
             ORDER BY id LIMIT ?2",
            params![cutoff, limit as i64],
            |r| r.get(0),
        )
    }
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
#[oai(skip_serializing_if_is_none)]
pub struct ExportEmailLink {
    /// `verify_email` or `reset_password`.
    pub purpose: String,
    pub created_at: String,
    pub expires_at: String,
    pub used_at: Option<String>,
}

/// The profile section of the account export; None when there is no such account.
pub fn export_profile(
    conn: &Conn,
    pii: &FieldCipher,
    user_id: &str,
) -> SqlResult<Option<ExportProfile>> {
    let Some(user) = super::find_by_id(conn, pii, user_id)? else { return Ok(None) };
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
        email_verified_at: rfc3339_opt(user.email_verified_at),
        display_name: user.display_name,
        legal_name: user.legal_name,
        phone: user.phone,
        phone_verified_at: rfc3339_opt(user.phone_verified_at),
        role: user.role,
        created_at: rfc3339(user.created_at),
        disabled_at: rfc3339_opt(disabled),
        has_password,
        password_changed_at: rfc3339_opt(changed),
        failed_sign_ins: failed,
        locked_until: rfc3339_opt(locked),
    }))
}

/// Emailed links of the account export (state only; never a token).
pub fn export_email_links(conn: &Conn, user_id: &str) -> SqlResult<Vec<ExportEmailLink>> {
    conn.query_map(
        "SELECT purpose, created_at, expires_at, used_at FROM email_tokens
         WHERE user_id = ?1 ORDER BY created_at",
        [user_id],
        |r| {
            Ok(ExportEmailLink {
                purpose: r.get(0)?,
                created_at: rfc3339(r.get(1)?),
                expires_at: rfc3339(r.get(2)?),
                used_at: rfc3339_opt(r.get(3)?),
            })
        },
    )
}

/// What other sections of the account export hang on: the campus, the phone (its codes) and
/// the second factors' pause.
pub struct ExportLinks {
    pub campus_id: Option<i64>,
    pub phone_index: Option<Vec<u8>>,
    pub mfa_paused_until: Option<i64>,
}

pub fn export_links(conn: &Conn, user_id: &str) -> SqlResult<ExportLinks> {
    conn.query_row(
        "SELECT campus_id, phone_index, mfa_paused_until FROM users WHERE id = ?1",
        [user_id],
        |r| {
            Ok(ExportLinks {
                campus_id: r.get(0)?,
                phone_index: r.get(1)?,
                mfa_paused_until: r.get(2)?,
            })
        },
    )
}
