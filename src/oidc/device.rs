//! The device authorization grant (RFC 8628), for lab machines and command-line tools that
//! cannot show a browser: the device asks `/oauth/device_authorization` for a code pair, shows
//! the student a short user code and the address of the device page (`/device`), and polls the
//! token endpoint while the student, signed in on their phone or laptop, types the code and
//! allows (or refuses) the app there.
//!
//! The device page always asks, even for a trusted app: the student must see which app the
//! code they typed belongs to, since a code can be sent to them by someone else (RFC 8628
//! section 5.4). User codes are eight letters from an alphabet without vowels or look-alikes
//! (20^8, about 2.6 x 10^10), live ten minutes, and a student may try ten a minute.

use serde_json::{Value, json};

use super::client::Client;
use super::provider::Provider;
use super::scopes::{self, Scopes};
use super::store;
use super::store::device_codes::DeviceRow;
use super::token_endpoint::{Form, Issued, OAuthError};
use crate::audit::{self, AuditEvent, RequestMeta, actions};
use crate::crypto;
use crate::db::DbError;
use crate::db::conn::Conn;
use crate::identity::{Amr, AuthMethod, Principal};
use crate::sessions::Sessions;
use crate::tokens::{ClientGrant, Tokens};

/// How long a device code and its user code are valid.
pub const DEVICE_CODE_SECONDS: i64 = 600;
/// The least time between two polls; a client polling faster is told `slow_down`, and must
/// wait five seconds more from then on.
pub const POLL_INTERVAL_SECONDS: i64 = 5;
/// The letters of user codes: no vowels (no words), none that look alike.
const USER_CODE_ALPHABET: &[u8] = b"BCDFGHJKLMNPQRSTVWXZ";
const USER_CODE_LETTERS: usize = 8;

/// What the device page shows for a user code.
pub struct DeviceView {
    pub user_code: String,
    pub client_name: String,
    pub scopes: Vec<(&'static str, &'static str)>,
}

/// Why the device page cannot go on.
pub enum DeviceRefusal {
    /// No open request has this code (wrong, expired, or answered already).
    Unknown,
    /// Too many codes tried.
    TooManyTries(crate::ratelimit::Limited),
}

/// `XXXX-XXXX` as shown; the stored form has no dash.
fn display(user_code: &str) -> String {
    let (a, b) = user_code.split_at(USER_CODE_LETTERS / 2);
    format!("{a}-{b}")
}

/// A code as the student typed it (any case, spaces or dashes), in its stored form; None when
/// it cannot be one.
pub fn normalise_user_code(typed: &str) -> Option<String> {
    let letters: String = typed
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '-')
        .map(|c| c.to_ascii_uppercase())
        .collect();
    let valid = letters.len() == USER_CODE_LETTERS
        && letters.bytes().all(|b| USER_CODE_ALPHABET.contains(&b));
    valid.then_some(letters)
}

fn new_user_code() -> String {
    (0..USER_CODE_LETTERS)
        .map(|_| USER_CODE_ALPHABET[rand::random_range(0..USER_CODE_ALPHABET.len())] as char)
        .collect()
}

enum Polled {
    Opened { user_id: String, family: String, refresh_token: String, grant: ClientGrant, amr: Amr },
    Refused(OAuthError),
}

impl Provider {
    /// `/oauth/device_authorization` for an authenticated client: a device code for the
    /// device, a user code for the student.
    pub async fn device_authorization(
        &self,
        client: &Client,
        form: &Form,
    ) -> Result<Value, OAuthError> {
        let asked = form.get("scope")?.unwrap_or("openid");
        let scope = Scopes::parse(asked, &client.scopes)
            .map_err(|e| OAuthError::new(400, "invalid_scope", e.describe()))?;
        let (device_code, hash) = crypto::new_token();
        let (client_id, now) = (client.id.clone(), self.clock.unix());
        let user_code = self
            .db
            .run_conn(move |c| {
                // A clash of user codes is rare (codes live ten minutes): draw again.
                for _ in 0..5 {
                    let user_code = new_user_code();
                    let inserted = store::device_codes::insert(
                        c,
                        &hash,
                        &user_code,
                        &client_id,
                        &scope.to_string(),
                        now,
                        now + DEVICE_CODE_SECONDS,
                        POLL_INTERVAL_SECONDS,
                    )?;
                    if inserted {
                        return Ok(Some(user_code));
                    }
                }
                Ok::<_, DbError>(None)
            })
            .await?
            .ok_or_else(|| OAuthError::internal(anyhow::anyhow!("no free user code")))?;
        let shown = display(&user_code);
        let page = format!("{}/device", self.issuer);
        Ok(json!({
            "device_code": device_code,
            "user_code": shown,
            "verification_uri": page,
            "verification_uri_complete": format!("{page}?user_code={shown}"),
            "expires_in": DEVICE_CODE_SECONDS,
            "interval": POLL_INTERVAL_SECONDS,
        }))
    }

    /// Counts one user code tried by `user_id` on the device page.
    fn count_user_code_try(&self, user_id: &str) -> Result<(), DeviceRefusal> {
        match &self.limits {
            Some(limits) => limits.user_codes.check(user_id).map_err(DeviceRefusal::TooManyTries),
            None => Ok(()),
        }
    }

    async fn open_request(&self, user_code: String) -> anyhow::Result<Option<DeviceRow>> {
        let now = self.clock.unix();
        let found = self
            .db
            .run_conn(move |c| {
                store::device_codes::open_by_user_code(c, &user_code, now).map_err(DbError::from)
            })
            .await?;
        Ok(found)
    }

    /// What the device page shows for a typed code.
    pub async fn device_view(
        &self,
        typed: &str,
        session: &Principal,
    ) -> anyhow::Result<Result<DeviceView, DeviceRefusal>> {
        if let Err(refusal) = self.count_user_code_try(&session.user_id) {
            return Ok(Err(refusal));
        }
        let Some(user_code) = normalise_user_code(typed) else {
            return Ok(Err(DeviceRefusal::Unknown));
        };
        let Some(row) = self.open_request(user_code).await? else {
            return Ok(Err(DeviceRefusal::Unknown));
        };
        let Some(client) = self.client(&row.client_id).await? else {
            return Ok(Err(DeviceRefusal::Unknown));
        };
        let scopes = Scopes::stored(&row.scope);
        Ok(Ok(DeviceView {
            user_code: display(&row.user_code),
            client_name: client.name,
            scopes: scopes.iter().map(|s| (s, scopes::describe(s))).collect(),
        }))
    }

    /// The student's answer on the device page.
    pub async fn device_decide(
        &self,
        typed: &str,
        session: &Principal,
        approve: bool,
        ip: Option<String>,
    ) -> anyhow::Result<Result<(), DeviceRefusal>> {
        if let Err(refusal) = self.count_user_code_try(&session.user_id) {
            return Ok(Err(refusal));
        }
        let Some(user_code) = normalise_user_code(typed) else {
            return Ok(Err(DeviceRefusal::Unknown));
        };
        let (user, sid, auth_time, amr) = (
            session.user_id.clone(),
            session.session_id.clone(),
            session.created_at,
            session.amr.to_db(),
        );
        let now = self.clock.unix();
        let decided = self
            .db
            .run_conn(move |c| {
                let tx = c.transaction()?;
                let conn: &Conn = &tx;
                let Some(row) = store::device_codes::open_by_user_code(conn, &user_code, now)?
                else {
                    return Ok(false);
                };
                if !store::device_codes::decide(
                    conn, &user_code, approve, &user, &sid, auth_time, &amr, now,
                )? {
                    return Ok(false);
                }
                let action = if approve {
                    // Allowing on the device page is consent, remembered as on the consent
                    // page.
                    let before = store::consents::find_to_widen(conn, &user, &row.client_id)?;
                    let asked = Scopes::stored(&row.scope);
                    let all = before.map(|s| Scopes::stored(&s).union(&asked)).unwrap_or(asked);
                    store::consents::upsert(conn, &user, &row.client_id, &all.to_string(), now)?;
                    actions::CONSENT_GRANTED
                } else {
                    actions::CONSENT_DENIED
                };
                let event = AuditEvent::by_user(now, &user, action, ip.as_deref()).with_details(
                    json!({"client_id": row.client_id, "scope": row.scope, "device": true}),
                );
                audit::record(&tx, &event)?;
                tx.commit()?;
                Ok::<_, DbError>(true)
            })
            .await?;
        Ok(if decided { Ok(()) } else { Err(DeviceRefusal::Unknown) })
    }

    /// The token endpoint's device-code grant: pending, slow down, refused, expired, or the
    /// tokens (once).
    pub(super) async fn exchange_device_code(
        &self,
        client: &Client,
        form: &Form,
        meta: &RequestMeta,
    ) -> Result<Issued, OAuthError> {
        let device_code = form.require("device_code")?;
        if device_code.len() > 128 {
            return Err(OAuthError::new(400, "invalid_grant", "The device code is not valid."));
        }
        let hash = crypto::hash_token(device_code);
        let (client_id, now, ip) = (client.id.clone(), self.clock.unix(), meta.ip.clone());
        let outcome = self
            .db
            .run_conn(move |c| {
                let tx = c.transaction()?;
                let polled = poll_in(&tx, &hash, &client_id, now, ip.as_deref())?;
                tx.commit()?;
                Ok::<_, DbError>(polled)
            })
            .await?;
        match outcome {
            Polled::Opened { user_id, family, refresh_token, grant, amr } => {
                self.issue(client, &user_id, &family, &grant, amr, None, refresh_token, now).await
            }
            Polled::Refused(e) => Err(e),
        }
    }
}

fn refused(error: &'static str, description: &str) -> Polled {
    Polled::Refused(OAuthError::new(400, error, description))
}

/// One poll of a device code, in the caller's transaction.
fn poll_in(
    conn: &Conn,
    hash: &[u8],
    client_id: &str,
    now: i64,
    ip: Option<&str>,
) -> Result<Polled, DbError> {
    let Some(row) = store::device_codes::find_to_poll(conn, hash)? else {
        return Ok(refused("invalid_grant", "The device code is not valid."));
    };
    if row.client_id != client_id {
        return Ok(refused("invalid_grant", "The device code was issued to another client."));
    }
    if row.used_at.is_some() {
        return Ok(refused("invalid_grant", "The device code was used already."));
    }
    if now >= row.expires_at {
        store::device_codes::spend(conn, hash, now)?;
        return Ok(refused("expired_token", "The device code has expired; start again."));
    }
    let too_soon = row.last_polled_at.is_some_and(|last| now - last < row.poll_interval);
    match row.decision.as_deref() {
        None if too_soon => {
            store::device_codes::polled(
                conn,
                hash,
                now,
                row.poll_interval + POLL_INTERVAL_SECONDS,
            )?;
            Ok(refused("slow_down", "Polling too often: wait five seconds more between polls."))
        }
        None => {
            store::device_codes::polled(conn, hash, now, row.poll_interval)?;
            Ok(refused("authorization_pending", "The student has not answered yet."))
        }
        Some("denied") => {
            store::device_codes::spend(conn, hash, now)?;
            Ok(refused("access_denied", "The student did not allow the app."))
        }
        Some(_) => {
            store::device_codes::spend(conn, hash, now)?;
            let (Some(user_id), Some(sid), Some(auth_time), Some(amr)) =
                (row.user_id, row.session_id, row.auth_time, row.amr)
            else {
                return Ok(refused("invalid_grant", "The device code is not valid."));
            };
            if !Sessions::still_signed_in(conn, AuthMethod::Session, &sid)? {
                return Ok(refused("access_denied", "The sign-in that allowed the app has ended."));
            }
            let grant =
                ClientGrant { client_id: client_id.to_string(), scope: row.scope, sid, auth_time };
            let amr = Amr::from_db(&amr);
            let opened = Tokens::open_grant_in(conn, &user_id, amr, Some(&grant), now, ip)?;
            Ok(Polled::Opened {
                user_id,
                family: opened.family,
                refresh_token: opened.refresh_token,
                grant,
                amr,
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_codes_are_eight_unambiguous_letters_typed_any_way() {
        let code = new_user_code();
        assert_eq!(code.len(), 8);
        assert_eq!(normalise_user_code(&code).as_deref(), Some(code.as_str()));
        assert_eq!(normalise_user_code("bcdf-ghjk").as_deref(), Some("BCDFGHJK"));
        assert_eq!(normalise_user_code(" BCDF GHJK ").as_deref(), Some("BCDFGHJK"));
        assert_eq!(display("BCDFGHJK"), "BCDF-GHJK");
        for wrong in ["BCDF-GHJ", "BCDF-GHJKL", "ABCD-EFGH", "BCDF-GHJ1", "", "ÄBCD-FGHJ"] {
            assert_eq!(normalise_user_code(wrong), None, "{wrong}");
        }
    }
}
