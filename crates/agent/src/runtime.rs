//! The agent's loop: the camera core driven by real time.
//!
//! One task owns everything (core, queue, recorder, detector, hardware simulations,
//! the MQTT session); the local endpoint, the MQTT event loop and clip uploads talk to
//! it through channels. Each turn: wait for the earliest of the core's timeout, the
//! next frame, a battery reading, or a message; feed the core; carry out its outputs;
//! deliver the oldest queued item if the hub is reachable.
//!
//! Delivery is one item at a time, oldest first: an event is published (QoS 1) and
//! deleted from the queue on its PUBACK; a clip is uploaded over HTTP (video, then
//! thumbnail, both with their SHA-256), then its `clip_recorded` event is published,
//! and only that PUBACK deletes it. A cut connection re-sends the item: the hub keeps
//! each `(device, seq)` once and clip uploads are idempotent, so it arrives once.

use crate::config::{AgentConfig, SceneChoice};
use crate::disk_queue::{self, DiskQueue};
use crate::live::{Live, LiveReport};
use crate::local::{self, BatteryBody, Control, LocalShared, ProvisionBody};
use crate::persist::{Credentials, DataDir, PROVISION_URL_FILE, PersistError, QUEUE_DIR};
use crate::scene::CameraScene;
use crate::session::{self, Session, SessionConfig, SessionEvent};
use rand::Rng;
use rumqttc::QoS;
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use tokio::sync::mpsc;
use watchlight_camera::queue::{DEFAULT_BUDGET_BYTES, ItemBody, QueueError, QueuedEvent};
use watchlight_camera::{Command, Core, Input, Output, PersistedState, RecordTrigger, Timed};
use watchlight_hw::sim::{Load, SimBattery, SimWifi};
use watchlight_hw::{BatteryGauge, Clock, FrameError, WifiCredentials, WifiError, WifiLink};
use watchlight_media::{ClipRecorder, ClipTrigger, MediaError, MotionSample, RecorderConfig};
use watchlight_motion::{Detector, DetectorConfig, MotionError};
use watchlight_protocol::messages::{
    Availability, AvailabilityMsg, CmdResultMsg, CommandMsg, EventAckMsg, EventMsg, LightReport,
    SettingsMsg, StateMsg, TelemetryMsg, decode, encode,
};
use watchlight_protocol::topics::{DeviceTopic, DeviceTopics};
use watchlight_protocol::{ConditionId, EventKind, LifecycleState, Light, LightId, Part};

/// How often a battery camera reads its pack.
const BATTERY_READ_EVERY_MS: u64 = 10_000;
/// A battery camera stays connected this long after a check-in, for commands.
const CHECKIN_LINGER_MS: u64 = 1_500;
/// A battery camera whose queue the hub does not take (its disk is full) goes back to
/// sleep after this long connected, and tries again at its next check-in.
const MAX_CHECKIN_MS: u64 = 30_000;
/// After saying goodbye (sleeping, rejoining) the camera waits this long for its
/// session to send the message before it goes.
const HANG_UP_LINGER_MS: u64 = 2_000;
/// While joining, a failed connection is retried this often (the core's join timeout
/// still ends it after 60 s).
const JOIN_RETRY_MS: u64 = 1_000;
/// After a `wifi` command, the camera rejoins this long later (its result can leave first).
const REJOIN_AFTER_MS: u64 = 200;
/// A failed clip upload is retried after this long.
const DELIVERY_RETRY_MS: u64 = 2_000;
/// How long the camera waits for the hub to acknowledge a stored event (`cmd/ack`)
/// before sending it again (the hub stores each seq once).
const HUB_ACK_WAIT_MS: u64 = 5_000;
/// Consecutive PIR frames count as one trigger per this interval.
const PIR_EVERY_MS: u64 = 500;
/// Meta keys starting with this are the agent's own and never leave the camera.
const PRIVATE_META: &str = "_";
const THUMBNAIL_LEN_KEY: &str = "_thumbnail_bytes";

#[derive(Debug, thiserror::Error)]
pub enum AgentError {
    #[error(transparent)]
    Persist(#[from] PersistError),
    #[error(transparent)]
    Queue(#[from] QueueError),
    #[error(transparent)]
    Frames(#[from] FrameError),
    #[error("clip recorder: {0}")]
    Media(#[from] MediaError),
    #[error("motion detector: {0}")]
    Motion(#[from] MotionError),
    #[error("cannot listen on {addr}: {source}")]
    Listen {
        addr: std::net::SocketAddr,
        #[source]
        source: std::io::Error,
    },
    #[error("HTTP client: {0}")]
    Http(String),
}

/// What a started agent tells its caller (the CLI prints it).
#[derive(Debug, Clone)]
pub struct Ready {
    /// `http://ADDR` of the local endpoint (provisioning and `/sim/...` controls).
    pub local_url: String,
    pub pairing_code: String,
    pub device_id: String,
    /// Whether the camera already holds credentials (it then goes straight to joining).
    pub provisioned: bool,
}

/// The camera agent. [`Agent::run`] runs it until `stop` resolves.
pub struct Agent;

impl Agent {
    pub async fn run(
        config: AgentConfig,
        on_ready: impl FnOnce(&Ready),
        stop: impl std::future::Future<Output = ()>,
    ) -> Result<(), AgentError> {
        install_crypto_provider();
        let mut agent = Runtime::new(config).await?;
        on_ready(&agent.ready);
        agent.run(stop).await
    }
}

struct MonoClock(Instant);

impl Clock for MonoClock {
    fn now_ms(&self) -> u64 {
        self.0.elapsed().as_millis() as u64
    }
}

enum InFlight {
    Uploading { seq: u64 },
    Publishing { seq: u64 },
}

struct UploadDone {
    seq: u64,
    result: Result<(), String>,
}

/// A `wifi` command under way: answered once the camera is back with the new
/// credentials, or back with the old ones because the access point refused the new.
struct WifiChange {
    cmd_id: String,
    previous: (String, String),
    error: Option<String>,
}

struct Runtime {
    config: AgentConfig,
    ready: Ready,
    data: DataDir,
    core: Core,
    queue: DiskQueue,
    creds: Option<Credentials>,
    start: Instant,
    /// Hub time minus monotonic time, ms (set by `cmd/time`; the system clock until then).
    hub_offset_ms: i64,

    scene: CameraScene,
    detector: Detector,
    detector_key: (u8, watchlight_protocol::ZoneGrid),
    recorder: ClipRecorder,
    recorder_pre_roll_ms: u64,
    /// Hub time the recording under way started (names a clip that cannot be finished).
    recording_start_ts: u64,
    frame_every_ms: u64,
    next_frame_at: u64,
    motion_on: bool,
    last_pir_at: Option<u64>,
    /// The last frame read failed (logged once per run of failures).
    sensor_failing: bool,
    /// The last PIR read failed (logged once per run of failures).
    pir_failing: bool,

    wifi: Option<SimWifi>,
    link_up: bool,
    radio: crate::radio::SimRadio,
    /// When to drop the link and rejoin with new Wi-Fi credentials.
    rejoin_at: Option<u64>,
    /// The goodbye under way is a rejoin, not a battery camera going to sleep.
    rejoining: bool,
    wifi_change: Option<WifiChange>,
    battery: Option<SimBattery<MonoClock>>,
    next_battery_read: u64,
    powered_off: bool,
    button_release_at: Option<u64>,

    session: Option<Session>,
    sessions_made: u64,
    connected: bool,
    /// A battery camera said goodbye on purpose: its `Closed` is not a lost link.
    closing: bool,
    ever_connected: bool,
    reconnects: u32,
    pending_connect_at: Option<u64>,
    join_retry_at: Option<u64>,
    linger_until: Option<u64>,
    session_tx: mpsc::UnboundedSender<SessionEvent>,
    session_rx: mpsc::UnboundedReceiver<SessionEvent>,

    in_flight: Option<InFlight>,
    /// When to give up waiting for the hub's acknowledgement of the event in flight.
    hub_ack_by: Option<u64>,
    /// When a battery camera's check-in connected (see `MAX_CHECKIN_MS`).
    checkin_since: Option<u64>,
    /// A recording stopped this turn: finish and queue the clip once the turn's events are queued.
    clip_due: bool,
    retry_delivery_at: Option<u64>,
    upload_tx: mpsc::UnboundedSender<UploadDone>,
    upload_rx: mpsc::UnboundedReceiver<UploadDone>,
    http: Option<reqwest::Client>,
    /// Snapshots and live view.
    live: Live,
    live_rx: mpsc::UnboundedReceiver<LiveReport>,

    control_rx: mpsc::UnboundedReceiver<Control>,
    shared: Arc<LocalShared>,
    clips_recorded: u64,
    delivered: u64,
    shown: (ConditionId, Light),
    /// When the shown light ends by itself and what follows it (core time).
    shown_ends: Option<(u64, ConditionId, Light)>,
}

impl Runtime {
    async fn new(config: AgentConfig) -> Result<Runtime, AgentError> {
        let start = Instant::now();
        let data = DataDir::open(&config.data_dir)?;
        let creds = data.load_credentials()?;
        let mut persisted = data.load_core()?.unwrap_or_default();
        if creds.is_none() && (persisted.provisioned || persisted.setup_completed) {
            // Credentials lost (or erased mid-reset): the only way on is setup.
            persisted = PersistedState {
                settings: persisted.settings,
                ..PersistedState::default()
            };
        }
        let profile = config.profile.profile();
        let core = Core::new(profile, persisted, 0);
        let queue = disk_queue::open(data.path(QUEUE_DIR), DEFAULT_BUDGET_BYTES)?;

        let seed = config
            .serial
            .bytes()
            .fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
                (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
            });
        let scene = CameraScene::open(&config.scene, seed)?;
        let (w, h) = scene.size();
        let fps = scene.fps().clamp(1.0, 30.0);
        let settings = core.settings().clone();
        let detector = Detector::new(w, h, detector_config(&settings))?;
        let pre_roll_ms = pre_roll_ms(&config, &settings);
        let recorder = ClipRecorder::new(RecorderConfig::new(w, h, fps, pre_roll_ms))?;

        let (control_tx, control_rx) = mpsc::unbounded_channel();
        let shared = LocalShared::new(config.pairing_code.clone(), control_tx);
        let listener = tokio::net::TcpListener::bind(config.local_addr)
            .await
            .map_err(|source| AgentError::Listen {
                addr: config.local_addr,
                source,
            })?;
        let addr = listener.local_addr().map_err(|source| AgentError::Listen {
            addr: config.local_addr,
            source,
        })?;
        let local_url = format!("http://{addr}");
        data.write_text(PROVISION_URL_FILE, &format!("{local_url}\n"))?;
        let app = local::router(shared.clone());
        tokio::spawn(async move {
            if let Err(e) = axum::serve(listener, app).await {
                tracing::error!("local endpoint stopped: {e}");
            }
        });

        let wifi = match (&config.access_point, &creds) {
            (Some(ap), _) => Some(SimWifi::new(&ap.ssid, &ap.passphrase, -55)),
            (None, Some(c)) => Some(SimWifi::new(&c.wifi_ssid, &c.wifi_passphrase, -55)),
            (None, None) => None,
        };
        let battery = profile
            .on_battery()
            .then(|| SimBattery::new(MonoClock(start), Default::default()));
        let (session_tx, session_rx) = mpsc::unbounded_channel();
        let (upload_tx, upload_rx) = mpsc::unbounded_channel();
        let (live, live_rx) = Live::new();
        let wall = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_millis() as i64)
            .unwrap_or(0);
        let ready = Ready {
            local_url,
            pairing_code: config.pairing_code.clone(),
            device_id: config.device_id(),
            provisioned: creds.is_some(),
        };
        shared.update(|s| {
            s.device_id = config.device_id();
            s.profile = config.profile.as_str().into();
            s.link_up = true;
        });
        Ok(Runtime {
            ready,
            data,
            core,
            queue,
            creds,
            start,
            hub_offset_ms: wall,
            scene,
            detector,
            detector_key: (settings.sensitivity, settings.zones.clone()),
            recorder,
            recorder_pre_roll_ms: pre_roll_ms,
            recording_start_ts: 0,
            frame_every_ms: (1000.0 / fps).round() as u64,
            next_frame_at: 0,
            motion_on: false,
            last_pir_at: None,
            sensor_failing: false,
            pir_failing: false,
            wifi,
            link_up: true,
            radio: crate::radio::SimRadio::new(),
            rejoin_at: None,
            rejoining: false,
            wifi_change: None,
            battery,
            next_battery_read: 0,
            powered_off: false,
            button_release_at: None,
            session: None,
            sessions_made: 0,
            connected: false,
            closing: false,
            ever_connected: false,
            reconnects: 0,
            pending_connect_at: None,
            join_retry_at: None,
            linger_until: None,
            session_tx,
            session_rx,
            in_flight: None,
            hub_ack_by: None,
            checkin_since: None,
            clip_due: false,
            retry_delivery_at: None,
            upload_tx,
            upload_rx,
            http: None,
            live,
            live_rx,
            control_rx,
            shared,
            clips_recorded: 0,
            delivered: 0,
            shown: (ConditionId::Idle, Light::OFF),
            shown_ends: None,
            config,
        })
    }

    fn mono(&self) -> u64 {
        self.start.elapsed().as_millis() as u64
    }

    fn hub_time(&self, mono_ms: u64) -> u64 {
        (mono_ms as i64 + self.hub_offset_ms).max(0) as u64
    }

    fn topics(&self) -> Option<DeviceTopics> {
        self.creds
            .as_ref()
            .map(|c| DeviceTopics::new(c.home.clone(), c.device_id.clone()))
    }

    async fn run(&mut self, stop: impl std::future::Future<Output = ()>) -> Result<(), AgentError> {
        let now = self.mono();
        self.core.handle_input(now, Input::PowerOn);
        self.after_input()?;
        tokio::pin!(stop);
        loop {
            let wake = self.next_wake();
            let sleep_for = Duration::from_millis(wake.saturating_sub(self.mono()));
            tokio::select! {
                _ = &mut stop => break,
                _ = tokio::time::sleep(sleep_for) => {}
                Some(c) = self.control_rx.recv() => self.on_control(c)?,
                Some(e) = self.session_rx.recv() => self.on_session(e)?,
                Some(u) = self.upload_rx.recv() => self.on_upload(u)?,
                Some(r) = self.live_rx.recv() => self.on_live(r),
            }
            self.on_time()?;
            self.after_input()?;
        }
        self.goodbye().await;
        Ok(())
    }

    /// A clean stop: say offline (the last will would say it too, later).
    async fn goodbye(&mut self) {
        if self.connected && self.hang_up(Availability::Offline) {
            // The process exits next: give the session a moment to send the message.
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    fn next_wake(&self) -> u64 {
        let now = self.mono();
        let mut wake = now + 1_000;
        let candidates = [
            self.core.poll_timeout(),
            (!self.powered_off).then_some(self.next_frame_at),
            self.battery.as_ref().map(|_| self.next_battery_read),
            self.button_release_at,
            self.pending_connect_at,
            self.join_retry_at,
            self.linger_until,
            self.retry_delivery_at,
            self.rejoin_at,
            self.hub_ack_by,
            self.live.plan.next_deadline(),
        ];
        for t in candidates.into_iter().flatten() {
            wake = wake.min(t);
        }
        wake
    }

    /// Everything that is due now.
    fn on_time(&mut self) -> Result<(), AgentError> {
        let now = self.mono();
        self.core.handle_timeout(now);
        let due = |t: Option<u64>| t.is_some_and(|t| t <= now);
        if due(self.button_release_at) {
            self.button_release_at = None;
            self.core.handle_input(now, Input::ButtonUp);
        }
        if !self.powered_off && self.next_frame_at <= now {
            self.frame(now)?;
            self.next_frame_at = next_frame_at(self.next_frame_at, self.frame_every_ms, now);
        }
        if self.battery.is_some() && self.next_battery_read <= now {
            self.next_battery_read = now + BATTERY_READ_EVERY_MS;
            self.read_battery(now);
        }
        if due(self.pending_connect_at) {
            self.pending_connect_at = None;
            self.start_session();
        }
        if due(self.join_retry_at) {
            self.join_retry_at = None;
            if self.core.state() == LifecycleState::Joining && self.session.is_none() {
                self.connect(0);
            }
        }
        if due(self.retry_delivery_at) {
            self.retry_delivery_at = None;
        }
        if due(self.hub_ack_by) {
            // The hub has not said it stored the event (its disk may be full): keep it
            // and send it again.
            self.hub_ack_by = None;
            if let Some(InFlight::Publishing { seq }) = self.in_flight.take() {
                tracing::info!(
                    seq,
                    "the hub has not stored the event yet: sending it again"
                );
                self.retry_delivery_at = Some(now + DELIVERY_RETRY_MS);
            }
        }
        if due(self.rejoin_at) {
            self.rejoin_at = None;
            self.rejoin();
        }
        let live = self.live.plan.tick(now);
        if live.stopped {
            tracing::warn!("live view: no answer from the hub, stopped");
            self.core
                .handle_input(now, Input::Command(Command::LiveStop));
        }
        for id in live.expired {
            self.publish_result(
                &id,
                Some("the image sensor gave no frame for the snapshot".into()),
            );
        }
        if due(self.linger_until) {
            self.linger_until = None;
            if self.closing {
                // The goodbye was not answered: hang up anyway.
                let rejoin = std::mem::take(&mut self.rejoining);
                self.drop_session();
                if rejoin {
                    self.connect(0);
                }
            } else if self.connected {
                let overdue = self
                    .checkin_since
                    .is_some_and(|t| now >= t + MAX_CHECKIN_MS);
                let done = self.in_flight.is_none() && self.queue.is_empty();
                if (done || overdue) && !self.live.plan.is_busy() {
                    self.sleep_now();
                } else {
                    self.linger_until = Some(now + 250);
                }
            }
        }
        Ok(())
    }

    /// Carries out the core's outputs, delivers what can be delivered, updates status.
    fn after_input(&mut self) -> Result<(), AgentError> {
        // Outputs can cause inputs (a failed connect), which cause outputs: drain until quiet.
        for _ in 0..16 {
            let mut any = false;
            while let Some(Timed { t_ms, output }) = self.core.poll_output() {
                any = true;
                self.on_output(t_ms, output)?;
            }
            if !any {
                break;
            }
        }
        if std::mem::take(&mut self.clip_due) {
            self.finish_clip()?;
            while let Some(Timed { t_ms, output }) = self.core.poll_output() {
                self.on_output(t_ms, output)?;
            }
        }
        self.pump()?;
        self.refresh_status();
        Ok(())
    }

    fn refresh_status(&self) {
        let (condition, light) = self.shown;
        let id = LightId::of(condition, light);
        let state = self.core.state().as_str().to_string();
        let queue_items = self.queue.len();
        let queue_bytes = self.queue.bytes_used();
        self.shared.update(|s| {
            s.state = state;
            s.light_id = id.as_str().into();
            s.condition = condition.as_str().into();
            s.meaning = id.meaning().into();
            s.link_up = self.link_up;
            s.link_silent = self.radio.is_silent();
            s.connected = self.connected;
            s.recording = self.core.is_recording();
            s.queue_items = queue_items;
            s.queue_bytes = queue_bytes;
            s.clips_recorded = self.clips_recorded;
            s.delivered = self.delivered;
            s.live = self.live.plan.is_streaming();
            s.live_frames_sent = self.live.plan.frames_sent();
            let health = |part| {
                if self.scene.is_broken(part) {
                    "broken"
                } else {
                    "ok"
                }
            };
            s.image_sensor = health(Part::ImageSensor).into();
            s.motion_sensor = health(Part::MotionSensor).into();
            s.parts_failed = Part::ALL
                .into_iter()
                .filter(|p| self.core.part_failed(*p))
                .map(|p| p.as_str().to_string())
                .collect();
        });
    }

    // ----- the core's outputs ----------------------------------------------------------

    fn on_output(&mut self, t_ms: u64, output: Output) -> Result<(), AgentError> {
        match output {
            Output::Light { condition, light } => {
                self.shown = (condition, light);
                self.shown_ends = self.core.light_ends();
                let id = LightId::of(condition, light);
                if self.config.print_lights {
                    println!(
                        "light t={:.1}s condition={} light={} meaning=\"{}\"",
                        t_ms as f64 / 1000.0,
                        condition.as_str(),
                        id.as_str(),
                        id.meaning()
                    );
                }
                tracing::info!(condition = condition.as_str(), light = id.as_str(), "light");
                self.publish_state();
            }
            Output::State(state) => {
                tracing::info!(state = state.as_str(), "lifecycle");
                if self.config.print_lights {
                    println!(
                        "state t={:.1}s state={}",
                        t_ms as f64 / 1000.0,
                        state.as_str()
                    );
                }
                if state != LifecycleState::Joining {
                    self.join_retry_at = None;
                }
                self.publish_state();
            }
            Output::Event { kind, data } => {
                let event = QueuedEvent {
                    kind,
                    ts: self.hub_time(t_ms),
                    data,
                };
                if matches!(kind, EventKind::WifiRejected | EventKind::JoinTimeout) {
                    let label = if kind == EventKind::WifiRejected {
                        "wifi_rejected"
                    } else {
                        "join_timeout"
                    };
                    self.shared.update(|s| s.last_error = Some(label.into()));
                }
                if self.creds.is_some() {
                    self.queue.push_event(&event)?;
                }
            }
            Output::StartRecording { trigger } => {
                let trigger = match trigger {
                    RecordTrigger::Pir => ClipTrigger::Pir,
                    RecordTrigger::Pixel => ClipTrigger::Pixel,
                    RecordTrigger::Manual => ClipTrigger::Manual,
                };
                let start_ts = self.hub_time(t_ms);
                if let Err(e) = self.recorder.start(trigger, start_ts) {
                    // Recording goes on with the clip already under way.
                    tracing::warn!("clip recorder: {e}");
                }
                self.recording_start_ts = start_ts;
                if let Some(b) = &mut self.battery {
                    b.set_load(Load::Recording);
                }
            }
            Output::StopRecording { reason } => {
                tracing::info!(reason = reason.as_str(), "recording stopped");
                // Queued after the events of this turn (motion_end comes first).
                self.clip_due = true;
                if let Some(b) = &mut self.battery {
                    b.set_load(Load::Idle);
                }
            }
            Output::Connect { attempt } => self.connect(attempt),
            Output::CheckIn => self.check_in(),
            Output::SaveState(state) => {
                self.data.save_core(&state)?;
                if !state.provisioned && !state.setup_completed && self.creds.is_some() {
                    // Back to setup: the credentials are forgotten.
                    self.forget_hub()?;
                }
            }
            Output::FactoryReset => {
                self.forget_hub()?;
                for seq in self.queue.seqs() {
                    self.queue.ack(seq)?;
                }
            }
            Output::PowerOff => {
                tracing::warn!("battery critical: powered off until fresh batteries");
                self.powered_off = true;
                self.drop_session();
            }
            Output::SettingsRejected { reason } => {
                tracing::warn!("settings refused: {reason}");
            }
        }
        Ok(())
    }

    fn forget_hub(&mut self) -> Result<(), AgentError> {
        self.drop_session();
        self.creds = None;
        self.data.forget_credentials()?;
        Ok(())
    }

    fn finish_clip(&mut self) -> Result<(), AgentError> {
        if !self.recorder.is_recording() {
            return Ok(());
        }
        let result = self.recorder.finish();
        let Some(creds) = self.creds.as_mut() else {
            return Ok(());
        };
        let clip = match result {
            Ok(clip) => clip,
            Err(MediaError::TooFewFrames(n)) => {
                // The image sensor gave (almost) nothing while recording: there is no
                // clip to keep; its self_test_failed event says why.
                tracing::warn!("recording ended with {n} frames: no clip");
                return Ok(());
            }
            Err(e) => {
                // A recording that cannot be finished is reported, never lost silently,
                // and never ends the camera.
                let clip_id = format!(
                    "{}-{}-{}",
                    creds.device_id, self.recording_start_ts, creds.clips_made
                );
                creds.clips_made += 1;
                self.data.save_credentials(creds)?;
                tracing::error!(clip_id, "clip recorder: {e}: the clip is dropped");
                let event = unfinished_clip_event(&clip_id, self.recording_start_ts, &e);
                self.queue.push_event(&event)?;
                return Ok(());
            }
        };
        let clip_id = format!(
            "{}-{}-{}",
            creds.device_id, clip.meta.start_ts, creds.clips_made
        );
        creds.clips_made += 1;
        self.data.save_credentials(creds)?;
        let mut meta = match serde_json::to_value(&clip.meta) {
            Ok(Value::Object(m)) => m,
            _ => Map::new(),
        };
        meta.insert("clip_id".into(), json!(clip_id));
        meta.insert(THUMBNAIL_LEN_KEY.into(), json!(clip.thumbnail_jpeg.len()));
        let mut bytes = clip.mp4;
        bytes.extend_from_slice(&clip.thumbnail_jpeg);
        let outcome = self.queue.push_clip(&meta, &bytes)?;
        self.clips_recorded += 1;
        tracing::info!(
            clip_id,
            bytes = bytes.len(),
            seq = outcome.seq,
            "clip queued"
        );
        if self.config.print_lights {
            println!("clip id={clip_id} bytes={}", clip.meta.bytes);
        }
        if self.battery.is_some() {
            self.check_in();
        }
        Ok(())
    }

    // ----- connection --------------------------------------------------------------------

    fn connect(&mut self, attempt: u32) {
        if self.powered_off || self.session.is_some() || self.pending_connect_at.is_some() {
            return;
        }
        let Some(creds) = &self.creds else { return };
        let wifi_creds = WifiCredentials {
            ssid: creds.wifi_ssid.clone(),
            passphrase: creds.wifi_passphrase.clone(),
        };
        let now = self.mono();
        let link_up = self.link_up;
        let wifi = self
            .wifi
            .get_or_insert_with(|| SimWifi::new(&wifi_creds.ssid, &wifi_creds.passphrase, -55));
        wifi.set_outage(!link_up);
        match wifi.join(&wifi_creds) {
            Ok(()) => {}
            Err(e) if self.wifi_change.as_ref().is_some_and(|c| c.error.is_none()) => {
                // The new credentials do not work here: back to the ones that did.
                self.revert_wifi_change(&e.to_string());
                self.connect(attempt);
                return;
            }
            Err(WifiError::Rejected) => {
                tracing::warn!("the access point refused the passphrase");
                self.shared
                    .update(|s| s.last_error = Some("wifi_rejected".into()));
                self.core.handle_input(now, Input::WifiRejected);
                return;
            }
            Err(e) => {
                tracing::info!("Wi-Fi: {e}");
                self.connect_failed(now);
                return;
            }
        }
        // Jitter on retries, so a houseful of cameras does not reconnect in lockstep.
        let jitter = if attempt > 0 {
            let spread = self.core.backoff_ms(attempt) / 5;
            rand::thread_rng().gen_range(0..=spread)
        } else {
            0
        };
        self.pending_connect_at = Some(now + jitter);
    }

    /// A connection attempt failed before reaching the hub.
    fn connect_failed(&mut self, now: u64) {
        match self.core.state() {
            LifecycleState::Joining => self.join_retry_at = Some(now + JOIN_RETRY_MS),
            // A battery camera between check-ins believes itself online until it tries.
            LifecycleState::Online => self.core.handle_input(now, Input::LinkLost),
            _ => {}
        }
    }

    fn start_session(&mut self) {
        let Some(creds) = self.creds.clone() else {
            return;
        };
        if self.session.is_some() {
            return;
        }
        let topics = DeviceTopics::new(creds.home.clone(), creds.device_id.clone());
        let battery = self.config.profile.profile().on_battery();
        let last_will = (!battery).then(|| {
            let will = AvailabilityMsg {
                v: 1,
                ts: 0,
                availability: Availability::Offline,
            };
            (topics.topic(DeviceTopic::Availability), encode(&will))
        });
        let tls = match &creds.cert_pem {
            Some(pem) => match session::pinned_tls(pem) {
                Ok(t) => Some(t),
                Err(e) => {
                    tracing::error!("{e}");
                    None
                }
            },
            None => None,
        };
        let config = SessionConfig {
            url: creds.mqtt_url.clone(),
            client_id: creds.device_id.clone(),
            username: creds.device_id.clone(),
            password: creds.token.clone(),
            keepalive_s: u64::from(self.core.settings().keepalive.max(1)),
            last_will,
            tls,
            allow_plain: self.config.insecure,
            radio: Some(self.radio.clone()),
        };
        self.sessions_made += 1;
        match Session::start(self.sessions_made, &config, self.session_tx.clone()) {
            Ok(s) => {
                self.closing = false;
                self.session = Some(s);
            }
            Err(e) => {
                tracing::error!("cannot connect to the hub: {e}");
                let now = self.mono();
                self.connect_failed(now);
            }
        }
    }

    fn drop_session(&mut self) {
        if let Some(s) = self.session.take() {
            s.abort();
        }
        self.connected = false;
        self.closing = false;
        self.linger_until = None;
        self.pending_connect_at = None;
        if matches!(self.in_flight, Some(InFlight::Publishing { .. })) {
            self.in_flight = None;
            self.hub_ack_by = None;
        }
    }

    fn check_in(&mut self) {
        if !self.config.profile.profile().on_battery() {
            self.publish_telemetry();
            return;
        }
        if self.battery.is_some() {
            let now = self.mono();
            self.read_battery(now);
        }
        if self.connected {
            self.publish_telemetry();
            self.linger_until = Some(self.mono() + CHECKIN_LINGER_MS);
            return;
        }
        if matches!(self.core.state(), LifecycleState::Online) {
            self.connect(0);
        }
    }

    /// A battery camera's check-in is done: say it sleeps and hang up.
    fn sleep_now(&mut self) {
        // The light it goes to sleep with (and when that ends) is the last the hub hears.
        self.publish_state();
        self.hang_up(Availability::Sleeping);
    }

    /// Says `availability` (retained, so the hub reads it even after the link is gone)
    /// and hangs up, lingering until the session has sent it. False when there is no
    /// session to hang up.
    fn hang_up(&mut self, availability: Availability) -> bool {
        let (Some(session), Some(topics)) = (&self.session, self.topics()) else {
            return false;
        };
        let msg = AvailabilityMsg {
            v: 1,
            ts: self.hub_time(self.mono()),
            availability,
        };
        session.publish(
            topics.topic(DeviceTopic::Availability),
            QoS::AtLeastOnce,
            true,
            encode(&msg),
            None,
        );
        session.disconnect();
        self.closing = true;
        self.linger_until = Some(self.mono() + HANG_UP_LINGER_MS);
        true
    }

    fn on_session(&mut self, event: SessionEvent) -> Result<(), AgentError> {
        let current = self.session.as_ref().map(|s| s.id);
        let now = self.mono();
        match event {
            SessionEvent::Connected { session } if Some(session) == current => {
                if self.ever_connected {
                    self.reconnects += 1;
                }
                self.ever_connected = true;
                self.connected = true;
                self.shared.update(|s| s.last_error = None);
                let topics = self.topics().expect("a session has credentials");
                if let Some(s) = &self.session {
                    s.subscribe(topics.settings());
                    s.subscribe(topics.cmd_filter());
                }
                if let Some(b) = &mut self.battery {
                    b.set_load(Load::Transmitting);
                }
                self.core.handle_input(now, Input::HubConnected);
                self.publish_availability(Availability::Online);
                self.publish_state();
                self.publish_telemetry();
                if let Some(change) = self.wifi_change.take() {
                    self.publish_result(&change.cmd_id, change.error);
                }
                if self.battery.is_some() {
                    self.linger_until = Some(now + CHECKIN_LINGER_MS);
                    self.checkin_since = Some(now);
                }
            }
            SessionEvent::Refused { session, reason } if Some(session) == current => {
                tracing::warn!("the hub refused the device credential: {reason}");
                self.session = None;
                self.connected = false;
                self.core.handle_input(now, Input::HubRejected);
                if self.core.state() == LifecycleState::Joining {
                    self.join_retry_at = Some(now + JOIN_RETRY_MS);
                }
            }
            SessionEvent::Closed { session, reason } if Some(session) == current => {
                let was_connected = self.connected;
                let on_purpose = self.closing;
                let rejoin = std::mem::take(&mut self.rejoining);
                self.session = None;
                self.connected = false;
                self.closing = false;
                self.linger_until = None;
                if matches!(self.in_flight, Some(InFlight::Publishing { .. })) {
                    self.in_flight = None;
                    self.hub_ack_by = None;
                }
                if let Some(b) = &mut self.battery {
                    b.set_load(Load::Idle);
                }
                if on_purpose && rejoin {
                    tracing::info!("rejoining the Wi-Fi with the new credentials");
                    self.connect(0);
                } else if on_purpose {
                    tracing::debug!("check-in over");
                } else if was_connected {
                    tracing::warn!("connection to the hub lost: {reason}");
                    self.core.handle_input(now, Input::LinkLost);
                } else {
                    tracing::info!("could not reach the hub: {reason}");
                    self.connect_failed(now);
                }
            }
            SessionEvent::Message {
                session,
                topic,
                payload,
            } if Some(session) == current => self.on_message(&topic, &payload),
            SessionEvent::Acked { session, tag } if Some(session) == current => {
                // The broker has the event; the hub's `cmd/ack` frees it (see `on_event_ack`).
                if let Some(InFlight::Publishing { seq }) = self.in_flight
                    && seq == tag
                {
                    tracing::debug!(seq, "event with the broker");
                }
            }
            _ => {} // an event of a session already gone
        }
        Ok(())
    }

    fn on_message(&mut self, topic: &str, payload: &[u8]) {
        let Some(topics) = self.topics() else { return };
        let now = self.mono();
        if topic == topics.settings() {
            match decode::<SettingsMsg>(payload) {
                Ok(msg) => {
                    self.core
                        .handle_input(now, Input::Settings(Box::new(msg.settings)));
                    self.apply_settings_to_hardware();
                    // The state carries settings_version: the owner sees "applied".
                    self.publish_state();
                }
                Err(e) => tracing::warn!(reason = e.reason(), "dropped settings: {e}"),
            }
            return;
        }
        let Some(name) = topic
            .strip_prefix(&topics.prefix())
            .and_then(|r| r.strip_prefix("/cmd/"))
        else {
            return;
        };
        if name == watchlight_protocol::topics::EVENT_ACK {
            match decode::<EventAckMsg>(payload) {
                Ok(ack) => {
                    if let Err(e) = self.on_event_ack(ack.seq) {
                        tracing::error!("offline queue: {e}");
                    }
                }
                Err(e) => tracing::warn!(reason = e.reason(), "dropped event ack: {e}"),
            }
            return;
        }
        let cmd = match decode::<CommandMsg>(payload) {
            Ok(c) => c,
            Err(e) => {
                tracing::warn!(reason = e.reason(), "dropped command: {e}");
                return;
            }
        };
        if name == "snapshot" {
            // Answered once the hub has the picture (`on_live`), or when none came.
            if cmd.expires_ts.is_some_and(|t| t < self.hub_time(now)) {
                self.publish_result(&cmd.id, Some("expired".into()));
            } else {
                self.live.plan.ask_snapshot(&cmd.id, now);
            }
            return;
        }
        if name == "wifi" {
            // Answered once the camera is back (see `WifiChange`), unless refused now.
            if let Err(e) = self.start_wifi_change(&cmd, now) {
                self.publish_result(&cmd.id, Some(e));
            }
            return;
        }
        let result = self.run_command(name, &cmd, now);
        self.publish_result(&cmd.id, result.err());
    }

    /// The hub stored event `seq`: only now may it leave the queue. An acknowledgement
    /// that comes late (after a reconnect) frees the item all the same, unless its clip
    /// is being uploaded right now.
    fn on_event_ack(&mut self, seq: u64) -> Result<(), AgentError> {
        match self.in_flight {
            Some(InFlight::Publishing { seq: s }) if s == seq => {
                self.in_flight = None;
                self.hub_ack_by = None;
            }
            Some(InFlight::Uploading { seq: s }) if s == seq => return Ok(()),
            _ => {}
        }
        if self.queue.seqs().contains(&seq) {
            self.queue.ack(seq)?;
            self.delivered += 1;
        }
        Ok(())
    }

    fn publish_result(&self, id: &str, error: Option<String>) {
        let Some(topics) = self.topics() else { return };
        let msg = CmdResultMsg {
            v: 1,
            ts: self.hub_time(self.mono()),
            id: id.to_string(),
            ok: error.is_none(),
            error,
        };
        if let Some(s) = &self.session {
            s.publish(
                topics.topic(DeviceTopic::CmdResult),
                QoS::AtLeastOnce,
                false,
                encode(&msg),
                None,
            );
        }
    }

    /// "Reconnect Wi-Fi" (`cmd/wifi`, SPEC §4.2): keep the new credentials, then drop
    /// the link and rejoin with them. If the access point refuses them the camera goes
    /// back to the old ones, so a typo cannot strand it; the result says which happened.
    fn start_wifi_change(&mut self, cmd: &CommandMsg, now: u64) -> Result<(), String> {
        if cmd.expires_ts.is_some_and(|t| t < self.hub_time(now)) {
            return Err("expired".into());
        }
        let field = |k: &str| cmd.args.get(k).and_then(Value::as_str).map(str::to_string);
        let (Some(ssid), Some(pass)) = (field("ssid"), field("passphrase")) else {
            return Err("wifi needs args.ssid and args.passphrase".into());
        };
        if ssid.is_empty() {
            return Err("wifi needs a non-empty args.ssid".into());
        }
        let creds = self.creds.as_mut().ok_or("not provisioned")?;
        let previous = (
            std::mem::replace(&mut creds.wifi_ssid, ssid),
            std::mem::replace(&mut creds.wifi_passphrase, pass),
        );
        self.data
            .save_credentials(creds)
            .map_err(|e| e.to_string())?;
        tracing::info!("new Wi-Fi credentials received: rejoining");
        self.wifi_change = Some(WifiChange {
            cmd_id: cmd.id.clone(),
            previous,
            error: None,
        });
        self.rejoin_at = Some(now + REJOIN_AFTER_MS);
        Ok(())
    }

    fn revert_wifi_change(&mut self, why: &str) {
        let Some(change) = self.wifi_change.as_mut() else {
            return;
        };
        let Some(creds) = self.creds.as_mut() else {
            return;
        };
        tracing::warn!("the new Wi-Fi credentials do not work ({why}): back to the old ones");
        creds.wifi_ssid = change.previous.0.clone();
        creds.wifi_passphrase = change.previous.1.clone();
        change.error = Some(format!(
            "the access point refused the new credentials ({why}); the camera kept the old ones"
        ));
        if let Err(e) = self.data.save_credentials(creds) {
            tracing::error!("could not save the old Wi-Fi credentials back: {e}");
        }
    }

    /// Leaves the Wi-Fi on purpose to join it again with the credentials it now holds:
    /// says `offline` (so the hub records a goodbye, not a lost link) and hangs up.
    fn rejoin(&mut self) {
        if let Some(w) = &mut self.wifi {
            w.drop_link();
        }
        // Not connected: the next connection attempt uses the new credentials.
        if self.connected && self.hang_up(Availability::Offline) {
            self.rejoining = true;
        }
    }

    fn run_command(&mut self, name: &str, cmd: &CommandMsg, now: u64) -> Result<(), String> {
        if name == "time" {
            let hub_now = cmd
                .args
                .get("now_ms")
                .and_then(Value::as_u64)
                .ok_or("time needs args.now_ms")?;
            self.hub_offset_ms = hub_now as i64 - now as i64;
            tracing::info!(hub_now, "clock set from the hub");
            // The light's end, said again in the hub's time.
            self.publish_state();
            return Ok(());
        }
        if cmd.expires_ts.is_some_and(|t| t < self.hub_time(now)) {
            return Err("expired".into());
        }
        let command = Command::parse(name).ok_or_else(|| format!("unknown command '{name}'"))?;
        match command {
            Command::LiveStart => self.live.plan.start(now),
            Command::LiveStop | Command::Reboot | Command::FactoryReset => {
                self.live.plan.stop();
            }
            Command::Identify | Command::Record => {}
        }
        self.core.handle_input(now, Input::Command(command));
        Ok(())
    }

    /// Sends a frame to the live stream or as a snapshot; nothing gets through a silent
    /// radio (the hub's silence then stops the stream).
    fn live_frame(&mut self, now: u64, frame: &watchlight_hw::Frame) {
        let Some(creds) = self.creds.clone() else {
            return;
        };
        if self.radio.is_silent() || !self.link_up {
            return;
        }
        match self.http_client(&creds) {
            Ok(client) => self
                .live
                .on_frame(frame, self.hub_time(now), &client, &creds),
            Err(e) => tracing::warn!("live view: {e}"),
        }
    }

    fn on_live(&mut self, report: LiveReport) {
        let now = self.mono();
        match report {
            LiveReport::Frame { run, result } => {
                if let Err(e) = &result {
                    tracing::debug!("live frame: {e}");
                }
                if self.live.plan.frame_answered(run, now, &result) {
                    tracing::info!("live view: nobody watches any more, stopped");
                    self.core
                        .handle_input(now, Input::Command(Command::LiveStop));
                }
            }
            LiveReport::Snapshot { cmd_ids, result } => {
                self.live.plan.snapshot_done(&cmd_ids);
                if let Err(e) = &result {
                    tracing::warn!("snapshot: {e}");
                }
                for id in &cmd_ids {
                    self.publish_result(id, result.clone().err());
                }
            }
        }
    }

    fn apply_settings_to_hardware(&mut self) {
        let settings = self.core.settings().clone();
        let key = (settings.sensitivity, settings.zones.clone());
        if key != self.detector_key {
            let (w, h) = self.scene.size();
            match Detector::new(w, h, detector_config(&settings)) {
                Ok(d) => {
                    self.detector = d;
                    self.detector_key = key;
                }
                Err(e) => tracing::warn!("detector settings refused: {e}"),
            }
        }
        let pre_roll = pre_roll_ms(&self.config, &settings);
        if pre_roll != self.recorder_pre_roll_ms && !self.recorder.is_recording() {
            let (w, h) = self.scene.size();
            let fps = self.scene.fps().clamp(1.0, 30.0);
            if let Ok(r) = ClipRecorder::new(RecorderConfig::new(w, h, fps, pre_roll)) {
                self.recorder = r;
                self.recorder_pre_roll_ms = pre_roll;
            }
        }
    }

    // ----- publishing --------------------------------------------------------------------

    fn publish(&self, topic: DeviceTopic, payload: Vec<u8>, tag: Option<u64>) -> bool {
        let (Some(session), Some(topics)) = (&self.session, self.topics()) else {
            return false;
        };
        if !self.connected {
            return false;
        }
        let qos = if topic == DeviceTopic::Telemetry {
            QoS::AtMostOnce
        } else {
            QoS::AtLeastOnce
        };
        session.publish(topics.topic(topic), qos, topic.retained(), payload, tag)
    }

    fn publish_availability(&self, availability: Availability) {
        let msg = AvailabilityMsg {
            v: 1,
            ts: self.hub_time(self.mono()),
            availability,
        };
        self.publish(DeviceTopic::Availability, encode(&msg), None);
    }

    fn publish_state(&self) {
        if !self.connected {
            return;
        }
        let (condition, light) = self.shown;
        let mut report = LightReport::new(condition, light);
        if let Some((at, next_condition, next_light)) = self.shown_ends {
            report.until = Some(self.hub_time(at));
            report.then = Some(Box::new(LightReport::new(next_condition, next_light)));
        }
        let msg = StateMsg {
            v: 1,
            ts: self.hub_time(self.mono()),
            state: self.core.state(),
            light: report,
            profile: self.config.profile,
            firmware: env!("CARGO_PKG_VERSION").into(),
            settings_version: self.core.settings().version,
        };
        self.publish(DeviceTopic::State, encode(&msg), None);
    }

    fn publish_telemetry(&self) {
        let reading = self.core.last_battery_reading();
        let msg = TelemetryMsg {
            v: 1,
            ts: self.hub_time(self.mono()),
            battery_resting_mv: reading.map(|r| r.resting_mv),
            battery_loaded_mv: reading.map(|r| r.loaded_mv),
            temperature_c: reading.map(|r| r.temp_c),
            rssi_dbm: self.wifi.as_ref().and_then(|w| w.rssi_dbm()),
            uptime_s: self.mono() / 1000,
            queue_bytes: self.queue.bytes_used(),
            reconnects: self.reconnects,
        };
        self.publish(DeviceTopic::Telemetry, encode(&msg), None);
    }

    // ----- delivery ------------------------------------------------------------------------

    /// Sends the oldest queued item if nothing is under way.
    fn pump(&mut self) -> Result<(), AgentError> {
        if !self.connected || self.in_flight.is_some() || self.retry_delivery_at.is_some() {
            return Ok(());
        }
        let Some(item) = self.queue.peek_oldest()? else {
            return Ok(());
        };
        match item.body {
            ItemBody::Event(event) => {
                let msg = EventMsg {
                    v: 1,
                    ts: event.ts,
                    seq: item.seq,
                    event: event.kind,
                    data: event.data,
                };
                if self.publish(DeviceTopic::Event, encode(&msg), Some(item.seq)) {
                    self.in_flight = Some(InFlight::Publishing { seq: item.seq });
                    self.hub_ack_by = Some(self.mono() + HUB_ACK_WAIT_MS);
                }
            }
            ItemBody::Clip { meta, bytes } => {
                let Some(creds) = self.creds.clone() else {
                    return Ok(());
                };
                if self.radio.is_silent() {
                    // Nothing gets through a silent radio; try again later.
                    self.retry_delivery_at = Some(self.mono() + DELIVERY_RETRY_MS);
                    return Ok(());
                }
                let client = self.http_client(&creds)?;
                let seq = item.seq;
                self.in_flight = Some(InFlight::Uploading { seq });
                let tx = self.upload_tx.clone();
                tokio::spawn(async move {
                    let result = upload_clip(&client, &creds, &meta, bytes).await;
                    let _ = tx.send(UploadDone { seq, result });
                });
            }
        }
        Ok(())
    }

    fn http_client(&mut self, creds: &Credentials) -> Result<reqwest::Client, AgentError> {
        if let Some(c) = &self.http {
            return Ok(c.clone());
        }
        let mut builder = reqwest::Client::builder().timeout(Duration::from_secs(60));
        if let Some(pem) = &creds.cert_pem {
            let tls = session::pinned_tls(pem).map_err(|e| AgentError::Http(e.to_string()))?;
            builder = builder.use_preconfigured_tls((*tls).clone());
        }
        let client = builder
            .build()
            .map_err(|e| AgentError::Http(e.to_string()))?;
        self.http = Some(client.clone());
        Ok(client)
    }

    fn on_upload(&mut self, done: UploadDone) -> Result<(), AgentError> {
        let Some(InFlight::Uploading { seq }) = self.in_flight else {
            return Ok(());
        };
        if seq != done.seq {
            return Ok(());
        }
        self.in_flight = None;
        if let Err(e) = done.result {
            tracing::warn!(seq, "clip upload failed, will retry: {e}");
            self.retry_delivery_at = Some(self.mono() + DELIVERY_RETRY_MS);
            return Ok(());
        }
        // The hub has the video: now the clip_recorded event, whose ack frees the item.
        let item = self.queue.read(seq)?;
        let ItemBody::Clip { meta, .. } = item.body else {
            return Ok(());
        };
        let data: Map<String, Value> = meta
            .into_iter()
            .filter(|(k, _)| !k.starts_with(PRIVATE_META))
            .collect();
        let msg = EventMsg {
            v: 1,
            ts: data
                .get("end_ts")
                .and_then(Value::as_u64)
                .unwrap_or_else(|| self.hub_time(self.mono())),
            seq,
            event: EventKind::ClipRecorded,
            data,
        };
        if self.publish(DeviceTopic::Event, encode(&msg), Some(seq)) {
            self.in_flight = Some(InFlight::Publishing { seq });
            self.hub_ack_by = Some(self.mono() + HUB_ACK_WAIT_MS);
        }
        Ok(())
    }

    // ----- hardware ------------------------------------------------------------------------

    /// One read of the image sensor and the PIR beside it. Every read tells the core
    /// whether each part answered, for its self-test; a failed read is not fatal, and
    /// one part failing does not stop the other (a broken PIR: no PIR motion, pixels
    /// still watched; a broken image sensor: the PIR still triggers).
    /// Tells the core whether `part` answered this read (its self-test counts on it),
    /// logging a failure once per run of failures and the recovery after one.
    fn part_read(&mut self, now: u64, part: Part, failure: Option<&impl std::fmt::Display>) {
        let failing = match part {
            Part::ImageSensor => &mut self.sensor_failing,
            Part::MotionSensor => &mut self.pir_failing,
        };
        let input = match failure {
            None => {
                if std::mem::take(failing) {
                    tracing::info!(%part, "answers again");
                }
                Input::SensorOk(part)
            }
            Some(e) => {
                if !std::mem::replace(failing, true) {
                    tracing::warn!(%part, "{e}");
                }
                Input::SensorFailed {
                    part,
                    reason: e.to_string(),
                }
            }
        };
        self.core.handle_input(now, input);
    }

    fn frame(&mut self, now: u64) -> Result<(), AgentError> {
        let (frame, pir) = self.scene.next(now);
        self.part_read(now, Part::MotionSensor, pir.as_ref().err());
        if pir.unwrap_or(false) && self.last_pir_at.is_none_or(|t| now >= t + PIR_EVERY_MS) {
            self.last_pir_at = Some(now);
            self.core.handle_input(now, Input::Pir);
        }
        self.part_read(now, Part::ImageSensor, frame.as_ref().err());
        let Ok(frame) = frame else {
            // No frames, no pixel motion.
            if std::mem::take(&mut self.motion_on) {
                self.core.handle_input(now, Input::MotionEnd);
            }
            return Ok(());
        };
        if self.live.plan.wants_frame() {
            self.live_frame(now, &frame);
        }
        let verdict = self.detector.process(&frame.y)?;
        let (w, h) = (frame.width, frame.height);
        if verdict.motion != self.motion_on {
            self.motion_on = verdict.motion;
            let input = if verdict.motion {
                Input::MotionStart
            } else {
                Input::MotionEnd
            };
            self.core.handle_input(now, input);
        }
        let boxes = self
            .detector
            .boxes()
            .iter()
            .map(|b| MotionSample::normalise_box((b.x, b.y, b.width, b.height), w, h))
            .collect();
        let sample = MotionSample {
            score: verdict.score,
            boxes,
        };
        if let Err(e) = self.recorder.push_frame(&frame, &sample) {
            // One frame lost; the camera goes on (a clip that cannot be finished
            // becomes a clip_dropped event).
            tracing::warn!("clip recorder: {e}");
        }
        Ok(())
    }

    fn read_battery(&mut self, now: u64) {
        if let Some(b) = &mut self.battery {
            let reading = b.read();
            self.core.handle_input(now, Input::Battery(reading));
        }
    }

    fn on_control(&mut self, control: Control) -> Result<(), AgentError> {
        let now = self.mono();
        match control {
            Control::Provision(body) => self.provision(*body)?,
            Control::Link {
                up: false,
                silent: true,
            } => {
                tracing::info!("simulated radio: silent (packets dropped, sockets left open)");
                self.radio.set_silent(true);
            }
            Control::AccessPoint(ap) => {
                tracing::info!(ssid = %ap.ssid, "simulated access point reconfigured");
                let outage = !self.link_up;
                let mut wifi = SimWifi::new(&ap.ssid, &ap.passphrase, -55);
                wifi.set_outage(outage);
                self.wifi = Some(wifi);
            }
            Control::Link { up, .. } => {
                tracing::info!(up, "simulated Wi-Fi link");
                self.radio.set_silent(false);
                self.link_up = up;
                if let Some(w) = &mut self.wifi {
                    w.set_outage(!up);
                }
                if !up {
                    let was_connected = self.connected;
                    self.drop_session();
                    if was_connected {
                        self.core.handle_input(now, Input::LinkLost);
                    }
                }
            }
            Control::Motion => self.scene.walk(),
            Control::Battery(body) => self.battery_control(body, now),
            Control::Button { hold_ms } => {
                self.core.handle_input(now, Input::ButtonDown);
                self.button_release_at = Some(now + hold_ms);
            }
            Control::Sensor { part, broken } => {
                tracing::info!(%part, broken, "simulated part");
                self.scene.set_broken(part, broken);
            }
        }
        Ok(())
    }

    fn battery_control(&mut self, body: BatteryBody, now: u64) {
        let Some(b) = &mut self.battery else { return };
        if body.replace {
            b.replace();
        }
        if let Some(d) = body.depth {
            b.set_depth(d);
        }
        if let Some(t) = body.temp_c {
            b.set_temperature(t);
        }
        let was_off = self.powered_off;
        self.read_battery(now);
        if was_off && body.replace {
            self.powered_off = false;
            self.next_frame_at = now;
        }
    }

    fn provision(&mut self, body: ProvisionBody) -> Result<(), AgentError> {
        let cert_pem = body.hub.cert_pem.filter(|p| !p.trim().is_empty());
        let creds = Credentials {
            wifi_ssid: body.wifi.ssid,
            wifi_passphrase: body.wifi.passphrase,
            home: body.home,
            device_id: body.device_id,
            token: body.token,
            mqtt_url: body.hub.mqtt_url,
            http_url: body.hub.http_url.trim_end_matches('/').to_string(),
            cert_pem,
            clips_made: 0,
        };
        tracing::info!(?creds, "provisioned");
        self.data.save_credentials(&creds)?;
        self.creds = Some(creds);
        self.http = None;
        self.shared.update(|s| s.last_error = None);
        let now = self.mono();
        self.core.handle_input(now, Input::Provisioned);
        Ok(())
    }
}

async fn upload_clip(
    client: &reqwest::Client,
    creds: &Credentials,
    meta: &Map<String, Value>,
    mut bytes: Vec<u8>,
) -> Result<(), String> {
    let clip_id = meta
        .get("clip_id")
        .and_then(Value::as_str)
        .ok_or("queued clip has no clip_id")?;
    let thumb_len = meta
        .get(THUMBNAIL_LEN_KEY)
        .and_then(Value::as_u64)
        .unwrap_or(0) as usize;
    let thumbnail = bytes.split_off(bytes.len().saturating_sub(thumb_len));
    let base = format!(
        "{}/api/v1/devices/{}/clips/{clip_id}",
        creds.http_url, creds.device_id
    );
    put(client, &base, &creds.token, "video/mp4", bytes).await?;
    if !thumbnail.is_empty() {
        put(
            client,
            &format!("{base}/thumbnail"),
            &creds.token,
            "image/jpeg",
            thumbnail,
        )
        .await?;
    }
    Ok(())
}

/// A `PUT` of `body` to the hub with the device's token and the body's SHA-256 (which the
/// hub checks before it acknowledges); callers add what else their upload carries.
pub(crate) fn signed_put(
    client: &reqwest::Client,
    url: &str,
    token: &str,
    content_type: &str,
    body: Vec<u8>,
) -> reqwest::RequestBuilder {
    let digest = hex::encode(Sha256::digest(&body));
    client
        .put(url)
        .bearer_auth(token)
        .header("content-type", content_type)
        .header("x-watchlight-sha256", digest)
        .body(body)
}

/// Sends an upload and reads the hub's answer: `Ok` on success, the status and the
/// hub's words otherwise.
pub(crate) async fn send_upload(request: reqwest::RequestBuilder, url: &str) -> Result<(), String> {
    let resp = request
        .send()
        .await
        .map_err(|e| format!("PUT {url}: {}", e.without_url()))?;
    let status = resp.status();
    if status.is_success() {
        Ok(())
    } else {
        let text = resp.text().await.unwrap_or_default();
        Err(format!("PUT {url}: {status} {text}"))
    }
}

async fn put(
    client: &reqwest::Client,
    url: &str,
    token: &str,
    content_type: &str,
    body: Vec<u8>,
) -> Result<(), String> {
    send_upload(signed_put(client, url, token, content_type, body), url).await
}

/// When the frame after one due at `scheduled` (read at `now`) is due: one period later,
/// never in the millisecond just read (so a clock that stalls after a lag cannot give
/// two frames the same time), and, when the camera is more than five frames behind (a
/// busy machine), one period from now rather than a burst to catch up.
fn next_frame_at(scheduled: u64, every_ms: u64, now: u64) -> u64 {
    let next = scheduled + every_ms;
    if next + 5 * every_ms < now {
        now + every_ms
    } else {
        next.max(now + 1)
    }
}

/// The `clip_dropped` event of a recording the recorder could not finish.
fn unfinished_clip_event(clip_id: &str, start_ts: u64, error: &MediaError) -> QueuedEvent {
    let mut data = Map::new();
    data.insert("clip_id".into(), json!(clip_id));
    data.insert("reason".into(), json!("recorder_failed"));
    data.insert("error".into(), json!(error.to_string()));
    QueuedEvent {
        kind: EventKind::ClipDropped,
        ts: start_ts,
        data,
    }
}

fn detector_config(settings: &watchlight_protocol::Settings) -> DetectorConfig {
    DetectorConfig {
        sensitivity: settings.sensitivity,
        zones: settings.zones.clone(),
        ..DetectorConfig::default()
    }
}

fn pre_roll_ms(config: &AgentConfig, settings: &watchlight_protocol::Settings) -> u64 {
    if config.profile.profile().on_battery() {
        0
    } else {
        u64::from(settings.pre_roll) * 1000
    }
}

/// Which scene a CLI `--scene` value names.
pub fn parse_scene(value: &str) -> SceneChoice {
    if value == "synthetic" {
        SceneChoice::Synthetic
    } else {
        SceneChoice::File(value.into())
    }
}

/// Runs the agent on its own runtime until Ctrl-C or SIGTERM (the CLI's entry point).
pub fn run_until_signal(
    config: AgentConfig,
    on_ready: impl FnOnce(&Ready),
) -> Result<(), AgentError> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| AgentError::Http(format!("cannot start the runtime: {e}")))?;
    runtime.block_on(Agent::run(config, on_ready, stop_signal()))
}

/// Ctrl-C or SIGTERM.
async fn stop_signal() {
    let term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate());
    match term {
        Ok(mut term) => {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
        }
        Err(_) => {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}

/// rustls needs one process-wide crypto provider; several crates in one binary may ask
/// for different ones, so pick ring (what the hub uses) explicitly. Installing twice is
/// harmless.
pub fn install_crypto_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The frame schedule on a virtual clock that stalls: however often the loop wakes in
    /// the same millisecond, at most one frame is read in it, so no two frames share a time.
    #[test]
    fn a_stalled_clock_never_gives_two_frames_the_same_time() {
        let every = 66;
        let mut due = 0;
        let mut frames = Vec::new();
        // Runs normally, lags 200 ms, then the clock stalls at 5006 for ten wake-ups.
        let clock = (0..70u64)
            .map(|i| i * 66)
            .chain([4_800])
            .chain(std::iter::repeat_n(5_006, 10))
            .chain([5_007, 5_070, 5_140]);
        for now in clock {
            if due <= now {
                frames.push(now);
                due = next_frame_at(due, every, now);
            }
        }
        for pair in frames.windows(2) {
            assert!(pair[1] > pair[0], "frames at {} then {}", pair[0], pair[1]);
        }
        assert_eq!(frames.iter().filter(|&&t| t == 5_006).count(), 1);
    }

    #[test]
    fn far_behind_the_schedule_restarts_instead_of_bursting() {
        assert_eq!(next_frame_at(1_000, 66, 2_000), 2_066);
        assert_eq!(next_frame_at(1_000, 66, 1_000), 1_066);
    }

    #[test]
    fn an_unfinished_recording_is_a_clip_dropped_event_naming_it() {
        let e = MediaError::Mux("video frame 50 has PTS 5.006s".into());
        let event = unfinished_clip_event("cam-1-5000-3", 5_000, &e);
        assert_eq!(event.kind, EventKind::ClipDropped);
        assert_eq!(event.data["clip_id"], "cam-1-5000-3");
        assert_eq!(event.data["reason"], "recorder_failed");
        assert!(event.data["error"].as_str().unwrap().contains("PTS 5.006s"));
    }
}
