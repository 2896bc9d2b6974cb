//! Home Assistant MQTT discovery (SPEC §5): the retained documents that make every camera
//! appear in Home Assistant, and the one alarm panel for arming.
//!
//! Topics are `homeassistant/<component>/<node>/<object>/config` with node
//! `watchlight_<home>_<device>` (or `watchlight_<home>` for the alarm panel). Removing a
//! camera publishes an empty retained payload on each of its topics ([`removal_topics`]).
//!
//! Where the entities read from:
//! * connectivity — the hub's computed availability (`DeviceTopics::hub_availability`), so a
//!   stale retained `sleeping` never shows as live; `sleeping` counts as connected (a battery
//!   camera sleeping between check-ins is healthy);
//! * everything else — one retained JSON document per camera the hub publishes on
//!   [`state_topic`] ([`HaState`]), since percent, forecast and motion are the hub's
//!   derivations, not the camera's raw telemetry;
//! * switches and the panel command on `…/hub/ha/…/set` topics that [`parse_command`] turns
//!   into settings patches or arming modes.

use crate::arming::ArmMode;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use watchlight_protocol::topics::{DeviceTopics, HUB_DEVICE, ROOT};

pub const DISCOVERY_PREFIX: &str = "homeassistant";

/// A camera as Home Assistant should see it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HaCamera {
    pub home: String,
    pub device: String,
    pub name: String,
    /// The profile id (shown as the model).
    pub model: String,
    pub firmware: String,
    pub battery_powered: bool,
}

/// One discovery document: publish `payload` retained on `topic`.
#[derive(Debug, Clone, PartialEq)]
pub struct DiscoveryDoc {
    pub topic: String,
    pub payload: Value,
}

/// The per-camera state document the hub publishes retained on [`state_topic`].
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct HaState {
    /// `ON` while a motion event is open.
    pub motion: String,
    pub battery_percent: Option<f64>,
    pub battery_voltage: Option<f64>,
    pub battery_days_left: Option<f64>,
    pub rssi_dbm: Option<i32>,
    pub temperature_c: Option<f32>,
    pub motion_detection: String,
    pub motion_indicator: String,
}

fn on_off(b: bool) -> String {
    if b { "ON" } else { "OFF" }.to_string()
}

impl HaState {
    pub fn new(motion: bool, motion_detection: bool, motion_indicator: bool) -> HaState {
        HaState {
            motion: on_off(motion),
            motion_detection: on_off(motion_detection),
            motion_indicator: on_off(motion_indicator),
            ..HaState::default()
        }
    }
}

fn hub_prefix(home: &str) -> String {
    format!("{ROOT}/{home}/{HUB_DEVICE}/ha")
}

/// Where the hub publishes a camera's [`HaState`] (retained).
pub fn state_topic(home: &str, device: &str) -> String {
    format!("{}/{device}", hub_prefix(home))
}

/// Where the snapshot JPEG bytes go (retained), for the `image` entity.
pub fn snapshot_topic(home: &str, device: &str) -> String {
    format!("{}/{device}/snapshot", hub_prefix(home))
}

/// Where the hub publishes the arming state (`disarmed`, `armed_home`, `armed_away`).
pub fn arming_state_topic(home: &str) -> String {
    format!("{}/arming", hub_prefix(home))
}

fn set_topic(home: &str, device: &str, what: &str) -> String {
    format!("{}/{device}/set/{what}", hub_prefix(home))
}

fn arming_command_topic(home: &str) -> String {
    format!("{}/arming/set", hub_prefix(home))
}

/// The alarm panel's state for a mode.
pub fn arming_state_payload(mode: ArmMode) -> &'static str {
    match mode {
        ArmMode::Disarmed => "disarmed",
        ArmMode::Home => "armed_home",
        ArmMode::Away => "armed_away",
    }
}

fn node(home: &str, device: &str) -> String {
    format!("watchlight_{home}_{device}")
}

/// (component, object) of every entity a camera can have; removal clears them all.
const ENTITIES: [(&str, &str); 10] = [
    ("binary_sensor", "connectivity"),
    ("binary_sensor", "motion"),
    ("sensor", "battery"),
    ("sensor", "battery_voltage"),
    ("sensor", "battery_days_left"),
    ("sensor", "signal"),
    ("sensor", "temperature"),
    ("switch", "motion_detection"),
    ("switch", "motion_indicator"),
    ("image", "snapshot"),
];

/// The discovery documents of one camera.
pub fn discovery(cam: &HaCamera) -> Vec<DiscoveryDoc> {
    let topics = DeviceTopics::new(&cam.home, &cam.device);
    let state = state_topic(&cam.home, &cam.device);
    let uid = |object: &str| format!("watchlight_{}_{}_{object}", cam.home, cam.device);
    let device = json!({
        "identifiers": [format!("watchlight_{}_{}", cam.home, cam.device)],
        "name": cam.name,
        "manufacturer": "Watchlight",
        "model": cam.model,
        "sw_version": cam.firmware,
        "via_device": format!("watchlight_{}_hub", cam.home),
    });
    let origin = json!({ "name": "Watchlight", "sw_version": env!("CARGO_PKG_VERSION") });
    // Every entity but connectivity is unavailable while the hub sees the camera offline.
    let availability = json!([{
        "topic": topics.hub_availability(),
        "value_template": "{{ 'offline' if value_json.availability == 'offline' else 'online' }}",
    }]);
    let base = |object: &str, name: &str| -> Value {
        json!({
            "name": name,
            "unique_id": uid(object),
            "device": device.clone(),
            "origin": origin.clone(),
            "availability": availability.clone(),
        })
    };
    let sensor = |object: &str, name: &str, extra: Value| -> (String, String, Value) {
        let mut doc = base(object, name);
        merge(&mut doc, json!({ "state_topic": state }));
        merge(&mut doc, extra);
        ("sensor".into(), object.into(), doc)
    };

    let mut docs: Vec<(String, String, Value)> = Vec::new();
    let mut connectivity = base("connectivity", "Connectivity");
    connectivity
        .as_object_mut()
        .expect("object")
        .remove("availability");
    merge(
        &mut connectivity,
        json!({
            "state_topic": topics.hub_availability(),
            "device_class": "connectivity",
            "entity_category": "diagnostic",
            "value_template": "{{ 'OFF' if value_json.availability == 'offline' else 'ON' }}",
            "payload_on": "ON",
            "payload_off": "OFF",
        }),
    );
    docs.push(("binary_sensor".into(), "connectivity".into(), connectivity));
    let mut motion = base("motion", "Motion");
    merge(
        &mut motion,
        json!({
            "state_topic": state,
            "device_class": "motion",
            "value_template": "{{ value_json.motion }}",
        }),
    );
    docs.push(("binary_sensor".into(), "motion".into(), motion));
    if cam.battery_powered {
        docs.push(sensor(
            "battery",
            "Battery",
            json!({ "device_class": "battery", "unit_of_measurement": "%", "state_class": "measurement",
                    "value_template": "{{ value_json.battery_percent }}" }),
        ));
        docs.push(sensor(
            "battery_voltage",
            "Battery voltage",
            json!({ "device_class": "voltage", "unit_of_measurement": "V", "state_class": "measurement",
                    "entity_category": "diagnostic", "suggested_display_precision": 2,
                    "value_template": "{{ value_json.battery_voltage }}" }),
        ));
        docs.push(sensor(
            "battery_days_left",
            "Battery days left",
            json!({ "device_class": "duration", "unit_of_measurement": "d",
                    "entity_category": "diagnostic", "suggested_display_precision": 0,
                    "value_template": "{{ value_json.battery_days_left }}" }),
        ));
    }
    docs.push(sensor(
        "signal",
        "Wi-Fi signal",
        json!({ "device_class": "signal_strength", "unit_of_measurement": "dBm", "state_class": "measurement",
                "entity_category": "diagnostic", "value_template": "{{ value_json.rssi_dbm }}" }),
    ));
    docs.push(sensor(
        "temperature",
        "Temperature",
        json!({ "device_class": "temperature", "unit_of_measurement": "°C", "state_class": "measurement",
                "entity_category": "diagnostic", "value_template": "{{ value_json.temperature_c }}" }),
    ));
    for (object, name) in [
        ("motion_detection", "Motion detection"),
        ("motion_indicator", "Motion indicator light"),
    ] {
        let mut doc = base(object, name);
        merge(
            &mut doc,
            json!({
                "command_topic": set_topic(&cam.home, &cam.device, object),
                "state_topic": state,
                "value_template": format!("{{{{ value_json.{object} }}}}"),
                "payload_on": "ON",
                "payload_off": "OFF",
                "entity_category": "config",
            }),
        );
        docs.push(("switch".into(), object.into(), doc));
    }
    let mut image = base("snapshot", "Last snapshot");
    merge(
        &mut image,
        json!({ "image_topic": snapshot_topic(&cam.home, &cam.device), "content_type": "image/jpeg" }),
    );
    docs.push(("image".into(), "snapshot".into(), image));

    let node = node(&cam.home, &cam.device);
    docs.into_iter()
        .map(|(component, object, payload)| DiscoveryDoc {
            topic: format!("{DISCOVERY_PREFIX}/{component}/{node}/{object}/config"),
            payload,
        })
        .collect()
}

/// The home's alarm panel.
pub fn alarm_panel(home: &str) -> DiscoveryDoc {
    DiscoveryDoc {
        topic: format!("{DISCOVERY_PREFIX}/alarm_control_panel/watchlight_{home}/arming/config"),
        payload: json!({
            "name": "Watchlight arming",
            "unique_id": format!("watchlight_{home}_arming"),
            "state_topic": arming_state_topic(home),
            "command_topic": arming_command_topic(home),
            "code_arm_required": false,
            "supported_features": ["arm_home", "arm_away"],
            "payload_arm_home": "ARM_HOME",
            "payload_arm_away": "ARM_AWAY",
            "payload_disarm": "DISARM",
            "device": {
                "identifiers": [format!("watchlight_{home}_hub")],
                "name": "Watchlight hub",
                "manufacturer": "Watchlight",
            },
            "origin": { "name": "Watchlight", "sw_version": env!("CARGO_PKG_VERSION") },
        }),
    }
}

/// Topics to clear (empty retained payload) when a camera is removed.
pub fn removal_topics(home: &str, device: &str) -> Vec<String> {
    let node = node(home, device);
    ENTITIES
        .iter()
        .map(|(c, o)| format!("{DISCOVERY_PREFIX}/{c}/{node}/{o}/config"))
        .collect()
}

/// A command from Home Assistant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HaCommand {
    /// Set a camera's `motion_detection` or `motion_indicator`.
    Setting {
        device: String,
        setting: &'static str,
        on: bool,
    },
    Arm(ArmMode),
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HaError {
    #[error("topic '{0}' is not a Watchlight Home Assistant command topic")]
    UnknownTopic(String),
    #[error("payload '{payload}' is not valid on '{topic}'")]
    BadPayload { topic: String, payload: String },
}

/// The topic filters the hub subscribes to for commands (switches, then the panel).
pub fn command_filters(home: &str) -> [String; 2] {
    [
        format!("{}/+/set/+", hub_prefix(home)),
        arming_command_topic(home),
    ]
}

/// Parses a command Home Assistant published.
pub fn parse_command(home: &str, topic: &str, payload: &[u8]) -> Result<HaCommand, HaError> {
    let text = String::from_utf8_lossy(payload).trim().to_string();
    let bad = || HaError::BadPayload {
        topic: topic.to_string(),
        payload: text.clone(),
    };
    let rest = topic
        .strip_prefix(&hub_prefix(home))
        .and_then(|r| r.strip_prefix('/'))
        .ok_or_else(|| HaError::UnknownTopic(topic.to_string()))?;
    if rest == "arming/set" {
        return match text.as_str() {
            "ARM_HOME" => Ok(HaCommand::Arm(ArmMode::Home)),
            "ARM_AWAY" => Ok(HaCommand::Arm(ArmMode::Away)),
            "DISARM" => Ok(HaCommand::Arm(ArmMode::Disarmed)),
            _ => Err(bad()),
        };
    }
    let parts: Vec<&str> = rest.split('/').collect();
    let [device, "set", what] = parts[..] else {
        return Err(HaError::UnknownTopic(topic.to_string()));
    };
    let setting = match what {
        "motion_detection" => "motion_detection",
        "motion_indicator" => "motion_indicator",
        _ => return Err(HaError::UnknownTopic(topic.to_string())),
    };
    let on = match text.as_str() {
        "ON" => true,
        "OFF" => false,
        _ => return Err(bad()),
    };
    Ok(HaCommand::Setting {
        device: device.to_string(),
        setting,
        on,
    })
}

fn merge(into: &mut Value, from: Value) {
    if let (Some(a), Value::Object(b)) = (into.as_object_mut(), from) {
        a.extend(b);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_parse_and_bad_ones_are_named() {
        let h = "home1";
        assert_eq!(
            parse_command(h, "watchlight/v1/home1/hub/ha/arming/set", b"ARM_AWAY"),
            Ok(HaCommand::Arm(ArmMode::Away))
        );
        assert_eq!(
            parse_command(
                h,
                "watchlight/v1/home1/hub/ha/cam1/set/motion_indicator",
                b"OFF"
            ),
            Ok(HaCommand::Setting {
                device: "cam1".into(),
                setting: "motion_indicator",
                on: false
            })
        );
        let e = parse_command(
            h,
            "watchlight/v1/home1/hub/ha/cam1/set/motion_detection",
            b"MAYBE",
        )
        .unwrap_err();
        assert!(e.to_string().contains("MAYBE"));
        assert!(matches!(
            parse_command(h, "watchlight/v1/home1/hub/ha/cam1/set/reboot", b"ON"),
            Err(HaError::UnknownTopic(_))
        ));
        assert!(matches!(
            parse_command(h, "watchlight/v1/other/hub/ha/arming/set", b"DISARM"),
            Err(HaError::UnknownTopic(_))
        ));
    }
}
