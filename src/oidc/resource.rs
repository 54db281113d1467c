//! What an app does with its tokens: userinfo, revocation (RFC 7009) and introspection
//! (RFC 7662).

use serde_json::{Value, json};

use super::access_token::{self, AccessClaims};
use super::client::Client;
use super::provider::Provider;
use super::scopes::Scopes;
use super::token_endpoint::{Form, OAuthError};
use crate::audit::RequestMeta;
use crate::tokens::Revocable;

/// Why a bearer token is refused at userinfo (RFC 6750 section 3.1).
#[derive(Debug, PartialEq, Eq)]
pub enum BearerRefusal {
    /// No token: `WWW-Authenticate: Bearer` alone.
    Missing,
    InvalidToken,
}

impl Provider {
    /// The claims of an access token that is valid now and whose grant is not revoked.
    async fn access_claims(&self, token: &str) -> anyhow::Result<Option<AccessClaims>> {
        if token.len() > 4096 {
            return Ok(None);
        }
        let audience = access_token::audience(&self.issuer);
        let now = self.clock.unix();
        let keys = self.tokens.keys();
        let Ok(claims) =
            keys.verify_typed::<AccessClaims>(token, access_token::TYP, &audience, now)
        else {
            return Ok(None);
        };
        if self.tokens.family_is_revoked(&claims.fam).await? {
            return Ok(None);
        }
        Ok(Some(claims))
    }

    /// `/oauth/userinfo`: `sub` and the claims of the token's scopes.
    pub async fn userinfo(
        &self,
        bearer: Option<&str>,
    ) -> anyhow::Result<Result<Value, BearerRefusal>> {
        let Some(token) = bearer else { return Ok(Err(BearerRefusal::Missing)) };
        let Some(claims) = self.access_claims(token).await? else {
            return Ok(Err(BearerRefusal::InvalidToken));
        };
        let Some(mut info) = self.claims_of(&claims.sub, &Scopes::stored(&claims.scope)).await?
        else {
            return Ok(Err(BearerRefusal::InvalidToken));
        };
        info.insert("sub".into(), json!(claims.sub));
        Ok(Ok(Value::Object(info)))
    }

    /// `/oauth/revoke`: ends the grant of a refresh or access token of `client`. Another
    /// client's token, an unknown or expired one is answered the same (RFC 7009 section 2.2).
    pub async fn revoke(
        &self,
        client: &Client,
        form: &Form,
        meta: &RequestMeta,
    ) -> Result<(), OAuthError> {
        let token = form.require("token")?;
        if token.len() > 4096 {
            return Ok(());
        }
        let what = if token.matches('.').count() == 2 {
            match self.access_claims(token).await.map_err(OAuthError::internal)? {
                Some(claims) if claims.client_id == client.id => Some(claims.fam),
                _ => None,
            }
            .map(|fam| (true, fam))
        } else {
            Some((false, token.to_string()))
        };
        let Some((is_family, value)) = what else { return Ok(()) };
        let revocable =
            if is_family { Revocable::Family(&value) } else { Revocable::RefreshToken(&value) };
        self.tokens
            .revoke_for(revocable, Some(&client.id), meta)
            .await
            .map_err(|e| OAuthError::internal(e.into()))?;
        self.logout_wake.notify_one();
        Ok(())
    }

    /// `/oauth/introspect`, for a confidential client and its own tokens: access tokens and
    /// refresh tokens. Anything else is `{"active": false}`.
    pub async fn introspect(&self, client: &Client, form: &Form) -> Result<Value, OAuthError> {
        if client.public {
            return Err(OAuthError::new(
                401,
                "invalid_client",
                "Introspection is for confidential clients.",
            ));
        }
        let token = form.require("token")?;
        let inactive = json!({"active": false});
        if token.matches('.').count() == 2 {
            let found = self.access_claims(token).await.map_err(OAuthError::internal)?;
            let Some(claims) = found.filter(|c| c.client_id == client.id) else {
                return Ok(inactive);
            };
            return Ok(json!({
                "active": true,
                "token_type": "Bearer",
                "scope": claims.scope,
                "client_id": claims.client_id,
                "sub": claims.sub,
                "aud": claims.aud,
                "iss": claims.iss,
                "iat": claims.iat,
                "exp": claims.exp,
                "jti": claims.jti,
                "auth_time": claims.auth_time,
            }));
        }
        let found =
            self.tokens.inspect_refresh(token).await.map_err(|e| OAuthError::internal(e.into()))?;
        let Some(found) = found.filter(|f| f.grant.client_id == client.id) else {
            return Ok(inactive);
        };
        Ok(json!({
            "active": true,
            "token_type": "refresh_token",
            "scope": found.grant.scope,
            "client_id": found.grant.client_id,
            "sub": found.user_id,
            "iss": self.issuer,
            "exp": found.expires_at,
            "auth_time": found.grant.auth_time,
        }))
    }
}
