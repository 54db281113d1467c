//! Uniform answers (no one can learn from them whether an email has an account): sign-in,
//! sign-up, resend-verification and forgot-password answer an existing and an unknown account
//! with the same status and body, in the same time.
//!
//! Time is compared on interleaved samples: pairs of one existing and one unknown request back
//! to back, so that load from other processes on the machine falls on both alike; the median of
//! the pairs' time ratios must be within 10% of 1. The clock is moved a day between samples so that no per-account
//! cooldown or lockout turns one side into a different path.

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::support::harness::{PASSWORD, TestServer};

/// Sends one request; its status, body and duration.
async fn timed(server: &TestServer, path: &str, body: Value) -> (u16, String, Duration) {
    let started = Instant::now();
    let response = server.post(path, body).await;
    let status = response.status().as_u16();
    let text = response.text().await.unwrap();
    let elapsed = started.elapsed();
    // Resend and forgot send their link after answering, and the outbox then delivers it (a
    // maildir write with fsync): let both finish before the next request, so that they do
    // not slow the other side down. (Waiting for the link alone let a delivery on a busy
    // disk overlap the next, unknown-account request.)
    server.flush_outbox().await;
    (status, text, elapsed)
}

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

/// Measures `pairs` interleaved (existing, unknown) requests and checks that the answers are
/// the same and the medians within 10%. `body(existing, i)` builds the i-th request. A run
/// disturbed by the machine may be measured again, up to three times in all; a real difference
/// shows in every run.
async fn compare(
    server: &TestServer,
    what: &str,
    path: &str,
    pairs: usize,
    body: impl Fn(bool, usize) -> Value,
    between: impl Fn(),
) {
    let mut ratios = Vec::new();
    for run in 0..3 {
        let ratio = measure(server, what, path, pairs, &body, &between, run * (pairs + 3)).await;
        if (0.9..=1.1).contains(&ratio) {
            return;
        }
        ratios.push(ratio);
    }
    panic!("{what}: the median times of existing and unknown accounts differ: ratios {ratios:?}");
}

/// One run of [`compare`]: the median of the per-pair ratios (existing / unknown). The two
/// requests of a pair run back to back (in alternating order), so they see the same load from
/// the rest of the machine, and the ratio cancels it.
async fn measure(
    server: &TestServer,
    what: &str,
    path: &str,
    pairs: usize,
    body: &impl Fn(bool, usize) -> Value,
    between: &impl Fn(),
    first: usize,
) -> f64 {
    let (mut known, mut unknown, mut ratios) = (Vec::new(), Vec::new(), Vec::new());
    let mut answers = std::collections::HashSet::new();
    // A few unmeasured rounds first: caches and connections warm up on both sides.
    for i in first..first + pairs + 3 {
        let mut pair = [(0, String::new(), Duration::ZERO), (0, String::new(), Duration::ZERO)];
        let order = if i % 2 == 0 { [true, false] } else { [false, true] };
        for existing in order {
            between();
            // The previous request's work after its answer (an emailed link, its delivery)
            // must not land in this one's time.
            server.flush_outbox().await;
            pair[usize::from(!existing)] = timed(server, path, body(existing, i)).await;
        }
        let [(s1, b1, t1), (s2, b2, t2)] = pair;
        assert_eq!((s1, &b1), (s2, &b2), "{what}: the answers differ");
        answers.insert((s1, b1));
        if i >= first + 3 {
            known.push(t1);
            unknown.push(t2);
            ratios.push(t1.as_secs_f64() / t2.as_secs_f64());
        }
    }
    assert_eq!(answers.len(), 1, "{what}: one answer for every request: {answers:?}");
    ratios.sort_by(f64::total_cmp);
    let ratio = ratios[ratios.len() / 2];
    let (known, unknown) = (median(known), median(unknown));
    eprintln!(
        "{what}: median existing {known:?}, unknown {unknown:?}; median pair ratio {ratio:.3}"
    );
    ratio
}

#[tokio::test]
async fn existing_and_unknown_accounts_get_the_same_answer_in_the_same_time() {
    let server = TestServer::start().await;
    server.add_campus("North", &["north.edu"]);
    server.signed_in_user("ada@north.edu").await;
    assert_eq!(server.register("new@north.edu").await.status(), 202);
    let next_day = || {
        server.clock.advance(chrono::Duration::days(1));
        // Wrong passwords must stay wrong passwords, not a lockout (an unknown email's
        // included: it keeps the same lockout state as an account).
        server.blocking_conn(|conn| {
            conn.execute_batch(
                "UPDATE users SET failed_logins = 0, lock_level = 0, locked_until = NULL;
                 DELETE FROM unknown_email_lockouts;",
            )
            .unwrap()
        });
    };

    compare(
        &server,
        "login",
        "/api/v1/auth/login",
        31,
        |existing, _| {
            let email = if existing { "ada@north.edu" } else { "nobody@north.edu" };
            json!({"email": email, "password": "Wrong-Pass-99"})
        },
        next_day,
    )
    .await;
    compare(
        &server,
        "register",
        "/api/v1/auth/register",
        31,
        |existing, i| {
            let email =
                if existing { "ada@north.edu".into() } else { format!("fresh{i}@north.edu") };
            json!({"email": email, "password": PASSWORD, "display_name": "Someone"})
        },
        next_day,
    )
    .await;
    compare(
        &server,
        "resend verification",
        "/api/v1/auth/verify-email/resend",
        61,
        |existing, _| json!({"email": if existing { "new@north.edu" } else { "nobody@north.edu" }}),
        next_day,
    )
    .await;
    compare(
        &server,
        "forgot password",
        "/api/v1/auth/password/forgot",
        61,
        |existing, _| json!({"email": if existing { "ada@north.edu" } else { "nobody@north.edu" }}),
        next_day,
    )
    .await;
}
