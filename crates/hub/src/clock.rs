//! The hub's clock: wall-clock milliseconds since the Unix epoch (the hub is the home's
//! source of time), injected so every deadline (battery check-ins, command expiry,
//! setup links, sessions) is tested exactly without sleeping. The same clock drives
//! the store, so rows and decisions agree, and it wakes the hub's periodic tasks
//! ([`sleep_until`]), so a test that moves a manual clock sees their effect at once.

use std::time::Duration;
pub use watchlight_store::{Clock, ManualClock, SystemClock};

pub type SharedClock = std::sync::Arc<dyn Clock>;

/// Waits until `clock` reads `deadline_ms` or later: on the system clock a real timer
/// (checked again on waking, since the wall clock may be set back), on a manual clock
/// until it is moved there.
pub async fn sleep_until(clock: &dyn Clock, deadline_ms: u64) {
    loop {
        // Subscribed before reading, so a move between the two is not missed.
        let moves = clock.moves();
        let now = clock.now_ms();
        if now >= deadline_ms {
            return;
        }
        match moves {
            Some(mut moved) => {
                if moved.changed().await.is_err() {
                    // The clock is gone with its owner: nothing will move it again.
                    std::future::pending::<()>().await;
                }
            }
            None => tokio::time::sleep(Duration::from_millis(deadline_ms - now)).await,
        }
    }
}

/// The next look of a periodic task that last looked at the hub's time `seen_ms` and
/// whose next deadline is `deadline_ms`: on the system clock a real timer until then; on
/// a manual clock as soon as it reads anything but `seen_ms`, since a test steps it to
/// each instant that matters (a 1 ms step onto a scheduled minute) and the task's
/// deadlines may have changed while it waited. Pass `None` to look at once.
pub async fn next_look(clock: &dyn Clock, seen_ms: Option<u64>, deadline_ms: u64) {
    if seen_ms.is_none() {
        return;
    }
    loop {
        let Some(mut moved) = clock.moves() else {
            return sleep_until(clock, deadline_ms).await;
        };
        let now = clock.now_ms();
        if now >= deadline_ms || Some(now) != seen_ms {
            return;
        }
        if moved.changed().await.is_err() {
            std::future::pending::<()>().await;
        }
    }
}

/// Waits for `period` of the hub's time from now.
pub async fn sleep(clock: &dyn Clock, period: Duration) {
    let deadline = clock.now_ms().saturating_add(period.as_millis() as u64);
    sleep_until(clock, deadline).await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_manual_clock_wakes_its_sleepers_when_moved_there() {
        let clock = ManualClock::new(1_000);
        clock.advance(400);
        // Short of the deadline, real time changes nothing (a wait for nothing to happen:
        // there is no event to await).
        let early = tokio::time::timeout(
            Duration::from_millis(50),
            sleep_until(clock.as_ref(), 1_500),
        )
        .await;
        assert!(early.is_err());
        let c = clock.clone();
        let sleeper = tokio::spawn(async move { sleep_until(c.as_ref(), 1_500).await });
        tokio::task::yield_now().await;
        clock.advance(100);
        tokio::time::timeout(Duration::from_secs(5), sleeper)
            .await
            .expect("woken by the move")
            .unwrap();
    }

    #[tokio::test]
    async fn the_system_clock_sleeps_in_real_time() {
        let clock = SystemClock;
        let start = std::time::Instant::now();
        sleep(&clock, Duration::from_millis(30)).await;
        assert!(start.elapsed() >= Duration::from_millis(25));
    }
}
