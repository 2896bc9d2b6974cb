//! Camera lifecycle states (SPEC §4).

use serde::{Deserialize, Serialize};
use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LifecycleState {
    /// Powered off, or never powered.
    Off,
    /// Starting up (red blink for the profile's `boot_ms`).
    Booting,
    /// Factory state before its first boot completes into setup.
    Factory,
    /// No credentials: waiting for provisioning.
    Setup,
    /// Credentials received: connecting to Wi-Fi and the hub.
    Joining,
    Online,
    Offline,
    /// A battery camera between check-ins.
    Sleeping,
    /// Factory reset under way.
    Resetting,
    /// Battery critical: only fresh batteries wake it.
    Shutdown,
}

impl LifecycleState {
    pub fn as_str(self) -> &'static str {
        match self {
            LifecycleState::Off => "off",
            LifecycleState::Booting => "booting",
            LifecycleState::Factory => "factory",
            LifecycleState::Setup => "setup",
            LifecycleState::Joining => "joining",
            LifecycleState::Online => "online",
            LifecycleState::Offline => "offline",
            LifecycleState::Sleeping => "sleeping",
            LifecycleState::Resetting => "resetting",
            LifecycleState::Shutdown => "shutdown",
        }
    }
}

impl fmt::Display for LifecycleState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
