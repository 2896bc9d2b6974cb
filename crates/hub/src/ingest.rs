//! MQTT ingestion: every message a camera publishes, decoded and checked, then
//! stored. A bad payload is dropped, counted by reason and logged; nothing here can
//! bring the hub down.
//!
//! Events are acknowledged to the camera (`cmd/ack`, [`EventAckMsg`]) only once they are
//! durably stored, or were already: an event the hub cannot store (a full disk) stays in
//! the camera's queue and comes again.

use crate::state::HubState;
use serde_json::json;
use watchlight_protocol::messages::{
    AvailabilityMsg, CmdResultMsg, EventAckMsg, EventMsg, PayloadError, StateMsg, TelemetryMsg,
    decode, encode,
};
use watchlight_protocol::topics::{self, DeviceTopic};
use watchlight_store::{CommandResultOutcome, EventInsert};

/// The topic filters the hub subscribes to: the five a device publishes on, and Home
/// Assistant's commands.
pub fn filters(home: &str) -> Vec<String> {
    DeviceTopic::ALL
        .iter()
        .map(|t| format!("{}/{home}/+/{}", topics::ROOT, t.as_str()))
        .chain(watchlight_care::homeassistant::command_filters(home))
        .collect()
}

/// Handles one message; never fails, only counts.
pub async fn handle(hub: &HubState, topic: &str, payload: &[u8]) {
    if crate::care::homeassistant::is_command(hub, topic) {
        crate::care::homeassistant::on_command(hub, topic, payload).await;
        return;
    }
    let Ok(parsed) = topics::parse(topic) else {
        hub.count_dropped("bad_topic");
        tracing::warn!(topic, reason = "bad_topic", "dropped MQTT message");
        return;
    };
    if parsed.home != hub.home {
        return;
    }
    let device = parsed.device.to_string();
    let known = matches!(hub.store.device(&device), Ok(Some(d)) if d.removed_ms.is_none());
    if !known {
        hub.count_dropped("unknown_device");
        tracing::warn!(device, reason = "unknown_device", "dropped MQTT message");
        return;
    }
    hub.care.metrics().record_message_in(parsed.leaf);
    let result = match parsed.leaf {
        "availability" => on_availability(hub, &device, payload).await,
        "state" => on_state(hub, &device, payload).await,
        "telemetry" => on_telemetry(hub, &device, payload).await,
        "event" => on_event(hub, &device, payload).await,
        "cmd_result" => on_cmd_result(hub, &device, payload).await,
        _ => {
            hub.count_dropped("unknown_topic");
            tracing::warn!(
                device,
                topic,
                reason = "unknown_topic",
                "dropped MQTT message"
            );
            return;
        }
    };
    if let Err(e) = result {
        hub.count_dropped(e.reason());
        tracing::warn!(
            device,
            topic = parsed.leaf,
            reason = e.reason(),
            "dropped MQTT message: {e}"
        );
    }
}

/// A camera that reaches the broker with its token has used up its pairing code.
async fn first_contact(hub: &HubState, device: &str) {
    let now = hub.now();
    if let Ok(true) = hub.store.mark_device_connected(device) {
        tracing::info!(device, "camera paired: first connection with its token");
        if let Ok(Some(d)) = hub.store.device(device)
            && let Err(e) = hub.store.use_pairing_code(&d.serial)
        {
            tracing::warn!(device, "could not use up the pairing code: {e}");
        }
        hub.pairing_done(device, now);
        hub.emit("paired", Some(device), json!({}));
    }
}

async fn alive(hub: &HubState, device: &str) {
    first_contact(hub, device).await;
    hub.change_availability(|a| a.on_message(device, hub.now()).into_iter().collect())
        .await;
}

async fn on_availability(hub: &HubState, device: &str, payload: &[u8]) -> Result<(), PayloadError> {
    let msg: AvailabilityMsg = decode(payload)?;
    if msg.availability != watchlight_protocol::messages::Availability::Offline {
        first_contact(hub, device).await;
    }
    hub.change_availability(|a| {
        a.on_reported(device, msg.availability, hub.now())
            .into_iter()
            .collect()
    })
    .await;
    Ok(())
}

async fn on_state(hub: &HubState, device: &str, payload: &[u8]) -> Result<(), PayloadError> {
    let msg: StateMsg = decode(payload)?;
    alive(hub, device).await;
    if let Err(e) = hub.store.set_device_state(device, &msg) {
        tracing::warn!(device, "could not store state: {e}");
    }
    hub.emit(
        "state",
        Some(device),
        serde_json::to_value(&msg).unwrap_or_default(),
    );
    Ok(())
}

async fn on_telemetry(hub: &HubState, device: &str, payload: &[u8]) -> Result<(), PayloadError> {
    let msg: TelemetryMsg = decode(payload)?;
    alive(hub, device).await;
    if let Err(e) = hub.store.insert_telemetry(device, &msg) {
        tracing::warn!(device, "could not store telemetry: {e}");
    }
    crate::care::on_telemetry(hub, device, &msg).await;
    hub.emit(
        "telemetry",
        Some(device),
        serde_json::to_value(&msg).unwrap_or_default(),
    );
    Ok(())
}

async fn on_event(hub: &HubState, device: &str, payload: &[u8]) -> Result<(), PayloadError> {
    // A payload that can never be stored (it does not parse, or names ids that are not
    // ids) is acknowledged all the same (it is counted and logged as dropped), or the
    // camera would send it forever.
    let checked = decode::<EventMsg>(payload).and_then(|msg| {
        msg.check_ids(device)?;
        Ok(msg)
    });
    let msg = match checked {
        Ok(msg) => msg,
        Err(e) => {
            if let Some(seq) = seq_of(payload) {
                ack_event(hub, device, seq).await;
            }
            return Err(e);
        }
    };
    alive(hub, device).await;
    // The store merges a `clip_recorded` event's data into the clip's row.
    match hub.store.insert_event(device, &msg) {
        Ok(EventInsert::Inserted) => {
            hub.storage_ok();
            ack_event(hub, device, msg.seq).await;
            hub.emit(
                "event",
                Some(device),
                serde_json::to_value(&msg).unwrap_or_default(),
            );
            crate::care::on_event(hub, device, &msg).await;
        }
        Ok(EventInsert::Duplicate) => {
            tracing::debug!(device, seq = msg.seq, "duplicate event ignored");
            ack_event(hub, device, msg.seq).await;
        }
        // Not acknowledged: the camera keeps the event and sends it again.
        Err(e) if e.is_storage_full() => {
            hub.storage_refused(&format!(
                "event {device}#{} waits on the camera: {e}",
                msg.seq
            ))
            .await
        }
        Err(e) => tracing::warn!(
            device,
            "could not store event (the camera sends it again): {e}"
        ),
    }
    Ok(())
}

/// Tells `device` that its event `seq` is stored: it may delete it from its queue.
async fn ack_event(hub: &HubState, device: &str, seq: u64) {
    let msg = EventAckMsg {
        v: 1,
        ts: hub.now(),
        seq,
    };
    let topic = hub.topics(device).event_ack();
    if let Err(e) = hub
        .mqtt
        .publish(topic, rumqttc::QoS::AtLeastOnce, false, encode(&msg))
        .await
    {
        tracing::warn!(device, seq, "could not acknowledge an event: {e}");
    }
}

/// The `seq` of an event payload that does not decode, if it has one.
fn seq_of(payload: &[u8]) -> Option<u64> {
    serde_json::from_slice::<serde_json::Value>(payload)
        .ok()?
        .get("seq")?
        .as_u64()
}

async fn on_cmd_result(hub: &HubState, device: &str, payload: &[u8]) -> Result<(), PayloadError> {
    let msg: CmdResultMsg = decode(payload)?;
    alive(hub, device).await;
    match hub.store.record_command_result(device, &msg) {
        Ok(CommandResultOutcome::Recorded) => {
            if let Ok(Some(cmd)) = hub.store.command(&msg.id) {
                hub.emit("command", Some(device), crate::api::command_json(hub, &cmd));
            }
        }
        Ok(CommandResultOutcome::Duplicate) => {}
        Ok(CommandResultOutcome::UnknownCommand) => {
            tracing::warn!(device, id = %msg.id, "result for a command the hub did not send")
        }
        Err(e) => tracing::warn!(device, "could not store command result: {e}"),
    }
    Ok(())
}
