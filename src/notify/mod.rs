//! Outgoing messages. Features put an [`Email`] in the outbox table inside their own
//! transaction ([`enqueue_email`], [`enqueue_sms`]); the [`outbox`] worker delivers it through the configured
//! transport with retries, so a crash or restart never loses a message.

pub mod mail;
pub mod outbox;
pub mod sms;
pub mod templates;

use rusqlite::{Connection, params};

/// An email ready to send: plain text and HTML alternatives.
#[derive(Debug, Clone)]
pub struct Email {
    pub to: String,
    pub subject: String,
    pub text: String,
    pub html: String,
}

/// Queues `email` for delivery now. Call inside the transaction that caused it.
pub fn enqueue_email(conn: &Connection, email: &Email, now: i64) -> rusqlite::Result<i64> {
    conn.execute(
        "INSERT INTO outbox (channel, recipient, subject, body_text, body_html, created_at,
                             next_attempt_at)
         VALUES ('email', ?1, ?2, ?3, ?4, ?5, ?5)",
        params![email.to, email.subject, email.text, email.html, now],
    )?;
    Ok(conn.last_insert_rowid())
}

/// Queues a text message to `to` (E.164) for delivery now. Call inside the transaction that
/// caused it. The body is erased once sent, like an email's.
pub fn enqueue_sms(conn: &Connection, to: &str, body: &str, now: i64) -> rusqlite::Result<i64> {
    conn.execute(
        "INSERT INTO outbox (channel, recipient, subject, body_text, created_at, next_attempt_at)
         VALUES ('sms', ?1, '', ?2, ?3, ?3)",
        params![to, body, now],
    )?;
    Ok(conn.last_insert_rowid())
}
