//! MQTT payloads (SPEC §5): JSON with `"v": 1` and a timestamp; unknown fields are
//! ignored; anything over 64 KiB, unparseable or of another version is refused with a
//! reason that can be counted.

use crate::{EventKind, LifecycleState, ProfileId};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

pub const VERSION: u32 = 1;
pub const MAX_PAYLOAD_BYTES: usize = 64 * 1024;

/// Why a payload was dropped. [`PayloadError::reason`] is the label it is counted under.
#[derive(Debug, thiserror::Error)]
pub enum PayloadError {
    #[error("payload of {0} bytes is over the 64 KiB limit")]
    TooLarge(usize),
    #[error("payload is not valid JSON for this topic: {0}")]
    Malformed(#[from] serde_json::Error),
    #[error("payload has version {0}, this build speaks version 1")]
    WrongVersion(u64),
    #[error("payload has no \"v\" field")]
    MissingVersion,
}

impl PayloadError {
    pub fn reason(&self) -> &'static str {
        match self {
            PayloadError::TooLarge(_) => "too_large",
            PayloadError::Malformed(_) => "malformed",
            PayloadError::WrongVersion(_) => "wrong_version",
            PayloadError::MissingVersion => "missing_version",
        }
    }
}

/// Parses a payload after checking its size and version.
pub fn decode<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, PayloadError> {
    if bytes.len() > MAX_PAYLOAD_BYTES {
        return Err(PayloadError::TooLarge(bytes.len()));
    }
    let value: serde_json::Value = serde_json::from_slice(bytes)?;
    match value.get("v").map(|v| v.as_u64()) {
        None => return Err(PayloadError::MissingVersion),
        Some(Some(1)) => {}
        Some(Some(v)) => return Err(PayloadError::WrongVersion(v)),
        Some(None) => return Err(PayloadError::WrongVersion(u64::MAX)),
    }
    Ok(serde_json::from_value(value)?)
}

pub fn encode<T: Serialize>(msg: &T) -> Vec<u8> {
    serde_json::to_vec(msg).expect("our message types always serialize")
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Availability {
    Online,
    Offline,
    Sleeping,
}

impl Availability {
    pub fn as_str(self) -> &'static str {
        match self {
            Availability::Online => "online",
            Availability::Offline => "offline",
            Availability::Sleeping => "sleeping",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AvailabilityMsg {
    pub v: u32,
    /// Milliseconds since the Unix epoch, hub time.
    pub ts: u64,
    pub availability: Availability,
}

/// The light as reported in `state`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LightReport {
    pub color: String,
    pub pattern: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub count: Option<u8>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub dim: bool,
    pub condition: String,
    /// The light id of SPEC §3 (what the owner sees).
    pub light_id: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StateMsg {
    pub v: u32,
    pub ts: u64,
    pub state: LifecycleState,
    pub light: LightReport,
    pub profile: ProfileId,
    pub firmware: String,
    pub settings_version: u64,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TelemetryMsg {
    pub v: u32,
    pub ts: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub battery_resting_mv: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub battery_loaded_mv: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub temperature_c: Option<f32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rssi_dbm: Option<i32>,
    #[serde(default)]
    pub uptime_s: u64,
    #[serde(default)]
    pub queue_bytes: u64,
    #[serde(default)]
    pub reconnects: u32,
}

/// An event. `seq` increases by one per event on a camera and survives restarts, so
/// the hub can store each event exactly once whatever the redeliveries.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EventMsg {
    pub v: u32,
    pub ts: u64,
    pub seq: u64,
    pub event: EventKind,
    /// Event-specific fields (clip id, dropped bytes, button hold time, ...).
    #[serde(default, skip_serializing_if = "serde_json::Map::is_empty")]
    pub data: serde_json::Map<String, serde_json::Value>,
}

/// The settings document as published (retained) by the hub.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SettingsMsg {
    pub v: u32,
    pub ts: u64,
    pub settings: crate::Settings,
}

/// A command from the hub on `cmd/{name}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CommandMsg {
    pub v: u32,
    pub ts: u64,
    pub id: String,
    /// Command-specific arguments (`wifi`: ssid and passphrase; `time`: the hub's clock).
    #[serde(default, skip_serializing_if = "serde_json::Map::is_empty")]
    pub args: serde_json::Map<String, serde_json::Value>,
    /// After this hub time (ms) the command is void (10 minutes for sleeping cameras).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_ts: Option<u64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CmdResultMsg {
    pub v: u32,
    pub ts: u64,
    pub id: String,
    pub ok: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// Command names of SPEC §5.
pub const COMMANDS: [&str; 9] = [
    "snapshot",
    "record",
    "live_start",
    "live_stop",
    "identify",
    "reboot",
    "factory_reset",
    "wifi",
    "time",
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decode_checks_size_version_and_shape() {
        let ok = br#"{"v":1,"ts":5,"availability":"online","extra":true}"#;
        let msg: AvailabilityMsg = decode(ok).unwrap();
        assert_eq!(msg.availability, Availability::Online);

        let big = vec![b' '; MAX_PAYLOAD_BYTES + 1];
        assert_eq!(
            decode::<AvailabilityMsg>(&big).unwrap_err().reason(),
            "too_large"
        );
        assert_eq!(
            decode::<AvailabilityMsg>(b"{nope").unwrap_err().reason(),
            "malformed"
        );
        let v2 = br#"{"v":2,"ts":5,"availability":"online"}"#;
        assert_eq!(
            decode::<AvailabilityMsg>(v2).unwrap_err().reason(),
            "wrong_version"
        );
        let nov = br#"{"ts":5,"availability":"online"}"#;
        assert_eq!(
            decode::<AvailabilityMsg>(nov).unwrap_err().reason(),
            "missing_version"
        );
    }

    #[test]
    fn unknown_event_kinds_are_kept() {
        let msg: EventMsg = decode(br#"{"v":1,"ts":1,"seq":3,"event":"laser_show"}"#).unwrap();
        assert_eq!(msg.event, EventKind::Unknown);
    }
}
