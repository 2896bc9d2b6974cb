//! Hub time, injected so that tests control it.
//!
//! This is wall-clock time (milliseconds since the Unix epoch), the time the hub hands to
//! cameras and writes into every row. It is deliberately not `watchlight_hw::Clock`, which
//! is a camera's monotonic clock with an arbitrary origin.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

/// Hub milliseconds since the Unix epoch.
pub trait Clock: Send + Sync {
    fn now_ms(&self) -> u64;

    /// For a clock that moves only when told to: a receiver that sees every move, so a
    /// task waiting for a time on this clock wakes when a test moves it there. `None` for
    /// a clock that moves by itself, which real timers follow.
    fn moves(&self) -> Option<tokio::sync::watch::Receiver<u64>> {
        None
    }
}

/// The system's wall clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now_ms(&self) -> u64 {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_millis() as u64)
            .unwrap_or(0)
    }
}

/// A clock that moves only when told to: for tests and replays. Each move is announced
/// to the tasks waiting on it ([`Clock::moves`]).
#[derive(Debug)]
pub struct ManualClock {
    now: AtomicU64,
    moved: tokio::sync::watch::Sender<u64>,
}

impl ManualClock {
    pub fn new(now_ms: u64) -> Arc<ManualClock> {
        Arc::new(ManualClock {
            now: AtomicU64::new(now_ms),
            moved: tokio::sync::watch::Sender::new(now_ms),
        })
    }
    pub fn set(&self, now_ms: u64) {
        self.now.store(now_ms, Ordering::SeqCst);
        self.moved.send_replace(now_ms);
    }
    pub fn advance(&self, ms: u64) {
        let now = self.now.fetch_add(ms, Ordering::SeqCst) + ms;
        self.moved.send_replace(now);
    }
}

impl Clock for ManualClock {
    fn now_ms(&self) -> u64 {
        self.now.load(Ordering::SeqCst)
    }

    fn moves(&self) -> Option<tokio::sync::watch::Receiver<u64>> {
        Some(self.moved.subscribe())
    }
}
