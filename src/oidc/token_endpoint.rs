//! `/oauth/token`: client authentication, the authorization-code and refresh-token grants, and
//! the tokens they answer with. Errors are RFC 6749 section 5.2's (`{"error": ...}`), which
//! every relying-party library reads.

use jsonwebtoken::Algorithm;
use serde_json::{Value, json};
use sha2::Digest;

use super::access_token::{self, ACCESS_TOKEN_SECONDS, AccessClaims};
use super::client::Client;
use super::clients;
use super::id_token::{self, ID_TOKEN_SECONDS, IdClaims};
use super::provider::Provider;
use super::scopes::Scopes;
use super::store;
use crate::audit::{self, AuditEvent, RequestMeta, actions};
use crate::crypto;
use crate::db::DbError;
use crate::identity::{Amr, AuthMethod};
use crate::sessions::Sessions;
use crate::tokens::{ClientGrant, TokenError, Tokens};

/// The device authorization grant's `grant_type` (RFC 8628 section 3.4).
pub const DEVICE_CODE_GRANT: &str = "urn:ietf:params:oauth:grant-type:device_code";

/// An OAuth error answer.
#[derive(Debug)]
pub struct OAuthError {
    pub status: u16,
    pub error: &'static str,
    pub description: String,
    /// Seconds to wait, for a refused-for-rate answer.
    pub retry_after: Option<u64>,
}

impl OAuthError {
    pub fn new(status: u16, error: &'static str, description: impl Into<String>) -> Self {
        Self { status, error, description: description.into(), retry_after: None }
    }

    fn invalid_request(description: impl Into<String>) -> Self {
        Self::new(400, "invalid_request", description)
    }

    fn invalid_grant(description: impl Into<String>) -> Self {
        Self::new(400, "invalid_grant", description)
    }

    pub fn invalid_client() -> Self {
        Self::new(401, "invalid_client", "The client is unknown or its credentials are wrong.")
    }

    pub fn internal(e: anyhow::Error) -> Self {
        tracing::error!(error = format!("{e:#}"), "an OpenID Connect request failed");
        Self::new(500, "server_error", "Something went wrong on our side; please try again.")
    }
}

impl From<DbError> for OAuthError {
    fn from(e: DbError) -> Self {
        Self::internal(e.into())
    }
}

/// A form's parameters, each at most once (RFC 6749 section 3.2).
pub struct Form(Vec<(String, String)>);

impl Form {
    pub fn new(pairs: Vec<(String, String)>) -> Self {
        Self(pairs)
    }

    pub fn get(&self, name: &str) -> Result<Option<&str>, OAuthError> {
        let mut values = self.0.iter().filter(|(n, _)| n == name).map(|(_, v)| v.as_str());
        let first = values.next();
        if values.next().is_some() {
            return Err(OAuthError::invalid_request(format!("The parameter {name} is repeated.")));
        }
        Ok(first.filter(|v| !v.is_empty()))
    }

    pub fn require(&self, name: &str) -> Result<&str, OAuthError> {
        self.get(name)?
            .ok_or_else(|| OAuthError::invalid_request(format!("The parameter {name} is missing.")))
    }
}

/// The credentials a request carries: HTTP Basic (`client_secret_basic`) or the form's
/// `client_id` and `client_secret` (`client_secret_post`, or `none` for a public client).
pub struct ClientCredentials {
    pub basic: Option<(String, String)>,
}

/// What the token endpoint answers with.
pub struct Issued {
    pub body: Value,
}

enum Exchanged {
    Opened {
        user_id: String,
        family: String,
        refresh_token: String,
        grant: ClientGrant,
        amr: Amr,
        nonce: Option<String>,
    },
    Reused(Option<String>),
    Refused(&'static str),
}

impl Provider {
    /// Authenticates the client of a request at the token, revocation or introspection
    /// endpoint, after the per-address limit; then counts the per-client limit.
    pub async fn authenticate_client(
        &self,
        form: &Form,
        credentials: &ClientCredentials,
        ip: Option<std::net::IpAddr>,
    ) -> Result<Client, OAuthError> {
        // Per network for IPv6, as every per-address limit: a /64 is one client's.
        let address =
            ip.map(|ip| crate::ratelimit::address_key(ip, self.ipv6_prefix)).unwrap_or_default();
        if let Some(limits) = &self.limits {
            limits.per_address.check(&address).map_err(limited)?;
        }
        let posted = (form.get("client_id")?, form.get("client_secret")?);
        let (id, secret) = match (&credentials.basic, posted) {
            (Some(_), (_, Some(_))) => {
                return Err(OAuthError::invalid_request("Use one way to authenticate the client."));
            }
            (Some((id, secret)), (form_id, None)) => {
                if form_id.is_some_and(|f| f != id) {
                    return Err(OAuthError::invalid_request("Two different client_ids were sent."));
                }
                (id.clone(), Some(secret.clone()))
            }
            (None, (Some(id), secret)) => (id.to_string(), secret.map(str::to_string)),
            (None, (None, _)) => return Err(OAuthError::invalid_client()),
        };
        if id.len() > 100 || secret.as_ref().is_some_and(|s| s.len() > 200) {
            return Err(OAuthError::invalid_client());
        }
        let client = self
            .db
            .run_conn(move |c| {
                let Some(client) = store::clients::find(c, &id).map_err(DbError::from)? else {
                    return Ok(None);
                };
                match (&secret, client.public) {
                    (None, true) => Ok(Some(client)),
                    (Some(secret), false) => clients::authenticate(c, &id, secret)
                        .map_err(|e| OAuthError::internal(e.into())),
                    _ => Ok(None),
                }
            })
            .await?
            .ok_or_else(OAuthError::invalid_client)?;
        if let Some(limits) = &self.limits {
            limits.per_client.check(&client.id).map_err(limited)?;
        }
        Ok(client)
    }

    /// `/oauth/token` for an authenticated client.
    pub async fn token(
        &self,
        client: &Client,
        form: &Form,
        meta: &RequestMeta,
    ) -> Result<Issued, OAuthError> {
        let outcome = match form.require("grant_type")? {
            "authorization_code" => self.exchange_code(client, form, meta).await,
            "refresh_token" => self.refresh(client, form, meta).await,
            DEVICE_CODE_GRANT => self.exchange_device_code(client, form, meta).await,
            _ => Err(OAuthError::new(
                400,
                "unsupported_grant_type",
                "The grant types are authorization_code, refresh_token and device_code.",
            )),
        };
        // A device polling while the student answers is not a refusal worth a record.
        if let Err(e) = &outcome
            && e.status == 400
            && !matches!(e.error, "authorization_pending" | "slow_down")
        {
            self.record_refusal(client, e, meta).await;
        }
        outcome
    }

    async fn record_refusal(&self, client: &Client, e: &OAuthError, meta: &RequestMeta) {
        let (now, ip) = (self.clock.unix(), meta.ip.clone());
        let details = json!({"client_id": client.id, "error": e.error});
        let recorded = self
            .db
            .run_conn(move |c| {
                let mut event = AuditEvent::by_user(now, "", actions::TOKEN_REFUSED, ip.as_deref())
                    .failed()
                    .with_details(details);
                event.actor_id = None;
                audit::record(c, &event).map_err(DbError::from)
            })
            .await;
        if let Err(e) = recorded {
            tracing::warn!(error = %e, "could not audit a refused token request");
        }
    }

    async fn exchange_code(
        &self,
        client: &Client,
        form: &Form,
        meta: &RequestMeta,
    ) -> Result<Issued, OAuthError> {
        let code = form.require("code")?;
        let redirect_uri = form.require("redirect_uri")?.to_string();
        let verifier = form.get("code_verifier")?.ok_or_else(|| {
            OAuthError::invalid_request("PKCE is required: send the code_verifier.")
        })?;
        if !(43..=128).contains(&verifier.len())
            || !verifier.bytes().all(|b| b.is_ascii_alphanumeric() || b"-._~".contains(&b))
        {
            return Err(OAuthError::invalid_grant("The code_verifier is not a PKCE verifier."));
        }
        if code.len() > 128 {
            return Err(OAuthError::invalid_grant("The code is not valid."));
        }
        let challenge = crypto::base64url(&sha2::Sha256::digest(verifier.as_bytes()));
        let hash = crypto::hash_token(code);
        let (client_id, now, ip) = (client.id.clone(), self.clock.unix(), meta.ip.clone());
        let outcome = self
            .db
            .run_conn(move |c| {
                let tx = c.transaction()?;
                let Some(row) = store::codes::find_to_spend(&tx, &hash)? else {
                    return Ok(Exchanged::Refused("The code is not valid."));
                };
                if row.client_id != client_id {
                    return Ok(Exchanged::Refused("The code was issued to another client."));
                }
                if row.used_at.is_some() {
                    // RFC 6749 section 4.1.2: a code used twice revokes what it opened.
                    if let Some(family) = &row.family_id {
                        crate::tokens::revoke_family(&tx, family, now, "code_reused")?;
                    }
                    let event =
                        AuditEvent::by_user(now, &row.user_id, actions::CODE_REUSED, ip.as_deref())
                            .failed()
                            .with_details(json!({"client_id": client_id, "family": row.family_id}));
                    audit::record(&tx, &event)?;
                    tx.commit()?;
                    return Ok(Exchanged::Reused(row.family_id));
                }
                let refusal = if now >= row.expires_at {
                    Some("The code has expired.")
                } else if row.redirect_uri != redirect_uri {
                    Some("The redirect_uri is not the one the code was issued for.")
                } else if !crypto::constant_time_eq(
                    challenge.as_bytes(),
                    row.code_challenge.as_bytes(),
                ) {
                    Some("The code_verifier does not match the code_challenge.")
                } else if !Sessions::still_signed_in(&tx, AuthMethod::Session, &row.session_id)? {
                    Some("The sign-in the code came from has ended.")
                } else {
                    None
                };
                if let Some(refusal) = refusal {
                    // Spent: a code is tried once, not guessed at.
                    store::codes::spend(&tx, &hash, None, now)?;
                    tx.commit()?;
                    return Ok(Exchanged::Refused(refusal));
                }
                let grant = ClientGrant {
                    client_id: client_id.clone(),
                    scope: row.scope.clone(),
                    sid: row.session_id.clone(),
                    auth_time: row.auth_time,
                };
                let amr = Amr::from_db(&row.amr);
                let opened = Tokens::open_grant_in(
                    &tx,
                    &row.user_id,
                    amr,
                    Some(&grant),
                    now,
                    ip.as_deref(),
                )?;
                store::codes::spend(&tx, &hash, Some(&opened.family), now)?;
                tx.commit()?;
                Ok::<_, DbError>(Exchanged::Opened {
                    user_id: row.user_id,
                    family: opened.family,
                    refresh_token: opened.refresh_token,
                    grant,
                    amr,
                    nonce: row.nonce,
                })
            })
            .await?;
        match outcome {
            Exchanged::Opened { user_id, family, refresh_token, grant, amr, nonce } => {
                self.issue(client, &user_id, &family, &grant, amr, nonce, refresh_token, now).await
            }
            Exchanged::Reused(family) => {
                self.tokens.forget_families(&family.into_iter().collect::<Vec<_>>());
                self.logout_wake.notify_one();
                Err(OAuthError::invalid_grant("The code was used already; its tokens are revoked."))
            }
            Exchanged::Refused(why) => Err(OAuthError::invalid_grant(why)),
        }
    }

    async fn refresh(
        &self,
        client: &Client,
        form: &Form,
        meta: &RequestMeta,
    ) -> Result<Issued, OAuthError> {
        let token = form.require("refresh_token")?;
        let (rotated, _role) = self
            .tokens
            .rotate(token, Some(&client.id), meta, |c, id| crate::accounts::role_of(c, id))
            .await
            .map_err(|e| match e {
                TokenError::InvalidRefreshToken => {
                    OAuthError::invalid_grant("The refresh token is not valid.")
                }
                TokenError::RefreshTokenReused => {
                    self.logout_wake.notify_one();
                    OAuthError::invalid_grant(
                        "The refresh token was used already; its grant is revoked.",
                    )
                }
                TokenError::Internal(e) => OAuthError::internal(e),
            })?;
        let grant = rotated
            .grant
            .clone()
            .ok_or_else(|| OAuthError::invalid_grant("Not a client grant."))?;
        if let Some(asked) = form.get("scope")? {
            let asked = Scopes::parse(asked, &client.scopes)
                .map_err(|e| OAuthError::new(400, "invalid_scope", e.describe()))?;
            if !asked.within(&Scopes::stored(&grant.scope)) {
                return Err(OAuthError::new(
                    400,
                    "invalid_scope",
                    "More scopes than were granted.",
                ));
            }
        }
        self.issue(
            client,
            &rotated.user_id,
            &rotated.family,
            &grant,
            rotated.amr,
            None,
            rotated.refresh_token,
            rotated.now,
        )
        .await
    }

    /// The answer of a grant: an access token, an ID token and the refresh token.
    #[allow(clippy::too_many_arguments)]
    pub(super) async fn issue(
        &self,
        client: &Client,
        user_id: &str,
        family: &str,
        grant: &ClientGrant,
        amr: Amr,
        nonce: Option<String>,
        refresh_token: String,
        now: i64,
    ) -> Result<Issued, OAuthError> {
        let scopes = Scopes::stored(&grant.scope);
        let keys = self.tokens.keys();
        let amr: Vec<String> = amr.names().into_iter().map(str::to_string).collect();
        let access = AccessClaims {
            iss: self.issuer.clone(),
            sub: user_id.to_string(),
            aud: access_token::audience(&self.issuer),
            client_id: client.id.clone(),
            scope: grant.scope.clone(),
            iat: now,
            exp: now + ACCESS_TOKEN_SECONDS,
            jti: uuid::Uuid::new_v4().to_string(),
            fam: family.to_string(),
            auth_time: grant.auth_time,
            amr: amr.clone(),
        };
        let access_token = keys
            .sign_as(Algorithm::EdDSA, access_token::TYP, &access)
            .map_err(|e| OAuthError::internal(anyhow::anyhow!("signing an access token: {e}")))?;
        let claims = self
            .claims_of(user_id, &scopes)
            .await
            .map_err(OAuthError::internal)?
            .ok_or_else(|| OAuthError::invalid_grant("The account is gone."))?;
        let alg = id_token::algorithm(&client.id_token_alg);
        let id = IdClaims {
            iss: self.issuer.clone(),
            sub: user_id.to_string(),
            aud: client.id.clone(),
            exp: now + ID_TOKEN_SECONDS,
            iat: now,
            auth_time: grant.auth_time,
            nonce,
            sid: grant.sid.clone(),
            amr,
            at_hash: Some(id_token::at_hash(alg, &access_token)),
            claims,
        };
        let id_token = keys
            .sign_as(alg, "JWT", &id)
            .map_err(|e| OAuthError::internal(anyhow::anyhow!("signing an ID token: {e}")))?;
        Ok(Issued {
            body: json!({
                "access_token": access_token,
                "token_type": "Bearer",
                "expires_in": ACCESS_TOKEN_SECONDS,
                "refresh_token": refresh_token,
                "id_token": id_token,
                "scope": grant.scope,
            }),
        })
    }
}

fn limited(l: crate::ratelimit::Limited) -> OAuthError {
    let mut e = OAuthError::new(429, "slow_down", "Too many token requests; wait and try again.");
    e.retry_after = Some(l.retry_after);
    e
}
