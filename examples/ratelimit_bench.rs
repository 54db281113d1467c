//! Cost of one rate-limit check (`Tier::check`), for scripts/bench/abuse.sh: nanoseconds per
//! check for one hot key from one thread and from two (a signed-in user's session checks),
//! for two million distinct keys (address spraying: every check makes a key), and for a key
//! whose limiter refuses (an attacker past the limit). Printed as `key value` lines.
//!
//!     cargo build --release --examples && target/release/examples/ratelimit_bench

use std::time::{Duration, Instant};

use gatehouse::ratelimit::Tier;

const CHECKS: u32 = 2_000_000;

fn per_check(threads: u32, tier: &Tier, key: impl Fn(u32, u32) -> String + Sync) -> f64 {
    let started = Instant::now();
    std::thread::scope(|scope| {
        for thread in 0..threads {
            let key = &key;
            scope.spawn(move || {
                for i in 0..CHECKS / threads {
                    let _ = std::hint::black_box(tier.check(&key(thread, i)));
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
