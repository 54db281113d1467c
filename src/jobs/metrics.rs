//! Job results for `/metrics`: runs by outcome, last success time, consecutive failures and
//! the last run's duration, per job.

use std::time::Duration;

use prometheus::{GaugeVec, IntCounterVec, IntGaugeVec, Opts, Registry};

pub struct JobMetrics {
    runs: IntCounterVec,
    last_success: IntGaugeVec,
    consecutive_failures: IntGaugeVec,
    duration: GaugeVec,
}

impl JobMetrics {
    pub fn new(registry: &Registry) -> Self {
        let runs = IntCounterVec::new(
            Opts::new("job_runs_total", "Job runs by job and outcome (success or failure)"),
            &["job", "outcome"],
        )
        .expect("static metric definition");
        let last_success = IntGaugeVec::new(
            Opts::new(
                "job_last_success_timestamp_seconds",
                "Unix time of the job's last successful run (0: none since start-up)",
            ),
            &["job"],
        )
        .expect("static metric definition");
        let consecutive_failures = IntGaugeVec::new(
            Opts::new("job_consecutive_failures", "Failed runs since the job's last success"),
            &["job"],
        )
        .expect("static metric definition");
        let duration = GaugeVec::new(
            Opts::new("job_last_run_duration_seconds", "How long the job's last run took"),
            &["job"],
        )
        .expect("static metric definition");
        for collector in [
            Box::new(runs.clone()) as Box<dyn prometheus::core::Collector>,
            Box::new(last_success.clone()),
            Box::new(consecutive_failures.clone()),
            Box::new(duration.clone()),
        ] {
            registry.register(collector).expect("each metric is registered once");
        }
        Self { runs, last_success, consecutive_failures, duration }
    }

    /// Makes every series of `job` visible (at zero) before its first run.
    pub fn register(&self, job: &str) {
        for outcome in ["success", "failure"] {
            self.runs.with_label_values(&[job, outcome]);
        }
        self.last_success.with_label_values(&[job]);
        self.consecutive_failures.with_label_values(&[job]);
    }

    pub fn succeeded(&self, job: &str, took: Duration, now: i64) {
        self.runs.with_label_values(&[job, "success"]).inc();
        self.last_success.with_label_values(&[job]).set(now);
        self.consecutive_failures.with_label_values(&[job]).set(0);
        self.duration.with_label_values(&[job]).set(took.as_secs_f64());
    }

    pub fn failed(&self, job: &str, took: Duration, consecutive: u32) {
        self.runs.with_label_values(&[job, "failure"]).inc();
        self.consecutive_failures.with_label_values(&[job]).set(consecutive.into());
        self.duration.with_label_values(&[job]).set(took.as_secs_f64());
    }

    /// Runs of `job` with `outcome` so far (for tests and the admin views).
    pub fn runs(&self, job: &str, outcome: &str) -> u64 {
        self.runs.with_label_values(&[job, outcome]).get()
    }
}
