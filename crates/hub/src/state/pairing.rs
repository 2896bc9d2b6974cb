//! Where each pairing the hub follows stands, as the owner sees it.

use super::HubState;
use serde::Serialize;

/// How long the pairing window stays open after an owner starts adding a camera.
pub const PAIRING_WINDOW_MS: u64 = 5 * 60 * 1000;

/// Where a pairing stands, as the owner sees it.
#[derive(Debug, Clone, Serialize)]
pub struct PairingProgress {
    /// `provisioning`, `setup`, `joining`, `wifi_rejected`, `join_timeout`, `paired`.
    pub state: String,
    pub message: String,
    pub started_ms: u64,
    pub updated_ms: u64,
}

impl PairingProgress {
    pub fn is_open(&self, now_ms: u64) -> bool {
        self.state != "paired" && now_ms < self.started_ms + PAIRING_WINDOW_MS
    }
}

impl HubState {
    /// Where `device`'s pairing stands, when the hub has followed one since it started.
    pub(crate) fn pairing_progress(&self, device: &str) -> Option<PairingProgress> {
        self.pairing
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(device)
            .cloned()
    }

    /// Moves `device`'s pairing to `state`; `restart` opens a new pairing window. A
    /// finished pairing stays `paired` unless restarted: then this returns false.
    pub(crate) fn set_pairing_progress(
        &self,
        device: &str,
        state: &str,
        message: &str,
        restart: bool,
    ) -> bool {
        let now = self.now();
        let mut map = self.pairing.lock().unwrap_or_else(|p| p.into_inner());
        let entry = map
            .entry(device.to_string())
            .or_insert_with(|| PairingProgress {
                state: String::new(),
                message: String::new(),
                started_ms: now,
                updated_ms: now,
            });
        if entry.state == "paired" && !restart {
            return false;
        }
        if restart {
            entry.started_ms = now;
        }
        entry.state = state.into();
        entry.message = message.into();
        entry.updated_ms = now;
        true
    }

    /// The camera reached the hub: the pairing the hub followed, if any, is done.
    pub(crate) fn pairing_done(&self, device: &str, now_ms: u64) {
        if let Some(p) = self
            .pairing
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get_mut(device)
        {
            p.state = "paired".into();
            p.message = "The camera reached the hub".into();
            p.updated_ms = now_ms;
        }
    }
}
