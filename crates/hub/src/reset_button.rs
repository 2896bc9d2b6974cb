//! The hub's reset button as the running hub shares it; when it arms and when a
//! release resets is [`crate::hub_light::ResetButton`]'s decision.

use std::sync::Mutex;
use tokio::sync::watch;

/// The hub's reset button as the API (its simulated press and release) and the tick
/// loop (arming after the hold) share it; a release that resets wakes
/// [`crate::HubHandle::reset_requested`].
pub struct HubButton {
    button: Mutex<crate::hub_light::ResetButton>,
    reset: watch::Sender<bool>,
}

impl Default for HubButton {
    fn default() -> Self {
        HubButton {
            button: Mutex::default(),
            reset: watch::channel(false).0,
        }
    }
}

impl HubButton {
    pub fn press(&self, now_ms: u64) {
        self.lock().press(now_ms);
    }

    /// Lets go; held for the reset time, this asks the hub to reset.
    pub fn release(&self, now_ms: u64) -> crate::hub_light::Release {
        let r = self.lock().release(now_ms);
        if r == crate::hub_light::Release::Reset {
            self.reset.send_replace(true);
        }
        r
    }

    pub fn is_pressed(&self) -> bool {
        self.lock().is_pressed()
    }

    pub fn is_armed(&self, now_ms: u64) -> bool {
        self.lock().is_armed(now_ms)
    }

    /// Resolves once a release asked the hub to reset.
    pub async fn reset_requested(&self) {
        let mut rx = self.reset.subscribe();
        let _ = rx.wait_for(|asked| *asked).await;
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, crate::hub_light::ResetButton> {
        self.button.lock().unwrap_or_else(|p| p.into_inner())
    }
}
