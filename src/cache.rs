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

/// A cached value's JSON, rendered on first use and kept beside the value (a user, a
/// session) for the hottest answer, the session check, to copy. A cache drops the value on
/// every change, and the rendering with it, so the two never disagree.
#[derive(Debug, Default)]
pub struct Rendering(std::sync::OnceLock<Box<serde_json::value::RawValue>>);

impl Rendering {
    /// The JSON of what `render` returns, which is called on the first use only.
    pub fn get_or_render<T: serde::Serialize>(
        &self,
        render: impl FnOnce() -> T,
    ) -> &serde_json::value::RawValue {
        self.0.get_or_init(|| render_json(&render()))
    }
}

/// The JSON of a view: API views have only string keys and derived `Serialize` impls, which
/// cannot fail.
pub fn render_json<T: serde::Serialize>(view: &T) -> Box<serde_json::value::RawValue> {
    serde_json::value::to_raw_value(view).expect("a view with string keys and derived impls")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_rendering_is_made_once() {
        let rendering = Rendering::default();
        assert_eq!(rendering.get_or_render(|| ["first"]).get(), r#"["first"]"#);
        assert_eq!(
            rendering.get_or_render(|| -> [&str; 1] { panic!("rendered twice") }).get(),
            r#"["first"]"#
        );
    }
}
