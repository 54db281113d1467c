//! What the outbox keeps about a person: messages addressed to their email or phone (the
//! recipient sealed, the body erased once sent).

use crate::config::RetentionConfig;
use crate::db::conn::{Conn, SqlResult};
use crate::pii::sealed::SealedColumns;
use crate::pii::{AfterErase, FieldCipher, Person, PersonalData, Purged};

const DAY: i64 = 86_400;

/// The outbox's sealed columns (a body is erased once sent).
pub const SEALED: SealedColumns =
    SealedColumns { table: "outbox", key: "id", columns: &["recipient", "body_text", "body_html"] };

pub struct NotifyData {
    pub pii: FieldCipher,
}

impl PersonalData for NotifyData {
    fn feature(&self) -> &'static str {
        "notify"
    }

    fn tables(&self) -> &'static [&'static str] {
        &["outbox"]
    }

    /// Queued messages are never sent. Text messages to a phone another account shares are
    /// that account's too, and stay.
    fn erase_in(&self, tx: &Conn, person: &Person, _after: &mut AfterErase) -> SqlResult<()> {
        let emails: Vec<String> = person.email.iter().cloned().collect();
        let phones: Vec<String> = match person.phone_shared {
            false => person.phone.iter().cloned().collect(),
            true => Vec::new(),
        };
        super::delete_addressed_to(tx, &self.pii, &emails, &phones)?;
        Ok(())
    }

    /// Sent or failed messages older than `retention.outbox_days`.
    fn purge_in(
        &self,
        tx: &Conn,
        now: i64,
        retention: &RetentionConfig,
        purged: &mut Purged,
    ) -> SqlResult<()> {
        let rows = tx.execute(
            "DELETE FROM outbox
             WHERE (sent_at IS NOT NULL OR failed_at IS NOT NULL) AND created_at <= ?1",
            [now - i64::from(retention.outbox_days) * DAY],
        )?;
        purged.add("outbox_messages", rows);
        Ok(())
    }
}
