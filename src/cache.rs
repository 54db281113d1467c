//! The in-process caches on the request path (sessions, users, pending policies, verified
//! access tokens, rate-limit keys): moka caches that hash their keys with foldhash instead of
//! the standard library's SipHash. On a session check, three lookups hashed with SipHash
//! were 2% of the request's instructions.
//!
//! A fast hash is sound here because a client never chooses a key that gets stored: keys are
//! ids the server made, SHA-256 digests of tokens, tokens whose signature was verified, or
//! keyed SipHash values of the rate limiter. foldhash is still seeded at random per cache, so
//! bucket positions cannot be predicted from outside.

/// The hasher of [`Cache`].
pub type Hasher = foldhash::fast::RandomState;

/// A bounded, concurrent cache keyed with [`Hasher`].
pub type Cache<K, V> = moka::sync::Cache<K, V, Hasher>;

/// A cache of at most `capacity` entries, each dropped `ttl` after it was written.
pub fn with_ttl<K, V>(capacity: u64, ttl: std::time::Duration) -> Cache<K, V>
where
    K: std::hash::Hash + Eq + Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
{
    moka::sync::Cache::builder()
        .max_capacity(capacity)
        .time_to_live(ttl)
        .build_with_hasher(Hasher::default())
}
