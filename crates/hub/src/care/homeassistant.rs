//! Home Assistant over the hub's own MQTT session: discovery documents and the alarm
//! panel (retained) at start and on pairing, empty retained payloads on forget, each
//! camera's state document, the snapshot, and the commands Home Assistant sends back.
//!
//! The broker lets the hub's identity publish under `homeassistant/#` and subscribe under
//! `watchlight/v1/#` (`broker::acl`); with the embedded broker, Home Assistant logs in with
//! the hub's MQTT credentials, with Mosquitto with its own (see docs/care.md).

use super::lock;
use crate::state::HubState;
use rumqttc::QoS;
use watchlight_care::homeassistant::{
    self as ha, HaCamera, HaCommand, HaState, arming_state_payload, arming_state_topic,
};
use watchlight_protocol::{ArmMode, SettingsPatch};

/// The largest snapshot published for Home Assistant's image entity.
const MAX_SNAPSHOT_BYTES: u64 = 512 * 1024;

async fn publish(hub: &HubState, topic: String, payload: Vec<u8>) {
    if let Err(e) = hub
        .mqtt
        .publish(topic.clone(), QoS::AtLeastOnce, true, payload)
        .await
    {
        tracing::warn!(topic, "could not publish for Home Assistant: {e}");
    } else {
        hub.care.sent("homeassistant");
    }
}

fn camera(hub: &HubState, device: &str) -> Option<HaCamera> {
    let d = hub.store.device(device).ok().flatten()?;
    let settings = hub.store.settings(device).ok()?;
    let firmware = hub
        .store
        .device_state(device)
        .ok()
        .flatten()
        .map(|s| s.state.firmware.clone())
        .unwrap_or_default();
    Some(HaCamera {
        home: hub.home.clone(),
        device: device.into(),
        name: settings.name,
        model: d.profile.to_string(),
        firmware,
        battery_powered: d.profile.profile().on_battery(),
    })
}

/// Publishes one camera's discovery documents and the alarm panel, retained.
pub async fn announce(hub: &HubState, device: &str) {
    let Some(cam) = camera(hub, device) else {
        return;
    };
    for doc in ha::discovery(&cam) {
        publish(hub, doc.topic, doc.payload.to_string().into_bytes()).await;
    }
    let panel = ha::alarm_panel(&hub.home);
    publish(hub, panel.topic, panel.payload.to_string().into_bytes()).await;
}

/// At start: every camera, the panel and its current state.
pub async fn announce_all(hub: &HubState) {
    for d in super::cameras(hub) {
        announce(hub, &d.id).await;
    }
    let panel = ha::alarm_panel(&hub.home);
    publish(hub, panel.topic, panel.payload.to_string().into_bytes()).await;
    if let Ok(state) = hub.store.arming() {
        publish_arming(hub, state.mode).await;
    }
}

/// A camera was forgotten: its entities disappear from Home Assistant.
pub async fn remove(hub: &HubState, device: &str) {
    for topic in ha::removal_topics(&hub.home, device) {
        publish(hub, topic, Vec::new()).await;
    }
    publish(hub, ha::state_topic(&hub.home, device), Vec::new()).await;
    publish(hub, ha::snapshot_topic(&hub.home, device), Vec::new()).await;
    lock(&hub.care.ha).remove(device);
}

/// Changes a camera's state document and publishes it when it changed.
pub async fn update(hub: &HubState, device: &str, change: impl FnOnce(&mut HaState)) {
    let doc = {
        let mut map = lock(&hub.care.ha);
        let current = map
            .entry(device.to_string())
            .or_insert_with(|| initial_state(hub, device));
        let before = current.clone();
        change(current);
        (*current != before || before == HaState::default()).then(|| current.clone())
    };
    if let Some(state) = doc {
        let payload = serde_json::to_vec(&state).expect("state serializes");
        publish(hub, ha::state_topic(&hub.home, device), payload).await;
    }
}

fn initial_state(hub: &HubState, device: &str) -> HaState {
    let s = hub.store.settings(device).unwrap_or_default();
    HaState::new(false, s.motion_detection, s.motion_indicator)
}

/// The alarm panel's state.
pub async fn publish_arming(hub: &HubState, mode: ArmMode) {
    publish(
        hub,
        arming_state_topic(&hub.home),
        arming_state_payload(mode).as_bytes().to_vec(),
    )
    .await;
}

/// A new thumbnail is the camera's latest snapshot.
pub async fn publish_snapshot(hub: &HubState, device: &str, clip_id: &str) {
    let mut file = match hub.store.open_thumbnail(device, clip_id) {
        Ok(Some(f)) if f.len <= MAX_SNAPSHOT_BYTES => f.file,
        _ => return,
    };
    let mut jpeg = Vec::new();
    match std::io::Read::read_to_end(&mut file, &mut jpeg) {
        Ok(_) => publish(hub, ha::snapshot_topic(&hub.home, device), jpeg).await,
        Err(e) => tracing::warn!(device, "could not read a thumbnail: {e}"),
    }
}

/// Whether `topic` is a Home Assistant command for this hub.
pub fn is_command(hub: &HubState, topic: &str) -> bool {
    let [switches, panel] = ha::command_filters(&hub.home);
    let switch_prefix = switches.trim_end_matches("+/set/+");
    topic == panel || (topic.starts_with(switch_prefix) && topic.contains("/set/"))
}

/// Applies a command from Home Assistant: a switch becomes a settings change, the panel
/// an arming mode. Bad ones are counted and logged, never applied.
pub async fn on_command(hub: &HubState, topic: &str, payload: &[u8]) {
    hub.care.metrics().record_message_in("homeassistant");
    match ha::parse_command(&hub.home, topic, payload) {
        Ok(HaCommand::Setting {
            device,
            setting,
            on,
        }) => {
            let known = matches!(hub.store.device(&device), Ok(Some(d)) if d.removed_ms.is_none());
            if !known {
                hub.count_dropped("unknown_device");
                tracing::warn!(device, "Home Assistant command for an unknown camera");
                return;
            }
            let mut patch = SettingsPatch::default();
            match setting {
                "motion_detection" => patch.motion_detection = Some(on),
                _ => patch.motion_indicator = Some(on),
            }
            if let Err(e) = hub.update_settings(&device, &patch).await {
                tracing::warn!(device, "Home Assistant switch not applied: {e}");
            }
        }
        Ok(HaCommand::Arm(mode)) => {
            if let Err(e) = super::arming::set_mode(hub, mode).await {
                tracing::warn!("Home Assistant arming not applied: {e}");
            }
        }
        Err(e) => {
            hub.count_dropped("bad_command");
            tracing::warn!("dropped Home Assistant command: {e}");
        }
    }
}
