//! The rules of webhook endpoints: a URL (`https`, or `http` on a loopback address for
//! development), the event types it takes, and its secret. Admins register them
//! (`gatehouse webhook ...`, `/api/v1/admin/webhooks`); every change is audited, never with
//! the secret. Secrets are sealed with the PII key (they must be read back to sign), shown
//! once, and a rotation keeps the old one signing beside the new for 24 hours, so a receiver
//! can switch without losing a delivery.

use url::Url;

pub use super::endpoint::Endpoint;
use super::events::EventType;
use super::signing;
use super::store;
use crate::audit::{self, Actor, AuditEvent, actions};
use crate::db::conn::{AsConn, Conn, SqlError};
use crate::pii::FieldCipher;

/// How long a rotated-out secret still signs.
pub const OLD_SECRET_SECONDS: i64 = 24 * 3600;
const MAX_URL_CHARS: usize = 2000;
/// The sealing context of secrets (`<table>.<column>`, as the PII passes expect).
pub(super) const SECRET_CONTEXT: &str = "webhook_endpoints.secret";
pub(super) const PREVIOUS_SECRET_CONTEXT: &str = "webhook_endpoints.previous_secret";

/// A registration as asked for.
#[derive(Debug, Clone, Default)]
pub struct NewEndpoint {
    pub url: String,
    /// Event type names; empty means every type.
    pub events: Vec<String>,
}

/// An endpoint just registered (or given a new secret), with its secret: shown this once.
pub struct Registered {
    pub endpoint: Endpoint,
    pub secret: String,
}

impl std::fmt::Debug for Registered {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Registered").field("endpoint", &self.endpoint).finish_non_exhaustive()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum WebhookError {
    #[error("There is no such webhook.")]
    NotFound,
    #[error("That webhook has no such delivery.")]
    DeliveryNotFound,
    /// A field that breaks a rule: (field, what is wrong).
    #[error("{1}")]
    Invalid(&'static str, String),
    #[error(transparent)]
    Sql(#[from] SqlError),
}

/// The audit log's error, until it returns [`SqlError`] too.
impl From<rusqlite::Error> for WebhookError {
    fn from(e: rusqlite::Error) -> Self {
        WebhookError::Sql(e.into())
    }
}

fn invalid(field: &'static str, message: impl Into<String>) -> WebhookError {
    WebhookError::Invalid(field, message.into())
}

fn check_url(url: &str) -> Result<String, WebhookError> {
    let url = url.trim();
    if url.len() > MAX_URL_CHARS {
        return Err(invalid("url", format!("A URL may have at most {MAX_URL_CHARS} characters.")));
    }
    let parsed = Url::parse(url).map_err(|_| invalid("url", format!("{url:?} is not a URL.")))?;
    let loopback = match parsed.host() {
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        Some(url::Host::Domain(domain)) => domain == "localhost",
        None => false,
    };
    match parsed.scheme() {
        "https" if parsed.host().is_some() => {}
        "http" if loopback => {}
        _ => {
            return Err(invalid(
                "url",
                format!("{url:?}: use https (http only on a loopback address, for development)."),
            ));
        }
    }
    if parsed.fragment().is_some() || !parsed.username().is_empty() || parsed.password().is_some() {
        return Err(invalid("url", format!("{url:?}: no fragment and no user:password@.")));
    }
    Ok(url.to_string())
}

/// The event types, checked, in the order of [`EventType::ALL`]; none given means all.
fn check_events(events: &[String]) -> Result<Vec<String>, WebhookError> {
    let mut wanted = Vec::new();
    for name in events.iter().flat_map(|e| e.split(',')).map(str::trim).filter(|e| !e.is_empty()) {
        let kind = EventType::parse(name).ok_or_else(|| {
            let known: Vec<&str> = EventType::ALL.iter().map(|t| t.name()).collect();
            invalid(
                "events",
                format!("{name:?} is not an event type; they are {}.", known.join(", ")),
            )
        })?;
        wanted.push(kind);
    }
    Ok(EventType::ALL
        .into_iter()
        .filter(|t| wanted.is_empty() || wanted.contains(t))
        .map(|t| t.name().to_string())
        .collect())
}

fn record(
    conn: &Conn,
    action: &str,
    endpoint: &Endpoint,
    actor: &Actor<'_>,
    now: i64,
) -> rusqlite::Result<()> {
    let event = AuditEvent {
        at: now,
        actor_id: actor.user_id,
        action,
        subject_id: None,
        ip: actor.ip,
        success: true,
        details: serde_json::json!({"webhook_id": endpoint.id, "url": endpoint.url,
                                    "events": endpoint.events}),
    };
    audit::record(conn, &event)
}

// The changes below take any connection ([`AsConn`]: the API's, the CLI's, a test's) and
// open their own transaction on it.

/// Registers an endpoint; its secret is returned this once.
pub fn add(
    conn: &impl AsConn,
    pii: &FieldCipher,
    new: &NewEndpoint,
    actor: &Actor<'_>,
    now: i64,
) -> Result<Registered, WebhookError> {
    let url = check_url(&new.url)?;
    let events = check_events(&new.events)?;
    let id = format!("wh_{}", crate::crypto::base64url(&rand::random::<[u8; 12]>()));
    let secret = signing::new_secret();
    let sealed = pii.seal_text(SECRET_CONTEXT, &secret);
    conn.with_conn(|conn| {
        let tx = conn.transaction()?;
        store::insert_endpoint(&tx, &id, &url, &events.join(" "), &sealed, actor.user_id, now)?;
        let endpoint = store::find_endpoint(&tx, &id)?.expect("just inserted");
        record(&tx, actions::WEBHOOK_ADDED, &endpoint, actor, now)?;
        tx.commit()?;
        Ok(Registered { endpoint, secret })
    })
}

pub fn list(conn: &impl AsConn) -> Result<Vec<Endpoint>, WebhookError> {
    Ok(conn.with_conn(store::list_endpoints)?)
}

/// Removes an endpoint and the deliveries still waiting for it.
pub fn remove(
    conn: &impl AsConn,
    id: &str,
    actor: &Actor<'_>,
    now: i64,
) -> Result<Endpoint, WebhookError> {
    conn.with_conn(|conn| {
        let tx = conn.transaction()?;
        let endpoint = store::find_endpoint_to_change(&tx, id)?.ok_or(WebhookError::NotFound)?;
        store::delete_endpoint(&tx, id)?;
        record(&tx, actions::WEBHOOK_REMOVED, &endpoint, actor, now)?;
        tx.commit()?;
        Ok(endpoint)
    })
}

/// Gives an endpoint a new secret; the old one signs beside it for [`OLD_SECRET_SECONDS`].
pub fn rotate_secret(
    conn: &impl AsConn,
    pii: &FieldCipher,
    id: &str,
    actor: &Actor<'_>,
    now: i64,
) -> Result<Registered, WebhookError> {
    conn.with_conn(|conn| {
        let tx = conn.transaction()?;
        let old = store::sealed_secret_to_rotate(&tx, id)?.ok_or(WebhookError::NotFound)?;
        let old = pii
            .open_text(SECRET_CONTEXT, &old)
            .map_err(|e| SqlError::Conversion { column: 0, message: e.to_string() })?;
        let secret = signing::new_secret();
        store::rotate_secret(
            &tx,
            id,
            &pii.seal_text(SECRET_CONTEXT, &secret),
            &pii.seal_text(PREVIOUS_SECRET_CONTEXT, &old),
            now + OLD_SECRET_SECONDS,
            now,
        )?;
        let endpoint = store::find_endpoint(&tx, id)?.expect("just updated");
        record(&tx, actions::WEBHOOK_SECRET_ROTATED, &endpoint, actor, now)?;
        tx.commit()?;
        Ok(Registered { endpoint, secret })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_https_or_loopback_http() {
        for ok in ["https://rides.north.edu/hooks", "http://127.0.0.1:9000/h", "http://localhost/h"]
        {
            assert!(check_url(ok).is_ok(), "{ok}");
        }
        for bad in [
            "http://rides.north.edu/hooks",
            "ftp://north.edu/x",
            "/hooks",
            "https://user:pw@north.edu/h",
            "https://north.edu/h#x",
        ] {
            assert!(matches!(check_url(bad), Err(WebhookError::Invalid("url", _))), "{bad}");
        }
    }

    #[test]
    fn events_default_to_all_and_unknown_ones_are_refused() {
        assert_eq!(check_events(&[]).unwrap().len(), EventType::ALL.len());
        let picked = check_events(&["driver.approved,user.deleted".into()]).unwrap();
        assert_eq!(picked, ["user.deleted", "driver.approved"]);
        assert!(matches!(
            check_events(&["user.renamed".into()]),
            Err(WebhookError::Invalid("events", _))
        ));
    }
}
