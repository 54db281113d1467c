//! A bounded pool for blocking work (SQLite, argon2, image decoding). Each pool has a fixed
//! number of permits; work waits for a permit before it is handed to a blocking thread, so a
//! burst of requests queues instead of spawning unbounded threads.

use std::sync::Arc;

use tokio::sync::Semaphore;

#[derive(Clone, Debug)]
pub struct BlockingPool {
    name: &'static str,
    permits: Arc<Semaphore>,
    size: usize,
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
        Self { name, permits: Arc::new(Semaphore::new(size)), size }
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
        tokio::task::spawn_blocking(work).await.map_err(|e| fail(e.to_string()))
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
}
