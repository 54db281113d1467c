//! What webhooks keep about a person: which admin registered an endpoint. Deliveries name
//! users only by id inside their body, and are purged with the outbox's retention. Deleting
//! an account is itself an event: `user.deleted` is queued in the deletion's transaction.

use super::events::{Event, EventType};
use crate::config::RetentionConfig;
use crate::db::conn::{Conn, Optional, SqlResult};
use crate::pii::sealed::SealedColumns;
use crate::pii::{AfterErase, Person, PersonalData, Purged};

const DAY: i64 = 86_400;

/// Endpoint secrets are sealed (they are credentials, read back to sign).
pub const SEALED: SealedColumns = SealedColumns {
    table: "webhook_endpoints",
    key: "id",
    columns: &["secret", "previous_secret"],
};

pub struct WebhookData {
    pub clock: std::sync::Arc<dyn crate::clock::Clock>,
}

impl PersonalData for WebhookData {
    fn feature(&self) -> &'static str {
        "webhooks"
    }

    fn tables(&self) -> &'static [&'static str] {
        &["webhook_endpoints"]
    }

    /// An endpoint outlives the admin who registered it; their id goes. The apps hear of the
    /// deletion (`user.deleted`, with the campus the account belonged to).
    fn erase_in(&self, tx: &Conn, person: &Person, _after: &mut AfterErase) -> SqlResult<()> {
        tx.execute(
            "UPDATE webhook_endpoints SET created_by = NULL WHERE created_by = ?1",
            [&person.id],
        )?;
        // The accounts' row is erased last, so its campus is still there to read.
        let campus_id: Option<i64> = tx
            .query_row("SELECT campus_id FROM users WHERE id = ?1", [&person.id], |r| r.get(0))
            .optional()?
            .flatten();
        let event =
            Event::user(EventType::UserDeleted, &person.id, campus_id, serde_json::json!({}));
        super::queue_in(tx, &event, self.clock.unix())?;
        Ok(())
    }

    /// Delivered or failed deliveries older than `retention.outbox_days`.
    fn purge_in(
        &self,
        tx: &Conn,
        now: i64,
        retention: &RetentionConfig,
        purged: &mut Purged,
    ) -> SqlResult<()> {
        let before = now - i64::from(retention.outbox_days) * DAY;
        purged.add("webhook_deliveries", super::store::purge(tx, before)?);
        Ok(())
    }
}
