//! Issuing, refreshing, revoking and checking API tokens.

use std::sync::Arc;

use super::family_states::FamilyStates;
use super::jwt::{ACCESS_TOKEN_SECONDS, Claims};
use super::live_keys::LiveJwtKeys;
use super::store;
use crate::audit::RequestMeta;
use crate::audit::{self, AuditEvent};
use crate::clock::Clock;
use crate::crypto;
use crate::db::conn::{AsConn, Conn, SqlError, SqlResult};
use crate::db::{Db, DbError};
use crate::identity::Amr;
use crate::identity::Role;
use crate::identity::{AuthMethod, Principal};
use crate::ratelimit::KeyHold;

use super::ClientGrant;

pub const REFRESH_TOKEN_SECONDS: i64 = 7 * 86400;

/// A token family just opened inside a transaction, waiting for its access token.
pub struct NewFamily {
    pub family: String,
    pub refresh_token: String,
    pub amr: Amr,
    pub issued_at: i64,
}

/// A refresh token spent for its successor: the family it belongs to, for the caller to sign
/// the new access token.
pub struct Rotated {
    pub user_id: String,
    pub family: String,
    pub amr: Amr,
    pub grant: Option<ClientGrant>,
    pub refresh_token: String,
    pub now: i64,
}

/// A client's live refresh token, as introspection shows it.
pub struct LiveRefresh {
    pub user_id: String,
    pub grant: ClientGrant,
    pub expires_at: i64,
}

/// What a revocation names.
pub enum Revocable<'a> {
    RefreshToken(&'a str),
    /// A family's id, read from one of its access tokens.
    Family(&'a str),
}

/// What the token endpoints answer.
pub struct TokenPair {
    /// Whose tokens they are.
    pub user_id: String,
    pub access_token: String,
    pub expires_in: i64,
    pub refresh_token: String,
}

#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    #[error("the refresh token is not valid")]
    InvalidRefreshToken,
    #[error("the refresh token was already used")]
    RefreshTokenReused,
    /// A failure of ours (database, blocking pool, ...): logged with its cause chain, never
    /// shown to the client.
    #[error("internal error")]
    Internal(#[source] anyhow::Error),
}

impl From<DbError> for TokenError {
    fn from(e: DbError) -> Self {
        Self::Internal(e.into())
    }
}

impl From<rusqlite::Error> for TokenError {
    fn from(e: rusqlite::Error) -> Self {
        Self::Internal(e.into())
    }
}

impl From<SqlError> for TokenError {
    fn from(e: SqlError) -> Self {
        Self::Internal(e.into())
    }
}

/// How a refresh reads the user's role now, inside its transaction (None: the account is
/// gone): a function of the accounts, which sit above tokens.
pub type RoleOf = fn(&Conn, &str) -> rusqlite::Result<Option<String>>;

/// What a refresh attempt found.
enum Refreshed {
    Issued(Rotated),
    Reused(String),
    Invalid,
}

pub struct Tokens {
    db: Db,
    clock: Arc<dyn Clock>,
    jwt: LiveJwtKeys,
    /// Whether a family is revoked, so bearer checks cost no query.
    families: FamilyStates,
    /// Access tokens whose signature was verified, so a client's repeated calls cost one
    /// Ed25519 verification a minute instead of one each. Expiry and family revocation are
    /// still checked on every call.
    verified: crate::cache::Cache<String, Arc<VerifiedToken>>,
    /// Fired when families end: apps' grants among them may owe a back-channel logout
    /// (`oidc::backchannel` waits on it).
    logout_wake: Arc<tokio::sync::Notify>,
}

/// A verified access token's claims, and its hold on its user's rate-limit key.
struct VerifiedToken {
    claims: Claims,
    amr: Amr,
    rate_limit: Arc<KeyHold>,
}

impl Tokens {
    pub fn new(db: Db, clock: Arc<dyn Clock>, jwt: LiveJwtKeys) -> Self {
        let minute = std::time::Duration::from_secs(60);
        let verified = crate::cache::with_ttl(100_000, minute);
        let families = FamilyStates::new(&db);
        Self { db, clock, jwt, families, verified, logout_wake: Default::default() }
    }

    pub fn jwks(&self) -> serde_json::Value {
        self.jwt.current().jwks(self.clock.unix())
    }

    /// The signing keys now (the OpenID Connect provider signs its own tokens with them).
    pub fn keys(&self) -> Arc<super::jwt::JwtKeys> {
        self.jwt.current()
    }

    fn access_token(
        &self,
        user_id: &str,
        role: &str,
        family: &str,
        amr: Amr,
        now: i64,
    ) -> Result<String, TokenError> {
        let jwt = self.jwt.current();
        let claims = Claims {
            iss: jwt.issuer().to_string(),
            aud: jwt.audience().to_string(),
            sub: user_id.to_string(),
            iat: now,
            exp: now + ACCESS_TOKEN_SECONDS,
            jti: uuid::Uuid::new_v4().to_string(),
            fam: family.to_string(),
            role: role.to_string(),
            amr: amr.names().into_iter().map(str::to_string).collect(),
        };
        jwt.sign(&claims)
            .map_err(|e| TokenError::Internal(anyhow::anyhow!("signing an access token: {e}")))
    }

    /// Opens a token family for a user who has just proved `amr`, inside the caller's
    /// transaction (a grant commits it with its password check). The answer's access token is
    /// signed by [`Tokens::pair`] once the transaction committed.
    pub fn open_family_in(
        &self,
        tx: &impl AsConn,
        user_id: &str,
        amr: Amr,
        now: i64,
        ip: Option<&str>,
    ) -> SqlResult<NewFamily> {
        Self::open_grant_in(tx, user_id, amr, None, now, ip)
    }

    /// Opens a token family: the first-party API's (`grant` None) or a client's grant.
    pub fn open_grant_in(
        tx: &impl AsConn,
        user_id: &str,
        amr: Amr,
        grant: Option<&ClientGrant>,
        now: i64,
        ip: Option<&str>,
    ) -> SqlResult<NewFamily> {
        let family = uuid::Uuid::new_v4().to_string();
        let (refresh_token, refresh_hash) = crypto::new_token();
        tx.with_conn(|tx| {
            store::insert_family(tx, &family, user_id, amr, now, grant)?;
            store::insert_refresh(tx, &refresh_hash, &family, now, now + REFRESH_TOKEN_SECONDS)?;
            let details = match grant {
                Some(grant) => serde_json::json!({"family": family, "client_id": grant.client_id}),
                None => serde_json::json!({"family": family}),
            };
            let event = AuditEvent::by_user(now, user_id, "token.issued", ip).with_details(details);
            audit::record(tx, &event)?;
            Ok::<_, SqlError>(())
        })?;
        Ok(NewFamily { family, refresh_token, amr, issued_at: now })
    }

    /// The token pair of a family just opened.
    pub fn pair(&self, user_id: &str, role: &str, new: NewFamily) -> Result<TokenPair, TokenError> {
        let access_token = self.access_token(user_id, role, &new.family, new.amr, new.issued_at)?;
        Ok(TokenPair {
            user_id: user_id.to_string(),
            access_token,
            expires_in: ACCESS_TOKEN_SECONDS,
            refresh_token: new.refresh_token,
        })
    }

    /// Spends `refresh_token` for a new pair. A spent token revokes its whole family.
    /// `role_of` reads the user's role now (None: the account is gone), so a role change
    /// shows at the next refresh. Only first-party families refresh here.
    pub async fn refresh(
        &self,
        refresh_token: &str,
        meta: &RequestMeta,
        role_of: RoleOf,
    ) -> Result<TokenPair, TokenError> {
        let rotated = self.rotate_with(refresh_token, None, meta, role_of).await?;
        let (rotated, role) = rotated;
        let access_token =
            self.access_token(&rotated.user_id, &role, &rotated.family, rotated.amr, rotated.now)?;
        Ok(TokenPair {
            user_id: rotated.user_id,
            access_token,
            expires_in: ACCESS_TOKEN_SECONDS,
            refresh_token: rotated.refresh_token,
        })
    }

    /// Spends `refresh_token` of a family of `client_id` (None: the first-party API's) for its
    /// successor. A spent token revokes its whole family; a token of another client is not
    /// valid here (and is not spent). Answers with the family and the user's role now.
    pub async fn rotate(
        &self,
        refresh_token: &str,
        client_id: Option<&str>,
        meta: &RequestMeta,
        role_of: RoleOf,
    ) -> Result<(Rotated, String), TokenError> {
        self.rotate_with(refresh_token, client_id, meta, role_of).await
    }

    async fn rotate_with(
        &self,
        refresh_token: &str,
        client_id: Option<&str>,
        meta: &RequestMeta,
        role_of: impl Fn(&Conn, &str) -> rusqlite::Result<Option<String>> + Send + 'static,
    ) -> Result<(Rotated, String), TokenError> {
        if refresh_token.is_empty() || refresh_token.len() > 128 {
            return Err(TokenError::InvalidRefreshToken);
        }
        let hash = crypto::hash_token(refresh_token);
        let now = self.clock.unix();
        let (next, next_hash) = crypto::new_token();
        let ip = meta.ip.clone();
        let client_id = client_id.map(str::to_string);
        let outcome = self
            .db
            .run_conn(move |conn| {
                let tx = conn.transaction()?;
                let Some(row) = store::find_refresh_to_spend(&tx, &hash)? else {
                    return Ok((Refreshed::Invalid, None));
                };
                let owner = row.grant.as_ref().map(|g| g.client_id.as_str());
                if owner != client_id.as_deref() {
                    return Ok((Refreshed::Invalid, None));
                }
                if row.family_revoked || now >= row.expires_at {
                    return Ok((Refreshed::Invalid, None));
                }
                if row.spent_at.is_some() || !store::spend(&tx, &hash, now)? {
                    store::revoke_family(&tx, &row.family_id, now, "reuse")?;
                    let event = AuditEvent::by_user(
                        now,
                        &row.user_id,
                        "token.reuse_detected",
                        ip.as_deref(),
                    )
                    .failed()
                    .with_details(serde_json::json!({"family": row.family_id}));
                    audit::record(&tx, &event)?;
                    tx.commit()?;
                    return Ok((Refreshed::Reused(row.family_id), None));
                }
                let Some(role) = role_of(&tx, &row.user_id)? else {
                    return Ok((Refreshed::Invalid, None));
                };
                store::insert_refresh(
                    &tx,
                    &next_hash,
                    &row.family_id,
                    now,
                    now + REFRESH_TOKEN_SECONDS,
                )?;
                tx.commit()?;
                let rotated = Rotated {
                    user_id: row.user_id,
                    family: row.family_id,
                    amr: row.amr,
                    grant: row.grant,
                    refresh_token: next,
                    now,
                };
                Ok::<_, DbError>((Refreshed::Issued(rotated), Some(role)))
            })
            .await?;
        match outcome {
            (Refreshed::Issued(rotated), Some(role)) => Ok((rotated, role)),
            (Refreshed::Reused(family), _) => {
                // The family's access tokens die with it, cached state included.
                self.forget_families(&[family]);
                Err(TokenError::RefreshTokenReused)
            }
            _ => Err(TokenError::InvalidRefreshToken),
        }
    }

    /// Revokes the family of `refresh_token`. Unknown tokens are ignored (RFC 7009).
    pub async fn revoke(&self, refresh_token: &str, meta: &RequestMeta) -> Result<(), TokenError> {
        self.revoke_for(Revocable::RefreshToken(refresh_token), None, meta).await
    }

    /// Revokes a family of `client_id` (None: the first-party API's), found by one of its
    /// refresh tokens or by its id (from an access token). A token of another client, or an
    /// unknown one, is ignored (RFC 7009 answers the same either way).
    pub async fn revoke_for(
        &self,
        what: Revocable<'_>,
        client_id: Option<&str>,
        meta: &RequestMeta,
    ) -> Result<(), TokenError> {
        let lookup = match what {
            Revocable::RefreshToken(token) => Err(crypto::hash_token(token)),
            Revocable::Family(id) => Ok(id.to_string()),
        };
        let now = self.clock.unix();
        let ip = meta.ip.clone();
        let client_id = client_id.map(str::to_string);
        let reason = if client_id.is_some() { "client_revoked" } else { "revoked" };
        let family = self
            .db
            .run_conn(move |conn| {
                let tx = conn.transaction()?;
                let family_id = match lookup {
                    Err(hash) => match store::find_refresh(&tx, &hash)? {
                        Some(row) => row.family_id,
                        None => return Ok(None),
                    },
                    Ok(id) => id,
                };
                let Some((user_id, grant, _)) = store::family_grant(&tx, &family_id)? else {
                    return Ok(None);
                };
                if grant.as_ref().map(|g| g.client_id.as_str()) != client_id.as_deref() {
                    return Ok(None);
                }
                store::revoke_family(&tx, &family_id, now, reason)?;
                let mut details = serde_json::json!({"family": family_id});
                if let Some(client_id) = &client_id {
                    details["client_id"] = client_id.as_str().into();
                }
                let event = AuditEvent::by_user(now, &user_id, "token.revoked", ip.as_deref())
                    .with_details(details);
                audit::record(&tx, &event)?;
                tx.commit()?;
                Ok::<_, DbError>(Some(family_id))
            })
            .await?;
        if let Some(family) = family {
            self.forget_families(&[family]);
        }
        Ok(())
    }

    /// A client's refresh token that could be spent now (for introspection): not spent, not
    /// expired, its family live. None for anything else, first-party tokens included.
    pub async fn inspect_refresh(&self, token: &str) -> Result<Option<LiveRefresh>, DbError> {
        if token.is_empty() || token.len() > 128 {
            return Ok(None);
        }
        let (hash, now) = (crypto::hash_token(token), self.clock.unix());
        let row =
            self.db.run_conn(move |c| store::find_refresh(c, &hash).map_err(DbError::from)).await?;
        Ok(row.and_then(|row| {
            let live = row.spent_at.is_none() && !row.family_revoked && now < row.expires_at;
            let grant = row.grant.filter(|_| live)?;
            Some(LiveRefresh { user_id: row.user_id, grant, expires_at: row.expires_at })
        }))
    }

    /// Whether a family is revoked (or gone), through the same cache as bearer checks.
    pub async fn family_is_revoked(&self, family: &str) -> Result<bool, DbError> {
        if let Some(revoked) = self.families.get(family) {
            return Ok(revoked);
        }
        let generation = self.families.generation();
        let id = family.to_string();
        let revoked =
            self.db.run_conn(move |c| store::family_revoked(c, &id).map_err(DbError::from)).await?;
        self.families.note(family, revoked, generation);
        Ok(revoked)
    }

    /// The principal of a bearer access token, if it is valid and its family is not revoked.
    pub async fn authenticate(&self, token: &str) -> Result<Option<Principal>, DbError> {
        let now = self.clock.unix();
        let verified = match self.verified.get(token) {
            Some(verified) if now < verified.claims.exp => verified,
            Some(_) => return Ok(None),
            None => {
                let Ok(claims) = self.jwt.current().verify(token, now) else { return Ok(None) };
                let amr = Amr::from_db(&claims.amr.join(" "));
                let verified = Arc::new(VerifiedToken { claims, amr, rate_limit: Arc::default() });
                self.verified.insert(token.to_string(), verified.clone());
                verified
            }
        };
        let claims = &verified.claims;
        let Ok(role) = claims.role.parse::<Role>() else { return Ok(None) };
        if self.family_is_revoked(&claims.fam).await? {
            return Ok(None);
        }
        Ok(Some(Principal {
            user_id: claims.sub.clone(),
            session_id: claims.fam.clone(),
            role,
            remember_me: false,
            created_at: claims.iat,
            expires_at: claims.exp,
            idle_timeout: ACCESS_TOKEN_SECONDS,
            amr: verified.amr,
            method: AuthMethod::Bearer,
            rendering: None,
            rate_limit: verified.rate_limit.clone(),
        }))
    }

    /// Drops the cached states of families revoked (in a committed transaction).
    pub fn forget_families(&self, families: &[String]) {
        self.families.forget(&self.db, families);
        if !families.is_empty() {
            self.logout_wake.notify_one();
        }
    }

    /// What fires when families end (see [`Tokens::forget_families`]).
    pub fn logout_wake(&self) -> Arc<tokio::sync::Notify> {
        self.logout_wake.clone()
    }
}
