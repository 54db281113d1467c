//! The profile a user edits.

use super::*;

impl Accounts {
    pub async fn update_profile(
        &self,
        principal: &Principal,
        display_name: Option<&str>,
        legal_name: Option<Option<&str>>,
        meta: &RequestMeta,
    ) -> Result<User, AccountError> {
        let mut errors = Vec::new();
        let display_name = display_name.and_then(|n| {
            clean_name(n, 100).map_err(|m| errors.push(field("display_name", m))).ok()
        });
        let legal_name = legal_name.map(|n| match n.map(str::trim).filter(|s| !s.is_empty()) {
            Some(n) => clean_name(n, 200).map_err(|m| errors.push(field("legal_name", m))).ok(),
            None => None,
        });
        if !errors.is_empty() {
            return Err(AccountError::Validation(errors));
        }
        let (user_id, now, ip) = (principal.user_id.clone(), self.now(), meta.ip.clone());
        let pii = self.pii().clone();
        let user = self
            .db
            .run_conn(move |conn| {
                let tx = conn.transaction()?;
                store::update_profile(
                    &tx,
                    &pii,
                    &user_id,
                    display_name.as_deref(),
                    legal_name.as_ref().map(|n| n.as_deref()),
                    now,
                )?;
                audit::record(
                    &tx,
                    &AuditEvent::by_user(now, &user_id, actions::PROFILE_UPDATED, ip.as_deref()),
                )?;
                // Which fields changed, never their values.
                let mut changed = Vec::new();
                if display_name.is_some() {
                    changed.push("display_name");
                }
                if legal_name.is_some() {
                    changed.push("legal_name");
                }
                let change = serde_json::json!({ "changed": changed });
                crate::accounts::events::queue_user_event(
                    &tx,
                    crate::webhooks::EventType::UserUpdated,
                    &user_id,
                    change,
                    now,
                )?;
                let user = store::find_by_id(&tx, &pii, &user_id)?
                    .ok_or(AccountError::InvalidCredentials)?;
                tx.commit()?;
                Ok::<_, AccountError>(user)
            })
            .await?;
        self.forget_user(&user.id);
        Ok(user)
    }
}
