//! What the API tokens keep about a person: their token families and refresh tokens (state
//! and times; never a token).

use std::sync::Arc;

use poem_openapi::Object;
use rusqlite::Connection;

use super::Tokens;
use crate::clock::{rfc3339, rfc3339_opt};
use crate::config::RetentionConfig;
use crate::pii::{AfterErase, Person, PersonalData, Purged};

pub struct TokensData {
    pub tokens: Arc<Tokens>,
}

impl PersonalData for TokensData {
    fn feature(&self) -> &'static str {
        "tokens"
    }

    fn tables(&self) -> &'static [&'static str] {
        &["token_families", "refresh_tokens"]
    }

    fn erase_in(
        &self,
        tx: &Connection,
        person: &Person,
        after: &mut AfterErase,
    ) -> rusqlite::Result<()> {
        let families: Vec<String> = {
            let mut stmt = tx.prepare("SELECT id FROM token_families WHERE user_id = ?1")?;
            stmt.query_map([&person.id], |r| r.get(0))?.collect::<Result<_, _>>()?
        };
        tx.execute(
            "DELETE FROM refresh_tokens
             WHERE family_id IN (SELECT id FROM token_families WHERE user_id = ?1)",
            [&person.id],
        )?;
        tx.execute("DELETE FROM token_families WHERE user_id = ?1", [&person.id])?;
        let tokens = self.tokens.clone();
        after.then(move || tokens.forget_families(&families));
        Ok(())
    }

    /// Refresh tokens past their expiry, then the families left without tokens.
    fn purge_in(
        &self,
        tx: &Connection,
        now: i64,
        _retention: &RetentionConfig,
        purged: &mut Purged,
    ) -> rusqlite::Result<()> {
        let refresh = tx.execute("DELETE FROM refresh_tokens WHERE expires_at <= ?1", [now])?;
        let families = tx.execute(
            "DELETE FROM token_families
             WHERE NOT EXISTS (SELECT 1 FROM refresh_tokens t WHERE t.family_id = token_families.id)",
            [],
        )?;
        purged.add("refresh_tokens", refresh);
        purged.add("token_families", families);
        Ok(())
    }
}

#[derive(Debug, Object, serde::Serialize)]
#[oai(skip_serializing_if_is_none)]
pub struct ExportTokenFamily {
    pub id: String,
    pub created_at: String,
    pub revoked_at: Option<String>,
    pub revoked_reason: Option<String>,
    /// For an app's grant (OpenID Connect): the app's client id and the scopes it holds; none
    /// for a first-party API sign-in.
    pub client_id: Option<String>,
    pub scope: Option<String>,
    /// Refresh tokens issued in this family (each refresh issues one).
    pub refresh_tokens_issued: i64,
    pub last_refreshed_at: Option<String>,
}

/// The token families of the account export, API sign-ins and apps' grants (state only;
/// never a token).
pub fn export_token_families(
    conn: &Connection,
    user_id: &str,
) -> rusqlite::Result<Vec<ExportTokenFamily>> {
    let mut stmt = conn.prepare(
        "SELECT f.id, f.created_at, f.revoked_at, f.revoked_reason,
                (SELECT count(*) FROM refresh_tokens t WHERE t.family_id = f.id),
                (SELECT max(created_at) FROM refresh_tokens t WHERE t.family_id = f.id),
                f.client_id, f.scope
         FROM token_families f WHERE f.user_id = ?1 ORDER BY f.created_at",
    )?;
    let rows = stmt.query_map([user_id], |r| {
        Ok(ExportTokenFamily {
            id: r.get(0)?,
            created_at: rfc3339(r.get(1)?),
            revoked_at: rfc3339_opt(r.get(2)?),
            revoked_reason: r.get(3)?,
            refresh_tokens_issued: r.get(4)?,
            last_refreshed_at: rfc3339_opt(r.get(5)?),
            client_id: r.get(6)?,
            scope: r.get(7)?,
        })
    })?;
    rows.collect()
}
