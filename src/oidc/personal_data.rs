//! What the OpenID Connect provider keeps about a person: the consents they gave apps, the
//! codes and device codes issued to them, the back-channel logouts waiting for their apps, and
//! which admin registered a client. (Their grants are token families, owned by `tokens`.)

use rusqlite::{Connection, params};

use super::store;
use crate::config::RetentionConfig;
use crate::pii::{AfterErase, Person, PersonalData, Purged};

/// A delivered or abandoned back-channel logout is kept this long, for the admin's view.
const LOGOUT_KEPT_SECONDS: i64 = 7 * 86400;

pub struct OidcData;

impl PersonalData for OidcData {
    fn feature(&self) -> &'static str {
        "oidc"
    }

    fn tables(&self) -> &'static [&'static str] {
        &["oidc_clients", "oidc_codes", "oidc_consents", "oidc_device_codes", "oidc_logouts"]
    }

    /// A client outlives the admin who registered it; their id goes. Everything else of the
    /// person goes, logouts not yet sent included: the account is gone, and its grants with it
    /// (a deleted account's apps learn it from the failing refresh).
    fn erase_in(
        &self,
        tx: &Connection,
        person: &Person,
        _after: &mut AfterErase,
    ) -> rusqlite::Result<()> {
        tx.execute(
            "UPDATE oidc_clients SET created_by = NULL WHERE created_by = ?1",
            [&person.id],
        )?;
        for table in ["oidc_codes", "oidc_consents", "oidc_device_codes", "oidc_logouts"] {
            tx.execute(&format!("DELETE FROM {table} WHERE user_id = ?1"), [&person.id])?;
        }
        Ok(())
    }

    fn purge_in(
        &self,
        tx: &Connection,
        now: i64,
        _retention: &RetentionConfig,
        purged: &mut Purged,
    ) -> rusqlite::Result<()> {
        purged.add("oidc_codes", store::codes::purge(tx, now)?);
        let devices =
            tx.execute("DELETE FROM oidc_device_codes WHERE expires_at < ?1", [now - 600])?;
        purged.add("oidc_device_codes", devices);
        let logouts = tx.execute(
            "DELETE FROM oidc_logouts
             WHERE coalesce(sent_at, failed_at) IS NOT NULL AND created_at < ?1",
            params![now - LOGOUT_KEPT_SECONDS],
        )?;
        purged.add("oidc_logouts", logouts);
        Ok(())
    }
}
