//! Deleting an account (by its owner, an admin, or retention), walking every feature's
//! [`PersonalData`]: each erases its own rows inside one transaction, the accounts' row goes
//! last, and what must leave caches and disk goes after the commit. Audit rows stay but are
//! pseudonymised: the account's id becomes `deleted:<keyed hash of the id>` (the same for all
//! its rows, so they still read as one person's story) and their IP addresses are erased. The
//! id is remembered in `deleted_accounts` (nothing else), so a second deletion gets a clear
//! answer. The email's blind index goes with the row: the address can sign up again.
//!
//! Uploaded files: [`user_upload_dir`] is the hook. A feature that stores a user's files puts
//! them under that directory (or removes its own in its `erase_in`, after the commit).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rusqlite::params;

use super::personal_data::{AfterErase, PersonalData};
use crate::audit::{self, AuditEvent, RequestMeta};
use crate::clock::Clock;
use crate::crypto;
use crate::db::conn::{Conn, SqlResult};
use crate::db::{Db, DbError};

pub const ACCOUNT_DELETED: &str = "account.deleted";

/// Tables the walker itself writes: the audit log (pseudonymised) and the ids of deleted
/// accounts.
const OWN_TABLES: &[&str] = &["audit_log", "deleted_accounts"];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeleteReason {
    /// The owner, with their password.
    Owner,
    /// An admin.
    Admin,
    /// Never verified within the retention period.
    Retention,
}

impl DeleteReason {
    fn as_str(self) -> &'static str {
        match self {
            DeleteReason::Owner => "self",
            DeleteReason::Admin => "admin",
            DeleteReason::Retention => "retention",
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ErasureError {
    #[error("no such account")]
    NotFound,
    #[error("the account was deleted")]
    AlreadyDeleted,
    /// The account is the last enabled admin: deleting it would leave no one to run Gatehouse.
    #[error("the last enabled admin")]
    LastAdmin,
    #[error("internal error")]
    Internal(#[source] anyhow::Error),
}

impl From<DbError> for ErasureError {
    fn from(e: DbError) -> Self {
        Self::Internal(e.into())
    }
}

/// Erases accounts across every feature. Cheap to clone.
#[derive(Clone)]
pub struct Erasure {
    db: Db,
    clock: Arc<dyn Clock>,
    data_dir: PathBuf,
    pseudonym_key: [u8; 32],
    /// The accounts' part: it reads the person, and its row goes last (the rest hang on it).
    accounts: Arc<dyn PersonalData>,
    /// Every other feature's part.
    features: Vec<Arc<dyn PersonalData>>,
}

impl Erasure {
    /// `session_secret` keys the audit pseudonyms (not a PII key: a key rotation must not
    /// change them).
    pub fn new(
        db: Db,
        clock: Arc<dyn Clock>,
        data_dir: &Path,
        session_secret: &[u8],
        accounts: Arc<dyn PersonalData>,
        features: Vec<Arc<dyn PersonalData>>,
    ) -> Self {
        let pseudonym_key = crypto::keyed_hash(session_secret, &[b"audit-pseudonym-key"])
            .try_into()
            .expect("HMAC-SHA256 is 32 bytes");
        Self { db, clock, data_dir: data_dir.to_path_buf(), pseudonym_key, accounts, features }
    }

    /// Every feature's part, the accounts' last.
    pub fn parts(&self) -> impl Iterator<Item = &dyn PersonalData> {
        self.features.iter().chain(std::iter::once(&self.accounts)).map(|part| part.as_ref())
    }

    /// Every table that holds personal data, by the feature that owns it.
    pub fn tables(&self) -> Vec<(&'static str, &'static str)> {
        let own = OWN_TABLES.iter().map(|table| ("privacy", *table));
        self.parts()
            .flat_map(|part| part.tables().iter().map(move |table| (part.feature(), *table)))
            .chain(own)
            .collect()
    }

    /// The pseudonym that replaces `user_id` in the rows that are kept.
    pub fn pseudonym(&self, user_id: &str) -> String {
        let hash =
            crypto::keyed_hash(&self.pseudonym_key, &[b"audit-pseudonym", user_id.as_bytes()]);
        format!("deleted:{}", hex::encode(&hash[..12]))
    }

    /// Deletes the account inside the caller's transaction. None: there is no such account.
    /// `actor`: who did it (None for the owner or the system; the owner's own id would be
    /// pseudonymised anyway). The returned work runs once the transaction has committed.
    pub fn erase_in(
        &self,
        tx: &Conn,
        user_id: &str,
        reason: DeleteReason,
        actor: Option<&str>,
        ip: Option<&str>,
        now: i64,
    ) -> SqlResult<Option<AfterErase>> {
        let Some(mut person) = self.accounts.person_in(tx, user_id)? else { return Ok(None) };
        person.pseudonym = self.pseudonym(user_id);
        let mut after = AfterErase::default();
        for part in &self.features {
            part.erase_in(tx, &person, &mut after)?;
        }
        audit::pseudonymise(tx, user_id, &person.pseudonym)?;
        self.accounts.erase_in(tx, &person, &mut after)?;
        tx.execute(
            "INSERT INTO deleted_accounts (id, deleted_at, reason) VALUES (?1, ?2, ?3)
             ON CONFLICT (id) DO NOTHING",
            params![user_id, now, reason.as_str()],
        )?;
        let alias = person.pseudonym.as_str();
        let event = AuditEvent {
            at: now,
            actor_id: actor.or(Some(alias)).filter(|_| reason != DeleteReason::Retention),
            action: ACCOUNT_DELETED,
            subject_id: Some(alias),
            ip: if reason == DeleteReason::Admin { ip } else { None },
            success: true,
            details: serde_json::json!({"reason": reason.as_str()}),
        };
        audit::record(tx, &event)?;
        let uploads = user_upload_dir(&self.data_dir, user_id);
        after.then(move || {
            if let Err(e) = remove_dir(&uploads) {
                tracing::error!(error = %e, "cannot remove a deleted account's uploads");
            }
        });
        Ok(Some(after))
    }

    /// Deletes the account in a transaction of its own, then drops what it leaves in caches
    /// and on disk.
    pub async fn erase(
        &self,
        user_id: &str,
        reason: DeleteReason,
        actor: Option<&str>,
        meta: &RequestMeta,
    ) -> Result<(), ErasureError> {
        let (id, actor, ip) = (user_id.to_string(), actor.map(str::to_string), meta.ip.clone());
        let now = self.clock.unix();
        let this = self.clone();
        let erased = self
            .db
            .run_conn(move |conn| {
                let tx = conn.transaction()?;
                if reason != DeleteReason::Retention && is_last_admin(&tx, &id)? {
                    return Ok(Err(ErasureError::LastAdmin));
                }
                let after =
                    this.erase_in(&tx, &id, reason, actor.as_deref(), ip.as_deref(), now)?;
                let Some(after) = after else {
                    return Ok(Err(if was_deleted(&tx, &id)? {
                        ErasureError::AlreadyDeleted
                    } else {
                        ErasureError::NotFound
                    }));
                };
                tx.commit()?;
                Ok::<_, DbError>(Ok(after))
            })
            .await??;
        run_after(erased).await;
        Ok(())
    }

    /// Whether the account behind a valid credential is gone: a clear answer for a request
    /// that raced its deletion (or a bearer token used after it).
    pub async fn missing(&self, user_id: &str) -> ErasureError {
        let id = user_id.to_string();
        match self.db.run_conn(move |c| was_deleted(c, &id).map_err(DbError::from)).await {
            Ok(true) => ErasureError::AlreadyDeleted,
            Ok(false) => ErasureError::NotFound,
            Err(e) => e.into(),
        }
    }
}

/// Runs the work of committed deletions off the async threads (it removes files).
pub async fn run_after(after: AfterErase) {
    if tokio::task::spawn_blocking(move || after.run()).await.is_err() {
        tracing::error!("the clean-up after an account deletion panicked");
    }
}

/// Whether `user_id` belonged to an account that was deleted.
pub fn was_deleted(conn: &Conn, user_id: &str) -> SqlResult<bool> {
    conn.query_row("SELECT EXISTS(SELECT 1 FROM deleted_accounts WHERE id = ?1)", [user_id], |r| {
        r.get(0)
    })
}

/// Whether `user_id` is the last enabled admin. It takes the admins' turn first (as the admin
/// API's demote and disable do), so that on PostgreSQL two admins deleting themselves at once
/// cannot both see the other one still there.
fn is_last_admin(conn: &Conn, user_id: &str) -> SqlResult<bool> {
    conn.serialize_on("admins")?;
    conn.query_row(
        "SELECT count(*) FROM users
         WHERE id = ?1 AND role = 'admin' AND disabled_at IS NULL
           AND NOT EXISTS (SELECT 1 FROM users o
                           WHERE o.role = 'admin' AND o.disabled_at IS NULL AND o.id <> ?1)",
        [user_id],
        |r| r.get::<i64>(0).map(|n| n > 0),
    )
}

/// Where a user's uploaded files live: removed with the account.
pub fn user_upload_dir(data_dir: &Path, user_id: &str) -> PathBuf {
    data_dir.join("uploads").join("users").join(user_id)
}

fn remove_dir(dir: &Path) -> std::io::Result<()> {
    match std::fs::remove_dir_all(dir) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        other => other,
    }
}

// The answers a client sees. Internal causes go to the server's log, never to the client.
impl From<ErasureError> for crate::error::ApiError {
    fn from(e: ErasureError) -> Self {
        match e {
            ErasureError::NotFound => {
                Self::not_found("user_not_found", "There is no such account.")
            }
            ErasureError::AlreadyDeleted => {
                Self::gone("account_deleted", "This account has been deleted.")
            }
            ErasureError::LastAdmin => Self::conflict(
                "last_admin",
                "This is the last enabled admin: promote another account to admin first.",
            ),
            ErasureError::Internal(cause) => Self::internal(format!("{cause:#}")),
        }
    }
}
