//! A background worker's sign of life, read by `/ready`: the worker beats on every pass of its
//! loop; a worker that stopped or hangs stops beating.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

pub struct Heartbeat {
    origin: Instant,
    last_ms: AtomicU64,
    stopped: AtomicBool,
}

impl Heartbeat {
    pub fn new() -> Self {
        Self { origin: Instant::now(), last_ms: AtomicU64::new(0), stopped: AtomicBool::new(false) }
    }

    pub fn beat(&self) {
        self.last_ms.store(self.origin.elapsed().as_millis() as u64, Ordering::Relaxed);
    }

    pub fn stop(&self) {
        self.stopped.store(true, Ordering::Relaxed);
    }

    /// Beat within `within` and not stopped.
    pub fn alive(&self, within: Duration) -> bool {
        let since = self.origin.elapsed().as_millis() as u64 - self.last_ms.load(Ordering::Relaxed);
        !self.stopped.load(Ordering::Relaxed) && since <= within.as_millis() as u64
    }
}

impl Default for Heartbeat {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn alive_until_silent_or_stopped() {
        let heartbeat = Heartbeat::new();
        heartbeat.beat();
        assert!(heartbeat.alive(Duration::from_secs(1)));
        std::thread::sleep(Duration::from_millis(30));
        assert!(!heartbeat.alive(Duration::from_millis(10)));
        heartbeat.beat();
        heartbeat.stop();
        assert!(!heartbeat.alive(Duration::from_secs(1)));
    }
}
