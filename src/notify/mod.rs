//! Outgoing messages. Features put an [`Email`] in the outbox table inside their own
//! transaction ([`enqueue_email`], [`enqueue_sms`]); the [`outbox`] worker delivers it through the configured
//! transport with retries, so a crash or restart never loses a message.

pub mod mail;
pub mod outbox;
pub mod personal_data;
pub mod sms;
pub mod templates;

pub use personal_data::NotifyData;

use rusqlite::params;

use crate::db::conn::{AsConn, Conn, SqlResult};

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
    conn: &impl AsConn,
    pii: &FieldCipher,
    email: &Email,
    now: i64,
) -> rusqlite::Result<i64> {
    let id = conn.with_conn(|conn| {
        conn.query_row(
            "INSERT INTO outbox (channel, recipient, subject, body_text, body_html, created_at,
                                 next_attempt_at)
             VALUES ('email', ?1, ?2, ?3, ?4, ?5, ?5) RETURNING id",
            params![
                pii.seal_text(RECIPIENT, &email.to),
                email.subject,
                pii.seal_text(BODY_TEXT, &email.text),
                pii.seal_text(BODY_HTML, &email.html),
                now
            ],
            |r| r.get(0),
        )
    })?;
    Ok(id)
}

/// Deletes every outbox message addressed to one of `emails` (compared without case) or
/// `phones`, as account deletion must: an undelivered one (a password-reset link, a sign-in
/// code) would still go out to the deleted account, and a delivered or failed one keeps its
/// recipient, which is personal data. Recipients are sealed, so every row is opened: the outbox
/// holds only the few days of messages that retention keeps. A row that does not open is left
/// (its failure is the worker's to report). Returns how many were deleted.
pub fn delete_addressed_to(
    conn: &impl AsConn,
    pii: &FieldCipher,
    emails: &[String],
    phones: &[String],
) -> rusqlite::Result<usize> {
    if emails.is_empty() && phones.is_empty() {
        return Ok(0);
    }
    conn.with_conn(|conn| delete_rows_addressed_to(conn, pii, emails, phones)).map_err(Into::into)
}

fn delete_rows_addressed_to(
    conn: &Conn,
    pii: &FieldCipher,
    emails: &[String],
    phones: &[String],
) -> SqlResult<usize> {
    let rows: Vec<(i64, String, String)> =
        conn.query_map("SELECT id, channel, recipient FROM outbox", [] as [i64; 0], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?))
        })?;
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
    conn: &impl AsConn,
    pii: &FieldCipher,
    to: &str,
    body: &str,
    now: i64,
) -> rusqlite::Result<i64> {
    let id = conn.with_conn(|conn| {
        conn.query_row(
            "INSERT INTO outbox (channel, recipient, subject, body_text, created_at,
                                 next_attempt_at)
             VALUES ('sms', ?1, '', ?2, ?3, ?3) RETURNING id",
            params![pii.seal_text(RECIPIENT, to), pii.seal_text(BODY_TEXT, body), now],
            |r| r.get(0),
        )
    })?;
    Ok(id)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::conn_tests::on_both_engines;
    use crate::pii::cipher::test_cipher;

    #[test]
    fn queues_and_deletes_messages_alike_on_both_engines() {
        let (_keys, pii) = test_cipher();
        on_both_engines(|conn| {
            let email = Email {
                to: "Ada@North.edu".into(),
                subject: "Hello".into(),
                text: "text".into(),
                html: "<p>html</p>".into(),
            };
            let first = enqueue_email(conn, &pii, &email, 10).unwrap();
            let second = enqueue_sms(conn, &pii, "+15555550100", "code 123456", 11).unwrap();
            let third =
                enqueue_email(conn, &pii, &Email { to: "bo@north.edu".into(), ..email }, 12)
                    .unwrap();
            assert!(first < second && second < third, "ids number the queue in order");
            let sealed: String = conn
                .query_row("SELECT recipient FROM outbox WHERE id = ?1", [first], |r| r.get(0))
                .unwrap();
            assert!(!sealed.contains("Ada"), "the recipient is sealed");

            let deleted = delete_addressed_to(
                conn,
                &pii,
                &["ada@north.edu".to_string()],
                &["+15555550100".to_string()],
            )
            .unwrap();
            assert_eq!(deleted, 2);
            let left: Vec<i64> =
                conn.query_map("SELECT id FROM outbox", [] as [i64; 0], |r| r.get(0)).unwrap();
            assert_eq!(left, [third]);
        });
    }
}
