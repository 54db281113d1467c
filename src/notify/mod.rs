//! Outgoing messages. Features put an [`Email`] in the outbox table inside their own
//! transaction ([`enqueue_email`], [`enqueue_sms`]); the [`outbox`] worker delivers it through the configured
//! transport with retries, so a crash or restart never loses a message.

pub mod mail;
pub mod outbox;
pub mod sms;
pub mod templates;

use rusqlite::{Connection, params};

use crate::privacy::FieldCipher;

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
