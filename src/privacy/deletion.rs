//! Deleting an account (by its owner, an admin, or retention): the `users` row goes, and with
//! it (foreign keys, `ON DELETE CASCADE`) its sessions, email links, API token families and
//! policy acceptances; phone codes sent to its phone go too, and so do outbox messages to its
//! email or phone (queued ones are never sent). Audit rows stay but are
//! pseudonymised: the account's id becomes `deleted:<keyed hash of the id>` (the same for all
//! its rows, so they still read as one person's story) and their IP addresses are erased.
//! The id is remembered in `deleted_accounts` (nothing else), so a second deletion gets a
//! clear answer. The email's blind index goes with the row: the address can sign up again.
//!
//! Uploaded files: [`user_upload_dir`] is the hook. A feature that stores a user's files puts
//! them under that directory (or adds its own removal to [`remove_uploads`]); they are removed
//! after the deletion commits.

use std::path::{Path, PathBuf};

use rusqlite::{Connection, OptionalExtension, params};

use crate::accounts as users;
use crate::audit::{self, AuditEvent};
use crate::crypto;
use crate::pii::FieldCipher;
use crate::pii::cipher::open_column;

pub const ACCOUNT_DELETED: &str = "account.deleted";

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

/// What the caller must do once the deletion has committed: forget cached sessions and token
/// families, drop the cached user, remove uploads.
#[derive(Debug, Default)]
pub struct Deleted {
    pub session_hashes: Vec<Vec<u8>>,
    pub token_families: Vec<String>,
    /// Stored licence images (`driver::uploads::UploadStore` names) to delete.
    pub licence_images: Vec<String>,
}

/// The pseudonym that replaces `user_id` in the audit log.
pub fn pseudonym(key: &[u8; 32], user_id: &str) -> String {
    let hash = crypto::keyed_hash(key, &[b"audit-pseudonym", user_id.as_bytes()]);
    format!("deleted:{}", hex::encode(&hash[..12]))
}

/// Whether `user_id` belonged to an account that was deleted.
pub fn was_deleted(conn: &Connection, user_id: &str) -> rusqlite::Result<bool> {
    conn.query_row("SELECT EXISTS(SELECT 1 FROM deleted_accounts WHERE id = ?1)", [user_id], |r| {
        r.get(0)
    })
}

/// Deletes the account inside the caller's transaction. None: there is no such account.
/// `actor`: who did it (None for the owner or the system; the owner's own id would be
/// pseudonymised anyway).
#[allow(clippy::too_many_arguments)]
pub fn delete_in(
    tx: &Connection,
    pii: &FieldCipher,
    pseudonym_key: &[u8; 32],
    user_id: &str,
    reason: DeleteReason,
    actor: Option<&str>,
    ip: Option<&str>,
    now: i64,
) -> rusqlite::Result<Option<Deleted>> {
    let row = tx
        .query_row("SELECT phone_index, email, phone FROM users WHERE id = ?1", [user_id], |r| {
            let phone_index: Option<Vec<u8>> = r.get(0)?;
            Ok((
                phone_index,
                open_column(pii, r, 1, users::EMAIL)?,
                open_column(pii, r, 2, users::PHONE)?,
            ))
        })
        .optional()?;
    let Some((phone_index, email, phone)) = row else { return Ok(None) };
    let mut phones: Vec<String> = phone.into_iter().collect();
    let session_hashes = crate::sessions::Sessions::delete_all_in(tx, user_id, None)?;
    let token_families = {
        let mut stmt = tx.prepare("SELECT id FROM token_families WHERE user_id = ?1")?;
        stmt.query_map([user_id], |r| r.get(0))?.collect::<Result<Vec<String>, _>>()?
    };
    if let Some(index) = phone_index {
        // Codes for a phone verified on another account are that account's business.
        let shared: bool = tx.query_row(
            "SELECT EXISTS(SELECT 1 FROM users WHERE phone_index = ?1 AND id != ?2)",
            params![index, user_id],
            |r| r.get(0),
        )?;
        if !shared {
            tx.execute("DELETE FROM phone_codes WHERE phone_index = ?1", [&index])?;
            tx.execute("DELETE FROM phone_code_checks WHERE phone_index = ?1", [&index])?;
        } else {
            phones.clear();
        }
    }
    let emails: Vec<String> = email.into_iter().collect();
    crate::notify::delete_addressed_to(tx, pii, &emails, &phones)?;
    let licence_images = {
        let mut stmt = tx.prepare(
            "SELECT u.path FROM driver_uploads u
             JOIN driver_licences l ON l.id = u.licence_id WHERE l.user_id = ?1",
        )?;
        stmt.query_map([user_id], |r| r.get(0))?.collect::<Result<Vec<String>, _>>()?
    };
    let alias = pseudonym(pseudonym_key, user_id);
    tx.execute(
        "UPDATE audit_log SET
             actor_id = CASE WHEN actor_id = ?1 THEN ?2 ELSE actor_id END,
             subject_id = CASE WHEN subject_id = ?1 THEN ?2 ELSE subject_id END,
             ip = NULL
         WHERE actor_id = ?1 OR subject_id = ?1",
        params![user_id, alias],
    )?;
    tx.execute("DELETE FROM users WHERE id = ?1", [user_id])?;
    tx.execute(
        "INSERT INTO deleted_accounts (id, deleted_at, reason) VALUES (?1, ?2, ?3)
         ON CONFLICT (id) DO NOTHING",
        params![user_id, now, reason.as_str()],
    )?;
    let event = AuditEvent {
        at: now,
        actor_id: actor.or(Some(&alias)).filter(|_| reason != DeleteReason::Retention),
        action: ACCOUNT_DELETED,
        subject_id: Some(&alias),
        ip: if reason == DeleteReason::Admin { ip } else { None },
        success: true,
        details: serde_json::json!({"reason": reason.as_str()}),
    };
    audit::record(tx, &event)?;
    Ok(Some(Deleted { session_hashes, token_families, licence_images }))
}

/// Where a user's uploaded files live: removed with the account.
pub fn user_upload_dir(data_dir: &Path, user_id: &str) -> PathBuf {
    data_dir.join("uploads").join("users").join(user_id)
}

/// Removes a deleted user's uploads (after the deletion committed).
pub fn remove_uploads(data_dir: &Path, user_id: &str) -> std::io::Result<()> {
    match std::fs::remove_dir_all(user_upload_dir(data_dir, user_id)) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        other => other,
    }
}
