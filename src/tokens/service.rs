//! Issuing, refreshing, revoking and checking API tokens.

use std::sync::Arc;

use super::jwt::{ACCESS_TOKEN_SECONDS, Claims};
use super::live_keys::LiveJwtKeys;
use super::store;
use crate::accounts::password::Verified;
use crate::accounts::service::SignInGate;
use crate::accounts::{self as accounts_store, AccountError, Accounts};
use crate::audit::RequestMeta;
use crate::audit::{self, AuditEvent};
use crate::clock::Clock;
use crate::crypto;
use crate::db::{Db, DbError};
use crate::identity::Amr;
use crate::identity::Role;
use crate::identity::{AuthMethod, Principal};
use crate::ratelimit::KeyHold;

pub const REFRESH_TOKEN_SECONDS: i64 = 7 * 86400;

/// What a token grant brings.
pub struct Grant<'a> {
    pub email: &'a str,
    pub password: &'a str,
    /// Required once the account has TOTP on.
    pub totp_code: Option<&'a str>,
    /// The captcha is on and the request brought no solution. (A solved captcha does not get
    /// a grant through a lockout pause, as it gets a web sign-in through: apps sign in far
    /// less often than people, and a pause here costs the owner nothing the web sign-in
    /// cannot give back.)
    pub captcha_missing: bool,
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
    #[error(transparent)]
    Account(#[from] AccountError),
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

/// What a refresh attempt found.
enum Refreshed {
    Issued { user_id: String, role: String, family: String, amr: Amr },
    Reused(String),
    Invalid,
}

pub struct Tokens {
    db: Db,
    clock: Arc<dyn Clock>,
    jwt: LiveJwtKeys,
    accounts: Arc<Accounts>,
    /// Access tokens whose signature was verified, so a client's repeated calls cost one
    /// Ed25519 verification a minute instead of one each. Expiry and family revocation are
    /// still checked on every call.
    verified: crate::cache::Cache<String, Arc<VerifiedToken>>,
}

/// A verified access token's claims, and its hold on its user's rate-limit key.
struct VerifiedToken {
    claims: Claims,
    amr: Amr,
    rate_limit: Arc<KeyHold>,
}

impl Tokens {
    pub fn new(db: Db, clock: Arc<dyn Clock>, jwt: LiveJwtKeys, accounts: Arc<Accounts>) -> Self {
        let verified = crate::cache::with_ttl(100_000, std::time::Duration::from_secs(60));
        Self { db, clock, jwt, accounts, verified }
    }

    pub fn jwks(&self) -> serde_json::Value {
        self.jwt.current().jwks(self.clock.unix())
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

    /// Email and password (checked like any sign-in) for a new token family.
    pub async fn issue(
        &self,
        grant: &Grant<'_>,
        meta: &RequestMeta,
    ) -> Result<TokenPair, TokenError> {
        let gate = SignInGate { captcha_missing: grant.captcha_missing, through_pause: false };
        let (user, verified) =
            self.accounts.check_password(grant.email, grant.password, gate, meta).await?;
        let totp_used = self.accounts.check_totp_for_token(&user, grant.totp_code, meta).await?;
        let amr = if totp_used { Amr::PASSWORD.with(Amr::ONE_TIME_CODE) } else { Amr::PASSWORD };
        let now = self.clock.unix();
        let family = uuid::Uuid::new_v4().to_string();
        let (refresh, refresh_hash) = crypto::new_token();
        let (user_id, ip, family_id) = (user.id.clone(), meta.ip.clone(), family.clone());
        let role = self
            .db
            .run(move |conn| {
                let tx = crate::db::write_tx(conn)?;
                // A reset or change that committed while the hash was checked wins.
                if accounts_store::password_hash_of(&tx, &user.id)? != user.password_hash {
                    return Err(TokenError::Account(AccountError::InvalidCredentials));
                }
                if let (Verified::YesRehashed(new), Some(old)) = (&verified, &user.password_hash) {
                    accounts_store::upgrade_password_hash(&tx, &user.id, old, new)?;
                }
                crate::accounts::lockout::clear(&tx, &user.id)?;
                store::insert_family(&tx, &family_id, &user.id, amr, now)?;
                store::insert_refresh(
                    &tx,
                    &refresh_hash,
                    &family_id,
                    now,
                    now + REFRESH_TOKEN_SECONDS,
                )?;
                let event = AuditEvent::by_user(now, &user.id, "token.issued", ip.as_deref())
                    .with_details(serde_json::json!({"family": family_id}));
                audit::record(&tx, &event)?;
                tx.commit()?;
                Ok::<_, TokenError>(user.role)
            })
            .await?;
        let access_token = self.access_token(&user_id, &role, &family, amr, now)?;
        Ok(TokenPair {
            user_id,
            access_token,
            expires_in: ACCESS_TOKEN_SECONDS,
            refresh_token: refresh,
        })
    }

    /// Spends `refresh_token` for a new pair. A spent token revokes its whole family.
    pub async fn refresh(
        &self,
        refresh_token: &str,
        meta: &RequestMeta,
    ) -> Result<TokenPair, TokenError> {
        if refresh_token.is_empty() || refresh_token.len() > 128 {
            return Err(TokenError::InvalidRefreshToken);
        }
        let hash = crypto::hash_token(refresh_token);
        let now = self.clock.unix();
        let (next, next_hash) = crypto::new_token();
        let ip = meta.ip.clone();
        let pii = self.accounts.pii().clone();
        let outcome = self
            .db
            .run(move |conn| {
                let tx = crate::db::write_tx(conn)?;
                let Some(row) = store::find_refresh(&tx, &hash)? else {
                    return Ok(Refreshed::Invalid);
                };
                if row.family_revoked || now >= row.expires_at {
                    return Ok(Refreshed::Invalid);
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
                    return Ok(Refreshed::Reused(row.family_id));
                }
                let Some(user) = accounts_store::find_by_id(&tx, &pii, &row.user_id)? else {
                    return Ok(Refreshed::Invalid);
                };
                store::insert_refresh(
                    &tx,
                    &next_hash,
                    &row.family_id,
                    now,
                    now + REFRESH_TOKEN_SECONDS,
                )?;
                tx.commit()?;
                Ok::<_, DbError>(Refreshed::Issued {
                    user_id: user.id,
                    role: user.role,
                    family: row.family_id,
                    amr: row.amr,
                })
            })
            .await?;
        let (user_id, role, family, amr) = match outcome {
            Refreshed::Issued { user_id, role, family, amr } => (user_id, role, family, amr),
            Refreshed::Reused(family) => {
                // The family's access tokens die with it, cached state included.
                self.accounts.sessions().forget_families(&[family]);
                return Err(TokenError::RefreshTokenReused);
            }
            Refreshed::Invalid => return Err(TokenError::InvalidRefreshToken),
        };
        let access_token = self.access_token(&user_id, &role, &family, amr, now)?;
        Ok(TokenPair {
            user_id,
            access_token,
            expires_in: ACCESS_TOKEN_SECONDS,
            refresh_token: next,
        })
    }

    /// Revokes the family of `refresh_token`. Unknown tokens are ignored (RFC 7009).
    pub async fn revoke(&self, refresh_token: &str, meta: &RequestMeta) -> Result<(), TokenError> {
        let hash = crypto::hash_token(refresh_token);
        let now = self.clock.unix();
        let ip = meta.ip.clone();
        let family = self
            .db
            .run(move |conn| {
                let tx = crate::db::write_tx(conn)?;
                let Some(row) = store::find_refresh(&tx, &hash)? else { return Ok(None) };
                store::revoke_family(&tx, &row.family_id, now, "revoked")?;
                let event = AuditEvent::by_user(now, &row.user_id, "token.revoked", ip.as_deref())
                    .with_details(serde_json::json!({"family": row.family_id}));
                audit::record(&tx, &event)?;
                tx.commit()?;
                Ok::<_, DbError>(Some(row.family_id))
            })
            .await?;
        if let Some(family) = family {
            self.accounts.sessions().forget_families(&[family]);
        }
        Ok(())
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
        let sessions = self.accounts.sessions();
        let revoked = match sessions.family_revoked_cached(&claims.fam) {
            Some(revoked) => revoked,
            None => {
                let generation = sessions.generation();
                let family = claims.fam.clone();
                let revoked = self
                    .db
                    .run(move |c| store::family_revoked(c, &family).map_err(DbError::from))
                    .await?;
                sessions.note_family(&claims.fam, revoked, generation);
                revoked
            }
        };
        if revoked {
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
}
