//! What the OpenID Connect provider keeps about a person: the consents they gave apps, the
//! codes and device codes issued to them, the back-channel logouts waiting for their apps, and
//! which admin registered a client. (Their grants are token families, owned by `tokens`.)

use poem_openapi::Object;
use rusqlite::params;

use super::store;
use crate::config::RetentionConfig;
use crate::db::conn::{Conn, SqlResult};
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
    fn erase_in(&self, tx: &Conn, person: &Person, _after: &mut AfterErase) -> SqlResult<()> {
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
        tx: &Conn,
        now: i64,
        _retention: &RetentionConfig,
        purged: &mut Purged,
    ) -> SqlResult<()> {
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

/// An app the person allowed (on the consent or device page).
#[derive(Debug, Object, serde::Serialize)]
pub struct ExportConsent {
    pub client_id: String,
    /// The app's registered name.
    pub app: String,
    /// The scopes allowed, space-separated.
    pub scope: String,
    pub granted_at: String,
}

/// The consents of the account export (the grants themselves are token families: see
/// `api_tokens`).
pub fn export_consents(conn: &Conn, user_id: &str) -> SqlResult<Vec<ExportConsent>> {
    conn.query_map(
        "SELECT c.client_id, k.name, c.scope, c.granted_at
         FROM oidc_consents c JOIN oidc_clients k ON k.id = c.client_id
         WHERE c.user_id = ?1 ORDER BY c.granted_at",
        [user_id],
        |r| {
            Ok(ExportConsent {
                client_id: r.get(0)?,
                app: r.get(1)?,
                scope: r.get(2)?,
                granted_at: crate::clock::rfc3339(r.get(3)?),
            })
        },
    )
}
