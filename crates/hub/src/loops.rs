//! The hub's background loops, spawned by [`Hub::start`](crate::Hub::start) and stopped
//! by its shutdown signal: its MQTT session, ingestion, the availability deadlines and
//! reset button, the owner services' tick, housekeeping and the hub's network.

use crate::netwatch::NetworkProbe;
use crate::state::{HubState, Shared};
use rumqttc::{Event, Packet, QoS};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;

/// How often the availability deadlines are checked (battery cameras).
const TICK: Duration = Duration::from_millis(100);
/// How often retention and telemetry compaction run.
const HOUSEKEEPING: Duration = Duration::from_secs(60);

/// Spawns every loop; each stops when `shutdown` turns true (ingestion when the MQTT
/// loop, its only sender, has stopped).
pub(crate) fn spawn(
    hub: &Shared,
    eventloop: rumqttc::EventLoop,
    network: Arc<dyn NetworkProbe>,
    network_every: Duration,
    shutdown: &watch::Receiver<bool>,
) -> Vec<JoinHandle<()>> {
    let (msg_tx, msg_rx) = mpsc::unbounded_channel();
    vec![
        tokio::spawn(mqtt_loop(hub.clone(), eventloop, msg_tx, shutdown.clone())),
        tokio::spawn(ingest_loop(hub.clone(), msg_rx)),
        tokio::spawn(tick_loop(hub.clone(), shutdown.clone())),
        tokio::spawn(crate::care::run(hub.clone(), shutdown.clone())),
        tokio::spawn(housekeeping_loop(hub.clone(), shutdown.clone())),
        tokio::spawn(netwatch_loop(
            hub.clone(),
            network,
            network_every,
            shutdown.clone(),
        )),
    ]
}

async fn mqtt_loop(
    hub: Shared,
    mut eventloop: rumqttc::EventLoop,
    messages: mpsc::UnboundedSender<(String, bytes::Bytes)>,
    mut shutdown: watch::Receiver<bool>,
) {
    let filters = crate::ingest::filters(&hub.home);
    loop {
        tokio::select! {
            _ = shutdown.changed() => break,
            event = eventloop.poll() => match event {
                Ok(Event::Incoming(Packet::ConnAck(_))) => {
                    hub.set_upstream_up(true);
                    tracing::info!("hub connected to the MQTT broker");
                    for f in &filters {
                        if let Err(e) = hub.mqtt.try_subscribe(f.clone(), QoS::AtLeastOnce) {
                            tracing::warn!("could not subscribe to {f}: {e}");
                        }
                    }
                }
                Ok(Event::Incoming(Packet::Publish(p))) => {
                    let _ = messages.send((p.topic.clone(), p.payload.clone()));
                }
                Ok(_) => {}
                Err(e) => {
                    if hub.set_upstream_up(false) {
                        tracing::warn!("hub lost the MQTT broker: {e}");
                    }
                    tokio::select! {
                        _ = shutdown.changed() => break,
                        _ = tokio::time::sleep(Duration::from_millis(250)) => {}
                    }
                }
            }
        }
    }
}

async fn ingest_loop(hub: Shared, mut messages: mpsc::UnboundedReceiver<(String, bytes::Bytes)>) {
    while let Some((topic, payload)) = messages.recv().await {
        crate::ingest::handle(&hub, &topic, &payload).await;
    }
}

/// Applies the battery check-in deadlines and arms the reset button, woken by the hub's
/// clock.
async fn tick_loop(hub: Shared, mut shutdown: watch::Receiver<bool>) {
    let mut seen = None;
    loop {
        // Wake at the next deadline when it comes before the next tick, so a camera is
        // counted offline at its deadline, not up to a tick later.
        let next = hub.next_availability_deadline();
        let tick = hub.now().saturating_add(TICK.as_millis() as u64);
        let wake = next.map_or(tick, |d| d.min(tick));
        tokio::select! {
            _ = shutdown.changed() => break,
            _ = crate::clock::next_look(hub.clock.as_ref(), seen, wake) => {}
        }
        let now = hub.now();
        seen = Some(now);
        let armed = hub.button.is_armed(now);
        if hub.set_reset_armed(armed) != armed {
            tracing::warn!(armed, "hub reset button");
            hub.emit(
                "hub_light",
                None,
                serde_json::json!(crate::hub_light::hub_light(hub.facts())),
            );
        }
        hub.change_availability(|a| a.tick(now)).await;
        hub.deadlines_looked_at(now);
    }
}

/// Retention of clips and compaction of telemetry, at start and every [`HOUSEKEEPING`]
/// of the hub's time.
async fn housekeeping_loop(hub: Shared, mut shutdown: watch::Receiver<bool>) {
    loop {
        let h = hub.clone();
        let _ = tokio::task::spawn_blocking(move || {
            let now = h.now();
            let deleted = match h.store.retention(now) {
                Ok(r) => r.deleted,
                Err(e) => {
                    tracing::warn!("retention failed: {e}");
                    Vec::new()
                }
            };
            for d in deleted.iter().chain(&h.keep_reserve()) {
                h.emit(
                    "clip_deleted",
                    Some(&d.device_id),
                    serde_json::json!({"clip_id": d.clip_id, "reason": format!("{:?}", d.reason).to_lowercase()}),
                );
            }
            if let Err(e) = h.store.compact(now) {
                tracing::warn!("telemetry compaction failed: {e}");
            }
        })
        .await;
        tokio::select! {
            _ = shutdown.changed() => break,
            _ = crate::clock::sleep(hub.clock.as_ref(), HOUSEKEEPING) => {}
        }
    }
}

/// Looks at the hub's network at start and every `every` of the hub's time: feeds [`NetWatch`] (the
/// light's `network_up`, the doctor's `hub_network`), keeps its memory in the store, and
/// tells each change: the log, a notice for the owner, the live stream (and the light
/// when it changes).
async fn netwatch_loop(
    hub: Shared,
    probe: Arc<dyn NetworkProbe>,
    every: Duration,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut unreadable_said = false;
    loop {
        let p = probe.clone();
        match tokio::task::spawn_blocking(move || p.sample()).await {
            Ok(Ok(sample)) => {
                unreadable_said = false;
                let h = hub.clone();
                let _ = tokio::task::spawn_blocking(move || network_sampled(&h, &sample)).await;
            }
            Ok(Err(e)) if !unreadable_said => {
                unreadable_said = true;
                tracing::warn!("cannot look at the hub's network: {e}");
            }
            Ok(Err(_)) => {}
            Err(e) => tracing::warn!("the network probe failed: {e}"),
        }
        tokio::select! {
            _ = shutdown.changed() => break,
            _ = crate::clock::sleep(hub.clock.as_ref(), every) => {}
        }
    }
}

/// Applies one sample of the hub's network (blocking: it writes to the store).
fn network_sampled(hub: &HubState, sample: &crate::netwatch::Sample) {
    let light_before = crate::hub_light::hub_light(hub.facts()).id;
    let now = hub.now();
    let (transition, changed_memory) = hub.observe_network(sample, now);
    if let Some(memory) = changed_memory {
        match serde_json::to_string(&memory) {
            Ok(json) => {
                if let Err(e) = hub.store.config_set(crate::netwatch::MEMORY_KEY, &json) {
                    tracing::warn!("could not keep the hub's network memory: {e}");
                }
            }
            Err(e) => tracing::warn!("could not encode the hub's network memory: {e}"),
        }
    }
    let Some(t) = transition else {
        return;
    };
    let message = t.message();
    let data = serde_json::json!({
        "hub_network": t.to,
        "from": t.from,
        "addresses": t.addresses,
        "previous_addresses": t.previous_addresses,
    });
    if t.to == watchlight_doctor::HubNetwork::Ok {
        tracing::info!(from = ?t.from, addresses = ?t.addresses, "hub network: {message}");
    } else {
        tracing::warn!(from = ?t.from, addresses = ?t.addresses, "hub network: {message}");
    }
    if t.worth_a_notice()
        && let Err(e) = hub
            .store
            .add_notice(crate::netwatch::NOTICE_KIND, None, &message, &data)
    {
        tracing::warn!("could not record the hub network notice: {e}");
    }
    hub.emit("hub_network", None, data);
    let light = crate::hub_light::hub_light(hub.facts());
    if light.id != light_before {
        hub.emit("hub_light", None, serde_json::json!(light));
    }
}
