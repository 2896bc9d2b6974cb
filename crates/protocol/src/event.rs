//! Event kinds a camera reports (SPEC §5 `event` topic).

use serde::{Deserialize, Serialize};
use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EventKind {
    Boot,
    Connected,
    LinkLost,
    MotionStart,
    MotionEnd,
    RecordingStart,
    RecordingEnd,
    ClipRecorded,
    ClipDropped,
    Button,
    Reset,
    BatteryLow,
    BatteryOk,
    BatteryCritical,
    WifiRejected,
    JoinTimeout,
    Provisioned,
    SettingsApplied,
    Shutdown,
    HubRejected,
    /// An event kind from a newer firmware: kept, not understood.
    #[serde(other)]
    Unknown,
}

impl EventKind {
    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::Boot => "boot",
            EventKind::Connected => "connected",
            EventKind::LinkLost => "link_lost",
            EventKind::MotionStart => "motion_start",
            EventKind::MotionEnd => "motion_end",
            EventKind::RecordingStart => "recording_start",
            EventKind::RecordingEnd => "recording_end",
            EventKind::ClipRecorded => "clip_recorded",
            EventKind::ClipDropped => "clip_dropped",
            EventKind::Button => "button",
            EventKind::Reset => "reset",
            EventKind::BatteryLow => "battery_low",
            EventKind::BatteryOk => "battery_ok",
            EventKind::BatteryCritical => "battery_critical",
            EventKind::WifiRejected => "wifi_rejected",
            EventKind::JoinTimeout => "join_timeout",
            EventKind::Provisioned => "provisioned",
            EventKind::SettingsApplied => "settings_applied",
            EventKind::Shutdown => "shutdown",
            EventKind::HubRejected => "hub_rejected",
            EventKind::Unknown => "unknown",
        }
    }
}

impl fmt::Display for EventKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
