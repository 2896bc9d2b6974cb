//! The owner services (`watchlight-care`) wired into the running hub: battery
//! forecasts, notifications (feed, webhooks, MQTT), arming schedules, monthly reports,
//! Home Assistant, support bundles and Prometheus metrics.
//!
//! The decisions stay in the sans-IO library; this module feeds it from the hub's store,
//! MQTT ingestion and clock, and carries its outputs out. The shared hub code calls the
//! `on_*` hooks below where things happen; [`run`] is the periodic task (router deadlines,
//! schedule switches, month boundaries, storage notices) on the hub's injected clock.

pub mod arming;
pub mod battery;
pub mod bundle;
mod doctor;
pub mod homeassistant;
pub mod metrics;
pub mod notify;
pub mod report;
pub mod webhook;

use crate::availability::Transition;
use crate::state::{HubState, Shared};
use std::collections::HashMap;
use std::sync::atomic::AtomicI64;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;
use tokio::sync::watch;
use watchlight_care::homeassistant::HaState;
use watchlight_care::metrics::Metrics;
use watchlight_care::notify::{CareEvent, RetryPolicy, Router};
use watchlight_protocol::messages::{Availability, EventMsg, TelemetryMsg};
use watchlight_protocol::{EventKind, Settings};
use watchlight_store::{Store, StoreError};
use webhook::WebhookSender;

pub use notify::doctor_finding;

/// How often (of the hub's time) [`run`] looks at its deadlines.
const TICK: Duration = Duration::from_millis(100);
/// How often the store's notices are checked for storage news.
const NOTICE_POLL: Duration = Duration::from_secs(1);

/// The care state the hub keeps (in [`HubState::care`]).
pub struct Care {
    /// The home's notification router (storm control, switches).
    pub router: Mutex<Router>,
    /// Shared with webhook delivery tasks.
    pub metrics: Arc<Mutex<Metrics>>,
    pub sender: WebhookSender,
    pub retry: Mutex<RetryPolicy>,
    /// The latest forecast of each battery camera.
    battery: Mutex<HashMap<String, battery::BatteryStatus>>,
    /// What Home Assistant was last told about each camera.
    ha: Mutex<HashMap<String, HaState>>,
    arming: Mutex<arming::Timer>,
    /// When the last month-boundary report was made (or the database created).
    report_last_run: Mutex<Option<u64>>,
    /// The highest store notice already routed.
    last_notice: AtomicI64,
    /// The hub's time [`run`] last looked at (deadlines, schedule, month boundary).
    looked: watch::Sender<u64>,
    /// Webhook deliveries started and not yet ended.
    deliveries: Arc<watch::Sender<usize>>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Care {
    /// Loads what care keeps from the store: switched-off kinds, the cameras, the schedule.
    pub fn load(store: &Store, home: &str) -> Result<Care, StoreError> {
        let router = notify::load_router(store, home)?;
        let last_run = match store.last_monthly_report_ms()? {
            Some(t) => t,
            None => store.created_ms()?,
        };
        Ok(Care {
            router: Mutex::new(router),
            metrics: Arc::new(Mutex::new(Metrics::new())),
            sender: WebhookSender::default(),
            retry: Mutex::new(RetryPolicy::default()),
            battery: Mutex::new(HashMap::new()),
            ha: Mutex::new(HashMap::new()),
            arming: Mutex::new(arming::Timer::load(store)?),
            report_last_run: Mutex::new(Some(last_run)),
            last_notice: AtomicI64::new(store.last_notice_id()?),
            looked: watch::Sender::new(0),
            deliveries: Arc::new(watch::Sender::new(0)),
        })
    }

    /// Resolves once the care task has looked at the hub's time `now_ms` (or later) and
    /// every webhook delivery started by then has ended: after it, what care did at
    /// that time is all there is to see (a test's "nothing was sent" is then a fact).
    pub async fn settled(&self, now_ms: u64) {
        let _ = self.looked.subscribe().wait_for(|t| *t >= now_ms).await;
        let _ = self.deliveries.subscribe().wait_for(|n| *n == 0).await;
    }

    pub fn metrics(&self) -> MutexGuard<'_, Metrics> {
        lock(&self.metrics)
    }

    /// Counts a message the hub published (for `/metrics`).
    pub fn sent(&self, topic: &str) {
        self.metrics().record_message_out(topic);
    }
}

/// The cameras the home has now (not removed).
pub(crate) fn cameras(hub: &HubState) -> Vec<watchlight_store::Device> {
    match hub.store.devices() {
        Ok(d) => d.into_iter().filter(|d| d.removed_ms.is_none()).collect(),
        Err(e) => {
            tracing::warn!("care: could not list cameras: {e}");
            Vec::new()
        }
    }
}

/// A camera was paired or forgotten: the router's home and Home Assistant follow.
pub async fn on_cameras_changed(hub: &HubState) {
    let ids: Vec<String> = cameras(hub).into_iter().map(|d| d.id).collect();
    lock(&hub.care.router).set_cameras(ids);
}

/// An availability transition: news for the router (its "offline", once held past a
/// flap, is also a case for the doctor: see [`notify::dispatch`]).
pub async fn on_transition(hub: &HubState, t: &Transition) {
    hub.care.sent("availability");
    let event = match (t.from, t.to) {
        (_, Availability::Offline) => CareEvent::CameraOffline {
            camera: t.device.clone(),
        },
        (Some(Availability::Offline), _) => CareEvent::CameraOnline {
            camera: t.device.clone(),
        },
        _ => return,
    };
    notify::notify(hub, event).await;
}

/// A telemetry message: battery forecast, Home Assistant's sensors.
pub async fn on_telemetry(hub: &HubState, device: &str, msg: &TelemetryMsg) {
    battery::on_telemetry(hub, device, msg).await;
    homeassistant::update(hub, device, |s| {
        if msg.rssi_dbm.is_some() {
            s.rssi_dbm = msg.rssi_dbm;
        }
        if msg.temperature_c.is_some() {
            s.temperature_c = msg.temperature_c;
        }
    })
    .await;
}

/// A stored (new) event: motion for the feed and Home Assistant, battery low, and the
/// doctor on a telling event.
pub async fn on_event(hub: &HubState, device: &str, msg: &EventMsg) {
    match msg.event {
        EventKind::ClipRecorded => {
            let Some(clip_id) = msg.data.get("clip_id").and_then(|v| v.as_str()) else {
                return;
            };
            let event = CareEvent::Motion {
                camera: device.into(),
                clip_id: clip_id.into(),
                thumbnail_url: format!("{}/api/v1/clips/{clip_id}/thumbnail", hub.http_url),
            };
            notify::notify(hub, event).await;
        }
        EventKind::MotionStart | EventKind::MotionEnd => {
            let on = msg.event == EventKind::MotionStart;
            homeassistant::update(hub, device, |s| s.motion = on_off(on)).await;
        }
        EventKind::BatteryLow => {
            // Reported late (a sleeping camera's queue) after fresh batteries: no news.
            if battery::replaced_since(hub, device, msg.ts) {
                tracing::info!(device, "battery_low from before fresh batteries: not told");
                return;
            }
            // The charge when the camera judged it low, not whatever came since.
            let percent = msg
                .data
                .get("resting_mv")
                .and_then(|v| v.as_u64())
                .map(|mv| watchlight_care::battery::charge_percent(mv as u32))
                .or_else(|| battery::percent_now(hub, device))
                .unwrap_or(0.0);
            notify::notify(
                hub,
                CareEvent::BatteryLow {
                    camera: device.into(),
                    percent,
                },
            )
            .await;
        }
        EventKind::BatteryCritical => {
            let replaced = battery::replaced_since(hub, device, msg.ts);
            let event = CareEvent::BatteryCritical {
                camera: device.into(),
                replaced,
            };
            notify::notify(hub, event).await;
            doctor::check(hub, device).await;
        }
        // Events that tell the doctor something: it looks at the camera's case unasked.
        EventKind::SelfTestFailed | EventKind::WifiRejected | EventKind::HubRejected => {
            doctor::check(hub, device).await
        }
        _ => {}
    }
}

/// A settings document was published: Home Assistant's switches follow it.
pub async fn on_settings(hub: &HubState, device: &str, settings: &Settings) {
    hub.care.sent("settings");
    homeassistant::update(hub, device, |s| {
        s.motion_detection = on_off(settings.motion_detection);
        s.motion_indicator = on_off(settings.motion_indicator);
    })
    .await;
}

/// The arming mode changed: Home Assistant's alarm panel follows.
pub async fn on_arming(hub: &HubState, mode: watchlight_protocol::ArmMode) {
    homeassistant::publish_arming(hub, mode).await;
}

/// A clip video or thumbnail was stored: metrics, and the snapshot Home Assistant shows.
pub async fn on_clip_stored(hub: &HubState, device: &str, clip_id: &str, video: bool, bytes: u64) {
    if video {
        let latency_s = hub
            .store
            .clip(device, clip_id)
            .ok()
            .flatten()
            .and_then(|c| c.meta)
            .map(|m| hub.now().saturating_sub(m.end_ts) as f64 / 1000.0);
        let mut m = hub.care.metrics();
        match latency_s {
            Some(s) => m.record_clip(bytes, s),
            None => m.record_clip_bytes(bytes),
        }
    } else {
        homeassistant::publish_snapshot(hub, device, clip_id).await;
    }
}

fn on_off(b: bool) -> String {
    if b { "ON" } else { "OFF" }.to_string()
}

/// The periodic care task: router deadlines, schedule switches, the month boundary and
/// storage notices, woken by the hub's injected clock (notices in real time). Starts by
/// announcing every camera to Home Assistant.
pub async fn run(hub: Shared, mut shutdown: watch::Receiver<bool>) {
    homeassistant::announce_all(&hub).await;
    let mut next_notice_poll = tokio::time::Instant::now();
    let mut seen = None;
    loop {
        let next = hub.now().saturating_add(TICK.as_millis() as u64);
        tokio::select! {
            _ = shutdown.changed() => break,
            _ = crate::clock::next_look(hub.clock.as_ref(), seen, next) => {}
            // Notices are rows the store writes whatever the clock says: polled in real time.
            _ = tokio::time::sleep_until(next_notice_poll) => {}
        }
        let now = hub.now();
        seen = Some(now);
        let due = lock(&hub.care.router).poll(now);
        notify::dispatch(&hub, due).await;
        arming::tick(&hub, now).await;
        report::tick(&hub, now);
        if tokio::time::Instant::now() >= next_notice_poll {
            next_notice_poll = tokio::time::Instant::now() + NOTICE_POLL;
            notify::route_store_notices(&hub).await;
        }
        hub.care.looked.send_replace(now);
    }
}
