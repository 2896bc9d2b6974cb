//! The hub's shared state and the actions both the HTTP API and the MQTT side take:
//! publishing settings and commands, applying availability transitions, feeding the
//! live stream.

mod owner_access;
mod pairing;
mod storage;

pub use pairing::{PAIRING_WINDOW_MS, PairingProgress};

use crate::availability::{AvailabilityTracker, Liveness, Transition};
use crate::clock::SharedClock;
use crate::hub_light::HubFacts;
use rumqttc::{AsyncClient, QoS};
use serde_json::{Value, json};
use std::collections::{BTreeMap, HashMap};
use watchlight_doctor::HubNetwork;
use watchlight_store::{Command, Device, NewCommand, Store, StoreError};

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use tokio::sync::broadcast;
use watchlight_protocol::messages::{
    Availability, AvailabilityMsg, CommandMsg, SettingsMsg, encode,
};
use watchlight_protocol::topics::DeviceTopics;
use watchlight_protocol::{Settings, SettingsPatch};

pub use watchlight_store::COMMAND_EXPIRY_MS;

pub struct HubState {
    pub(crate) home: String,
    pub(crate) data_dir: PathBuf,
    pub(crate) clock: SharedClock,
    pub(crate) store: Store,
    pub(crate) mqtt: AsyncClient,
    /// The embedded broker's credential table; `None` with an external broker.
    pub(crate) broker_devices: Option<watchlight_broker::DeviceRegistry>,
    /// With an external broker: where device credentials go.
    pub(crate) credential_sink: Option<Arc<dyn crate::credentials::CredentialSink>>,
    /// What cameras are told to connect to.
    pub(crate) mqtt_url: String,
    pub(crate) http_url: String,
    /// The certificate cameras pin; `None` when insecure.
    pub(crate) cert_pem: Option<String>,
    availability: Mutex<AvailabilityTracker>,
    /// Held from computing an availability change to having applied it
    /// ([`HubState::change_availability`]), so changes are published, stored and told
    /// in the order the tracker made them.
    availability_order: tokio::sync::Mutex<()>,
    pairing: Mutex<HashMap<String, PairingProgress>>,
    /// Dropped MQTT payloads by reason.
    dropped: Mutex<BTreeMap<String, u64>>,
    live: broadcast::Sender<Value>,
    upstream_up: AtomicBool,
    reset_armed: AtomicBool,
    /// The reset button (simulated: `POST /api/v1/hub/button`); arms `reset_armed`.
    pub(crate) button: crate::reset_button::HubButton,
    /// SHA-256 of the one-time setup token and its expiry.
    setup_token: Mutex<Option<(String, u64)>>,
    pub(crate) http: reqwest::Client,
    /// The owner services: notifications, battery, arming schedule, reports, metrics.
    pub(crate) care: crate::care::Care,
    /// The hub's own network, sampled by the runtime (`netwatch_loop`).
    netwatch: Mutex<crate::netwatch::NetWatch>,
    /// Whether the disk is full, kept in memory (`storage`).
    storage: Mutex<crate::storage::StorageWatch>,
    /// Free space the hub keeps by deleting the oldest clips (`storage`).
    storage_reserve_bytes: u64,
    /// Owner sessions opened while the disk was full (`storage`): digest → expiry.
    memory_sessions: Mutex<HashMap<[u8; 32], u64>>,
    /// Who watches which camera live, and the relay of its frames.
    pub(crate) live_view: crate::live_view::LiveViews,
    /// Secret command arguments until delivered (memory only).
    held: crate::held::Held,
    /// Wrong owner passwords per source address (`api::limits`).
    login_guesses: Mutex<watchlight_broker::guesses::GuessLimiter>,
    /// The hub's time the availability deadlines were last applied at (`tick_loop`).
    deadlines_seen: tokio::sync::watch::Sender<u64>,
}

/// What a start gives the hub's state: its configuration and what it loaded; the rest
/// (availability, pairings, sessions, held secrets) starts empty.
pub(crate) struct StateParts {
    pub home: String,
    pub data_dir: PathBuf,
    pub clock: SharedClock,
    pub store: Store,
    pub mqtt: AsyncClient,
    pub broker_devices: Option<watchlight_broker::DeviceRegistry>,
    pub credential_sink: Option<Arc<dyn crate::credentials::CredentialSink>>,
    pub mqtt_url: String,
    pub http_url: String,
    pub cert_pem: Option<String>,
    pub care: crate::care::Care,
    pub netwatch: crate::netwatch::NetWatch,
    pub storage_reserve_bytes: u64,
    pub live_cap_ms: u64,
}

pub type Shared = Arc<HubState>;

impl HubState {
    pub(crate) fn new(p: StateParts) -> HubState {
        let (live, _) = broadcast::channel(1024);
        HubState {
            home: p.home,
            data_dir: p.data_dir,
            clock: p.clock,
            store: p.store,
            mqtt: p.mqtt,
            broker_devices: p.broker_devices,
            credential_sink: p.credential_sink,
            mqtt_url: p.mqtt_url,
            http_url: p.http_url,
            cert_pem: p.cert_pem,
            availability: Mutex::new(AvailabilityTracker::new()),
            availability_order: tokio::sync::Mutex::new(()),
            pairing: Mutex::new(Default::default()),
            dropped: Mutex::new(Default::default()),
            live,
            upstream_up: AtomicBool::new(false),
            reset_armed: AtomicBool::new(false),
            button: crate::reset_button::HubButton::default(),
            setup_token: Mutex::new(None),
            http: reqwest::Client::new(),
            care: p.care,
            netwatch: Mutex::new(p.netwatch),
            storage: Mutex::default(),
            storage_reserve_bytes: p.storage_reserve_bytes,
            memory_sessions: Mutex::default(),
            live_view: crate::live_view::LiveViews::new(p.live_cap_ms),
            held: Default::default(),
            login_guesses: crate::api::owner_logins(),
            deadlines_seen: tokio::sync::watch::Sender::new(0),
        }
    }

    pub fn now(&self) -> u64 {
        self.clock.now_ms()
    }

    /// The hub's database.
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// The owner services.
    pub fn care(&self) -> &crate::care::Care {
        &self.care
    }

    /// Listens to every record [`HubState::emit`] sends from now on.
    pub fn subscribe_live(&self) -> broadcast::Receiver<Value> {
        self.live.subscribe()
    }

    /// Says the availability deadlines and the reset button were looked at the hub's
    /// time `now_ms` (what [`HubState::deadlines_applied`] waits for).
    pub(crate) fn deadlines_looked_at(&self, now_ms: u64) {
        self.deadlines_seen.send_replace(now_ms);
    }

    /// Records whether the hub's own MQTT session is up; returns whether it was.
    pub(crate) fn set_upstream_up(&self, up: bool) -> bool {
        self.upstream_up.swap(up, Ordering::Relaxed)
    }

    /// Records whether the reset button is armed; returns whether it was.
    pub(crate) fn set_reset_armed(&self, armed: bool) -> bool {
        self.reset_armed.swap(armed, Ordering::Relaxed)
    }

    /// Feeds one sample of the hub's network to [`crate::netwatch::NetWatch`]: the change
    /// it makes, if any, and its memory when the sample changed that (to be kept).
    pub(crate) fn observe_network(
        &self,
        sample: &crate::netwatch::Sample,
        now_ms: u64,
    ) -> (
        Option<crate::netwatch::Transition>,
        Option<crate::netwatch::Memory>,
    ) {
        let mut w = self.netwatch.lock().unwrap_or_else(|p| p.into_inner());
        let remembered = w.memory().clone();
        let t = w.observe(sample, now_ms);
        let memory = w.memory().clone();
        (t, (memory != remembered).then_some(memory))
    }

    /// Starts or goes on tracking `device`'s availability; `known` is what was recorded.
    pub(crate) fn track_availability(
        &self,
        device: &str,
        liveness: Liveness,
        known: Option<Availability>,
        now_ms: u64,
    ) {
        self.availability
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .track(device, liveness, known, now_ms);
    }

    /// Stops tracking a removed camera's availability.
    pub(crate) fn forget_availability(&self, device: &str) {
        self.availability
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .forget(device);
    }

    /// The hub's time of the next battery check-in deadline, if any.
    pub(crate) fn next_availability_deadline(&self) -> Option<u64> {
        self.availability
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .next_deadline()
    }

    /// Resolves once the availability deadlines and the reset button have been looked at
    /// the hub's time `now_ms` (or later): a camera whose deadline had not come by then
    /// is still as it was (what a test awaits before saying "not a ms early").
    pub async fn deadlines_applied(&self, now_ms: u64) {
        let _ = self
            .deadlines_seen
            .subscribe()
            .wait_for(|t| *t >= now_ms)
            .await;
    }

    pub fn topics(&self, device: &str) -> DeviceTopics {
        DeviceTopics::new(self.home.clone(), device)
    }

    /// Sends a record to every open live stream (nobody listening is fine).
    pub fn emit(&self, kind: &str, device: Option<&str>, data: Value) {
        let _ = self.live.send(json!({
            "type": kind,
            "device": device,
            "ts": self.now(),
            "data": data,
        }));
    }

    pub fn count_dropped(&self, reason: &str) {
        *self
            .dropped
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .entry(reason.to_string())
            .or_default() += 1;
    }

    pub fn dropped_counts(&self) -> BTreeMap<String, u64> {
        self.dropped
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// The hub's network now (`None` before its first sample).
    pub fn network(&self) -> Option<HubNetwork> {
        self.netwatch
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .state(self.now())
    }

    /// The most telling state of the hub's network in the day before `now_ms`, the
    /// doctor's `hub_network` (`None` before the first sample).
    pub fn network_last_day(&self, now_ms: u64) -> Option<HubNetwork> {
        self.netwatch
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .last_day(now_ms)
    }

    pub fn facts(&self) -> HubFacts {
        let now = self.now();
        HubFacts {
            reset_armed: self.reset_armed.load(Ordering::Relaxed),
            // Before the first sample, or on a machine whose network cannot be read,
            // the hub does not claim to have no network.
            network_up: self.network() != Some(HubNetwork::NoNetwork),
            upstream_up: self.upstream_up.load(Ordering::Relaxed),
            storage_full: self.storage_full().is_some(),
            pairing_window_open: self
                .pairing
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .values()
                .any(|p| p.is_open(now)),
        }
    }

    pub fn liveness(settings: &Settings, device: &Device) -> Liveness {
        if device.profile.profile().on_battery() {
            Liveness::Battery {
                checkin_interval_ms: u64::from(settings.checkin_interval) * 1000,
            }
        } else {
            Liveness::Mains
        }
    }

    pub fn computed_availability(&self, device: &str) -> Option<Availability> {
        self.availability
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .current(device)
    }

    /// Publishes the camera's whole settings document, retained.
    pub async fn publish_settings(&self, device: &str, settings: &Settings) {
        let msg = SettingsMsg {
            v: 1,
            ts: self.now(),
            settings: settings.clone(),
        };
        let topic = self.topics(device).settings();
        if let Err(e) = self
            .mqtt
            .publish(topic, QoS::AtLeastOnce, true, encode(&msg))
            .await
        {
            tracing::warn!(device, "could not publish settings: {e}");
        }
        crate::care::on_settings(self, device, settings).await;
    }

    /// Saves a settings change (the store bumps the version) and publishes the new
    /// document.
    pub async fn update_settings(
        &self,
        device: &str,
        patch: &SettingsPatch,
    ) -> Result<Settings, StoreError> {
        let before = self.store.settings(device)?;
        let next = self.store.update_settings(device, patch)?;
        if next.version == before.version {
            return Ok(next);
        }
        if let Some(d) = self.store.device(device)? {
            self.track_availability(device, Self::liveness(&next, &d), None, self.now());
        }
        self.publish_settings(device, &next).await;
        self.emit("settings", Some(device), json!({"version": next.version}));
        Ok(next)
    }

    /// Sends a command now; a sleeping camera's persistent session keeps it until its
    /// next check-in, and the command says when it expires.
    pub async fn send_command(&self, cmd: &Command) {
        let args = if crate::held::has_secret(&cmd.args) {
            let Some(args) = self.secret_args(cmd) else {
                return;
            };
            args
        } else {
            cmd.args.clone()
        };
        let msg = CommandMsg {
            v: 1,
            ts: self.now(),
            id: cmd.id.clone(),
            args,
            expires_ts: cmd.expires_ms,
        };
        let topic = self.topics(&cmd.device_id).cmd(&cmd.name);
        match self
            .mqtt
            .publish(topic, QoS::AtLeastOnce, false, encode(&msg))
            .await
        {
            Ok(()) => {
                self.held.forget(&cmd.id);
                self.care.sent("cmd");
                if let Err(e) = self.store.mark_command_sent(&cmd.id) {
                    tracing::warn!(device = %cmd.device_id, "could not mark a command sent: {e}");
                }
            }
            Err(e) => tracing::warn!(device = %cmd.device_id, "could not send command: {e}"),
        }
    }

    /// A command's arguments with its secrets, only while its camera is online (so the
    /// broker hands them over instead of queueing them on disk); `None` means not now.
    /// A secret lost to a hub restart fails the command.
    fn secret_args(&self, cmd: &Command) -> Option<serde_json::Map<String, Value>> {
        let online = self
            .availability
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .current(&cmd.device_id)
            == Some(Availability::Online);
        if !online {
            tracing::debug!(device = %cmd.device_id, id = %cmd.id, "a command with a secret waits until its camera is online");
            return None;
        }
        let args = self.held.args(&cmd.id, &cmd.args);
        if args.is_none() {
            let lost = watchlight_protocol::messages::CmdResultMsg {
                v: 1,
                ts: self.now(),
                id: cmd.id.clone(),
                ok: false,
                error: Some(
                    "the hub restarted before it could deliver the passphrase; send it again"
                        .into(),
                ),
            };
            if let Err(e) = self.store.record_command_result(&cmd.device_id, &lost) {
                tracing::warn!(device = %cmd.device_id, "could not fail a command: {e}");
            }
        }
        args
    }

    /// Records a new command (expiring in 10 minutes) for `device`; its secrets are held
    /// in memory, never stored ([`crate::held`]).
    pub fn new_command(
        &self,
        device: &str,
        name: &str,
        args: serde_json::Map<String, Value>,
    ) -> Result<Command, StoreError> {
        let (args, secrets) = crate::held::split(args);
        let expires_ms = Some(self.now() + COMMAND_EXPIRY_MS);
        let cmd = self.store.insert_command(&NewCommand {
            id: crate::secrets::new_token()[..16].to_string(),
            device_id: device.into(),
            name: name.into(),
            args,
            expires_ms,
        })?;
        self.held.hold(&cmd.id, secrets, expires_ms, self.now());
        Ok(cmd)
    }

    /// Changes availability through `change` (the tracker's answer to a message or a
    /// deadline) and applies what changed before another change may be computed. The
    /// ingest and the deadline loop run side by side: without the order, a check-in's
    /// "online" could be applied before a missed deadline's "offline" computed just
    /// ahead of it, leaving the camera offline in the store and held for the router.
    pub async fn change_availability(
        &self,
        change: impl FnOnce(&mut AvailabilityTracker) -> Vec<Transition>,
    ) {
        let _order = self.availability_order.lock().await;
        let due = change(&mut self.availability.lock().unwrap_or_else(|p| p.into_inner()));
        for t in due {
            self.apply_transition(t).await;
        }
    }

    /// Publishes, records and announces an availability change; on a camera coming
    /// online, sets its clock and sends what waited for it.
    async fn apply_transition(&self, t: Transition) {
        tracing::info!(device = %t.device, from = ?t.from, to = t.to.as_str(), "availability");
        let msg = AvailabilityMsg {
            v: 1,
            ts: t.at_ms,
            availability: t.to,
        };
        let topic = self.topics(&t.device).hub_availability();
        if let Err(e) = self
            .mqtt
            .publish(topic, QoS::AtLeastOnce, true, encode(&msg))
            .await
        {
            tracing::warn!("could not publish availability: {e}");
        }
        if let Err(e) = self.store.set_availability(&t.device, t.to, reason(&t)) {
            tracing::warn!("could not record availability: {e}");
        }
        self.emit(
            "availability",
            Some(&t.device),
            json!({"availability": t.to, "from": t.from}),
        );
        crate::care::on_transition(self, &t).await;
        if t.to == Availability::Online {
            let mut args = serde_json::Map::new();
            args.insert("now_ms".into(), json!(self.now()));
            match self.new_command(&t.device, "time", args) {
                Ok(time) => self.send_command(&time).await,
                Err(e) => tracing::warn!(device = %t.device, "could not record cmd/time: {e}"),
            }
            // Commands made before the camera's first connection had no session to
            // wait in: send them now.
            if let Ok(waiting) = self.store.pending_commands(&t.device) {
                for cmd in waiting.iter().filter(|c| c.sent_ms.is_none()) {
                    self.send_command(cmd).await;
                }
            }
        }
    }

    /// Derives each camera's `armed` setting from the arming mode.
    pub async fn apply_arming(&self) -> Result<(), StoreError> {
        let arming = self.store.arming()?;
        for d in self.store.devices()? {
            if d.removed_ms.is_some() {
                continue;
            }
            let patch = SettingsPatch {
                armed: Some(arming.arms(&d.id)),
                ..SettingsPatch::default()
            };
            self.update_settings(&d.id, &patch).await?;
        }
        self.emit("arming", None, arming_json(&arming));
        crate::care::on_arming(self, arming.mode).await;
        Ok(())
    }
}

pub fn arming_json(a: &watchlight_store::Arming) -> Value {
    json!({
        "mode": a.mode.as_str(),
        "home_cameras": a.home_cameras,
        "updated_ms": a.updated_ms,
    })
}

/// Why an availability changed, as the history records it.
fn reason(t: &Transition) -> &'static str {
    match t.to {
        Availability::Online => "connected",
        Availability::Sleeping => "sleeping",
        Availability::Offline if t.reported => "last_will",
        Availability::Offline => "checkin_missed",
    }
}
