//! Back-channel logout (OpenID Connect Back-Channel Logout 1.0): when a student's Gatehouse
//! session ends (sign-out here or at an app, a session revoked, the account disabled, a role
//! changed, "remove access", a stolen token detected), every app that holds a grant from that
//! session and registered a `backchannel_logout_uri` is told, server to server, so it ends its
//! own session too.
//!
//! Ending a grant marks its token family `logout_pending` in the same transaction (see
//! `tokens::store`), so a crash never loses a logout. This worker, a job woken by
//! [`Provider::logout_wake`](super::Provider) and polling every few seconds, turns the marks
//! into rows of `oidc_logouts` and posts each a signed logout token: at least once, 10 s
//! timeout, redirects not followed, retried with backoff up to an hour between tries, given up
//! (and audited as failed) a day after the logout. Deliveries run side by side, so an app that
//! hangs does not hold up the others.

use std::sync::Arc;
use std::time::Duration;

use jsonwebtoken::Algorithm;
use serde::Serialize;

use super::id_token;
use super::store::logouts::{self, DueLogout};
use crate::audit::{self, AuditEvent, actions};
use crate::clock::Clock;
use crate::db::conn::Conn;
use crate::db::{Db, DbError};
use crate::tokens::Tokens;

/// How often the worker looks for logouts even when nobody woke it (a sign-out on the
/// first-party API marks grants without knowing of this worker).
pub const POLL: Duration = Duration::from_secs(5);
/// How long one delivery may take.
pub const TIMEOUT: Duration = Duration::from_secs(10);
/// The longest wait between two tries.
const MAX_BACKOFF_SECONDS: i64 = 3600;
/// A logout not delivered a day after it happened is given up.
const GIVE_UP_AFTER_SECONDS: i64 = 24 * 3600;
/// How long a logout token is valid: the app checks it on arrival.
const LOGOUT_TOKEN_SECONDS: i64 = 120;
/// Logouts taken per run; the next run (at once, if more are due) takes the rest.
const BATCH: i64 = 100;
/// The event that makes a JWT a logout token.
const EVENT: &str = "http://schemas.openid.net/event/backchannel-logout";

/// What one run did: counts, for the job log.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Delivered {
    pub queued: usize,
    pub sent: usize,
    pub retrying: usize,
    pub failed: usize,
}

#[derive(Serialize)]
struct LogoutClaims<'a> {
    iss: &'a str,
    aud: &'a str,
    iat: i64,
    exp: i64,
    jti: String,
    sub: &'a str,
    sid: &'a str,
    events: serde_json::Value,
}

pub struct BackChannel {
    db: Db,
    clock: Arc<dyn Clock>,
    tokens: Arc<Tokens>,
    issuer: String,
    http: reqwest::Client,
}

impl BackChannel {
    pub(super) fn new(
        db: Db,
        clock: Arc<dyn Clock>,
        tokens: Arc<Tokens>,
        issuer: String,
    ) -> anyhow::Result<Self> {
        // reqwest is built without a bundled crypto provider; ring is the binary's.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let http = reqwest::Client::builder()
            .timeout(TIMEOUT)
            .redirect(reqwest::redirect::Policy::none())
            .build()?;
        Ok(Self { db, clock, tokens, issuer, http })
    }

    /// One run: queues the logouts of grants that ended, then delivers those due.
    pub async fn deliver_due(&self) -> anyhow::Result<Delivered> {
        let now = self.clock.unix();
        let queued = self
            .db
            .run_conn(move |c| {
                let tx = c.transaction()?;
                let mut queued = 0;
                for ended in crate::tokens::take_pending_logouts(&tx)? {
                    if logouts::queue(&tx, &ended.client_id, &ended.user_id, &ended.sid, now)? {
                        queued += 1;
                    }
                }
                tx.commit()?;
                Ok::<_, DbError>(queued)
            })
            .await?;
        let due = self.db.run_conn(move |c| Ok::<_, DbError>(logouts::due(c, now, BATCH)?)).await?;
        let mut report = Delivered { queued, ..Delivered::default() };
        let mut attempts = tokio::task::JoinSet::new();
        for logout in due {
            let token = self.logout_token(&logout, now)?;
            let http = self.http.clone();
            attempts.spawn(async move {
                let outcome = post(&http, &logout.uri, &token).await;
                (logout, outcome)
            });
        }
        while let Some(joined) = attempts.join_next().await {
            let (logout, outcome) = joined?;
            let after = self.clock.unix();
            let result = match outcome {
                Ok(()) => Record::Sent,
                Err(error) if after - logout.created_at >= GIVE_UP_AFTER_SECONDS => {
                    Record::Failed(error)
                }
                Err(error) => Record::Retry(error, after + backoff(logout.attempts)),
            };
            match &result {
                Record::Sent => report.sent += 1,
                Record::Retry(..) => report.retrying += 1,
                Record::Failed(_) => report.failed += 1,
            }
            self.db.run_conn(move |c| record(c, &logout, result, after)).await?;
        }
        Ok(report)
    }

    fn logout_token(&self, logout: &DueLogout, now: i64) -> anyhow::Result<String> {
        let claims = LogoutClaims {
            iss: &self.issuer,
            aud: &logout.client_id,
            iat: now,
            exp: now + LOGOUT_TOKEN_SECONDS,
            jti: uuid::Uuid::new_v4().to_string(),
            sub: &logout.user_id,
            sid: &logout.sid,
            events: serde_json::json!({ EVENT: {} }),
        };
        let alg: Algorithm = id_token::algorithm(&logout.id_token_alg);
        self.tokens
            .keys()
            .sign_as(alg, "logout+jwt", &claims)
            .map_err(|e| anyhow::anyhow!("signing a logout token: {e}"))
    }
}

/// The wait before try `attempts + 2`: 10 s, doubling, at most an hour.
fn backoff(attempts: i64) -> i64 {
    (10i64 << attempts.clamp(0, 12)).min(MAX_BACKOFF_SECONDS)
}

enum Record {
    Sent,
    Retry(String, i64),
    Failed(String),
}

fn record(conn: &Conn, logout: &DueLogout, result: Record, now: i64) -> Result<(), DbError> {
    let tx = conn.transaction()?;
    let details = |error: Option<&str>| {
        serde_json::json!({"client_id": logout.client_id, "attempts": logout.attempts + 1,
                           "error": error})
    };
    match &result {
        Record::Sent => {
            logouts::mark_sent(&tx, logout.id, now)?;
            let event = AuditEvent::about(now, &logout.user_id, actions::BACKCHANNEL_LOGOUT)
                .with_details(details(None));
            audit::record(&tx, &event)?;
        }
        Record::Retry(error, next) => {
            logouts::mark_failed(&tx, logout.id, now, *next, false, error)?;
        }
        Record::Failed(error) => {
            logouts::mark_failed(&tx, logout.id, now, now, true, error)?;
            let event = AuditEvent::about(now, &logout.user_id, actions::BACKCHANNEL_LOGOUT)
                .failed()
                .with_details(details(Some(error)));
            audit::record(&tx, &event)?;
        }
    }
    tx.commit()?;
    Ok(())
}

/// Posts a logout token; Ok on a 2xx answer. The error says what went wrong without the
/// token or the answer's body (which could echo it).
async fn post(http: &reqwest::Client, uri: &str, token: &str) -> Result<(), String> {
    let body = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("logout_token", token)
        .finish();
    let answer = http
        .post(uri)
        .header(reqwest::header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(body)
        .send()
        .await;
    match answer {
        Ok(answer) if answer.status().is_success() => Ok(()),
        Ok(answer) => Err(format!("the app answered {}", answer.status().as_u16())),
        Err(e) if e.is_timeout() => Err(format!("no answer within {} s", TIMEOUT.as_secs())),
        Err(e) if e.is_connect() => Err("could not connect".into()),
        Err(_) => Err("the request failed".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_from_ten_seconds_up_to_an_hour() {
        assert_eq!(backoff(0), 10);
        assert_eq!(backoff(1), 20);
        assert_eq!(backoff(5), 320);
        assert_eq!(backoff(9), 3600);
        assert_eq!(backoff(500), 3600);
    }
}
