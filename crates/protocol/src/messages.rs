//! MQTT payloads (SPEC §5): JSON with `"v": 1` and a timestamp; unknown fields are
//! ignored; anything over 64 KiB, unparseable or of another version is refused with a
//! reason that can be counted.

use crate::{ConditionId, EventKind, LifecycleState, Light, LightId, Pattern, ProfileId};
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
    /// The `"v"` value as it was sent (JSON, shortened), so `"1"` (a string) reads as such.
    #[error("payload has \"v\": {0}, this build speaks \"v\": 1 (a number)")]
    WrongVersion(String),
    #[error("payload has no \"v\" field")]
    MissingVersion,
    /// An id a camera sent that could reach a file name, a URL or a notice (shortened).
    #[error("field {field:?} is not a valid id: {value}")]
    BadId { field: String, value: String },
}

impl PayloadError {
    pub fn reason(&self) -> &'static str {
        match self {
            PayloadError::TooLarge(_) => "too_large",
            PayloadError::Malformed(_) => "malformed",
            PayloadError::WrongVersion(_) => "wrong_version",
            PayloadError::MissingVersion => "missing_version",
            PayloadError::BadId { .. } => "bad_id",
        }
    }
}

/// Parses a payload after checking its size and version.
pub fn decode<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, PayloadError> {
    if bytes.len() > MAX_PAYLOAD_BYTES {
        return Err(PayloadError::TooLarge(bytes.len()));
    }
    let value: serde_json::Value = serde_json::from_slice(bytes)?;
    match value.get("v") {
        None => return Err(PayloadError::MissingVersion),
        Some(v) if v.as_u64() == Some(u64::from(VERSION)) => {}
        Some(v) => return Err(PayloadError::WrongVersion(shown_version(v))),
    }
    Ok(serde_json::from_value(value)?)
}

/// A sender's `"v"` as JSON text, cut to a length fit for a log line.
fn shown_version(v: &serde_json::Value) -> String {
    const MAX_CHARS: usize = 24;
    let text = v.to_string();
    if text.chars().count() <= MAX_CHARS {
        return text;
    }
    let mut cut: String = text.chars().take(MAX_CHARS).collect();
    cut.push('…');
    cut
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
    /// Hub time at which the device stops showing this light by itself if nothing
    /// happens first (`connected`'s 5 s, a status check, a flash); absent for a light
    /// that lasts until something changes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub until: Option<u64>,
    /// The light the device shows from `until` on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub then: Option<Box<LightReport>>,
}

impl LightReport {
    /// The light `condition` shows.
    pub fn new(condition: ConditionId, light: Light) -> LightReport {
        let count = match light.pattern {
            Pattern::Flash { count } => Some(count),
            _ => None,
        };
        LightReport {
            color: light.color.as_str().into(),
            pattern: light.pattern.as_str().into(),
            count,
            dim: light.dim,
            condition: condition.as_str().into(),
            light_id: LightId::of(condition, light).as_str().into(),
            until: None,
            then: None,
        }
    }

    /// What the device shows at `now_ms` (hub time) by this report: the light that
    /// follows once a timed one is over, since a sleeping camera cannot say so itself.
    pub fn at(&self, now_ms: u64) -> &LightReport {
        match (&self.until, &self.then) {
            (Some(until), Some(then)) if *until <= now_ms => then.at(now_ms),
            _ => self,
        }
    }
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

impl EventMsg {
    /// Checks every id in `data` (fields named `id` or `*_id`) before any of it reaches a
    /// notice, a URL or a file name: a string of letters, digits, `-` and `_`, at most 128
    /// bytes, and a `clip_id` of this device's (`<device>-...`).
    pub fn check_ids(&self, device: &str) -> Result<(), PayloadError> {
        for (field, value) in &self.data {
            if field != "id" && !field.ends_with("_id") {
                continue;
            }
            let ok = match value.as_str() {
                Some(id) if field == "clip_id" => is_valid_clip_id(device, id),
                Some(id) => is_safe_id(id),
                None => false,
            };
            if !ok {
                let mut shown: String = value.to_string().chars().take(80).collect();
                if shown.len() < value.to_string().len() {
                    shown.push('…');
                }
                return Err(PayloadError::BadId {
                    field: field.chars().take(64).collect(),
                    value: shown,
                });
            }
        }
        Ok(())
    }
}

/// Letters, digits, `-` and `_`, 1 to 128 bytes: safe in a file name, a URL path and a
/// notice (no `.`, so no `..`; no `/`).
pub fn is_safe_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 128
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// A clip id is `<device_id>-<start_ts>-<seq>`: a safe id that names its own camera.
pub fn is_valid_clip_id(device: &str, clip_id: &str) -> bool {
    is_safe_id(clip_id)
        && clip_id
            .strip_prefix(device)
            .and_then(|rest| rest.strip_prefix('-'))
            .is_some_and(|rest| !rest.is_empty())
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

/// The hub's acknowledgement of event `seq`, on `cmd/ack` ([`crate::topics::EVENT_ACK`]).
/// Sent only once the event is durably stored (or was already): the broker's PUBACK says
/// only that the broker has it, so a camera deletes an event from its offline queue on
/// this, never on the PUBACK.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EventAckMsg {
    pub v: u32,
    pub ts: u64,
    pub seq: u64,
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
        for (v, shown) in [
            ("\"1\"", "\"v\": \"1\","),
            ("2", "\"v\": 2,"),
            ("-1", "\"v\": -1,"),
            ("1.5", "\"v\": 1.5,"),
            ("null", "\"v\": null,"),
        ] {
            let payload = format!(r#"{{"v":{v},"ts":5,"availability":"online"}}"#);
            let err = decode::<AvailabilityMsg>(payload.as_bytes()).unwrap_err();
            assert_eq!(err.reason(), "wrong_version");
            let said = err.to_string();
            assert!(said.contains(shown), "{v}: {said}");
            assert!(!said.contains("18446744073709551615"), "{said}");
        }
        let long = format!(r#"{{"v":"{}","ts":5}}"#, "x".repeat(500));
        let said = decode::<AvailabilityMsg>(long.as_bytes())
            .unwrap_err()
            .to_string();
        assert!(said.len() < 120, "{said}");
        let nov = br#"{"ts":5,"availability":"online"}"#;
        assert_eq!(
            decode::<AvailabilityMsg>(nov).unwrap_err().reason(),
            "missing_version"
        );
    }

    #[test]
    fn ids_in_events_are_checked() {
        let event = |data: &str| -> EventMsg {
            decode(
                format!(r#"{{"v":1,"ts":1,"seq":3,"event":"clip_recorded","data":{data}}}"#)
                    .as_bytes(),
            )
            .unwrap()
        };
        let good = event(r#"{"clip_id":"cam-1-1700000000000-3","bytes":5}"#);
        good.check_ids("cam-1").unwrap();
        for (bad, field) in [
            (r#"{"clip_id":"../../../etc/passwd"}"#, "clip_id"),
            (r#"{"clip_id":"cam-1-../../x"}"#, "clip_id"),
            (r#"{"clip_id":"cam-2-1700000000000-3"}"#, "clip_id"),
            (r#"{"clip_id":"cam-1-"}"#, "clip_id"),
            (r#"{"clip_id":7}"#, "clip_id"),
            (r#"{"cmd_id":"a/b"}"#, "cmd_id"),
            (r#"{"id":""}"#, "id"),
        ] {
            let err = event(bad).check_ids("cam-1").unwrap_err();
            assert_eq!(err.reason(), "bad_id", "{bad}");
            assert!(err.to_string().contains(field), "{err}");
        }
        let long = format!(r#"{{"clip_id":"{}"}}"#, "a".repeat(10_000));
        assert!(
            event(&long)
                .check_ids("cam-1")
                .unwrap_err()
                .to_string()
                .len()
                < 200
        );
    }

    #[test]
    fn unknown_event_kinds_are_kept() {
        let msg: EventMsg = decode(br#"{"v":1,"ts":1,"seq":3,"event":"laser_show"}"#).unwrap();
        assert_eq!(msg.event, EventKind::Unknown);
    }
}
