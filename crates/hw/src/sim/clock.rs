//! A manual clock: time moves only when the test or simulator says so.

use crate::Clock;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

/// A clock shared by handles: every clone sees the same time.
#[derive(Debug, Clone, Default)]
pub struct SimClock {
    now_ms: Arc<AtomicU64>,
}

impl SimClock {
    pub fn new(start_ms: u64) -> SimClock {
        SimClock {
            now_ms: Arc::new(AtomicU64::new(start_ms)),
        }
    }

    /// Moves time forward by `ms`.
    pub fn advance(&self, ms: u64) {
        self.now_ms.fetch_add(ms, Ordering::SeqCst);
    }

    /// Sets the time; a time earlier than now is ignored (the clock is monotonic).
    pub fn set(&self, ms: u64) {
        self.now_ms.fetch_max(ms, Ordering::SeqCst);
    }
}

impl Clock for SimClock {
    fn now_ms(&self) -> u64 {
        self.now_ms.load(Ordering::SeqCst)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clones_share_time_and_it_never_runs_back() {
        let a = SimClock::new(10);
        let b = a.clone();
        a.advance(5);
        assert_eq!(b.now_ms(), 15);
        b.set(3);
        assert_eq!(a.now_ms(), 15);
        b.set(100);
        assert_eq!(a.now_ms(), 100);
    }
}
