//! The first admin. At start-up with no admin, Gatehouse prints a one-time link (valid one hour)
//! that opens the web UI's bootstrap page; `POST /api/v1/bootstrap` spends it to create the
//! admin. `gatehouse admin create` does the same from the shell, or promotes an existing
//! account. An admin's email need not be on a campus domain, and counts as verified.

use crate::db::conn::AsConn;

use super::service::{AccountError, Accounts, clean_name, field};
use super::{password, store};
use crate::audit::RequestMeta;
use crate::audit::{self, AuditEvent, actions};
use crate::contact::email;
use crate::crypto;
use crate::db::DbError;

pub const BOOTSTRAP_SECONDS: i64 = 3600;

/// A fresh bootstrap link when there is no admin yet (replacing any earlier one).
pub fn bootstrap_link(
    conn: &impl AsConn,
    now: i64,
    public_url: &str,
) -> rusqlite::Result<Option<String>> {
    if store::count_admins(conn)? > 0 {
        return Ok(None);
    }
    let (token, hash) = crypto::new_token();
    store::insert_bootstrap_token(conn, &hash, now + BOOTSTRAP_SECONDS)?;
    Ok(Some(format!("{public_url}/bootstrap?token={token}")))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AdminOutcome {
    Created,
    Promoted,
}

impl Accounts {
    /// Creates an admin, or promotes the account with this email. A password is needed only to
    /// create. `token_hash`, when given, must be an unspent bootstrap token.
    pub async fn create_admin(
        &self,
        raw_email: &str,
        password: Option<&str>,
        display_name: Option<&str>,
        bootstrap_token: Option<&str>,
        meta: &RequestMeta,
    ) -> Result<AdminOutcome, AccountError> {
        let email = email::normalize(raw_email);
        if let Some(problem) = email::problem(&email) {
            return Err(AccountError::Validation(vec![field("email", problem)]));
        }
        let display_name = match display_name {
            Some(name) => clean_name(name, 100)
                .map_err(|m| AccountError::Validation(vec![field("display_name", m)]))?,
            None => email.split('@').next().unwrap_or("Admin").to_string(),
        };
        let token_hash = bootstrap_token.map(crypto::hash_token);
        // The bootstrap page is open to anyone who can reach the server: a forged, spent or
        // expired link, or one left over once an admin exists, is refused before the password
        // costs a hash.
        if let Some(hash) = token_hash.clone() {
            let now = self.now();
            let usable = self
                .db
                .run_conn(move |c| {
                    store::bootstrap_token_usable(c, &hash, now).map_err(DbError::from)
                })
                .await?;
            if !usable {
                return Err(AccountError::InvalidToken);
            }
        }
        let password_hash = match password {
            Some(password) => {
                if let Some(problem) = password::policy_violation(password, &email) {
                    return Err(AccountError::Validation(vec![field("password", problem)]));
                }
                Some(self.hasher().hash(password).await?)
            }
            None => None,
        };
        let index = self.email_index(&email);
        let (now, ip) = (self.now(), meta.ip.clone());
        let user_id = uuid::Uuid::new_v4().to_string();
        let pii = self.pii().clone();
        let (outcome, ended, admin_id) = self
            .db
            .run_conn(move |conn| {
                let mut ended = Vec::new();
                let tx = conn.transaction()?;
                // "No admin yet" is checked before one is made: on PostgreSQL the check takes
                // its turn with every other change to the admins (as the last-admin checks do).
                tx.serialize_on("admins")?;
                if let Some(hash) = &token_hash
                    && (!store::consume_bootstrap_token(&tx, hash, now)?
                        || store::count_admins(&tx)? > 0)
                {
                    // Spent, expired, forged, or an admin exists already (made from the shell).
                    return Err(AccountError::InvalidToken);
                }
                let (outcome, admin_id) = match store::find_by_email_index(&tx, &pii, &index)? {
                    Some(_) if token_hash.is_some() => {
                        // The bootstrap page creates; it never takes over an existing account.
                        return Err(AccountError::Validation(vec![field("email", "An account with this email exists; promote it with `gatehouse admin create`.")]));
                    }
                    Some(existing) => {
                        store::set_role(&tx, &existing.id, "admin")?;
                        super::events::email_verified_in(&tx, &existing.id, now)?;
                        // A privilege change: the account signs in again for a new session token.
                        ended = crate::sessions::Sessions::delete_all_in(&tx, &existing.id, None)?;
                        (AdminOutcome::Promoted, existing.id)
                    }
                    None => {
                        let Some(hash) = &password_hash else {
                            return Err(AccountError::Validation(vec![field("password", "A new admin needs a password.")]));
                        };
                        store::insert(&tx, &pii, &store::NewUser {
                            id: &user_id,
                            email_index: &index,
                            email: &email,
                            display_name: &display_name,
                            legal_name: None,
                            phone: None,
                            phone_index: None,
                            password_hash: Some(hash),
                            campus_id: None,
                            role: "admin",
                            email_verified_at: Some(now),
                            now,
                        })?;
                        (AdminOutcome::Created, user_id)
                    }
                };
                let event = AuditEvent { actor_id: None, ..AuditEvent::by_user(now, &admin_id, actions::ADMIN_CREATED, ip.as_deref()) }
                    .with_details(serde_json::json!({"via": if token_hash.is_some() { "bootstrap_link" } else { "cli" }, "outcome": format!("{outcome:?}").to_lowercase()}));
                audit::record(&tx, &event)?;
                // With an admin in place the printed link has no purpose left.
                store::delete_bootstrap_tokens(&tx)?;
                tx.commit().map_err(DbError::from)?;
                Ok((outcome, ended, admin_id))
            })
            .await?;
        self.sessions().forget(&ended).await;
        self.forget_user(&admin_id);
        Ok(outcome)
    }
}
