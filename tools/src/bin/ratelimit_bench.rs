//! Cost of one rate-limit check (`Tier::check`), for scripts/bench/abuse.sh: nanoseconds per
//! check for one hot key from one thread and from two (a signed-in user's session checks);
//! for 32 users' keys in turn from two threads (a campus app's traffic), looked up and through
//! the holds that cached credentials keep (`Tier::check_held`, what signed-in requests use);
//! for two million distinct keys (address spraying: every check makes a key); and for a key
//! whose limiter refuses (an attacker past the limit). Printed as `key value` lines; with two
//! threads, wall-clock time per check (each thread's CPU time is twice that).
//!
//!     cargo run --release -p gatehouse-tools --bin ratelimit_bench

use std::time::{Duration, Instant};

use gatehouse::ratelimit::{KeyHold, Limited, Tier};

const CHECKS: u32 = 2_000_000;

fn per_check(threads: u32, tier: &Tier, key: impl Fn(u32, u32) -> String + Sync) -> f64 {
    per_check_with(threads, |thread, i| tier.check(&key(thread, i)))
}

/// Wall-clock nanoseconds per check of `check(thread, i)`, CHECKS in all over `threads`.
fn per_check_with(threads: u32, check: impl Fn(u32, u32) -> Result<(), Limited> + Sync) -> f64 {
    let started = Instant::now();
    std::thread::scope(|scope| {
        for thread in 0..threads {
            let check = &check;
            scope.spawn(move || {
                for i in 0..CHECKS / threads {
                    let _ = std::hint::black_box(check(thread, i));
                }
            });
        }
    });
    started.elapsed().as_nanos() as f64 / f64::from(CHECKS)
}

/// The `i`-th of the sprayed client addresses.
fn address(i: u32) -> String {
    format!("10.{}.{}.{}", i >> 16 & 255, i >> 8 & 255, i & 255)
}

fn main() {
    // Limits high enough never to refuse, as abuse.sh's "on" server.
    let tier = Tier::new(4_000_000_000, Duration::from_secs(60));
    let one_key = |_, _| "user-0001".to_string();
    per_check(1, &tier, one_key); // warm-up
    println!("ns_per_check_one_key_one_thread {:.0}", per_check(1, &tier, one_key));
    println!("ns_per_check_one_key_two_threads {:.0}", per_check(2, &tier, one_key));
    let users = |_, i| format!("user-{:04}", i % 32);
    println!("ns_per_check_32_keys_two_threads {:.0}", per_check(2, &tier, users));
    // The same through the holds that cached sessions keep (the authenticated tier).
    // (The user ids are made beforehand: a request has its user's id already.)
    let holds: Vec<KeyHold> = (0..32).map(|_| KeyHold::default()).collect();
    let ids: Vec<String> = (0..32).map(|user| format!("user-{user:04}")).collect();
    let held = |threads, keys: u32| {
        per_check_with(threads, |_, i| {
            let user = (i % keys) as usize;
            tier.check_held(&holds[user], &ids[user])
        })
    };
    println!("ns_per_held_check_one_key_two_threads {:.0}", held(2, 1));
    println!("ns_per_held_check_32_keys_two_threads {:.0}", held(2, 32));
    let tier = Tier::new(4_000_000_000, Duration::from_secs(60));
    println!("ns_per_check_distinct_keys {:.0}", per_check(1, &tier, |_, i| address(i)));
    let tier = Tier::new(1, Duration::from_secs(60));
    println!("ns_per_check_refused {:.0}", per_check(1, &tier, one_key));
    let format_only = Instant::now();
    for i in 0..CHECKS {
        std::hint::black_box(address(i));
    }
    println!(
        "ns_per_key_format {:.0}",
        format_only.elapsed().as_nanos() as f64 / f64::from(CHECKS)
    );
}
