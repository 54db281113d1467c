//! Rate limits (SPEC section 6). Each tier is a GCRA limiter from governor per key (a client
//! IP, an account identifier, a user), held in a bounded moka cache. A key is forgotten as
//! soon as its limiter is full again, since a fresh limiter then answers the same: a key used
//! once lives one emission interval (window / limit: 3 minutes for 5 sign-ins per 15 minutes,
//! 0.9 s for 1,000 anonymous requests per 15 minutes), never more than a window. So memory
//! stays small when a client sprays addresses or account names, and a soak's unique keys
//! reach their working size within minutes.
//!
//! Tiers:
//! - sign-in, sign-up, reset, verification and tokens: `auth_per_account` per window per
//!   (client IP, account identifier), and `auth_per_ip` per window per client IP (phone codes:
//!   the per-IP tier only, beside their own per-number limits);
//!   past the first the answer is 429. Past the second, requests from that address must carry
//!   a solved captcha (428 `captcha_required` without one; a plain 429 with the captcha off),
//!   so the other students behind a dormitory's NAT address can still sign in.
//! - any other unauthenticated API request: `anonymous_per_ip` per window per client IP;
//! - authenticated API requests: `authenticated_per_minute` per user. A cached session or
//!   access token holds its user's key ([`KeyHold`]), so a signed-in request counts without
//!   a cache lookup: moka's bookkeeping for a read, shared by the server's threads, cost more
//!   than the rest of the check (`scripts/bench/abuse.sh`).

use std::hash::{BuildHasher, RandomState};
use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use governor::clock::{Clock, DefaultClock};
use governor::middleware::StateInformationMiddleware;
use governor::state::{InMemoryState, NotKeyed};
use governor::{Quota, RateLimiter};
use moka::Expiry;

use crate::config::RateLimitConfig;

type KeyLimiter = RateLimiter<NotKeyed, InMemoryState, DefaultClock, StateInformationMiddleware>;

/// Keys held per tier at most; the least recently used go first.
const MAX_KEYS: u64 = 200_000;

/// A refused request: what the 429 answer says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limited {
    pub limit: u32,
    /// Seconds until one more request is allowed (at least 1).
    pub retry_after: u64,
    /// Seconds until the whole allowance is back.
    pub reset: u64,
}

/// A cached credential's hold on its user's key in the authenticated tier (see
/// [`Tier::check_held`]): empty until the first request counts.
#[derive(Default)]
pub struct KeyHold(OnceLock<(u64, Arc<KeyState>)>);

impl std::fmt::Debug for KeyHold {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyHold").field("bound", &self.0.get().is_some()).finish()
    }
}

/// One key's limiter, when it will be full again, and the cache's deadline for it as last
/// set (both in nanoseconds after the tier's epoch). The deadline is not cleared when the
/// cache evicts the state for room: see [`Tier::check_held`] for what that costs a hold.
struct KeyState {
    limiter: KeyLimiter,
    full_at: AtomicU64,
    expires_at: AtomicU64,
}

/// Kept beyond the computed moment: the cache's clock reads a little before the limiter's,
/// and without a margin almost every request to a full limiter would re-arm its key.
const SLACK: Duration = Duration::from_secs(1);

/// How long a key is kept: until its limiter is full again (and [`SLACK`]). At a creation,
/// the request about to be counted is assumed accepted (one more emission interval), which a
/// refusal only overestimates. A read leaves the deadline alone: [`Tier::count`] arms the key
/// again whenever a counted request moves the moment its limiter is full past the deadline
/// (which also covers a request that raced the key's creation, unseen by the cache). Never
/// longer than the window, after which any limiter is full.
struct UntilFull {
    epoch: Instant,
    period: Duration,
    window: Duration,
}

impl UntilFull {
    fn keep(&self, state: &KeyState, now: Instant, counted: Duration) -> Duration {
        let now_ns = nanos(now.saturating_duration_since(self.epoch));
        let left = state.full_at.load(Ordering::Relaxed).saturating_sub(now_ns);
        let keep = (Duration::from_nanos(left) + counted + SLACK).min(self.window);
        state.expires_at.store(now_ns.saturating_add(nanos(keep)), Ordering::Relaxed);
        keep
    }
}

fn nanos(duration: Duration) -> u64 {
    u64::try_from(duration.as_nanos()).unwrap_or(u64::MAX)
}

impl Expiry<u64, Arc<KeyState>> for UntilFull {
    fn expire_after_create(&self, _: &u64, state: &Arc<KeyState>, at: Instant) -> Option<Duration> {
        Some(self.keep(state, at, self.period))
    }

    fn expire_after_update(
        &self,
        _: &u64,
        state: &Arc<KeyState>,
        at: Instant,
        _: Option<Duration>,
    ) -> Option<Duration> {
        Some(self.keep(state, at, Duration::ZERO))
    }
}

/// One tier: `limit` requests per `window` per key.
pub struct Tier {
    limit: u32,
    window: Duration,
    period: Duration,
    quota: Quota,
    epoch: Instant,
    /// One clock for all of the tier's limiters: making a quanta clock probes the CPU
    /// (`cpuid`, a trap to the hypervisor in a VM) and took 18 µs, once per new key and once
    /// per refusal before it was shared.
    clock: DefaultClock,
    /// Keyed by a keyed 64-bit hash of the key, never the key itself: no email address or
    /// phone number is held in memory for the limiter, and an entry needs no allocation of
    /// its own. (Two keys of one tier share a limiter only on a hash collision: about one in
    /// 10^9 with the cache full.)
    keys: crate::cache::Cache<u64, Arc<KeyState>>,
    hasher: RandomState,
}

impl Tier {
    pub fn new(limit: u32, window: Duration) -> Self {
        let limit = limit.max(1);
        let burst = NonZeroU32::new(limit).expect("at least 1");
        let period = (window / limit).max(Duration::from_millis(1));
        let quota = Quota::with_period(period).expect("a positive period").allow_burst(burst);
        let epoch = Instant::now();
        let keys = moka::sync::Cache::builder()
            .max_capacity(MAX_KEYS)
            .expire_after(UntilFull { epoch, period, window })
            .build_with_hasher(crate::cache::Hasher::default());
        Self {
            limit,
            window,
            period,
            quota,
            epoch,
            clock: DefaultClock::default(),
            keys,
            hasher: RandomState::new(),
        }
    }

    /// Counts one request for `key`.
    pub fn check(&self, key: &str) -> Result<(), Limited> {
        let hash = self.hasher.hash_one(key);
        self.count(hash, &self.state(hash))
    }

    /// Counts one request for `key`, using the key's state that `hold` keeps while the cache
    /// holds it, so that no lookup is needed. Once the cache has let the state go (its limiter
    /// was full again), the next request puts it back, unless another credential of the same
    /// user has made the key anew: that request, and the hold's later ones, then count against
    /// the cache's state, found by a lookup as [`Tier::check`] does. Holds live with cached
    /// credentials, a minute at most. A known limit: a state evicted for room (past
    /// `MAX_KEYS`) keeps its deadline, so its holds go on counting against it while another
    /// credential of the user may make the key anew: the user's limit is then split for up to
    /// the deadline, a minute at most (docs/benchmarks.md, "Rate-limit layer, 2026-12-04").
    pub fn check_held(&self, hold: &KeyHold, key: &str) -> Result<(), Limited> {
        let (hash, held) = hold.0.get_or_init(|| {
            let hash = self.hasher.hash_one(key);
            (hash, self.state(hash))
        });
        // Near its deadline the cache may already have dropped the state (the deadline and
        // the cache's clock are read apart): look it up instead. [`Tier::count`] keeps the
        // deadline of a key in use half the slack ahead, so a key used every quarter of it
        // stays on this path.
        let now = nanos(self.epoch.elapsed() + SLACK / 4);
        if now < held.expires_at.load(Ordering::Relaxed) {
            self.count(*hash, held)
        } else {
            let state = self.keys.get_with(*hash, || held.clone());
            self.count(*hash, &state)
        }
    }

    /// The cache's state for a key's hash, made on first use.
    fn state(&self, hash: u64) -> Arc<KeyState> {
        self.keys.get_with(hash, || {
            Arc::new(KeyState {
                limiter: RateLimiter::direct_with_clock(self.quota, self.clock.clone())
                    .with_middleware(),
                full_at: AtomicU64::new(0),
                expires_at: AtomicU64::new(0),
            })
        })
    }

    /// Counts one request against a key's state, and keeps the key in the cache until its
    /// limiter is full again.
    fn count(&self, hash: u64, state: &Arc<KeyState>) -> Result<(), Limited> {
        // On a refusal, the wait until one more request is allowed.
        let outcome =
            state.limiter.check().map_err(|not_until| not_until.wait_time_from(self.clock.now()));
        // Time until the limiter is full again: one interval per cell in use.
        let until_full = match &outcome {
            Ok(snapshot) => self.period * (self.limit - snapshot.remaining_burst_capacity()),
            Err(wait) => *wait + self.period * (self.limit - 1),
        };
        let now = self.epoch.elapsed();
        let full_at = nanos(now + until_full);
        state.full_at.fetch_max(full_at, Ordering::Relaxed);
        // The cache never needs to keep a key longer than a window from now. A deadline
        // short of that by more than half the slack is armed again (within the margin, a key
        // may be forgotten up to half a second before its limiter is full: half a second's
        // worth of requests early), and so is one less than half the slack ahead, so that
        // the holds of a key in use stay valid (at most two re-arms a second for a key).
        let needed = full_at.min(nanos(now + self.window));
        let deadline = state.expires_at.load(Ordering::Relaxed);
        let now_ns = nanos(now);
        if needed > deadline.saturating_add(nanos(SLACK / 2))
            || now_ns.saturating_add(nanos(SLACK / 2)) > deadline
        {
            self.keys.insert(hash, state.clone());
        }
        match outcome {
            Ok(_) => Ok(()),
            // The whole allowance is back when the limiter is full again.
            Err(wait) => Err(Limited {
                limit: self.limit,
                retry_after: wait.as_secs().max(1),
                reset: until_full.as_secs_f64().ceil() as u64,
            }),
        }
    }

    /// Forgets `key`: its next request finds a full allowance.
    pub fn forget(&self, key: &str) {
        self.keys.invalidate(&self.hasher.hash_one(key));
    }

    /// Keys currently held (for `/metrics` and the memory benchmark).
    pub fn keys(&self) -> u64 {
        self.keys.run_pending_tasks();
        self.keys.entry_count()
    }
}

/// Which tier refused a sensitive request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SensitiveRefusal {
    /// The (address, account) pair: always a 429.
    Account(Limited),
    /// The address as a whole: a solved captcha lets the request through.
    Address(Limited),
}

/// The key a client address is counted under: an IPv4 address as it is, an IPv6 address by
/// its network of `v6_prefix` bits (a subscriber usually holds a whole /64 and can rotate
/// through it at will, so counting single IPv6 addresses counts nothing). An IPv4 address
/// mapped into IPv6 is the IPv4 address.
pub fn address_key(ip: IpAddr, v6_prefix: u8) -> String {
    match ip.to_canonical() {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => {
            let prefix = v6_prefix.min(128);
            let mask = u128::MAX.checked_shl(u32::from(128 - prefix)).unwrap_or(0);
            let network = std::net::Ipv6Addr::from(u128::from(v6) & mask);
            format!("{network}/{prefix}")
        }
    }
}

pub struct RateLimits {
    enabled: bool,
    v6_prefix: u8,
    auth_account: Tier,
    auth_ip: Tier,
    pub anonymous_ip: Tier,
    authenticated: Tier,
    strength_ip: Tier,
}

impl RateLimits {
    pub fn new(config: &RateLimitConfig) -> Self {
        let window = Duration::from_secs(config.window_seconds.max(1));
        Self {
            enabled: config.enabled,
            v6_prefix: config.ipv6_prefix,
            auth_account: Tier::new(config.auth_per_account, window),
            auth_ip: Tier::new(config.auth_per_ip, window),
            anonymous_ip: Tier::new(config.anonymous_per_ip, window),
            authenticated: Tier::new(config.authenticated_per_minute, Duration::from_secs(60)),
            strength_ip: Tier::new(config.strength_per_ip, window),
        }
    }

    /// The key `ip` is counted under in the per-address tiers (see [`address_key`]); empty
    /// when the address is unknown.
    pub fn address(&self, ip: Option<IpAddr>) -> String {
        ip.map(|ip| address_key(ip, self.v6_prefix)).unwrap_or_default()
    }

    fn pair(&self, ip: Option<IpAddr>, identifier: &str) -> String {
        format!("{}|{identifier}", self.address(ip))
    }

    /// A sign-in, sign-up, reset, verification, phone-code or token request from `ip` about
    /// `identifier` (a normalised email, an E.164 phone, or a token's prefix).
    pub fn sensitive(&self, ip: Option<IpAddr>, identifier: &str) -> Result<(), SensitiveRefusal> {
        if !self.enabled {
            return Ok(());
        }
        // The per-account tier first: an attacker hammering one account from a dormitory's
        // address uses up that pair, not the address that other students share.
        self.auth_account.check(&self.pair(ip, identifier)).map_err(SensitiveRefusal::Account)?;
        self.auth_ip.check(&self.address(ip)).map_err(SensitiveRefusal::Address)
    }

    /// A request limited per (address, identifier) only: refreshing an API token, whose
    /// 256-bit secret cannot be guessed, and whose apps may share one carrier-grade NAT
    /// address by the thousand (the anonymous per-address tier still counts them).
    pub fn sensitive_by_pair(&self, ip: Option<IpAddr>, identifier: &str) -> Result<(), Limited> {
        if !self.enabled {
            return Ok(());
        }
        self.auth_account.check(&self.pair(ip, identifier))
    }

    /// A sign-in from `ip` to `identifier` succeeded: the pair's allowance is whole again, so
    /// that only failures use it up (NIST SP 800-63B 5.2.2, OWASP): a student signing in on a
    /// sixth device within the window is not refused. The per-address tier is not forgiven.
    pub fn forgive(&self, ip: Option<IpAddr>, identifier: &str) {
        if self.enabled {
            self.auth_account.forget(&self.pair(ip, identifier));
        }
    }

    /// A sensitive request limited per address only (phone codes have per-number limits of
    /// their own).
    pub fn sensitive_by_address(&self, ip: Option<IpAddr>) -> Result<(), Limited> {
        if !self.enabled {
            return Ok(());
        }
        self.auth_ip.check(&self.address(ip))
    }

    /// A password-strength check (the sign-up page's live meter asks a moment after typing
    /// stops, several times per password): a tier of its own, so that typing neither uses up
    /// the sign-in allowance that a dormitory's address shares nor runs zxcvbn unbounded.
    pub fn strength(&self, ip: Option<IpAddr>) -> Result<(), Limited> {
        if !self.enabled {
            return Ok(());
        }
        self.strength_ip.check(&self.address(ip))
    }

    /// Keys held by each tier, named as in `gatehouse_rate_limit_keys{tier}`.
    pub fn key_counts(&self) -> [(&'static str, u64); 5] {
        [
            ("auth_account", self.auth_account.keys()),
            ("auth_ip", self.auth_ip.keys()),
            ("anonymous_ip", self.anonymous_ip.keys()),
            ("authenticated", self.authenticated.keys()),
            ("strength_ip", self.strength_ip.keys()),
        ]
    }

    pub fn anonymous(&self, ip: IpAddr) -> Result<(), Limited> {
        if !self.enabled {
            return Ok(());
        }
        self.anonymous_ip.check(&address_key(ip, self.v6_prefix))
    }

    /// A request signed in as `user_id`, whose cached credential holds `hold`.
    pub fn authenticated(&self, hold: &KeyHold, user_id: &str) -> Result<(), Limited> {
        if !self.enabled {
            return Ok(());
        }
        self.authenticated.check_held(hold, user_id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tier_allows_its_limit_then_says_when_to_retry() {
        let tier = Tier::new(5, Duration::from_secs(900));
        for _ in 0..5 {
            assert!(tier.check("a").is_ok());
        }
        let limited = tier.check("a").unwrap_err();
        assert_eq!(limited.limit, 5);
        assert!((170..=180).contains(&limited.retry_after), "{limited:?}");
        assert!(limited.reset >= limited.retry_after);
        assert!(tier.check("b").is_ok(), "keys are independent");
    }

    #[test]
    fn one_account_hammered_from_an_address_leaves_the_address_usable() {
        let config = RateLimitConfig::default();
        let limits = RateLimits::new(&config);
        let dorm: IpAddr = "203.0.113.7".parse().unwrap();
        let refused =
            (0..20).filter(|_| limits.sensitive(Some(dorm), "victim@north.edu").is_err()).count();
        assert_eq!(refused, 15);
        assert!(limits.sensitive(Some(dorm), "student@north.edu").is_ok());
    }

    /// A key is forgotten once its limiter is full again, and not before: a key used once is
    /// gone after one emission interval (and the slack), a key used up is still limited later.
    #[test]
    fn keys_live_until_their_limiter_is_full_again() {
        // 5 per 8 s: one cell comes back every 1.6 s; "once" is kept 1.6 s + SLACK.
        let tier = Tier::new(5, Duration::from_secs(8));
        tier.check("once").unwrap();
        for _ in 0..5 {
            tier.check("used-up").unwrap();
        }
        assert!(tier.check("used-up").is_err());
        assert_eq!(tier.keys(), 2);
        std::thread::sleep(Duration::from_millis(3_500));
        let held = |key: &str| tier.keys.contains_key(&tier.hasher.hash_one(key));
        assert!(!held("once"), "a key used once outlived its interval");
        assert!(held("used-up"), "a used-up key was forgotten early");
        // About 2 of its 5 cells have come back: forgetting it would allow all 5.
        let allowed = (0..5).filter(|_| tier.check("used-up").is_ok()).count();
        assert!((1..=4).contains(&allowed), "{allowed} allowed");
    }

    /// Two credentials of one user (two sessions, or a session and a token) hold the same key,
    /// so their requests count against one limit, as looked-up checks do.
    #[test]
    fn holds_of_one_key_share_its_limit() {
        let tier = Tier::new(5, Duration::from_secs(60));
        let (phone, laptop) = (KeyHold::default(), KeyHold::default());
        for i in 0..5 {
            let hold = if i % 2 == 0 { &phone } else { &laptop };
            assert!(tier.check_held(hold, "user-1").is_ok(), "request {i}");
        }
        assert!(tier.check_held(&phone, "user-1").is_err());
        assert!(tier.check_held(&laptop, "user-1").is_err());
        assert!(tier.check("user-1").is_err(), "a lookup finds the held key's state");
        assert!(tier.check_held(&KeyHold::default(), "user-2").is_ok(), "users are independent");
    }

    /// A hold outliving its key (the limiter was full again and the cache let it go) counts
    /// against the key the cache holds now, with the other credentials of its user.
    #[test]
    fn a_hold_whose_key_was_forgotten_counts_against_the_current_key() {
        // 2 per 2 s: a key used once is kept until its window has passed.
        let tier = Tier::new(2, Duration::from_secs(2));
        let old = KeyHold::default();
        tier.check_held(&old, "user-1").unwrap();
        std::thread::sleep(Duration::from_millis(2_600));
        assert!(!tier.keys.contains_key(&tier.hasher.hash_one("user-1")), "the key was kept");
        let new = KeyHold::default();
        tier.check_held(&new, "user-1").unwrap();
        tier.check_held(&old, "user-1").unwrap();
        assert!(tier.check_held(&new, "user-1").is_err(), "the old hold counted elsewhere");
        assert!(tier.check_held(&old, "user-1").is_err());
    }

    /// A hold alone on its key puts the state back when the cache has let it go, and then
    /// counts without lookups again.
    #[test]
    fn a_hold_alone_puts_its_forgotten_key_back() {
        let tier = Tier::new(2, Duration::from_secs(2));
        let hold = KeyHold::default();
        tier.check_held(&hold, "user-1").unwrap();
        let hash = tier.hasher.hash_one("user-1");
        std::thread::sleep(Duration::from_millis(2_600));
        assert!(!tier.keys.contains_key(&hash), "the key was kept");
        tier.check_held(&hold, "user-1").unwrap();
        let held = &hold.0.get().unwrap().1;
        assert!(Arc::ptr_eq(&tier.keys.get(&hash).unwrap(), held), "not put back");
        let deadline = held.expires_at.load(Ordering::Relaxed);
        assert!(deadline > nanos(tier.epoch.elapsed() + SLACK / 2), "not armed ahead");
        assert!(tier.check_held(&hold, "user-1").is_ok());
        assert!(tier.check_held(&hold, "user-1").is_err(), "two per window");
    }

    /// A hot key counted only through a hold (the cache sees no reads) stays the user's key:
    /// a second credential arriving later shares the used-up limiter, where a forgotten key
    /// would hand it a fresh allowance.
    #[test]
    fn a_held_key_in_use_is_kept() {
        // 4 per 4 s: one cell back a second, used up again by the phone within 250 ms.
        let tier = Tier::new(4, Duration::from_secs(4));
        let phone = KeyHold::default();
        for _ in 0..4 {
            tier.check_held(&phone, "user-1").unwrap();
        }
        let started = Instant::now();
        while started.elapsed() < Duration::from_secs(3) {
            let _ = tier.check_held(&phone, "user-1");
            std::thread::sleep(Duration::from_millis(250));
        }
        assert!(tier.keys.contains_key(&tier.hasher.hash_one("user-1")), "the key was forgotten");
        let laptop = KeyHold::default();
        let allowed = (0..4).filter(|_| tier.check_held(&laptop, "user-1").is_ok()).count();
        assert!(allowed <= 1, "the laptop got {allowed} of a used-up allowance");
    }

    #[test]
    fn ipv6_clients_are_counted_per_network_and_mapped_ipv4_as_ipv4() {
        let key = |ip: &str, prefix| address_key(ip.parse().unwrap(), prefix);
        assert_eq!(key("2001:db8:1:2:aaaa::1", 64), "2001:db8:1:2::/64");
        assert_eq!(key("2001:db8:1:2:ffff:ffff:ffff:ffff", 64), "2001:db8:1:2::/64");
        assert_ne!(key("2001:db8:1:3::1", 64), key("2001:db8:1:2::1", 64));
        assert_eq!(key("2001:db8:1:2:aaaa::1", 48), "2001:db8:1::/48");
        assert_eq!(key("2001:db8::1", 128), "2001:db8::1/128");
        assert_eq!(key("::ffff:203.0.113.7", 64), "203.0.113.7");
        assert_eq!(key("203.0.113.7", 64), "203.0.113.7");
    }

    /// A /64 rotating through its addresses is one client to every per-address tier.
    #[test]
    fn a_rotating_ipv6_client_uses_up_one_allowance() {
        let config = RateLimitConfig { anonymous_per_ip: 10, ..RateLimitConfig::default() };
        let limits = RateLimits::new(&config);
        let allowed = (0..20u16)
            .filter(|i| limits.anonymous(format!("2001:db8:0:7::{i:x}").parse().unwrap()).is_ok())
            .count();
        assert_eq!(allowed, 10);
        assert!(limits.anonymous("2001:db8:0:8::1".parse().unwrap()).is_ok(), "another /64");
    }

    /// Only failures use up a (address, account) pair: a success makes it whole again.
    #[test]
    fn a_successful_sign_in_forgives_its_pair_not_its_address() {
        let config = RateLimitConfig { auth_per_ip: 12, ..RateLimitConfig::default() };
        let limits = RateLimits::new(&config);
        let dorm: Option<IpAddr> = Some("203.0.113.7".parse().unwrap());
        for device in 0..10 {
            assert!(limits.sensitive(dorm, "ada@north.edu").is_ok(), "sign-in {device}");
            limits.forgive(dorm, "ada@north.edu");
        }
        for _ in 0..2 {
            assert!(limits.sensitive(dorm, "ada@north.edu").is_ok());
        }
        // The address has used 12 of 12: the pair is whole, the address is not.
        assert!(matches!(
            limits.sensitive(dorm, "ada@north.edu"),
            Err(SensitiveRefusal::Address(_))
        ));
        let fresh = RateLimits::new(&RateLimitConfig::default());
        for _ in 0..5 {
            fresh.sensitive(dorm, "ada@north.edu").unwrap();
        }
        assert!(matches!(
            fresh.sensitive(dorm, "ada@north.edu"),
            Err(SensitiveRefusal::Account(_))
        ));
    }

    #[test]
    fn memory_is_bounded_by_the_key_cache() {
        let tier = Tier::new(10, Duration::from_secs(900));
        for i in 0..10_000u32 {
            tier.check(&format!("10.{}.{}.{}", i >> 16, (i >> 8) & 255, i & 255)).unwrap();
        }
        assert!(tier.keys() <= MAX_KEYS);
    }
}
