//! Rate limits (SPEC section 6). Each tier is a GCRA limiter from governor per key (a client
//! IP, an account identifier, a user), held in a moka cache whose entries expire once idle for
//! a whole window, so memory stays bounded when a client sprays addresses.
//!
//! Tiers:
//! - sign-in, sign-up, reset, verification and tokens: `auth_per_account` per window per
//!   (client IP, account identifier), and `auth_per_ip` per window per client IP (phone codes:
//!   the per-IP tier only, beside their own per-number limits);
//!   past the first the answer is 429. Past the second, requests from that address must carry
//!   a solved captcha (428 `captcha_required` without one; a plain 429 with the captcha off),
//!   so the other students behind a dormitory's NAT address can still sign in.
//! - any other unauthenticated API request: `anonymous_per_ip` per window per client IP;
//! - authenticated API requests: `authenticated_per_minute` per user.

use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

use governor::clock::{Clock, DefaultClock};
use governor::middleware::StateInformationMiddleware;
use governor::state::{InMemoryState, NotKeyed};
use governor::{Quota, RateLimiter};

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

/// One tier: `limit` requests per `window` per key.
pub struct Tier {
    limit: u32,
    window: Duration,
    quota: Quota,
    keys: moka::sync::Cache<String, Arc<KeyLimiter>>,
}

impl Tier {
    pub fn new(limit: u32, window: Duration) -> Self {
        let limit = limit.max(1);
        let burst = NonZeroU32::new(limit).expect("at least 1");
        let period = (window / limit).max(Duration::from_millis(1));
        let quota = Quota::with_period(period).expect("a positive period").allow_burst(burst);
        let keys = moka::sync::Cache::builder().max_capacity(MAX_KEYS).time_to_idle(window).build();
        Self { limit, window, quota, keys }
    }

    /// Counts one request for `key`.
    pub fn check(&self, key: &str) -> Result<(), Limited> {
        let limiter = self.keys.get_with(key.to_string(), || {
            Arc::new(RateLimiter::direct(self.quota).with_middleware())
        });
        match limiter.check() {
            Ok(_) => Ok(()),
            Err(not_until) => {
                let wait = not_until.wait_time_from(DefaultClock::default().now());
                let per_request = self.window.as_secs_f64() / f64::from(self.limit);
                Err(Limited {
                    limit: self.limit,
                    retry_after: wait.as_secs().max(1),
                    reset: (wait.as_secs_f64() + per_request * f64::from(self.limit - 1)).ceil()
                        as u64,
                })
            }
        }
    }

    /// Keys currently held (for the memory benchmark).
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

pub struct RateLimits {
    enabled: bool,
    auth_account: Tier,
    auth_ip: Tier,
    pub anonymous_ip: Tier,
    authenticated: Tier,
}

impl RateLimits {
    pub fn new(config: &RateLimitConfig) -> Self {
        let window = Duration::from_secs(config.window_seconds.max(1));
        Self {
            enabled: config.enabled,
            auth_account: Tier::new(config.auth_per_account, window),
            auth_ip: Tier::new(config.auth_per_ip, window),
            anonymous_ip: Tier::new(config.anonymous_per_ip, window),
            authenticated: Tier::new(config.authenticated_per_minute, Duration::from_secs(60)),
        }
    }

    /// A sign-in, sign-up, reset, verification, phone-code or token request from `ip` about
    /// `identifier` (a normalised email, an E.164 phone, or a token's prefix).
    pub fn sensitive(&self, ip: Option<IpAddr>, identifier: &str) -> Result<(), SensitiveRefusal> {
        if !self.enabled {
            return Ok(());
        }
        let ip = ip.map(|ip| ip.to_string()).unwrap_or_default();
        // The per-account tier first: an attacker hammering one account from a dormitory's
        // address uses up that pair, not the address that other students share.
        self.auth_account
            .check(&format!("{ip}|{identifier}"))
            .map_err(SensitiveRefusal::Account)?;
        self.auth_ip.check(&ip).map_err(SensitiveRefusal::Address)
    }

    /// A sensitive request limited per address only (phone codes have per-number limits of
    /// their own).
    pub fn sensitive_by_address(&self, ip: Option<IpAddr>) -> Result<(), Limited> {
        if !self.enabled {
            return Ok(());
        }
        self.auth_ip.check(&ip.map(|ip| ip.to_string()).unwrap_or_default())
    }

    pub fn anonymous(&self, ip: IpAddr) -> Result<(), Limited> {
        if !self.enabled {
            return Ok(());
        }
        self.anonymous_ip.check(&ip.to_string())
    }

    pub fn authenticated(&self, user_id: &str) -> Result<(), Limited> {
        if !self.enabled {
            return Ok(());
        }
        self.authenticated.check(user_id)
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

    #[test]
    fn memory_is_bounded_by_the_key_cache() {
        let tier = Tier::new(10, Duration::from_secs(900));
        for i in 0..10_000u32 {
            tier.check(&format!("10.{}.{}.{}", i >> 16, (i >> 8) & 255, i & 255)).unwrap();
        }
        assert!(tier.keys() <= MAX_KEYS);
    }
}
