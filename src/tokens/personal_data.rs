//! What the API tokens keep about a person: their token families and refresh tokens (state
//! and times; never a token).

use std::sync::Arc;

use poem_openapi::Object;

use super::Tokens;
use crate::clock::{rfc3339, rfc3339_opt};
use crate::config::RetentionConfig;
use crate::db::conn::{Conn, SqlResult};
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

    fn erase_in(&self, tx: &Conn, person: &Person, after: &mut AfterErase) -> SqlResult<()> {
        let families = erase_families(tx, &person.id)?;
        let tokens = self.tokens.clone();
        after.then(move || tokens.forget_families(&families));
        Ok(())
    }

    /// Refresh tokens past their expiry, then the families left without tokens.
    fn purge_in(
        &self,
        tx: &Conn,
        now: i64,
        _retention: &RetentionConfig,
        purged: &mut Purged,
    ) -> SqlResult<()> {
        let (refresh, families) = purge_expired(tx, now)?;
        purged.add("refresh_tokens", refresh);
        purged.add("token_families", families);
        Ok(())
    }
}

/// Deletes the token families of `user_id` and their refresh tokens; returns the families'
/// ids (taken from the delete itself, so a family opened meanwhile on another node is not
/// left out of the caches' forgetting).
pub(super) fn erase_families(conn: &Conn, user_id: &str) -> SqlResult<Vec<String>> {
    conn.execute(
        "DELETE FROM refresh_tokens
         WHERE family_id IN (SELECT id FROM token_families WHERE user_id = ?1)",
        [user_id],
    )?;
    conn.query_map("DELETE FROM token_families WHERE user_id = ?1 RETURNING id", [user_id], |r| {
        r.get(0)
    })
}

/// Deletes the refresh tokens expired at `now`, then the families left without any; returns
/// how many of each.
pub(super) fn purge_expired(conn: &Conn, now: i64) -> SqlResult<(usize, usize)> {
    let refresh = conn.execute("DELETE FROM refresh_tokens WHERE expires_at <= ?1", [now])?;
    let families = conn.execute(
        "DELETE FROM token_families
         WHERE NOT EXISTS (SELECT 1 FROM refresh_tokens t WHERE t.family_id = token_families.id)",
        [] as [i64; 0],
    )?;
    Ok((refresh, families))
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
pub fn export_token_families(conn: &Conn, user_id: &str) -> SqlResult<Vec<ExportTokenFamily>> {
    conn.query_map(
        "SELECT f.id, f.created_at, f.revoked_at, f.revoked_reason,
                    (SELECT count(*) FROM refresh_tokens t WHERE t.family_id = f.id),
                    (SELECT max(created_at) FROM refresh_tokens t WHERE t.family_id = f.id),
                    f.client_id, f.scope
             FROM token_families f WHERE f.user_id = ?1 ORDER BY f.created_at",
        [user_id],
        |r| {
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
        },
    )
}
