//! Raw argon2id verification rate with Gatehouse's parameters, one thread per core at normal
//! priority: the machine's rate, the ceiling for sign-ins per second. Used by
//! scripts/bench/accounts.sh and storm.sh.
//!
//!     cargo run --release -p gatehouse-tools --bin argon2_rate -- [SECONDS]

use std::time::{Duration, Instant};

use gatehouse::accounts::password::{PasswordHasherPool, Verified};
use gatehouse::db::BlockingPool;

#[tokio::main]
async fn main() {
    let seconds: u64 = std::env::args().nth(1).and_then(|s| s.parse().ok()).unwrap_or(5);
    let threads = gatehouse::startup::hashing_threads();
    let pool = PasswordHasherPool::new(BlockingPool::new("hashing", threads), [7; 32]);
    let hash = pool.hash("Correct-Horse-42").await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let started = Instant::now();
    let workers: Vec<_> = (0..threads * 2)
        .map(|_| {
            let (pool, hash) = (pool.clone(), hash.clone());
            tokio::spawn(async move {
                let mut done = 0u64;
                while Instant::now() < deadline {
                    assert_eq!(
                        pool.verify("Correct-Horse-42", Some(&hash)).await.unwrap(),
                        Verified::Yes
                    );
                    done += 1;
                }
                done
            })
        })
        .collect();
    let mut total = 0;
    for worker in workers {
        total += worker.await.unwrap();
    }
    println!("{:.1}", total as f64 / started.elapsed().as_secs_f64());
}
