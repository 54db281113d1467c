//! Browser sessions: a random 256-bit token in an HttpOnly cookie, stored only as its hash.
//! A moka cache in front keeps session checks off the database; last activity is written at
//! most once a minute per session, by a background writer, so a session check never costs a
//! disk write. Revocation deletes the row and the cache entry at once. The cache entries also
//! expire after a minute, so a change made by another process (the CLI) is seen within it.

pub mod cookies;
pub mod personal_data;
mod store;
#[cfg(test)]
mod store_tests;

use std::net::IpAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use crate::cache::{self, Cache, Rendering};
use tokio::sync::mpsc;

use crate::clock::Clock;
use crate::crypto;
use crate::db::conn::{AsConn, SqlError};
use crate::db::notices::Notice;
use crate::db::{Db, DbError};
use crate::identity::Amr;
use crate::identity::Role;
use crate::identity::{AuthMethod, Principal};
use crate::ratelimit::KeyHold;
use crate::tokens::{self, Tokens};
pub use personal_data::SessionsData;
pub use store::SessionListing;
use store::SessionRow;

/// Idle and absolute lifetimes, in seconds.
#[derive(Debug, Clone, Copy)]
pub struct Lifetimes {
    pub idle: i64,
    pub absolute: i64,
}

pub const BROWSER_SESSION: Lifetimes = Lifetimes { idle: 30 * 60, absolute: 12 * 3600 };
pub const REMEMBERED_SESSION: Lifetimes = Lifetimes { idle: 7 * 86400, absolute: 30 * 86400 };

pub fn lifetimes(remember_me: bool) -> Lifetimes {
    if remember_me { REMEMBERED_SESSION } else { BROWSER_SESSION }
}

/// Last activity is persisted at most this often per session.
const TOUCH_INTERVAL: i64 = 60;
const CACHE_TTL: Duration = Duration::from_secs(60);
const CACHE_CAPACITY: u64 = 200_000;
/// Longest token accepted before hashing (real ones are 43 characters).
const MAX_TOKEN_LEN: usize = 128;

/// What [`Sessions::end_all_in`] ended: the sessions' token hashes and the token families.
#[derive(Debug, Default)]
pub struct Ended {
    pub sessions: Vec<Vec<u8>>,
    pub families: Vec<String>,
}

/// A session just created: the token goes into the cookie and nowhere else.
pub struct IssuedSession {
    pub id: String,
    pub token: String,
    pub remember_me: bool,
    pub expires_at: i64,
}

struct CachedSession {
    row: SessionRow,
    amr: Amr,
    last_activity: AtomicI64,
    last_persisted: AtomicI64,
    rendering: Arc<Rendering>,
    rate_limit: Arc<KeyHold>,
}

struct Touch {
    session_id: String,
    at: i64,
    ip: Option<String>,
}

pub struct Sessions {
    db: Db,
    clock: Arc<dyn Clock>,
    cache: Cache<Vec<u8>, Arc<CachedSession>>,
    /// Counts revocations; see [`Sessions::load`].
    revocations: Arc<std::sync::Mutex<u64>>,
    touches: mpsc::Sender<Touch>,
    csrf_key: [u8; 32],
    /// Token families ended with the sessions are dropped from its cache too.
    tokens: Arc<Tokens>,
}

/// Writes last-activity updates in batches, off the request path.
pub struct TouchWriter {
    db: Db,
    receiver: mpsc::Receiver<Touch>,
}

impl Sessions {
    pub fn new(
        db: Db,
        clock: Arc<dyn Clock>,
        csrf_key: [u8; 32],
        tokens: Arc<Tokens>,
    ) -> (Self, TouchWriter) {
        let (touches, receiver) = mpsc::channel(10_000);
        let cache = cache::with_ttl(CACHE_CAPACITY, CACHE_TTL);
        let writer = TouchWriter { db: db.clone(), receiver };
        let revocations = Arc::new(std::sync::Mutex::new(0));
        // Sessions revoked on another node are dropped here too, within a second.
        let (dropped, generation) = (cache.clone(), revocations.clone());
        db.on_notice(TOPIC, move |notice| match notice {
            Notice::Key(hex) => {
                if let Ok(hash) = hex::decode(hex) {
                    drop_sessions(&dropped, &generation, Some(&[hash]));
                }
            }
            Notice::Everything => drop_sessions(&dropped, &generation, None),
        });
        (Self { db, clock, cache, revocations, touches, csrf_key, tokens }, writer)
    }

    /// Creates a session inside the caller's transaction (sign-in commits with its audit row),
    /// recording how the sign-in was proved.
    pub fn issue(
        conn: &impl AsConn,
        user_id: &str,
        remember_me: bool,
        amr: Amr,
        now: i64,
        ip: Option<&str>,
        user_agent: Option<&str>,
    ) -> rusqlite::Result<IssuedSession> {
        let (token, hash) = crypto::new_token();
        let id = uuid::Uuid::new_v4().to_string();
        let expires_at = now + lifetimes(remember_me).absolute;
        let user_agent = user_agent.map(|ua| ua.chars().take(256).collect::<String>());
        let new = store::NewSession {
            id: &id,
            token_hash: &hash,
            user_id,
            remember_me,
            now,
            expires_at,
            ip,
            user_agent: user_agent.as_deref(),
            amr: &amr.to_db(),
        };
        conn.with_conn(|conn| store::insert(conn, &new))?;
        Ok(IssuedSession { id, token, remember_me, expires_at })
    }

    /// The double-submit CSRF token for a session token: derived, so it needs no storage and
    /// a cookie planted by another site cannot match it.
    pub fn csrf_token(&self, session_token: &str) -> String {
        crypto::base64url(&crypto::keyed_hash(&self.csrf_key, &[b"csrf", session_token.as_bytes()]))
    }

    /// The session for a cookie token, if it is live. Expired sessions are deleted.
    pub async fn authenticate(
        &self,
        token: &str,
        ip: Option<IpAddr>,
    ) -> Result<Option<Principal>, DbError> {
        if token.is_empty() || token.len() > MAX_TOKEN_LEN {
            return Ok(None);
        }
        let hash = crypto::hash_token(token);
        let cached = match self.cache.get(&hash) {
            Some(cached) => cached,
            None => match self.load(&hash).await? {
                Some(cached) => cached,
                None => return Ok(None),
            },
        };
        let now = self.clock.unix();
        let row = &cached.row;
        let limits = lifetimes(row.remember_me);
        let idle_since = cached.last_activity.load(Ordering::Relaxed);
        if now >= row.expires_at || now - idle_since > limits.idle || !row.email_verified {
            self.cache.invalidate(&hash);
            self.db
                .run_conn(move |conn| store::delete_by_token(conn, &hash).map_err(DbError::from))
                .await?;
            return Ok(None);
        }
        let Ok(role) = row.role.parse::<Role>() else { return Ok(None) };
        // Read before writing: the time is in seconds, so nearly every request finds it
        // current, and a write would bounce the cache line between the server's threads.
        if idle_since < now {
            cached.last_activity.fetch_max(now, Ordering::Relaxed);
        }
        let persisted = cached.last_persisted.load(Ordering::Relaxed);
        if now - persisted >= TOUCH_INTERVAL {
            let touch =
                Touch { session_id: row.id.clone(), at: now, ip: ip.map(|ip| ip.to_string()) };
            // When the writer is behind the touch is dropped and the next request tries again;
            // two requests racing here may both send, which the writer absorbs.
            if self.touches.try_send(touch).is_ok() {
                cached.last_persisted.fetch_max(now, Ordering::Relaxed);
            }
        }
        Ok(Some(Principal {
            method: AuthMethod::Session,
            user_id: row.user_id.clone(),
            session_id: row.id.clone(),
            role,
            remember_me: row.remember_me,
            created_at: row.created_at,
            expires_at: row.expires_at,
            idle_timeout: limits.idle,
            amr: cached.amr,
            rendering: Some(cached.rendering.clone()),
            rate_limit: cached.rate_limit.clone(),
        }))
    }

    /// Reads a session row and caches it, unless a revocation happened during the read (the
    /// row may then be stale): such a read is done again. Revocations take the same lock to
    /// bump the generation and drop entries, so a stale row can never be cached after them.
    async fn load(&self, hash: &[u8]) -> Result<Option<Arc<CachedSession>>, DbError> {
        loop {
            let generation = self.generation();
            let lookup = hash.to_vec();
            let row = self
                .db
                .run_conn(move |conn| store::find_by_token(conn, &lookup).map_err(DbError::from))
                .await?;
            let Some(row) = row else { return Ok(None) };
            let cached = Arc::new(CachedSession {
                amr: Amr::from_db(&row.amr),
                last_activity: AtomicI64::new(row.last_seen_at),
                last_persisted: AtomicI64::new(row.last_seen_at),
                rendering: Arc::default(),
                rate_limit: Arc::default(),
                row,
            });
            let current = self.revocations.lock().unwrap_or_else(|e| e.into_inner());
            if *current == generation {
                self.cache.insert(hash.to_vec(), cached.clone());
                return Ok(Some(cached));
            }
        }
    }

    /// The revocation generation, read before a database lookup that will fill the cache.
    fn generation(&self) -> u64 {
        *self.revocations.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Drops sessions ended in a committed transaction, here and (soon) on the other nodes.
    fn invalidate(&self, hashes: &[Vec<u8>]) {
        drop_sessions(&self.cache, &self.revocations, Some(hashes));
        self.db.announce_soon(TOPIC, hashes.iter().map(hex::encode).collect());
    }

    /// [`Sessions::invalidate`] that returns once the other nodes are told: a one-shot
    /// command's runtime may end before a task sent "soon" has run.
    async fn invalidate_everywhere(&self, hashes: &[Vec<u8>]) {
        drop_sessions(&self.cache, &self.revocations, Some(hashes));
        let keys = hashes.iter().map(hex::encode).collect();
        if let Err(error) = self.db.announce(TOPIC, keys).await {
            tracing::error!(%error, "cannot tell the other nodes to drop ended sessions");
        }
    }

    pub async fn list(&self, user_id: &str) -> Result<Vec<SessionListing>, DbError> {
        let user_id = user_id.to_string();
        self.db
            .run_conn(move |conn| store::list_for_user(conn, &user_id).map_err(DbError::from))
            .await
    }

    /// Deletes one session of `user_id` inside the caller's transaction; returns its token hash
    /// to [`forget`](Self::forget) once it has committed.
    pub fn delete_in(
        conn: &impl AsConn,
        user_id: &str,
        id: &str,
    ) -> rusqlite::Result<Option<Vec<u8>>> {
        Ok(conn.with_conn(|conn| store::delete(conn, user_id, id))?)
    }

    /// Deletes every session of `user_id` except `keep` inside the caller's transaction and
    /// returns the token hashes to [`forget`](Self::forget) once it has committed.
    pub fn delete_all_in(
        conn: &impl AsConn,
        user_id: &str,
        keep: Option<&str>,
    ) -> rusqlite::Result<Vec<Vec<u8>>> {
        Ok(conn.with_conn(|conn| store::delete_all(conn, user_id, keep))?)
    }

    /// Signs one session of `user_id` out, in the caller's transaction: the session and the
    /// apps' grants opened from it (their clients hear of it by back-channel logout). None
    /// when there is no such session. [`Sessions::forget_ended`] after the commit.
    pub fn sign_out_in(
        conn: &impl AsConn,
        user_id: &str,
        id: &str,
        now: i64,
        reason: &str,
    ) -> rusqlite::Result<Option<Ended>> {
        Ok(conn.with_conn(|conn| {
            let Some((id, hash)) = store::delete_with_id(conn, user_id, id)? else {
                return Ok(None);
            };
            let families = tokens::revoke_session_families(conn, &[id], now, reason)?;
            Ok::<_, SqlError>(Some(Ended { sessions: vec![hash], families }))
        })?)
    }

    /// Signs every session of `user_id` but `keep` out, with the apps' grants opened from
    /// them, in the caller's transaction (API token families of the first-party API stay).
    pub fn sign_out_all_in(
        conn: &impl AsConn,
        user_id: &str,
        keep: Option<&str>,
        now: i64,
        reason: &str,
    ) -> rusqlite::Result<Ended> {
        Ok(conn.with_conn(|conn| {
            let deleted = store::delete_all_with_ids(conn, user_id, keep)?;
            let (ids, sessions): (Vec<String>, Vec<Vec<u8>>) = deleted.into_iter().unzip();
            let families = tokens::revoke_session_families(conn, &ids, now, reason)?;
            Ok::<_, SqlError>(Ended { sessions, families })
        })?)
    }

    /// Ends everything `user_id` is signed in with, in the caller's transaction: every session
    /// (but `keep`) and every API token family (revoked for `reason`). After the transaction
    /// commits, [`Sessions::forget_ended`] drops them from the caches.
    pub fn end_all_in(
        conn: &impl AsConn,
        user_id: &str,
        keep: Option<&str>,
        now: i64,
        reason: &str,
    ) -> rusqlite::Result<Ended> {
        Ok(conn.with_conn(|conn| {
            let sessions = store::delete_all(conn, user_id, keep)?;
            let families = tokens::revoke_user_families(conn, user_id, now, reason)?;
            Ok::<_, SqlError>(Ended { sessions, families })
        })?)
    }

    /// Drops the credentials ended by [`Sessions::end_all_in`] (in a committed transaction)
    /// from the caches, so that no node-local copy keeps them alive.
    pub async fn forget_ended(&self, ended: &Ended) {
        self.invalidate_everywhere(&ended.sessions).await;
        self.tokens.forget_families(&ended.families);
    }

    /// Whether the caller's session (or, for a bearer token, its family) still exists, checked
    /// inside a transaction that is about to act for it.
    pub fn still_signed_in(
        conn: &impl AsConn,
        method: AuthMethod,
        id: &str,
    ) -> rusqlite::Result<bool> {
        Ok(conn.with_conn(|conn| match method {
            AuthMethod::Session => store::exists(conn, id),
            AuthMethod::Bearer => tokens::family_revoked(conn, id).map(|revoked| !revoked),
        })?)
    }

    /// Drops cache entries for sessions deleted elsewhere.
    pub async fn forget(&self, token_hashes: &[Vec<u8>]) {
        self.invalidate_everywhere(token_hashes).await;
    }

    /// [`Sessions::forget`], for work that is not async (the clean-up after a deletion).
    pub fn forget_now(&self, token_hashes: &[Vec<u8>]) {
        self.invalidate(token_hashes);
    }
}

/// The cache notices of sessions between nodes: token hashes in hex (see
/// `crate::db::notices`).
const TOPIC: &str = "session";

/// Drops `hashes` from `cache` (None: all of it, as notices were missed), counting a
/// revocation first so that a lookup already under way does not cache what it read.
fn drop_sessions(
    cache: &Cache<Vec<u8>, Arc<CachedSession>>,
    revocations: &std::sync::Mutex<u64>,
    hashes: Option<&[Vec<u8>]>,
) {
    let mut generation = revocations.lock().unwrap_or_else(|e| e.into_inner());
    *generation += 1;
    match hashes {
        Some(hashes) => hashes.iter().for_each(|hash| cache.invalidate(hash)),
        None => cache.invalidate_all(),
    }
}

impl TouchWriter {
    /// Runs until every [`Sessions`] handle is gone, writing touches in batches.
    pub async fn run(mut self) {
        let mut batch = Vec::with_capacity(256);
        while self.receiver.recv_many(&mut batch, 256).await > 0 {
            let touches = std::mem::take(&mut batch);
            let result = self
                .db
                .run_conn(move |conn| {
                    let tx = conn.transaction()?;
                    for touch in &touches {
                        store::touch(&tx, &touch.session_id, touch.at, touch.ip.as_deref())?;
                    }
                    tx.commit().map_err(DbError::from)
                })
                .await;
            if let Err(e) = result {
                tracing::warn!(error = %e, "cannot record session activity");
            }
        }
    }
}
