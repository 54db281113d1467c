//! Connected apps: the apps a student let in (a consent, or a live grant of a trusted app),
//! and "remove access", which forgets the consent and ends the app's grants (its app hears of
//! it by back-channel logout).

use super::provider::Provider;
use super::store;
use crate::audit::{self, AuditEvent, actions};
use crate::db::DbError;

/// An app with access to a student's account.
pub struct ConnectedApp {
    pub client_id: String,
    pub name: String,
    pub scope: String,
    /// When access was first given (the consent, or the oldest live grant).
    pub since: i64,
}

impl Provider {
    pub async fn connected_apps(&self, user_id: &str) -> anyhow::Result<Vec<ConnectedApp>> {
        let user = user_id.to_string();
        let apps = self
            .db
            .run_conn(move |c| {
                let mut apps: Vec<ConnectedApp> = store::consents::of_user(c, &user)?
                    .into_iter()
                    .map(|r| ConnectedApp {
                        client_id: r.client_id,
                        name: r.client_name,
                        scope: r.scope,
                        since: r.granted_at,
                    })
                    .collect();
                for grant in crate::tokens::live_grants(c, &user)? {
                    if apps.iter().any(|a| a.client_id == grant.client_id) {
                        continue;
                    }
                    let Some(client) = store::clients::find(c, &grant.client_id)? else {
                        continue;
                    };
                    apps.push(ConnectedApp {
                        client_id: client.id,
                        name: client.name,
                        scope: grant.scope,
                        since: grant.created_at,
                    });
                }
                apps.sort_by(|a, b| a.name.cmp(&b.name));
                Ok::<_, DbError>(apps)
            })
            .await?;
        Ok(apps)
    }

    /// "Remove access": false when the app had none.
    pub async fn remove_access(
        &self,
        user_id: &str,
        client_id: &str,
        ip: Option<String>,
    ) -> anyhow::Result<bool> {
        let (user, client, now) = (user_id.to_string(), client_id.to_string(), self.clock.unix());
        let ended = self
            .db
            .run_conn(move |c| {
                let tx = c.transaction()?;
                let had_consent = store::consents::delete(&tx, &user, &client)?;
                let families = crate::tokens::revoke_client_families(
                    &tx,
                    &user,
                    &client,
                    now,
                    "access_removed",
                )?;
                if !had_consent && families.is_empty() {
                    return Ok(None);
                }
                let event =
                    AuditEvent::by_user(now, &user, actions::CONSENT_REMOVED, ip.as_deref())
                        .with_details(
                            serde_json::json!({"client_id": client, "grants": families.len()}),
                        );
                audit::record(&tx, &event)?;
                tx.commit()?;
                Ok::<_, DbError>(Some(families))
            })
            .await?;
        let Some(families) = ended else { return Ok(false) };
        self.tokens.forget_families(&families);
        self.logout_wake.notify_one();
        Ok(true)
    }
}
