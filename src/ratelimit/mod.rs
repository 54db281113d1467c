//! Rate limits. Each tier is a GCRA limiter from governor per key (a client
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
mod tests;
