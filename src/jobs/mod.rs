//! The in-process job scheduler: the outbox, backups, retention and driver expiry run here.
//!
//! A [`Job`] is a name, a [`Schedule`] (every so often, or daily at a local time of day) and an
//! async function of the application's state (a [`JobContext`]) that returns `Ok(outcome)` or an error. Each job runs in
//! its own task, one run at a time; every run is logged with its outcome and counted in the
//! job metrics (`gatehouse_job_*`). A run that fails or panics is retried with exponential
//! backoff ([`Backoff`]) and never stops the other jobs. [`Scheduler::start`] spawns them all;
//! [`Running::stop`] lets a run in progress finish (up to a grace period), then aborts the
//! run's own task, and ends the rest. (Aborting cancels the run at its next `.await`; work it
//! handed to the blocking pool, such as a backup's database copy, cannot be interrupted and
//! finishes on its own.)
//!
//! Registering a job is one line in `startup::schedule_jobs`:
//!
//! ```ignore
//! jobs.add(Job::daily("retention", RETENTION_AT, |s: AppState| async move {
//!     s.privacy.run_retention().await
//! }));
//! ```
//!
//! where the closure returns a future of `Result<T, E>` (`T: Debug` is logged as
//! the outcome, so it must hold counts, never personal data; `E: Display` is logged as the
//! error).
//!
//! The outbox is a job too: it runs every few seconds and also at once when its wake
//! [`Notify`] fires (a message was queued), so mail still leaves immediately.

pub mod heartbeat;
pub mod metrics;

use std::fmt::{Debug, Display};
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use chrono::{Local, NaiveTime, TimeZone};
use tokio::sync::{Notify, watch};
use tokio::task::JoinHandle;
use tokio::time::Instant;

pub use metrics::JobMetrics;

/// The result of one run, as the scheduler sees it: a summary for the log, or why it failed.
type RunResult = Result<String, String>;
type RunFuture = Pin<Box<dyn Future<Output = RunResult> + Send>>;
type RunFn<S> = Arc<dyn Fn(S) -> RunFuture + Send + Sync>;

/// What jobs run on (the application's state): cloned into every run; its clock stamps each
/// success in the job metrics.
pub trait JobContext: Clone + Send + Sync + 'static {
    fn unix_now(&self) -> i64;

    /// This node's turn to run `job`, held until the returned value is dropped; `Ok(None)`
    /// when another node is running it (several nodes on PostgreSQL), and the run is skipped.
    fn job_turn(
        &self,
        _job: &'static str,
    ) -> impl Future<Output = Result<Option<JobTurn>, String>> + Send {
        async { Ok(Some(JobTurn::default())) }
    }
}

/// A run's turn (a lock shared with other nodes), given back when dropped.
#[derive(Default)]
pub struct JobTurn(pub Option<Box<dyn Send>>);

/// The outcome of a run skipped because another node was running the job.
pub const SKIPPED: &str = "skipped: another node is running this job";

/// When a job runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Schedule {
    /// Every `Duration`, the first run right after start-up.
    Every(Duration),
    /// Once a day at this local time of day.
    DailyAt(NaiveTime),
}

impl Schedule {
    /// Parses `HH:MM` (local time) as a daily schedule; empty means "never".
    pub fn daily(hh_mm: &str) -> Result<Option<Self>, String> {
        if hh_mm.trim().is_empty() {
            return Ok(None);
        }
        NaiveTime::parse_from_str(hh_mm.trim(), "%H:%M")
            .map(|t| Some(Self::DailyAt(t)))
            .map_err(|_| format!("`{hh_mm}` is not a time of day as HH:MM (e.g. 03:00)"))
    }

    /// How long until the next regular run (not a retry).
    fn next_delay(&self) -> Duration {
        match *self {
            Schedule::Every(every) => every,
            Schedule::DailyAt(at) => until_next_local(at, Local::now()),
        }
    }
}

/// Time from `now` to the next `at` in the local zone (tomorrow if it has passed today).
fn until_next_local<Tz: TimeZone>(at: NaiveTime, now: chrono::DateTime<Tz>) -> Duration {
    let tz = now.timezone();
    let mut day = now.date_naive();
    for _ in 0..3 {
        // A time skipped by a daylight-saving change has no local instant: try the next day.
        if let Some(next) = tz.from_local_datetime(&day.and_time(at)).earliest()
            && next > now
        {
            return (next - now.clone()).to_std().unwrap_or_default();
        }
        day = day.succ_opt().unwrap_or(day);
    }
    Duration::from_secs(86_400)
}

/// Retry delays after consecutive failures: `initial`, doubling, at most `max`.
#[derive(Debug, Clone, Copy)]
pub struct Backoff {
    pub initial: Duration,
    pub max: Duration,
}

impl Backoff {
    pub const DEFAULT: Backoff =
        Backoff { initial: Duration::from_secs(10), max: Duration::from_secs(3600) };

    /// The delay before the retry that follows the `failures`-th consecutive failure (1-based).
    pub fn delay(&self, failures: u32) -> Duration {
        let factor = 1u32 << failures.saturating_sub(1).min(20);
        self.initial.saturating_mul(factor).min(self.max)
    }
}

/// One registered job.
pub struct Job<S> {
    name: &'static str,
    schedule: Schedule,
    run: RunFn<S>,
    wake: Option<Arc<Notify>>,
    quiet: bool,
}

impl<S: JobContext> Job<S> {
    /// A job run every `interval` (first right after start-up) by `run`.
    pub fn every<F, Fut, T, E>(name: &'static str, interval: Duration, run: F) -> Self
    where
        F: Fn(S) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<T, E>> + Send + 'static,
        T: Debug,
        E: Display,
    {
        Self::new(name, Schedule::Every(interval), run)
    }

    /// A job run once a day at `at`, local time.
    pub fn daily<F, Fut, T, E>(name: &'static str, at: NaiveTime, run: F) -> Self
    where
        F: Fn(S) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<T, E>> + Send + 'static,
        T: Debug,
        E: Display,
    {
        Self::new(name, Schedule::DailyAt(at), run)
    }

    pub fn new<F, Fut, T, E>(name: &'static str, schedule: Schedule, run: F) -> Self
    where
        F: Fn(S) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<T, E>> + Send + 'static,
        T: Debug,
        E: Display,
    {
        let run: RunFn<S> = Arc::new(move |state| {
            let fut = run(state);
            Box::pin(async move {
                match fut.await {
                    Ok(outcome) => Ok(format!("{outcome:?}")),
                    Err(e) => Err(e.to_string()),
                }
            })
        });
        Self { name, schedule, run, wake: None, quiet: false }
    }

    /// Also run as soon as `wake` is notified (and the previous run is over).
    pub fn woken_by(mut self, wake: Arc<Notify>) -> Self {
        self.wake = Some(wake);
        self
    }

    /// Log successful runs at debug level only (a job that runs every few seconds).
    pub fn quiet(mut self) -> Self {
        self.quiet = true;
        self
    }

    pub fn name(&self) -> &'static str {
        self.name
    }
}

/// The registered jobs, not yet running.
pub struct Scheduler<S> {
    jobs: Vec<Job<S>>,
    backoff: Backoff,
    metrics: Arc<JobMetrics>,
}

/// The running jobs.
pub struct Running {
    /// `None` while running; once stopping, when a run in progress is aborted.
    stop: watch::Sender<Option<Instant>>,
    tasks: Vec<(&'static str, JoinHandle<()>)>,
}

/// How long [`Running::stop`] waits, after the grace period, for an aborted run to end.
const ABORT_WAIT: Duration = Duration::from_secs(1);

impl<S: JobContext> Scheduler<S> {
    pub fn new(metrics: Arc<JobMetrics>) -> Self {
        Self { jobs: Vec::new(), backoff: Backoff::DEFAULT, metrics }
    }

    pub fn with_backoff(mut self, backoff: Backoff) -> Self {
        self.backoff = backoff;
        self
    }

    pub fn add(&mut self, job: Job<S>) -> &mut Self {
        assert!(
            self.jobs.iter().all(|j| j.name != job.name),
            "job {} is registered twice",
            job.name
        );
        self.jobs.push(job);
        self
    }

    pub fn names(&self) -> Vec<&'static str> {
        self.jobs.iter().map(|j| j.name).collect()
    }

    /// Spawns one task per job.
    pub fn start(self, state: S) -> Running {
        let (stop, stopped) = watch::channel(None);
        let tasks = self
            .jobs
            .into_iter()
            .map(|job| {
                let name = job.name;
                self.metrics.register(name);
                let task = tokio::spawn(job_loop(
                    job,
                    state.clone(),
                    self.backoff,
                    self.metrics.clone(),
                    stopped.clone(),
                ));
                (name, task)
            })
            .collect();
        Running { stop, tasks }
    }
}

impl Running {
    /// Stops every job: waiting ones at once, a run in progress when it ends or, after
    /// `grace`, by aborting the run's task (see the module docs for what that can't stop).
    pub async fn stop(self, grace: Duration) {
        let deadline = Instant::now() + grace;
        let _ = self.stop.send(Some(deadline));
        for (name, mut task) in self.tasks {
            // Each job loop aborts its own run at the deadline and waits for it to end; this
            // is only a backstop for a run that ignores the abort (it never yields).
            if tokio::time::timeout_at(deadline + ABORT_WAIT, &mut task).await.is_err() {
                tracing::error!(
                    job = name,
                    "job run did not end when aborted (it does not yield); leaving it running"
                );
                task.abort();
            }
        }
        tracing::info!("jobs stopped");
    }
}

/// A run's task, aborted if the job loop is dropped while it runs (so a run never outlives
/// its loop).
struct RunTask(JoinHandle<RunResult>);

impl Drop for RunTask {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Resolves at the stop deadline: never while the jobs are running.
async fn grace_over(stopped: &mut watch::Receiver<Option<Instant>>) {
    // (The guard is dropped at once: it must not be held across an await.)
    let deadline = stopped.wait_for(Option::is_some).await.map(|d| d.expect("waited for Some"));
    match deadline {
        Ok(deadline) => tokio::time::sleep_until(deadline).await,
        // The sender is gone without a stop: nobody can stop this job, so never.
        Err(_) => std::future::pending().await,
    }
}

/// Runs `job` on its schedule until a stop is requested.
async fn job_loop<S: JobContext>(
    job: Job<S>,
    state: S,
    backoff: Backoff,
    metrics: Arc<JobMetrics>,
    mut stopped: watch::Receiver<Option<Instant>>,
) {
    let mut failures: u32 = 0;
    let mut delay = match job.schedule {
        Schedule::Every(_) => Duration::ZERO,
        Schedule::DailyAt(_) => job.schedule.next_delay(),
    };
    loop {
        let wake = job.wake.clone();
        tokio::select! {
            _ = stopped.wait_for(Option::is_some) => return,
            _ = tokio::time::sleep(delay) => {}
            _ = async { wake.as_ref().expect("guarded").notified().await },
                if wake.is_some() && failures == 0 => {}
        }
        let started = Instant::now();
        // The run is its own task, so that a panic is caught here and not in the loop.
        let (run, run_state, name) = (job.run.clone(), state.clone(), job.name);
        let mut attempt = RunTask(tokio::spawn(async move {
            // The turn is held by the run's task, so an aborted run gives it back too.
            let Some(_turn) = run_state.job_turn(name).await? else {
                return Ok(SKIPPED.to_string());
            };
            run(run_state).await
        }));
        let joined = tokio::select! {
            biased;
            joined = &mut attempt.0 => joined,
            _ = grace_over(&mut stopped) => {
                attempt.0.abort();
                // Returns once the run's future is dropped: at once when it is waiting on
                // something; a run that never yields holds this up (see `Running::stop`).
                let _ = (&mut attempt.0).await;
                tracing::warn!(
                    job = job.name,
                    ms = started.elapsed().as_millis() as u64,
                    "job run did not finish within the shutdown grace period; aborted it"
                );
                return;
            }
        };
        let result = joined.unwrap_or_else(|e| Err(describe_join_error(e)));
        let elapsed = started.elapsed();
        match result {
            Ok(outcome) => {
                failures = 0;
                metrics.succeeded(job.name, elapsed, state.unix_now());
                if job.quiet {
                    tracing::debug!(job = job.name, %outcome, ms = elapsed.as_millis() as u64, "job run succeeded");
                } else {
                    tracing::info!(job = job.name, %outcome, ms = elapsed.as_millis() as u64, "job run succeeded");
                }
                delay = job.schedule.next_delay();
            }
            Err(error) => {
                failures += 1;
                metrics.failed(job.name, elapsed, failures);
                let mut retry = backoff.delay(failures);
                if let Schedule::Every(every) = job.schedule {
                    retry = retry.min(every.max(backoff.initial));
                }
                tracing::error!(
                    job = job.name,
                    %error,
                    consecutive_failures = failures,
                    retry_in_s = retry.as_secs_f64(),
                    "job run failed"
                );
                delay = retry;
            }
        }
    }
}

fn describe_join_error(e: tokio::task::JoinError) -> String {
    if !e.is_panic() {
        return e.to_string();
    }
    let payload = e.into_panic();
    let message = payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_default();
    format!("the run panicked: {message}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_its_cap() {
        let b = Backoff { initial: Duration::from_secs(10), max: Duration::from_secs(60) };
        assert_eq!(b.delay(1), Duration::from_secs(10));
        assert_eq!(b.delay(2), Duration::from_secs(20));
        assert_eq!(b.delay(3), Duration::from_secs(40));
        assert_eq!(b.delay(4), Duration::from_secs(60));
        assert_eq!(b.delay(400), Duration::from_secs(60));
    }

    #[test]
    fn daily_schedule_is_later_today_or_tomorrow() {
        let at = NaiveTime::from_hms_opt(3, 0, 0).unwrap();
        let before = chrono::Utc.with_ymd_and_hms(2026, 1, 10, 2, 0, 0).unwrap();
        assert_eq!(until_next_local(at, before), Duration::from_secs(3600));
        let after = chrono::Utc.with_ymd_and_hms(2026, 1, 10, 3, 0, 0).unwrap();
        assert_eq!(until_next_local(at, after), Duration::from_secs(86_400));
    }

    #[test]
    fn parses_the_backup_schedule() {
        assert_eq!(
            Schedule::daily("03:00").unwrap(),
            Some(Schedule::DailyAt(NaiveTime::from_hms_opt(3, 0, 0).unwrap()))
        );
        assert_eq!(Schedule::daily("").unwrap(), None);
        assert!(Schedule::daily("3am").is_err());
        assert!(Schedule::daily("25:00").is_err());
    }

    /// A node whose every turn is taken by another node.
    #[derive(Clone)]
    struct AnotherNodeRuns;

    impl JobContext for AnotherNodeRuns {
        fn unix_now(&self) -> i64 {
            0
        }

        async fn job_turn(&self, _job: &'static str) -> Result<Option<JobTurn>, String> {
            Ok(None)
        }
    }

    #[tokio::test]
    async fn a_run_is_skipped_while_another_node_runs_the_job() {
        let runs = Arc::new(std::sync::atomic::AtomicU32::new(0));
        let counted = runs.clone();
        let metrics = Arc::new(JobMetrics::new(&prometheus::Registry::new()));
        let mut scheduler = Scheduler::new(metrics.clone());
        scheduler.add(Job::every("counted", Duration::from_millis(10), move |_| {
            counted.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            async { Ok::<_, String>(()) }
        }));
        let running = scheduler.start(AnotherNodeRuns);
        tokio::time::sleep(Duration::from_millis(100)).await;
        running.stop(Duration::from_secs(1)).await;
        assert_eq!(runs.load(std::sync::atomic::Ordering::SeqCst), 0, "ran without its turn");
        assert!(metrics.runs("counted", "success") > 0, "no run was attempted");
    }
}
