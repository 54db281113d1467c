//! `gatehouse seed --users N`: fills a database with N realistic, verified campus accounts, a
//! session each and their audit rows (registration and sign-in), for benchmarks at scale.
//!
//! Rows are written through the feature stores (`accounts::store::insert`,
//! `Sessions::issue`, `audit::record`), so whatever those do to a row (blind indexes, and
//! later encryption at rest) the seeded rows get too. Speed comes from batching: one
//! transaction per [`BATCH`] users, and a single argon2 hash of the shared password computed
//! once. Every seeded account has that password, so a benchmark can sign any of them in.
//! Emails are `first.last.N@DOMAIN`, N the account's number from 0, so they never collide
//! with each other; re-seeding the same numbers skips the existing accounts.

use std::sync::Arc;
use std::time::Instant;

use anyhow::Context;

use crate::accounts;
use crate::accounts::password::PasswordHasherPool;
use crate::audit::{self, AuditEvent, actions};
use crate::config::Config;
use crate::contact::email;
use crate::db::BlockingPool;
use crate::identity::Amr;
use crate::sessions::Sessions;

/// Accounts written per transaction: big enough that fsyncs do not dominate, small enough
/// that a reader waits little for the write lock.
const BATCH: u64 = 10_000;

const FIRST: &[&str] = &[
    "aarav", "aditi", "akira", "amara", "ananya", "arjun", "chen", "chloe", "diego", "elena",
    "fatima", "farah", "hana", "ishaan", "jonas", "kavya", "leila", "liam", "lucia", "mateo",
    "meera", "nadia", "noah", "olga", "priya", "rahul", "rohan", "sara", "sofia", "tariq",
    "vikram", "yusuf", "zara", "zoe",
];
const LAST: &[&str] = &[
    "agarwal",
    "bauer",
    "chowdhury",
    "das",
    "fernandes",
    "garcia",
    "gupta",
    "ito",
    "iyer",
    "kapoor",
    "khan",
    "kim",
    "kumar",
    "lee",
    "menon",
    "mukherjee",
    "nair",
    "nguyen",
    "okafor",
    "patel",
    "rao",
    "reddy",
    "rossi",
    "sato",
    "shah",
    "sharma",
    "singh",
    "smith",
    "tanaka",
    "verma",
    "wang",
    "yadav",
];
const USER_AGENTS: &[&str] = &[
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Safari/537.36",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 Mobile/15E148",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0",
    "RideShare/3.2 (Android 15)",
];

/// The `n`-th seeded account's email and display name.
pub fn seeded_identity(n: u64, domain: &str) -> (String, String) {
    let first = FIRST[(n % FIRST.len() as u64) as usize];
    let last = LAST[((n / FIRST.len() as u64) % LAST.len() as u64) as usize];
    let display = format!(
        "{}{} {}{}",
        &first[..1].to_uppercase(),
        &first[1..],
        &last[..1].to_uppercase(),
        &last[1..]
    );
    (format!("{first}.{last}.{n}@{domain}"), display)
}

pub struct SeedReport {
    pub created: u64,
    pub skipped: u64,
    pub seconds: f64,
}

/// Seeds `users` accounts numbered `0..users` on the campus that owns `domain` (created as
/// "Seed University" when no campus has it), all with `password`. `progress` is called with
/// the number of accounts done after each batch.
pub async fn run(
    config: Config,
    users: u64,
    domain: &str,
    password: &str,
    progress: impl Fn(u64) + Send + 'static,
) -> anyhow::Result<SeedReport> {
    let domain = email::normalize(domain);
    anyhow::ensure!(email::is_domain(&domain), "{domain:?} is not a domain name");
    if let Some(why) = crate::accounts::password::policy_violation(password, "student@example.edu")
    {
        anyhow::bail!("the seed password is refused by the password policy: {why}");
    }
    let started = Instant::now();
    let clock = Arc::new(crate::clock::SystemClock);
    let (state, _, _) =
        tokio::task::spawn_blocking(move || crate::startup::build(config, clock)).await??;
    let hasher = PasswordHasherPool::new(BlockingPool::new("seed", 1), *state.keys.pepper.expose());
    let hash = hasher.hash(password).await.context("cannot hash the seed password")?;
    let (created, skipped) =
        tokio::task::spawn_blocking(move || insert_all(&state, users, &domain, &hash, progress))
            .await??;
    Ok(SeedReport { created, skipped, seconds: started.elapsed().as_secs_f64() })
}

/// The one place that writes the seeded rows: (created, skipped as already there).
fn insert_all(
    state: &crate::state::AppState,
    users: u64,
    domain: &str,
    hash: &str,
    progress: impl Fn(u64),
) -> anyhow::Result<(u64, u64)> {
    let mut conn = state.db.get()?;
    // The unique indexes (ids, email indexes, session token hashes) take keys in random
    // order: with SQLite's small default page cache every insert would read pages back from
    // disk. A large cache for this one connection keeps seeding linear.
    conn.pragma_update(None, "cache_size", -2_000_000)?;
    let now = chrono::Utc::now().timestamp();
    let campus_id = match crate::campuses::campus_for_domain(&conn, domain)? {
        Some((id, _)) => id,
        None => {
            let cli = crate::audit::Actor { user_id: None, ip: None };
            let domains = [domain.to_string()];
            crate::campuses::create(&conn, "Seed University", &domains, now, &cli)?.id
        }
    };
    let (mut created, mut skipped) = (0, 0);
    let mut n = 0;
    while n < users {
        let end = (n + BATCH).min(users);
        let tx = crate::db::write_tx(&mut conn)?;
        for i in n..end {
            let (address, display_name) = seeded_identity(i, domain);
            let user_id = uuid::Uuid::new_v4().to_string();
            // Spread over the last year, so time-ranged queries see a realistic history.
            let joined = now - (i % 365) as i64 * 86_400 - (i % 86_400) as i64;
            let inserted = accounts::insert(
                &tx,
                state.accounts.pii(),
                &accounts::NewUser {
                    id: &user_id,
                    email_index: &state.accounts.email_index(&address),
                    email: &address,
                    display_name: &display_name,
                    legal_name: None,
                    phone: None,
                    phone_index: None,
                    password_hash: Some(hash),
                    campus_id: Some(campus_id),
                    role: "user",
                    email_verified_at: Some(joined + 300),
                    now: joined,
                },
            )?;
            if !inserted {
                skipped += 1;
                continue;
            }
            created += 1;
            let ip = format!("10.{}.{}.{}", (i >> 16) & 255, (i >> 8) & 255, i & 255);
            let agent = USER_AGENTS[(i % USER_AGENTS.len() as u64) as usize];
            let registered =
                AuditEvent::by_user(joined, &user_id, actions::USER_REGISTERED, Some(&ip));
            audit::record(&tx, &registered)?;
            let signed_in = now - (i % 7) as i64 * 3_600;
            Sessions::issue(&tx, &user_id, true, Amr::PASSWORD, signed_in, Some(&ip), Some(agent))?;
            let login = AuditEvent::by_user(signed_in, &user_id, actions::LOGIN, Some(&ip));
            audit::record(&tx, &login)?;
        }
        tx.commit()?;
        n = end;
        progress(n);
    }
    Ok((created, skipped))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identities_are_distinct_campus_emails() {
        let emails: std::collections::HashSet<_> =
            (0..5_000).map(|n| seeded_identity(n, "north.edu").0).collect();
        assert_eq!(emails.len(), 5_000);
        let (address, name) = seeded_identity(35, "north.edu");
        assert_eq!(address, "aditi.bauer.35@north.edu");
        assert_eq!(name, "Aditi Bauer");
        assert!(email::problem(&address).is_none());
    }
}
