//! Cache drops across nodes (SPEC section 14). Each node caches sessions, token families,
//! users and pending policies for up to a minute; a revocation, a disabled account or a role
//! change on one node must be refused on every node within a second. On PostgreSQL a change
//! is announced with `pg_notify` on one channel after its transaction commits, and every node
//! keeps one connection that `LISTEN`s and hands each notice to the cache that registered its
//! topic ([`super::Db::on_notice`]). On SQLite there is one node and announcing does nothing.
//!
//! A notice is "topic key key ...". While a node's listening connection is down (a failover,
//! a restart of PostgreSQL) notices are lost, so after it reconnects every handler is called
//! with [`Notice::Everything`] and drops its whole cache: a minute of cache misses instead of
//! a revoked session that still works.

use std::collections::HashMap;
use std::sync::{Arc, Weak};
use std::time::Duration;

use ::postgres::fallible_iterator::FallibleIterator;
use parking_lot::RwLock;

use super::postgres::PostgresManager;

/// The one channel every node listens on.
pub const CHANNEL: &str = "gatehouse_cache";

/// PostgreSQL refuses a payload of 8000 bytes or more; notices are split below that.
const MAX_PAYLOAD: usize = 7000;

/// How often the listener looks whether its node is gone, and waits before reconnecting.
const TICK: Duration = Duration::from_secs(1);

/// What a handler is asked to drop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Notice<'a> {
    /// The entry of this key (a session's token hash in hex, a family, a user id).
    Key(&'a str),
    /// Everything: notices may have been missed.
    Everything,
}

type Handler = Box<dyn Fn(Notice) + Send + Sync>;

/// The handlers of one node, by topic.
#[derive(Default)]
pub struct Notices {
    handlers: RwLock<HashMap<&'static str, Vec<Handler>>>,
}

impl std::fmt::Debug for Notices {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Notices").field("topics", &self.handlers.read().len()).finish()
    }
}

impl Notices {
    pub fn register(&self, topic: &'static str, handler: Handler) {
        self.handlers.write().entry(topic).or_default().push(handler);
    }

    /// Hands one received payload to the handlers of its topic.
    pub fn dispatch(&self, payload: &str) {
        let mut words = payload.split(' ');
        let Some(topic) = words.next() else { return };
        let handlers = self.handlers.read();
        let Some(handlers) = handlers.get(topic) else { return };
        for key in words.filter(|k| !k.is_empty()) {
            for handler in handlers {
                handler(Notice::Key(key));
            }
        }
    }

    fn drop_everything(&self) {
        for handler in self.handlers.read().values().flatten() {
            handler(Notice::Everything);
        }
    }
}

/// The payloads announcing `keys` of `topic`, each under PostgreSQL's limit.
pub fn payloads(topic: &str, keys: &[String]) -> Vec<String> {
    let mut payloads = Vec::new();
    let mut current = topic.to_string();
    for key in keys {
        if current.len() + 1 + key.len() > MAX_PAYLOAD && current.len() > topic.len() {
            payloads.push(std::mem::replace(&mut current, topic.to_string()));
        }
        current.push(' ');
        current.push_str(key);
    }
    if current.len() > topic.len() {
        payloads.push(current);
    }
    payloads
}

/// Starts the thread that listens for notices on a connection of its own and reconnects when
/// it drops. It ends within a second of the last handle on `notices` going away (a node
/// shutting down, a test server dropped).
pub fn listen(manager: PostgresManager, notices: Weak<Notices>) -> std::io::Result<()> {
    std::thread::Builder::new().name("db-notices".into()).spawn(move || {
        let mut first = true;
        while notices.strong_count() > 0 {
            let mut client = match r2d2::ManageConnection::connect(&manager) {
                Ok(client) => client,
                Err(error) => {
                    tracing::warn!(%error, "cannot listen for cache notices; retrying");
                    std::thread::sleep(TICK);
                    continue;
                }
            };
            if let Err(error) = client.batch_execute(&format!("LISTEN {CHANNEL}")) {
                tracing::warn!(%error, "cannot listen for cache notices; retrying");
                std::thread::sleep(TICK);
                continue;
            }
            if !first && let Some(notices) = notices.upgrade() {
                tracing::info!("listening for cache notices again; dropping cached entries");
                notices.drop_everything();
            }
            first = false;
            receive(&mut client, &notices);
        }
    })?;
    Ok(())
}

/// Hands notices to their handlers until the connection drops or the node is gone.
fn receive(client: &mut ::postgres::Client, notices: &Weak<Notices>) {
    loop {
        let next = client.notifications().timeout_iter(TICK).next();
        let Some(current) = notices.upgrade() else { return };
        match next {
            Ok(Some(notice)) => current.dispatch(notice.payload()),
            Ok(None) if client.is_closed() => return,
            Ok(None) => {}
            Err(error) => {
                tracing::warn!(%error, "the cache notices connection dropped; reconnecting");
                return;
            }
        }
    }
}

/// A node's notices, shared by its clones of [`super::Db`].
pub type SharedNotices = Arc<Notices>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payloads_stay_under_the_limit_and_carry_every_key() {
        let keys: Vec<String> = (0..300).map(|i| format!("{i:064}")).collect();
        let payloads = payloads("session", &keys);
        assert!(payloads.len() > 1);
        assert!(payloads.iter().all(|p| p.len() <= MAX_PAYLOAD && p.starts_with("session ")));
        let carried: Vec<&str> = payloads.iter().flat_map(|p| p.split(' ').skip(1)).collect();
        assert_eq!(carried, keys.iter().map(String::as_str).collect::<Vec<_>>());
        assert!(super::payloads("session", &[]).is_empty());
    }

    #[test]
    fn a_notice_reaches_the_handlers_of_its_topic_only() {
        let notices = Notices::default();
        let seen = Arc::new(parking_lot::Mutex::new(Vec::new()));
        let log = seen.clone();
        notices.register("user", Box::new(move |n| log.lock().push(format!("{n:?}"))));
        notices.dispatch("user a b");
        notices.dispatch("session c");
        notices.drop_everything();
        assert_eq!(*seen.lock(), ["Key(\"a\")", "Key(\"b\")", "Everything"]);
    }

    /// Two nodes on one PostgreSQL: what one announces reaches the other's handler at once,
    /// and a dropped listening connection makes the node drop everything when it is back.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_notice_from_one_node_reaches_the_other() {
        let Some((node_a, node_b)) = crate::db::conn_tests::two_postgres_nodes().await else {
            return;
        };
        let seen = Arc::new(parking_lot::Mutex::new(Vec::<String>::new()));
        let record = seen.clone();
        node_a.on_notice("session", move |n| record.lock().push(format!("{n:?}")));
        node_a.start_listening().unwrap();
        // The listener connects on its own thread: wait until it listens.
        let listening = |db: &super::super::Db| {
            let db = db.clone();
            async move {
                db.run_conn(|conn| {
                    conn.query_row(
                        "SELECT count(*) FROM pg_stat_activity WHERE query = ?1",
                        [format!("LISTEN {CHANNEL}")],
                        |r| r.get::<i64>(0),
                    )
                    .map_err(super::super::DbError::from)
                })
                .await
                .unwrap()
            }
        };
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while listening(&node_b).await == 0 {
            assert!(std::time::Instant::now() < deadline, "node A never listened");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let sent = std::time::Instant::now();
        node_b.announce("session", vec!["ab12".into(), "cd34".into()]).await.unwrap();
        node_b.announce("user", vec!["u1".into()]).await.unwrap();
        while seen.lock().len() < 2 {
            assert!(
                sent.elapsed() < Duration::from_secs(1),
                "not within a second: {:?}",
                seen.lock()
            );
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        assert_eq!(*seen.lock(), ["Key(\"ab12\")", "Key(\"cd34\")"]);

        // Cut node A's listening connection from the server's side: it reconnects and drops
        // everything, since notices sent meanwhile were lost.
        node_b
            .run_conn(|conn| {
                conn.query_row(
                    "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE query = ?1",
                    [format!("LISTEN {CHANNEL}")],
                    |r| r.get::<i64>(0),
                )
                .map_err(super::super::DbError::from)
            })
            .await
            .unwrap();
        let cut = std::time::Instant::now();
        while !seen.lock().iter().any(|n| n == "Everything") {
            assert!(cut.elapsed() < Duration::from_secs(10), "no reconnect: {:?}", seen.lock());
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}
