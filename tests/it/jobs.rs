//! The job scheduler: a failing or panicking job is retried with backoff and never stops the
//! others; stopping ends waiting jobs at once, lets a run in progress finish and aborts one
//! that outlasts the grace period.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use gatehouse::jobs::{Backoff, Job, Scheduler};

use crate::support::harness::TestServer;

fn fast_backoff() -> Backoff {
    Backoff { initial: Duration::from_millis(40), max: Duration::from_millis(160) }
}

fn counter() -> Arc<AtomicUsize> {
    Arc::new(AtomicUsize::new(0))
}

#[tokio::test]
async fn a_panicking_job_is_retried_and_the_others_keep_running() {
    let server = TestServer::start().await;
    let metrics = server.state.metrics.jobs.clone();
    let (panics, counts) = (counter(), counter());
    let mut jobs = Scheduler::new(metrics.clone()).with_backoff(fast_backoff());
    let seen = panics.clone();
    jobs.add(Job::every("test_panics", Duration::from_millis(20), move |_| {
        let seen = seen.clone();
        async move {
            seen.fetch_add(1, Ordering::SeqCst);
            if seen.load(Ordering::SeqCst) < 1000 {
                panic!("a job bug");
            }
            Ok::<_, String>(())
        }
    }));
    let seen = counts.clone();
    jobs.add(Job::every("test_counts", Duration::from_millis(20), move |_| {
        let seen = seen.clone();
        async move { Ok::<_, String>(seen.fetch_add(1, Ordering::SeqCst)) }
    }));
    let running = jobs.start(server.state.clone());
    // (A panic prints a backtrace, which is slow on a busy machine: wait for enough runs.)
    for _ in 0..300 {
        if panics.load(Ordering::SeqCst) >= 3 && counts.load(Ordering::SeqCst) >= 10 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    running.stop(Duration::from_secs(1)).await;

    let (p, c) = (panics.load(Ordering::SeqCst), counts.load(Ordering::SeqCst));
    assert!(p >= 3, "the panicking job was retried: {p} runs");
    assert!(c >= 10, "the other job kept running: {c} runs");
    assert_eq!(metrics.runs("test_panics", "failure"), p as u64);
    assert_eq!(metrics.runs("test_panics", "success"), 0);
    assert_eq!(metrics.runs("test_counts", "success"), c as u64);
    let text = server.get("/metrics").await.text().await.unwrap();
    assert!(text.contains(&format!(
        "gatehouse_job_runs_total{{job=\"test_panics\",outcome=\"failure\"}} {p}"
    )));
    // Every run of the panicking job failed, one after another, and none succeeded.
    assert_eq!(metric(&text, "gatehouse_job_consecutive_failures{job=\"test_panics\"}"), p as f64);
    assert_eq!(
        metric(&text, "gatehouse_job_last_success_timestamp_seconds{job=\"test_panics\"}"),
        0.0
    );
    let last = metric(&text, "gatehouse_job_last_success_timestamp_seconds{job=\"test_counts\"}");
    assert!(last > 0.0 && last <= server.state.clock.unix() as f64, "last success at {last}");
    assert_eq!(metric(&text, "gatehouse_job_consecutive_failures{job=\"test_counts\"}"), 0.0);
    // The app's own jobs are still there and healthy.
    assert!(text.contains("gatehouse_job_runs_total{job=\"outbox\",outcome=\"success\"}"));
    assert_eq!(server.get("/ready").await.status(), 200);
}

#[tokio::test]
async fn failures_are_retried_with_doubling_delays_until_a_success() {
    let server = TestServer::start().await;
    let attempts: Arc<Mutex<Vec<Instant>>> = Arc::default();
    let seen = attempts.clone();
    let mut jobs = Scheduler::new(server.state.metrics.jobs.clone()).with_backoff(fast_backoff());
    // Every 10 s: the retries, not the interval, decide the pace here.
    jobs.add(Job::every("test_flaky", Duration::from_secs(10), move |_| {
        let seen = seen.clone();
        async move {
            let mut at = seen.lock().unwrap();
            at.push(Instant::now());
            if at.len() <= 4 { Err(format!("failure {}", at.len())) } else { Ok(at.len()) }
        }
    }));
    let running = jobs.start(server.state.clone());
    tokio::time::sleep(Duration::from_millis(2000)).await;
    running.stop(Duration::from_secs(1)).await;

    let at = attempts.lock().unwrap().clone();
    assert_eq!(at.len(), 5, "four failures, then a success, then the 10 s interval");
    let gaps: Vec<Duration> = at.windows(2).map(|w| w[1] - w[0]).collect();
    for (gap, expected) in gaps.iter().zip([40, 80, 160, 160]) {
        let expected = Duration::from_millis(expected);
        assert!(*gap >= expected, "gaps {gaps:?}: backoff 40, 80, 160 (cap), 160 ms");
        assert!(*gap < expected + Duration::from_millis(500), "gaps {gaps:?}");
    }
    let metrics = &server.state.metrics.jobs;
    assert_eq!(metrics.runs("test_flaky", "failure"), 4);
    assert_eq!(metrics.runs("test_flaky", "success"), 1);
    // The success reset the consecutive failures and set the last success time.
    let text = server.get("/metrics").await.text().await.unwrap();
    assert_eq!(metric(&text, "gatehouse_job_consecutive_failures{job=\"test_flaky\"}"), 0.0);
    let last = metric(&text, "gatehouse_job_last_success_timestamp_seconds{job=\"test_flaky\"}");
    assert!(last > 0.0 && last <= server.state.clock.unix() as f64, "last success at {last}");
}

#[tokio::test]
async fn failures_in_a_row_are_counted_until_a_success() {
    let server = TestServer::start().await;
    let (attempts, release) = (counter(), Arc::new(AtomicBool::new(false)));
    let (seen, released) = (attempts.clone(), release.clone());
    let mut jobs = Scheduler::new(server.state.metrics.jobs.clone()).with_backoff(fast_backoff());
    // Fails three times; the fourth run waits for the test, then succeeds.
    jobs.add(Job::every("test_failing", Duration::from_secs(3600), move |_| {
        let (seen, released) = (seen.clone(), released.clone());
        async move {
            let n = seen.fetch_add(1, Ordering::SeqCst) + 1;
            if n <= 3 {
                return Err(format!("failure {n}"));
            }
            while !released.load(Ordering::SeqCst) {
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            Ok(n)
        }
    }));
    let running = jobs.start(server.state.clone());
    let series = |name: &str| format!("gatehouse_job_{name}{{job=\"test_failing\"}}");
    let runs = |outcome| server.state.metrics.jobs.runs("test_failing", outcome);
    wait_until(|| attempts.load(Ordering::SeqCst) == 4).await;
    // The fourth run has started, so the third failure is counted.
    let text = server.get("/metrics").await.text().await.unwrap();
    assert_eq!(metric(&text, &series("consecutive_failures")), 3.0);
    assert_eq!(metric(&text, &series("last_success_timestamp_seconds")), 0.0);
    release.store(true, Ordering::SeqCst);
    wait_until(|| runs("success") == 1).await;
    running.stop(Duration::from_secs(1)).await;
    let text = server.get("/metrics").await.text().await.unwrap();
    assert_eq!(metric(&text, &series("consecutive_failures")), 0.0);
    let last = metric(&text, &series("last_success_timestamp_seconds"));
    assert!(last > 0.0 && last <= server.state.clock.unix() as f64, "last success at {last}");
    assert_eq!(runs("failure"), 3);
}

async fn wait_until(done: impl Fn() -> bool) {
    for _ in 0..1000 {
        if done() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("timed out waiting");
}

/// The value of one series (name and labels exactly as printed) in Prometheus text.
fn metric(text: &str, series: &str) -> f64 {
    text.lines()
        .find_map(|line| line.strip_prefix(series)?.strip_prefix(' '))
        .unwrap_or_else(|| panic!("{series} is not in /metrics"))
        .trim()
        .parse()
        .unwrap()
}

#[tokio::test]
async fn stopping_ends_waiting_jobs_at_once_and_lets_a_run_finish() {
    let server = TestServer::start().await;
    let (finished, ticks) = (counter(), counter());
    let mut jobs = Scheduler::new(server.state.metrics.jobs.clone());
    let done = finished.clone();
    jobs.add(Job::every("test_slow", Duration::from_secs(3600), move |_| {
        let done = done.clone();
        async move {
            tokio::time::sleep(Duration::from_millis(300)).await;
            Ok::<_, String>(done.fetch_add(1, Ordering::SeqCst))
        }
    }));
    let seen = ticks.clone();
    jobs.add(Job::every("test_ticks", Duration::from_millis(10), move |_| {
        let seen = seen.clone();
        async move { Ok::<_, String>(seen.fetch_add(1, Ordering::SeqCst)) }
    }));
    let running = jobs.start(server.state.clone());
    tokio::time::sleep(Duration::from_millis(50)).await;
    let started = Instant::now();
    running.stop(Duration::from_secs(5)).await;
    let took = started.elapsed();
    assert_eq!(finished.load(Ordering::SeqCst), 1, "the run in progress finished");
    assert!(took < Duration::from_secs(2), "stopping took {took:?}");
    let after = ticks.load(Ordering::SeqCst);
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(ticks.load(Ordering::SeqCst), after, "no job runs after stop");

    // A run that outlasts the grace period is aborted: it does nothing more once stop has
    // returned (the server checkpoints the database and exits right after).
    let steps = counter();
    let mut jobs = Scheduler::new(server.state.metrics.jobs.clone());
    let seen = steps.clone();
    jobs.add(Job::every("test_stuck", Duration::from_secs(3600), move |_| {
        let seen = seen.clone();
        async move {
            loop {
                seen.fetch_add(1, Ordering::SeqCst);
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            #[allow(unreachable_code)]
            Ok::<_, String>(())
        }
    }));
    let running = jobs.start(server.state.clone());
    tokio::time::sleep(Duration::from_millis(20)).await;
    let started = Instant::now();
    running.stop(Duration::from_millis(200)).await;
    let took = started.elapsed();
    assert!(took >= Duration::from_millis(200), "the run had its grace period: {took:?}");
    assert!(took < Duration::from_secs(1), "stopping took {took:?}");
    let at_stop = steps.load(Ordering::SeqCst);
    assert!(at_stop > 0, "the stuck run was running");
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(steps.load(Ordering::SeqCst), at_stop, "the stuck run goes on after stop");
    let metrics = &server.state.metrics.jobs;
    assert_eq!(metrics.runs("test_stuck", "success") + metrics.runs("test_stuck", "failure"), 0);

    // And the server itself stops cleanly with its jobs.
    server.stop().await.expect("clean stop");
}
