//! Outgoing messages. Features put an [`Email`] in the outbox table inside their own
//! transaction ([`enqueue_email`], [`enqueue_sms`]); the [`outbox`] worker delivers it through the configured
//! transport with retries, so a crash or restart never loses a message.

pub mod mail;
pub mod outbox;
pub mod personal_data;
pub mod sms;
pub mod templates;

pub use personal_data::NotifyData;

use rusqlite::{Connection, params};

use crate::pii::FieldCipher;

/// Contexts of the outbox's sealed columns: recipients and bodies are personal data.
pub const RECIPIENT: &str = "outbox.recipient";
pub const BODY_TEXT: &str = "outbox.body_text";
pub const BODY_HTML: &str = "outbox.body_html";

/// An email ready to send: plain text and HTML alternatives.
#[derive(Debug, Clone)]
pub struct Email {
    pub to: String,
    pub subject: String,
    pub text: String,
    pub html: String,
}

/// Queues `email` for delivery now. Call inside the transaction that caused it.
/// The recipient and bodies are sealed with `pii`.
pub fn enqueue_email(
    conn: &Connection,
    pii: &FieldCipher,
    email: &Email,
    now: i64,
) -> rusqlite::Result<i64> {
    conn.execute(
        "INSERT INTO outbox (channel, recipient, subject, body_text, body_html, created_at,
                             next_attempt_at)
         VALUES ('email', ?1, ?2, ?3, ?4, ?5, ?5)",
        params![
            pii.seal_text(RECIPIENT, &email.to),
            email.subject,
            pii.seal_text(BODY_TEXT, &email.text),
            pii.seal_text(BODY_HTML, &email.html),
            now
        ],
    )?;
    Ok(conn.last_insert_rowid())
}

/// Deletes every outbox message addressed to one of `emails` (compared without case) or
/// `phones`, as account deletion must: an undelivered one (a password-reset link, a sign-in
/// code) would still go out to the deleted account, and a delivered or failed one keeps its
/// recipient, which is personal data. Recipients are sealed, so every row is opened: the outbox
/// holds only the few days of messages that retention keeps. A row that does not open is left
/// (its failure is the worker's to report). Returns how many were deleted.
pub fn delete_addressed_to(
    conn: &Connection,
    pii: &FieldCipher,
    emails: &[String],
    phones: &[String],
) -> rusqlite::Result<usize> {
    if emails.is_empty() && phones.is_empty() {
        return Ok(0);
    }
    let rows: Vec<(i64, String, String)> = {
        let mut stmt = conn.prepare("SELECT id, channel, recipient FROM outbox")?;
        stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?.collect::<Result<_, _>>()?
    };
    let mut deleted = 0;
    for (id, channel, recipient) in rows {
        let Ok(to) = pii.open_text(RECIPIENT, &recipient) else { continue };
        let addressed = match channel.as_str() {
            "email" => emails.iter().any(|e| e.eq_ignore_ascii_case(&to)),
            _ => phones.contains(&to),
        };
        if addressed {
            deleted += conn.execute("DELETE FROM outbox WHERE id = ?1", [id])?;
        }
    }
    Ok(deleted)
}

/// Queues a text message to `to` (E.164) for delivery now. Call inside the transaction that
/// caused it. The body is erased once sent, like an email's.
pub fn enqueue_sms(
    conn: &Connection,
    pii: &FieldCipher,
    to: &str,
    body: &str,
    now: i64,
) -> rusqlite::Result<i64> {
    conn.execute(
        "INSERT INTO outbox (channel, recipient, subject, body_text, created_at, next_attempt_at)
         VALUES ('sms', ?1, '', ?2, ?3, ?3)",
        params![pii.seal_text(RECIPIENT, to), pii.seal_text(BODY_TEXT, body), now],
    )?;
    Ok(conn.last_insert_rowid())
}
