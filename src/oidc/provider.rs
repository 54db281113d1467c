//! The provider: what the OpenID Connect endpoints do, apart from HTTP. The authorization
//! request and consent are here; the token endpoint is in [`super::token_endpoint`], userinfo,
//! revocation and introspection in [`super::resource`], logout in [`super::logout`].

use std::sync::Arc;

use tokio::sync::Notify;

use super::claims::{self, CampusClaim, DriverClaim};
use super::client::Client;
use super::request::{self, AuthorizationRequest, Redirect, RequestError};
use super::scopes::{self, Scopes};
use super::store;
use crate::accounts::Accounts;
use crate::audit::{self, AuditEvent, actions};
use crate::clock::Clock;
use crate::crypto;
use crate::db::conn::Conn;
use crate::db::{Db, DbError};
use crate::identity::{AuthMethod, Principal};
use crate::ratelimit::Tier;
use crate::tokens::Tokens;

/// How long an authorization code is valid.
pub const CODE_SECONDS: i64 = 60;
/// Token requests a minute per client, and per address (SPEC section 11, "abuse").
pub const TOKEN_REQUESTS_PER_CLIENT: u32 = 600;
pub const TOKEN_REQUESTS_PER_ADDRESS: u32 = 120;
/// User codes a student may try on the device page a minute.
pub const USER_CODES_PER_MINUTE: u32 = 10;

pub struct Provider {
    pub(super) db: Db,
    pub(super) clock: Arc<dyn Clock>,
    pub(super) tokens: Arc<Tokens>,
    pub(super) accounts: Arc<Accounts>,
    pub(super) drivers: Arc<crate::drivers::Drivers>,
    /// `server.public_url`: the `iss` of every token and the base of every endpoint.
    pub(super) issuer: String,
    /// The rate limits (None: `rate_limit.enabled = false`).
    pub(super) limits: Option<Limits>,
    /// IPv6 clients are counted per network of this prefix (`rate_limit.ipv6_prefix`).
    pub(super) ipv6_prefix: u8,
    /// Wakes the back-channel logout worker when a grant ends (the one of [`Tokens`], which
    /// fires it whenever families end, here or in a sign-out).
    pub logout_wake: Arc<Notify>,
}

/// The provider's rate limits.
pub(super) struct Limits {
    /// Token, revocation and introspection requests per client ...
    pub per_client: Tier,
    /// ... and per address.
    pub per_address: Tier,
    /// User codes tried on the device page, per student (a code is guessed, not typed, at
    /// more than a few a minute).
    pub user_codes: Tier,
}

/// Where an authorization request goes next.
#[derive(Debug, PartialEq, Eq)]
pub enum Authorized {
    /// The client or redirect URI is wrong: an error page, never a redirect.
    ErrorPage(String),
    /// Back to the app (a code, or an error).
    ToApp(String),
    /// To Gatehouse's sign-in page, which comes back here.
    SignIn(String),
    /// To the consent page.
    Consent(String),
}

/// What the consent page shows.
pub struct ConsentView {
    pub client_name: String,
    /// The app's address, so the student sees where they are going.
    pub redirect_host: String,
    pub scopes: Vec<(&'static str, &'static str)>,
}

impl Provider {
    pub fn new(
        db: Db,
        clock: Arc<dyn Clock>,
        tokens: Arc<Tokens>,
        accounts: Arc<Accounts>,
        drivers: Arc<crate::drivers::Drivers>,
        issuer: &str,
        rate_limit: &crate::config::RateLimitConfig,
    ) -> Self {
        let minute = std::time::Duration::from_secs(60);
        let limits = rate_limit.enabled.then(|| Limits {
            per_client: Tier::new(TOKEN_REQUESTS_PER_CLIENT, minute),
            per_address: Tier::new(TOKEN_REQUESTS_PER_ADDRESS, minute),
            user_codes: Tier::new(USER_CODES_PER_MINUTE, minute),
        });
        Self {
            db,
            clock,
            tokens: tokens.clone(),
            accounts,
            drivers,
            issuer: issuer.trim_end_matches('/').to_string(),
            limits,
            ipv6_prefix: rate_limit.ipv6_prefix,
            logout_wake: tokens.logout_wake(),
        }
    }

    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// The back-channel logout worker of this provider (a job: see `startup::schedule_jobs`).
    pub fn back_channel(&self) -> anyhow::Result<super::backchannel::BackChannel> {
        super::backchannel::BackChannel::new(
            self.db.clone(),
            self.clock.clone(),
            self.tokens.clone(),
            self.issuer.clone(),
        )
    }

    pub(super) async fn client(&self, id: &str) -> anyhow::Result<Option<Client>> {
        let id = id.to_string();
        Ok(self.db.run_conn(move |c| store::clients::find(c, &id).map_err(DbError::from)).await?)
    }

    /// Checks a request: its client, redirect URI and parameters.
    async fn check(
        &self,
        params: &[(String, String)],
    ) -> anyhow::Result<Result<AuthorizationRequest, RequestError>> {
        let client_id = params.iter().find(|(n, _)| n == "client_id").map(|(_, v)| v.as_str());
        let client = match client_id {
            Some(id) if id.len() <= 100 => self.client(id).await?,
            _ => None,
        };
        Ok(request::check(params, |_| client))
    }

    /// `/oauth/authorize`: what to do with a request from the signed-in `session` (None: not
    /// signed in).
    pub async fn authorize(
        &self,
        params: &[(String, String)],
        session: Option<&Principal>,
    ) -> anyhow::Result<Authorized> {
        let req = match self.check(params).await? {
            Ok(req) => req,
            Err(RequestError::Page(message)) => return Ok(Authorized::ErrorPage(message)),
            Err(RequestError::Redirect(to)) => return Ok(Authorized::ToApp(to.url(&self.issuer))),
        };
        let refuse = |error, description: &str| {
            Ok(Authorized::ToApp(Redirect::error(&req, error, description).url(&self.issuer)))
        };
        let session = session.filter(|s| s.method == AuthMethod::Session);
        let Some(session) = session else {
            if req.prompt.none {
                return refuse("login_required", "The user is not signed in to Gatehouse.");
            }
            return Ok(Authorized::SignIn(sign_in_url(params, &req, false, 0)));
        };
        let now = self.clock.unix();
        let too_old = req.max_age.is_some_and(|max| now - session.created_at > max);
        let stale = req.signed_in_after.is_some_and(|after| session.created_at < after);
        if req.prompt.login || req.max_age == Some(0) || too_old || stale {
            if req.prompt.none {
                return refuse("login_required", "The app asked for a fresh sign-in.");
            }
            return Ok(Authorized::SignIn(sign_in_url(params, &req, true, now)));
        }
        if !req.client.trusted {
            let (user, client) = (session.user_id.clone(), req.client.id.clone());
            let consented = self
                .db
                .run_conn(move |c| store::consents::find(c, &user, &client).map_err(DbError::from))
                .await?;
            let covered = consented.is_some_and(|s| req.scopes.within(&Scopes::stored(&s)));
            if req.prompt.consent || !covered {
                if req.prompt.none {
                    return refuse("consent_required", "The user has not allowed this app yet.");
                }
                return Ok(Authorized::Consent(format!("/consent?{}", query_of(params))));
            }
        }
        let to = self.issue_code(&req, session).await?;
        Ok(Authorized::ToApp(to.url(&self.issuer)))
    }

    /// What the consent page shows for a request (None: it is not valid; the page sends the
    /// student back through `/oauth/authorize`, which shows why).
    pub async fn consent_view(
        &self,
        params: &[(String, String)],
    ) -> anyhow::Result<Option<ConsentView>> {
        let Ok(req) = self.check(params).await? else { return Ok(None) };
        let redirect_host = url::Url::parse(&req.redirect_uri)
            .ok()
            .map(|u| u.host_str().map(str::to_string).unwrap_or_else(|| u.scheme().to_string()))
            .unwrap_or_default();
        Ok(Some(ConsentView {
            client_name: req.client.name.clone(),
            redirect_host,
            scopes: req.scopes.iter().map(|s| (s, scopes::describe(s))).collect(),
        }))
    }

    /// The student's answer on the consent page: the URL to send them to (the app, with a code
    /// or `access_denied`). None when the request is not valid.
    pub async fn consent_decide(
        &self,
        params: &[(String, String)],
        session: &Principal,
        approve: bool,
        ip: Option<String>,
    ) -> anyhow::Result<Option<String>> {
        let Ok(req) = self.check(params).await? else { return Ok(None) };
        let (user, client, now) =
            (session.user_id.clone(), req.client.id.clone(), self.clock.unix());
        let scope = req.scopes.clone();
        self.db
            .run_conn(move |c| {
                let tx = c.transaction()?;
                let action = if approve {
                    let before = store::consents::find_to_widen(&tx, &user, &client)?;
                    let all =
                        before.map(|s| Scopes::stored(&s).union(&scope)).unwrap_or(scope.clone());
                    store::consents::upsert(&tx, &user, &client, &all.to_string(), now)?;
                    actions::CONSENT_GRANTED
                } else {
                    actions::CONSENT_DENIED
                };
                let event = AuditEvent::by_user(now, &user, action, ip.as_deref()).with_details(
                    serde_json::json!({"client_id": client, "scope": scope.to_string()}),
                );
                audit::record(&tx, &event)?;
                tx.commit().map_err(DbError::from)
            })
            .await?;
        if !approve {
            let to = Redirect::error(&req, "access_denied", "The user did not allow the app.");
            return Ok(Some(to.url(&self.issuer)));
        }
        Ok(Some(self.issue_code(&req, session).await?.url(&self.issuer)))
    }

    /// Issues a code for a request the signed-in student may grant.
    async fn issue_code(
        &self,
        req: &AuthorizationRequest,
        session: &Principal,
    ) -> anyhow::Result<Redirect> {
        let now = self.clock.unix();
        let (code, hash) = crypto::new_token();
        let row = store::codes::CodeRow {
            client_id: req.client.id.clone(),
            user_id: session.user_id.clone(),
            session_id: session.session_id.clone(),
            redirect_uri: req.redirect_uri.clone(),
            scope: req.scopes.to_string(),
            nonce: req.nonce.clone(),
            code_challenge: req.code_challenge.clone(),
            auth_time: session.created_at,
            amr: session.amr.to_db(),
            expires_at: now + CODE_SECONDS,
            used_at: None,
            family_id: None,
        };
        self.db
            .run_conn(move |c| store::codes::insert(c, &hash, &row, now).map_err(DbError::from))
            .await?;
        let mut params = vec![("code", code)];
        if let Some(state) = &req.state {
            params.push(("state", state.clone()));
        }
        Ok(Redirect { redirect_uri: req.redirect_uri.clone(), params })
    }

    /// The claims of `scopes` for a user (None: the account is gone).
    pub(super) async fn claims_of(
        &self,
        user_id: &str,
        scopes: &Scopes,
    ) -> anyhow::Result<Option<serde_json::Map<String, serde_json::Value>>> {
        let user = match self.accounts.user(user_id).await {
            Ok(Some(user)) => user,
            Ok(None) => return Ok(None),
            Err(e) => return Err(anyhow::anyhow!("reading a user: {e}")),
        };
        let campus = match user.campus_id.filter(|_| scopes.has("campus")) {
            Some(id) => {
                let found = self.db.run_conn(move |c| Ok::<_, DbError>(campus_of(c, id))).await?;
                found.map(|(name, domains)| CampusClaim {
                    id,
                    name,
                    domain: claims::campus_domain(&user, &domains),
                })
            }
            None => None,
        };
        let driver = if scopes.has("driver") {
            let snapshot = self
                .drivers
                .snapshot(user_id)
                .await
                .map_err(|e| anyhow::anyhow!("reading a driver: {e}"))?;
            let valid_until = snapshot.current.as_ref().and_then(|l| l.fields.expiry);
            Some(DriverClaim { verified: snapshot.can_drive(), valid_until })
        } else {
            None
        };
        Ok(Some(claims::for_scopes(&user, scopes, campus, driver)))
    }
}

fn campus_of(conn: &Conn, id: i64) -> Option<(String, Vec<String>)> {
    crate::campuses::get(conn, id).ok().map(|c| (c.name, c.domains))
}

/// The query string of `params`.
fn query_of(params: &[(String, String)]) -> String {
    url::form_urlencoded::Serializer::new(String::new()).extend_pairs(params).finish()
}

/// The sign-in page, coming back to this request. For a fresh sign-in (`prompt=login`,
/// `max_age`) the way back drops them and says instead that only a sign-in after `now` does,
/// so the student is not sent round again once signed in.
fn sign_in_url(
    params: &[(String, String)],
    req: &AuthorizationRequest,
    fresh: bool,
    now: i64,
) -> String {
    let mut back: Vec<(String, String)> = params
        .iter()
        .filter(|(n, _)| {
            !fresh || !matches!(n.as_str(), "prompt" | "max_age" | "gatehouse_signed_in_after")
        })
        .cloned()
        .collect();
    if fresh {
        back.push(("gatehouse_signed_in_after".into(), now.to_string()));
    }
    let next = format!("/oauth/authorize?{}", query_of(&back));
    let mut page = url::form_urlencoded::Serializer::new(String::new());
    page.append_pair("next", &next);
    if fresh {
        page.append_pair("reauth", "1");
    }
    if let Some(hint) = &req.login_hint {
        page.append_pair("email", hint);
    }
    format!("/sign-in?{}", page.finish())
}
