//! The rules of client registration: names, redirect URIs, scopes, secrets. Admins register
//! clients (`gatehouse client ...`, `/api/v1/admin/clients`); every change is audited.
//!
//! Redirect URIs are matched exactly, so each is checked once here: an absolute URI without a
//! fragment; `https`, or `http` on a loopback address (RFC 8252: a native app listening on
//! 127.0.0.1 or `[::1]`; `localhost` for development), or, for a public client only, a
//! private-use scheme named like a reversed domain (`edu.north.rides:/callback`).

use url::Url;

pub use super::client::{Client, NewClient};
use super::store::clients as store;
use crate::audit::{self, Actor, AuditEvent, actions};
use crate::crypto;
use crate::db::conn::{AsConn, Conn, SqlError};

/// Every scope Gatehouse knows. `openid` is always granted; `driver` releases driver
/// verification and is for clients an admin allowed it.
pub const SCOPES: &[&str] = &["openid", "email", "profile", "phone", "campus", "driver"];
/// What a client may ask for when its registration names no scope.
pub const DEFAULT_SCOPES: &[&str] = &["openid", "email", "profile"];
const MAX_URIS: usize = 10;
const MAX_URI_CHARS: usize = 2000;

/// A client just registered (or given a new secret), with its secret: shown this once.
pub struct Registered {
    pub client: Client,
    pub secret: Option<String>,
}

/// Never the secret, should a `Registered` reach a log line.
impl std::fmt::Debug for Registered {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Registered")
            .field("client", &self.client)
            .field("secret", &self.secret.as_ref().map(|_| "<redacted>"))
            .finish()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("There is no such client.")]
    NotFound,
    #[error("A public client has no secret to rotate.")]
    PublicClient,
    /// A field that breaks a rule: (field, what is wrong).
    #[error("{1}")]
    Invalid(&'static str, String),
    #[error(transparent)]
    Sql(#[from] SqlError),
}

/// The audit log's error, until it returns [`SqlError`] too.
impl From<rusqlite::Error> for ClientError {
    fn from(e: rusqlite::Error) -> Self {
        ClientError::Sql(e.into())
    }
}

fn invalid(field: &'static str, message: impl Into<String>) -> ClientError {
    ClientError::Invalid(field, message.into())
}

fn clean_name(name: &str) -> Result<String, ClientError> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 100 || name.chars().any(char::is_control) {
        return Err(invalid("name", "Give the app a name of 1 to 100 characters."));
    }
    Ok(name.to_string())
}

fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        Some(url::Host::Domain(domain)) => domain == "localhost",
        None => false,
    }
}

/// One redirect URI, checked (see the module's rules).
fn check_uri(field: &'static str, uri: &str, public: bool) -> Result<String, ClientError> {
    let uri = uri.trim();
    if uri.len() > MAX_URI_CHARS {
        return Err(invalid(field, format!("A URI may have at most {MAX_URI_CHARS} characters.")));
    }
    let url =
        Url::parse(uri).map_err(|_| invalid(field, format!("{uri:?} is not an absolute URI.")))?;
    if url.fragment().is_some() {
        return Err(invalid(
            field,
            format!("{uri:?} has a fragment (#...), which is not allowed."),
        ));
    }
    match url.scheme() {
        "https" if url.host().is_some() => {}
        "http" if is_loopback(&url) => {}
        "http" => {
            return Err(invalid(
                field,
                format!("{uri:?}: use https (http is only for a loopback address)."),
            ));
        }
        scheme if public && scheme.contains('.') => {}
        _ => {
            return Err(invalid(
                field,
                format!(
                    "{uri:?}: use https, http on a loopback address, or (for a public app) a \
                     scheme named like a reversed domain (edu.campus.app:/callback)."
                ),
            ));
        }
    }
    Ok(uri.to_string())
}

fn check_uris(
    field: &'static str,
    uris: &[String],
    public: bool,
    required: bool,
) -> Result<Vec<String>, ClientError> {
    if required && uris.is_empty() {
        return Err(invalid(field, "Give at least one redirect URI."));
    }
    if uris.len() > MAX_URIS {
        return Err(invalid(field, format!("At most {MAX_URIS} URIs.")));
    }
    let mut clean: Vec<String> = Vec::new();
    for uri in uris {
        let uri = check_uri(field, uri, public)?;
        if !clean.contains(&uri) {
            clean.push(uri);
        }
    }
    Ok(clean)
}

fn clean_scopes(scopes: &[String]) -> Result<Vec<String>, ClientError> {
    let asked: Vec<&str> = if scopes.is_empty() {
        DEFAULT_SCOPES.to_vec()
    } else {
        scopes.iter().map(|s| s.trim()).collect()
    };
    for scope in &asked {
        if !SCOPES.contains(scope) {
            return Err(invalid(
                "scopes",
                format!("{scope:?} is not a scope; the scopes are {}.", SCOPES.join(", ")),
            ));
        }
    }
    // In the one order of SCOPES, openid first.
    Ok(SCOPES
        .iter()
        .filter(|s| **s == "openid" || asked.contains(s))
        .map(|s| s.to_string())
        .collect())
}

/// Checks a registration and returns it as it will be stored.
pub fn check(new: &NewClient) -> Result<NewClient, ClientError> {
    let backchannel_logout_uri = match &new.backchannel_logout_uri {
        Some(uri) if !uri.trim().is_empty() => {
            Some(check_uri("backchannel_logout_uri", uri, false)?)
        }
        _ => None,
    };
    Ok(NewClient {
        name: clean_name(&new.name)?,
        redirect_uris: check_uris("redirect_uris", &new.redirect_uris, new.public, true)?,
        public: new.public,
        trusted: new.trusted,
        scopes: clean_scopes(&new.scopes)?,
        post_logout_redirect_uris: check_uris(
            "post_logout_redirect_uris",
            &new.post_logout_redirect_uris,
            new.public,
            false,
        )?,
        backchannel_logout_uri,
        id_token_alg: Some(check_alg(new.id_token_alg.as_deref())?),
    })
}

/// The ID-token algorithms a client may ask for.
pub const ID_TOKEN_ALGS: &[&str] = &["RS256", "EdDSA"];

fn check_alg(alg: Option<&str>) -> Result<String, ClientError> {
    match alg.map(str::trim) {
        None | Some("") => Ok("RS256".into()),
        Some(alg) if ID_TOKEN_ALGS.contains(&alg) => Ok(alg.into()),
        Some(alg) => Err(invalid(
            "id_token_alg",
            format!("{alg:?} is not an ID-token algorithm; use RS256 or EdDSA."),
        )),
    }
}

fn record(
    conn: &Conn,
    action: &str,
    client: &Client,
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
        details: serde_json::json!({"client_id": client.id, "name": client.name}),
    };
    audit::record(conn, &event)
}

// The changes below take any connection ([`AsConn`]: the API's, the CLI's, a test's) and
// open their own transaction on it.

/// Registers a client. A confidential one gets its secret, returned this once.
pub fn add(
    conn: &impl AsConn,
    new: &NewClient,
    actor: &Actor<'_>,
    now: i64,
) -> Result<Registered, ClientError> {
    let new = check(new)?;
    let id = crypto::base64url(&rand::random::<[u8; 16]>());
    let (secret, secret_hash) = if new.public {
        (None, None)
    } else {
        let (secret, hash) = crypto::new_token();
        (Some(secret), Some(hash))
    };
    conn.with_conn(|conn| {
        let tx = conn.transaction()?;
        store::insert(&tx, &id, &new, secret_hash.as_deref(), actor.user_id, now)?;
        let client = store::find(&tx, &id)?.expect("just inserted");
        record(&tx, actions::CLIENT_ADDED, &client, actor, now)?;
        tx.commit()?;
        Ok(Registered { client, secret })
    })
}

pub fn list(conn: &impl AsConn) -> Result<Vec<Client>, ClientError> {
    Ok(conn.with_conn(store::list)?)
}

pub fn get(conn: &impl AsConn, id: &str) -> Result<Option<Client>, ClientError> {
    Ok(conn.with_conn(|conn| store::find(conn, id))?)
}

/// Removes a client: it can no longer sign anyone in.
pub fn remove(
    conn: &impl AsConn,
    id: &str,
    actor: &Actor<'_>,
    now: i64,
) -> Result<Client, ClientError> {
    conn.with_conn(|conn| {
        let tx = conn.transaction()?;
        let client = store::find_to_change(&tx, id)?.ok_or(ClientError::NotFound)?;
        store::delete(&tx, id)?;
        record(&tx, actions::CLIENT_REMOVED, &client, actor, now)?;
        tx.commit()?;
        Ok(client)
    })
}

/// Gives a confidential client a new secret; the old one stops working at once.
pub fn rotate_secret(
    conn: &impl AsConn,
    id: &str,
    actor: &Actor<'_>,
    now: i64,
) -> Result<Registered, ClientError> {
    conn.with_conn(|conn| {
        let tx = conn.transaction()?;
        let client = store::find_to_change(&tx, id)?.ok_or(ClientError::NotFound)?;
        if client.public {
            return Err(ClientError::PublicClient);
        }
        let (secret, hash) = crypto::new_token();
        store::set_secret(&tx, id, &hash, now)?;
        let client = store::find(&tx, id)?.expect("just updated");
        record(&tx, actions::CLIENT_SECRET_ROTATED, &client, actor, now)?;
        tx.commit()?;
        Ok(Registered { client, secret: Some(secret) })
    })
}

/// The confidential client `id` when `secret` is its secret (compared in constant time).
pub fn authenticate(
    conn: &impl AsConn,
    id: &str,
    secret: &str,
) -> Result<Option<Client>, ClientError> {
    let Some((client, stored)) = conn.with_conn(|conn| store::find_with_secret(conn, id))? else {
        return Ok(None);
    };
    let given = crypto::hash_token(secret);
    Ok(stored.filter(|hash| crypto::constant_time_eq(hash, &given)).map(|_| client))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn new(uris: &[&str], public: bool) -> NewClient {
        NewClient {
            name: "Rides".into(),
            redirect_uris: uris.iter().map(|u| u.to_string()).collect(),
            public,
            ..Default::default()
        }
    }

    #[test]
    fn redirect_uris_follow_the_rules() {
        for ok in [
            "https://rides.north.edu/callback",
            "https://rides.north.edu/cb?x=1",
            "http://127.0.0.1:8765/callback",
            "http://[::1]/cb",
            "http://localhost:3000/cb",
        ] {
            assert!(check(&new(&[ok], false)).is_ok(), "{ok}");
        }
        assert!(check(&new(&["edu.north.rides:/callback"], true)).is_ok());
        for bad in [
            "http://rides.north.edu/callback",
            "https://rides.north.edu/cb#frag",
            "/callback",
            "javascript:alert(1)",
            "edu.north.rides:/callback",
            "ftp://north.edu/x",
        ] {
            let err = check(&new(&[bad], false)).unwrap_err();
            assert!(matches!(err, ClientError::Invalid("redirect_uris", _)), "{bad}: {err}");
        }
        assert!(check(&new(&[], false)).is_err(), "at least one");
    }

    #[test]
    fn scopes_default_are_checked_and_always_hold_openid() {
        let scopes = |given: &[&str]| {
            let mut client = new(&["https://a.north.edu/cb"], false);
            client.scopes = given.iter().map(|s| s.to_string()).collect();
            check(&client).map(|c| c.scopes)
        };
        assert_eq!(scopes(&[]).unwrap(), vec!["openid", "email", "profile"]);
        assert_eq!(scopes(&["driver", "email"]).unwrap(), vec!["openid", "email", "driver"]);
        assert!(scopes(&["admin"]).is_err());
    }
}
