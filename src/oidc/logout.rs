//! RP-Initiated Logout 1.0 (`/oauth/logout`): an app sends the student here to sign out of
//! Gatehouse too. With an `id_token_hint` of the signed-in student the session ends at once;
//! without one the student is asked first (a link alone must not sign anyone out). Ending the
//! session revokes the grants opened from it, and their apps hear of it by back-channel logout.

use serde::Deserialize;

use super::provider::Provider;
use crate::identity::{AuthMethod, Principal};

/// Where `/oauth/logout` goes next.
#[derive(Debug, PartialEq, Eq)]
pub enum EndSession {
    /// Sign this session out (the handler clears the cookies), then go to the URL.
    SignOutThen(String),
    /// Nothing to sign out: go to the URL.
    Go(String),
    /// Ask the student first: the confirmation page.
    Confirm(String),
    /// A bad request (an unregistered `post_logout_redirect_uri`): an error page.
    ErrorPage(String),
}

/// The claims of an ID token used as a hint.
#[derive(Deserialize)]
struct Hint {
    sub: String,
    aud: serde_json::Value,
}

/// The page a signed-out student lands on when the app names none.
const SIGNED_OUT: &str = "/sign-in?signed_out=1";

impl Provider {
    pub async fn end_session(
        &self,
        params: &[(String, String)],
        session: Option<&Principal>,
    ) -> anyhow::Result<EndSession> {
        let get = |name: &str| {
            params
                .iter()
                .find(|(n, _)| n == name)
                .map(|(_, v)| v.as_str())
                .filter(|v| !v.is_empty())
        };
        let now = self.clock.unix();
        let hint = get("id_token_hint").and_then(|token| {
            (token.len() <= 8192)
                .then(|| self.tokens.keys().verify_id_token_hint::<Hint>(token, now).ok())
                .flatten()
        });
        if get("id_token_hint").is_some() && hint.is_none() {
            return Ok(EndSession::ErrorPage(
                "The app sent a sign-in token that Gatehouse did not issue or cannot read.".into(),
            ));
        }
        let hint_client = hint.as_ref().and_then(|h| match &h.aud {
            serde_json::Value::String(aud) => Some(aud.clone()),
            serde_json::Value::Array(list) => {
                list.first().and_then(|a| a.as_str()).map(str::to_string)
            }
            _ => None,
        });
        let client_id = match (get("client_id"), &hint_client) {
            (Some(given), Some(from_hint)) if given != from_hint => {
                return Ok(EndSession::ErrorPage(
                    "The app's client_id does not match its sign-in token.".into(),
                ));
            }
            (Some(given), _) => Some(given.to_string()),
            (None, from_hint) => from_hint.clone(),
        };
        let mut destination = SIGNED_OUT.to_string();
        if let Some(uri) = get("post_logout_redirect_uri") {
            let client = match &client_id {
                Some(id) if id.len() <= 100 => self.client(id).await?,
                _ => None,
            };
            let Some(client) = client else {
                return Ok(EndSession::ErrorPage(
                    "The app did not say who it is, so Gatehouse cannot send you back to it."
                        .into(),
                ));
            };
            if !client.post_logout_redirect_uris.iter().any(|r| r == uri) {
                return Ok(EndSession::ErrorPage(
                    "The app asked to send you to an address that is not registered for it.".into(),
                ));
            }
            let mut url = url::Url::parse(uri)?;
            if let Some(state) = get("state") {
                url.query_pairs_mut().append_pair("state", state);
            }
            destination = url.to_string();
        }
        let Some(session) = session.filter(|s| s.method == AuthMethod::Session) else {
            return Ok(EndSession::Go(destination));
        };
        if hint.is_some_and(|h| h.sub == session.user_id) {
            return Ok(EndSession::SignOutThen(destination));
        }
        let query =
            url::form_urlencoded::Serializer::new(String::new()).extend_pairs(params).finish();
        Ok(EndSession::Confirm(format!("/sign-out?{query}")))
    }
}
