//! Costs of personal-data encryption, for scripts/bench/privacy.sh:
//!
//! - `micro`: microseconds to open one user row's four sealed columns as a request does it
//!   (`store::find_by_id`), against the same query reading the columns without opening them,
//!   and one seal. Printed as `key value` lines.
//! - `rotate USERS`: seeds USERS accounts straight through the store (one precomputed password
//!   hash), then times `keys rotate`'s re-sealing of all of them.
//!
//!     cargo run --release -p gatehouse-tools --bin privacy_bench -- DATA_DIR micro|rotate [USERS]

use std::sync::Arc;
use std::time::Instant;

use gatehouse::accounts::{self as store, NewUser};
use gatehouse::clock::{Clock, SystemClock};
use gatehouse::config::Config;
use gatehouse::drivers::sealed_files::LicenceImages;
use gatehouse::pii::rotate::{self, RotateOptions};

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let data_dir = args.get(1).expect("DATA_DIR");
    let mode = args.get(2).map(String::as_str).unwrap_or("micro");
    let users: usize = args.get(3).and_then(|s| s.parse().ok()).unwrap_or(100_000);
    let mut config = Config::default();
    config.storage.data_dir = data_dir.into();
    config.server.listen = "127.0.0.1:0".parse()?;
    let config = config.finish()?;
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let runtime = tokio::runtime::Runtime::new()?;
    let (state, _, _) =
        runtime.block_on(async { gatehouse::startup::build(config, clock.clone()) })?;
    let hash = runtime.block_on(state.accounts.hasher().hash("Correct-Horse-42"))?;
    let pii = state.pii.clone();
    let mut conn = state.db.get()?;

    let seed = |conn: &mut rusqlite::Connection, from: usize, count: usize| -> anyhow::Result<()> {
        for chunk in (from..from + count).collect::<Vec<_>>().chunks(10_000) {
            let tx = conn.transaction()?;
            for i in chunk {
                let email = format!("student{i}@bench.edu");
                let id = uuid::Uuid::new_v4().to_string();
                let index = state.accounts.email_index(&email);
                store::insert(
                    &tx,
                    &pii,
                    &NewUser {
                        id: &id,
                        email_index: &index,
                        email: &email,
                        display_name: "Bench Student",
                        legal_name: Some("Benchmark Legal Name"),
                        phone: Some("+919876543210"),
                        phone_index: None,
                        password_hash: Some(&hash),
                        campus_id: None,
                        role: "user",
                        email_verified_at: Some(0),
                        now: 0,
                    },
                )?;
            }
            tx.commit()?;
        }
        Ok(())
    };

    match mode {
        "micro" => {
            seed(&mut conn, 0, 1)?;
            let id: String = conn.query_row("SELECT id FROM users LIMIT 1", [], |r| r.get(0))?;
            let rounds = 20_000;
            let started = Instant::now();
            for _ in 0..rounds {
                std::hint::black_box(store::find_by_id(&conn, &pii, &id)?);
            }
            let opened = started.elapsed().as_secs_f64() * 1e6 / rounds as f64;
            let started = Instant::now();
            for _ in 0..rounds {
                let row: (String, String, String, Option<String>, Option<String>) = conn
                    .query_row(
                        "SELECT u.id, u.email, u.display_name, u.legal_name, u.phone
                     FROM users u LEFT JOIN campuses c ON c.id = u.campus_id WHERE u.id = ?1",
                        [&id],
                        |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)),
                    )?;
                std::hint::black_box(row);
            }
            let plain = started.elapsed().as_secs_f64() * 1e6 / rounds as f64;
            let started = Instant::now();
            for _ in 0..rounds {
                std::hint::black_box(pii.seal_text("users.email", "student0@bench.edu"));
            }
            let seal = started.elapsed().as_secs_f64() * 1e6 / rounds as f64;
            println!("user_row_opened_us {opened:.2}");
            println!("user_row_sealed_read_us {plain:.2}");
            println!("open_cost_us {:.2}", opened - plain);
            println!("seal_us {seal:.2}");
        }
        "rotate" => {
            let started = Instant::now();
            seed(&mut conn, 0, users)?;
            println!("seeded_users {users}");
            println!("seed_seconds {:.2}", started.elapsed().as_secs_f64());
            let started = Instant::now();
            let report = rotate::rotate(
                &gatehouse::db::conn::Conn::Sqlite(&conn),
                &pii,
                (gatehouse::startup::SEALED, &LicenceImages(&*state.drivers.uploads)),
                clock.unix(),
                RotateOptions {
                    on_start: &mut |_| {},
                    on_progress: &mut |_| {},
                    settle: std::time::Duration::ZERO,
                },
            )?;
            let seconds = started.elapsed().as_secs_f64();
            println!("rotated_values {}", report.values_resealed);
            println!("rotate_seconds {seconds:.2}");
            println!("rotate_seconds_per_100k_users {:.2}", seconds * 100_000.0 / users as f64);
        }
        other => anyhow::bail!("unknown mode {other}"),
    }
    Ok(())
}
