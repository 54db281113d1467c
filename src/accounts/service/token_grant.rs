//! API tokens for apps: email and password (checked like any sign-in) open a token family,
//! and a refresh reads the user's role now. The families and the signing are the mechanism of
//! [`crate::tokens`].

use super::signin::SignInGate;
use super::{AccountError, Accounts};
use crate::accounts::lockout;
use crate::accounts::password::Verified;
use crate::accounts::store;
use crate::audit::RequestMeta;
use crate::identity::Amr;
use crate::tokens::{TokenError, TokenPair};

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

impl Accounts {
    /// `POST /api/v1/auth/token`: a new token family.
    pub async fn grant_tokens(
        &self,
        grant: &Grant<'_>,
        meta: &RequestMeta,
    ) -> Result<TokenPair, AccountError> {
        let gate = SignInGate { captcha_missing: grant.captcha_missing, through_pause: false };
        let (user, verified) = self.check_password(grant.email, grant.password, gate, meta).await?;
        let totp_used = self.check_totp_for_token(&user, grant.totp_code, meta).await?;
        let amr = if totp_used { Amr::PASSWORD.with(Amr::ONE_TIME_CODE) } else { Amr::PASSWORD };
        let now = self.clock.unix();
        let (ip, tokens) = (meta.ip.clone(), self.tokens.clone());
        let (user_id, role, family) = self
            .db
            .run_conn(move |conn| {
                let tx = conn.transaction()?;
                // A reset or change that committed while the hash was checked wins.
                if store::password_hash_for_update(&tx, &user.id)? != user.password_hash {
                    return Err(AccountError::InvalidCredentials);
                }
                if let (Verified::YesRehashed(new), Some(old)) = (&verified, &user.password_hash) {
                    store::upgrade_password_hash(&tx, &user.id, old, new)?;
                }
                lockout::clear(&tx, &user.id)?;
                let family = tokens.open_family_in(&tx, &user.id, amr, now, ip.as_deref())?;
                tx.commit()?;
                Ok::<_, AccountError>((user.id, user.role, family))
            })
            .await?;
        self.tokens.pair(&user_id, &role, family).map_err(|e| match e {
            TokenError::Internal(cause) => AccountError::Internal(cause),
            other => AccountError::Internal(other.into()),
        })
    }

    /// `POST /api/v1/auth/token/refresh`.
    pub async fn refresh_tokens(
        &self,
        refresh_token: &str,
        meta: &RequestMeta,
    ) -> Result<TokenPair, TokenError> {
        self.tokens.refresh(refresh_token, meta, |conn, id| store::role_of(conn, id)).await
    }
}
