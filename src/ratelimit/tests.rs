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
    assert!(matches!(limits.sensitive(dorm, "ada@north.edu"), Err(SensitiveRefusal::Address(_))));
    let fresh = RateLimits::new(&RateLimitConfig::default());
    for _ in 0..5 {
        fresh.sensitive(dorm, "ada@north.edu").unwrap();
    }
    assert!(matches!(fresh.sensitive(dorm, "ada@north.edu"), Err(SensitiveRefusal::Account(_))));
}

#[test]
fn memory_is_bounded_by_the_key_cache() {
    let tier = Tier::new(10, Duration::from_secs(900));
    for i in 0..10_000u32 {
        tier.check(&format!("10.{}.{}.{}", i >> 16, (i >> 8) & 255, i & 255)).unwrap();
    }
    assert!(tier.keys() <= MAX_KEYS);
}
