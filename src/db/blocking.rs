//! A bounded pool for blocking work (SQLite, argon2, image decoding). Each pool has a fixed
//! number of permits; work waits for a permit before it is handed to a blocking thread, so a
//! burst of requests queues instead of spawning unbounded threads.
//!
//! Licence-image decoding and password hashing run on pools' own threads at a lower OS
//! priority ([`BlockingPool::low_priority`]): a decode or a hash takes a core for tens to
//! hundreds of milliseconds, and meanwhile the async workers answering session checks are
//! scheduled first. (tokio's shared blocking threads cannot be used for that: an unprivileged
//! process may lower a thread's priority but never raise it back, and those threads run
//! database work later.)

use std::sync::mpsc;
use std::sync::{Arc, Mutex, OnceLock};

use tokio::sync::{Semaphore, oneshot};

/// Nice values for [`BlockingPool::low_priority`] (0 is normal, 19 the lowest). At +10 CFS
/// gives a normal thread about ten times a low one's share of a busy core; at +19 about
/// seventy times.
pub const LOW_PRIORITY_NICE: i32 = 10;
pub const LOWEST_PRIORITY_NICE: i32 = 19;

type Job = Box<dyn FnOnce() + Send>;

#[derive(Clone, Debug)]
pub struct BlockingPool {
    name: &'static str,
    permits: Arc<Semaphore>,
    size: usize,
    /// Own threads at low priority, once started (None: tokio's blocking threads).
    own_threads: Option<Arc<OnceLock<mpsc::Sender<Job>>>>,
    /// The nice value of the own threads.
    nice: i32,
}

/// The blocking task could not run to completion (it panicked, or the runtime is stopping).
#[derive(Debug, thiserror::Error)]
#[error("blocking task on the {pool} pool failed: {cause}")]
pub struct BlockingError {
    pool: &'static str,
    cause: String,
}

impl BlockingPool {
    pub fn new(name: &'static str, size: usize) -> Self {
        let size = size.max(1);
        Self { name, permits: Arc::new(Semaphore::new(size)), size, own_threads: None, nice: 0 }
    }

    /// `size` threads of its own at `nice`, started by the first task (an idle server does
    /// not pay for them); they end when the last clone is dropped.
    pub fn low_priority(name: &'static str, size: usize, nice: i32) -> Self {
        let size = size.max(1);
        Self {
            name,
            permits: Arc::new(Semaphore::new(size)),
            size,
            own_threads: Some(Arc::new(OnceLock::new())),
            nice,
        }
    }

    fn start_threads(name: &'static str, size: usize, nice: i32) -> mpsc::Sender<Job> {
        let (sender, receiver) = mpsc::channel::<Job>();
        let receiver = Arc::new(Mutex::new(receiver));
        for i in 0..size {
            let receiver = receiver.clone();
            let spawned =
                std::thread::Builder::new().name(format!("{name}-{i}")).spawn(move || {
                    lower_priority(name, nice);
                    loop {
                        let job = receiver.lock().unwrap_or_else(|e| e.into_inner()).recv();
                        let Ok(job) = job else { return };
                        // A panicking job drops its answer channel (the caller sees the
                        // failure); the thread goes on serving.
                        let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(job));
                    }
                });
            if let Err(e) = spawned {
                tracing::error!(pool = name, error = %e, "cannot start a pool thread");
            }
        }
        sender
    }

    pub fn size(&self) -> usize {
        self.size
    }

    /// Work currently running or waiting for a permit is `size - available`.
    pub fn available(&self) -> usize {
        self.permits.available_permits()
    }

    pub async fn run<T, F>(&self, work: F) -> Result<T, BlockingError>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        let fail = |cause: String| BlockingError { pool: self.name, cause };
        let _permit = self.permits.acquire().await.map_err(|e| fail(e.to_string()))?;
        let Some(threads) = &self.own_threads else {
            return tokio::task::spawn_blocking(work).await.map_err(|e| fail(e.to_string()));
        };
        let threads = threads.get_or_init(|| Self::start_threads(self.name, self.size, self.nice));
        let (answer, answered) = oneshot::channel();
        threads
            .send(Box::new(move || {
                let _ = answer.send(work());
            }))
            .map_err(|_| fail("the pool's threads have stopped".into()))?;
        answered.await.map_err(|_| fail("the task panicked".into()))
    }
}

/// Lowers the calling thread's priority. Not fatal when refused: the work still runs.
fn lower_priority(pool: &str, nice: i32) {
    let thread = rustix::thread::gettid();
    if let Err(e) = rustix::process::setpriority_process(Some(thread), nice) {
        tracing::warn!(pool, error = %e, "cannot lower the priority of a pool thread");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn never_runs_more_than_its_size_at_once() {
        let pool = BlockingPool::new("test", 2);
        let running = Arc::new(AtomicUsize::new(0));
        let peak = Arc::new(AtomicUsize::new(0));
        let tasks: Vec<_> = (0..8)
            .map(|_| {
                let (pool, running, peak) = (pool.clone(), running.clone(), peak.clone());
                tokio::spawn(async move {
                    pool.run(move || {
                        let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                        peak.fetch_max(now, Ordering::SeqCst);
                        std::thread::sleep(Duration::from_millis(20));
                        running.fetch_sub(1, Ordering::SeqCst);
                    })
                    .await
                    .unwrap()
                })
            })
            .collect();
        for task in tasks {
            task.await.unwrap();
        }
        assert_eq!(peak.load(Ordering::SeqCst), 2);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn low_priority_threads_run_work_at_a_lower_priority_and_survive_panics() {
        let own_nice = || rustix::process::getpriority_process(Some(rustix::thread::gettid()));
        let before = own_nice().unwrap();
        let pool = BlockingPool::low_priority("test-low", 2, LOW_PRIORITY_NICE);
        let nice = pool.run(own_nice).await.unwrap().unwrap();
        // (A test run already niced past 10 cannot go back up: its threads stay where it is.)
        assert_eq!(nice, LOW_PRIORITY_NICE.max(before));
        assert_eq!(own_nice().unwrap(), before, "the caller's thread keeps its priority");
        assert!(pool.run(|| panic!("boom")).await.is_err());
        assert!(pool.run(|| panic!("boom")).await.is_err());
        assert_eq!(pool.run(|| 6 * 7).await.unwrap(), 42, "the threads go on after panics");
        assert_eq!(pool.available(), 2);
    }
}
