//! The agent's driver: the decisions of [`crate::machine::Machine`] carried out on real
//! time, with the I/O they need.
//!
//! One task owns everything (the machine and the camera core inside it, the disk queue,
//! the recorder, the detector, the hardware simulations, the MQTT session); the local
//! endpoint, the MQTT event loop, clip uploads and live frames talk to it through
//! channels. Each turn: wait for the earliest of the machine's timeout, the next frame,
//! the button's release, or a message; report it to the machine; carry out its outputs
//! (answering at once those that ask something: a Wi-Fi join, the oldest queued item, a
//! battery reading); finish a clip whose recording stopped.
//!
//! The frame loop stays here: reading the image sensor and the PIR, pixel motion and the
//! clip recorder are hardware and computation whose results the core hears as inputs.

use crate::config::{AgentConfig, SceneChoice};
use crate::disk_queue::{self, DiskQueue};
use crate::live::{Live, LiveReport};
use crate::local::{self, BatteryBody, Control, LocalShared, ProvisionBody};
use crate::machine::{Head, HeadBody, Input, Machine, MachineConfig, Output, Qos};
use crate::persist::{Credentials, DataDir, PROVISION_URL_FILE, PersistError, QUEUE_DIR};
use crate::scene::CameraScene;
use crate::session::{self, Session, SessionConfig, SessionEvent};
use rumqttc::QoS;
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use tokio::sync::mpsc;
use watchlight_camera::queue::{DEFAULT_BUDGET_BYTES, ItemBody, QueueError, QueuedEvent};
use watchlight_camera::{Core, Input as CoreInput, PersistedState, RecordTrigger};
use watchlight_hw::sim::{SimBattery, SimWifi};
use watchlight_hw::{BatteryGauge, Clock, FrameError, WifiCredentials, WifiLink};
use watchlight_media::{ClipRecorder, ClipTrigger, MediaError, MotionSample, RecorderConfig};
use watchlight_motion::{Detector, DetectorConfig, MotionError};
use watchlight_protocol::{EventKind, LightId, Part};

/// Consecutive PIR frames count as one trigger per this interval.
const PIR_EVERY_MS: u64 = 500;
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

struct UploadDone {
    seq: u64,
    result: Result<(), String>,
}

/// A queued clip as read for delivery, kept until its upload starts.
struct PeekedClip {
    seq: u64,
    meta: Map<String, Value>,
    bytes: Vec<u8>,
}

struct Runtime {
    config: AgentConfig,
    ready: Ready,
    data: DataDir,
    machine: Machine,
    queue: DiskQueue,
    start: Instant,

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
    /// A recording stopped this turn: finish and queue the clip once the turn's events are queued.
    clip_due: bool,

    wifi: Option<SimWifi>,
    link_up: bool,
    radio: crate::radio::SimRadio,
    battery: Option<SimBattery<MonoClock>>,
    button_release_at: Option<u64>,

    session: Option<Session>,
    session_tx: mpsc::UnboundedSender<SessionEvent>,
    session_rx: mpsc::UnboundedReceiver<SessionEvent>,
    peeked_clip: Option<PeekedClip>,
    upload_tx: mpsc::UnboundedSender<UploadDone>,
    upload_rx: mpsc::UnboundedReceiver<UploadDone>,
    http: Option<reqwest::Client>,
    /// Snapshot and live frame uploads.
    live: Live,
    live_rx: mpsc::UnboundedReceiver<LiveReport>,

    control_rx: mpsc::UnboundedReceiver<Control>,
    shared: Arc<LocalShared>,
    clips_recorded: u64,
    delivered: u64,
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
        let machine = Machine::new(
            core,
            MachineConfig {
                profile: config.profile,
                credentials: creds,
                hub_offset_ms: wall,
                // Cameras started together draw different reconnect jitter.
                seed: rand::random(),
            },
        );
        let mut runtime = Runtime {
            ready,
            data,
            machine,
            queue,
            start,
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
            clip_due: false,
            wifi,
            link_up: true,
            radio: crate::radio::SimRadio::new(),
            battery,
            button_release_at: None,
            session: None,
            session_tx,
            session_rx,
            peeked_clip: None,
            upload_tx,
            upload_rx,
            http: None,
            live,
            live_rx,
            control_rx,
            shared,
            clips_recorded: 0,
            delivered: 0,
            config,
        };
        runtime.queue_changed(0);
        Ok(runtime)
    }

    fn mono(&self) -> u64 {
        self.start.elapsed().as_millis() as u64
    }

    async fn run(&mut self, stop: impl std::future::Future<Output = ()>) -> Result<(), AgentError> {
        let now = self.mono();
        self.machine.handle_input(now, Input::PowerOn);
        self.turn()?;
        tokio::pin!(stop);
        loop {
            let wake = self.next_wake();
            let sleep_for = Duration::from_millis(wake.saturating_sub(self.mono()));
            tokio::select! {
                _ = &mut stop => break,
                _ = tokio::time::sleep(sleep_for) => {}
                Some(c) = self.control_rx.recv() => self.on_control(c)?,
                Some(e) = self.session_rx.recv() => self.on_session(e),
                Some(u) = self.upload_rx.recv() => {
                    let now = self.mono();
                    self.machine.handle_input(now, Input::UploadDone { seq: u.seq, result: u.result });
                }
                Some(r) = self.live_rx.recv() => self.on_live(r),
            }
            self.on_time()?;
            self.turn()?;
        }
        self.goodbye().await;
        Ok(())
    }

    /// A clean stop: say offline (the last will would say it too, later).
    async fn goodbye(&mut self) {
        if !self.machine.is_connected() {
            return;
        }
        let now = self.mono();
        self.machine.handle_input(now, Input::Shutdown);
        if let Err(e) = self.perform_all() {
            tracing::warn!("while saying goodbye: {e}");
        }
        if self.session.is_some() {
            // The process exits next: give the session a moment to send the message.
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    fn next_wake(&self) -> u64 {
        let now = self.mono();
        let candidates = [
            self.machine.poll_timeout(),
            (!self.machine.is_powered_off()).then_some(self.next_frame_at),
            self.button_release_at,
        ];
        candidates.into_iter().flatten().fold(now + 1_000, u64::min)
    }

    /// Everything that is due now.
    fn on_time(&mut self) -> Result<(), AgentError> {
        let now = self.mono();
        self.machine.handle_timeout(now);
        if self.button_release_at.is_some_and(|t| t <= now) {
            self.button_release_at = None;
            self.machine
                .handle_input(now, Input::Core(CoreInput::ButtonUp));
        }
        if !self.machine.is_powered_off() && self.next_frame_at <= now {
            self.frame(now)?;
            self.next_frame_at = next_frame_at(self.next_frame_at, self.frame_every_ms, now);
        }
        Ok(())
    }

    /// Carries out the machine's outputs, finishes a clip whose recording stopped,
    /// updates the status the local endpoint shows.
    fn turn(&mut self) -> Result<(), AgentError> {
        self.perform_all()?;
        if std::mem::take(&mut self.clip_due) {
            self.finish_clip()?;
            self.perform_all()?;
        }
        self.refresh_status();
        Ok(())
    }

    fn perform_all(&mut self) -> Result<(), AgentError> {
        while let Some(output) = self.machine.poll_output() {
            self.perform(output)?;
        }
        Ok(())
    }

    fn refresh_status(&self) {
        let (condition, light) = self.machine.shown();
        let id = LightId::of(condition, light);
        let core = self.machine.core();
        let state = core.state().as_str().to_string();
        let queue_items = self.queue.len();
        let queue_bytes = self.queue.bytes_used();
        let live = self.machine.live();
        self.shared.update(|s| {
            s.state = state;
            s.light_id = id.as_str().into();
            s.condition = condition.as_str().into();
            s.meaning = id.meaning().into();
            s.link_up = self.link_up;
            s.link_silent = self.radio.is_silent();
            s.connected = self.machine.is_connected();
            s.recording = core.is_recording();
            s.queue_items = queue_items;
            s.queue_bytes = queue_bytes;
            s.clips_recorded = self.clips_recorded;
            s.delivered = self.delivered;
            s.live = live.is_streaming();
            s.live_frames_sent = live.frames_sent();
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
                .filter(|p| core.part_failed(*p))
                .map(|p| p.as_str().to_string())
                .collect();
        });
    }

    // ----- the machine's outputs -----------------------------------------------------

    fn perform(&mut self, output: Output) -> Result<(), AgentError> {
        let now = self.mono();
        match output {
            Output::JoinWifi { ssid, passphrase } => {
                let link_up = self.link_up;
                let wifi = self
                    .wifi
                    .get_or_insert_with(|| SimWifi::new(&ssid, &passphrase, -55));
                wifi.set_outage(!link_up);
                let result = wifi.join(&WifiCredentials { ssid, passphrase });
                let rssi_dbm = wifi.rssi_dbm();
                self.machine
                    .handle_input(now, Input::WifiJoined { result, rssi_dbm });
            }
            Output::DropWifiLink => {
                if let Some(w) = &mut self.wifi {
                    w.drop_link();
                }
                self.report_rssi(now);
            }
            Output::Connect {
                session,
                keepalive_s,
                last_will,
            } => self.start_session(now, session, keepalive_s, last_will),
            Output::Subscribe { filter } => {
                if let Some(s) = &self.session {
                    s.subscribe(filter);
                }
            }
            Output::Publish {
                topic,
                payload,
                qos,
                retain,
                tag,
            } => {
                let qos = match qos {
                    Qos::AtMostOnce => QoS::AtMostOnce,
                    Qos::AtLeastOnce => QoS::AtLeastOnce,
                };
                let sent = self
                    .session
                    .as_ref()
                    .is_some_and(|s| s.publish(topic, qos, retain, payload, tag));
                if let (false, Some(tag)) = (sent, tag) {
                    self.machine.handle_input(now, Input::PublishFailed { tag });
                }
            }
            Output::Disconnect => {
                if let Some(s) = &self.session {
                    s.disconnect();
                }
            }
            Output::DropSession => {
                if let Some(s) = self.session.take() {
                    s.abort();
                }
            }
            Output::PeekQueue => {
                let head = self.peek_oldest()?;
                self.machine.handle_input(now, Input::Oldest(head));
            }
            Output::Upload { seq } => self.upload(seq)?,
            Output::Enqueue(event) => {
                self.queue.push_event(&event)?;
                self.queue_changed(now);
            }
            Output::DeleteItem { seq } => {
                if self.queue.seqs().contains(&seq) {
                    self.queue.ack(seq)?;
                    self.delivered += 1;
                    self.queue_changed(now);
                }
            }
            Output::ClearQueue => {
                for seq in self.queue.seqs() {
                    self.queue.ack(seq)?;
                }
                self.queue_changed(now);
            }
            Output::SaveState(state) => self.data.save_core(&state)?,
            Output::SaveCredentials(creds) => {
                if let Err(e) = self.data.save_credentials(&creds) {
                    tracing::error!("could not save the Wi-Fi credentials: {e}");
                }
            }
            Output::ForgetCredentials => self.data.forget_credentials()?,
            Output::ReadBattery => self.read_battery(now, false),
            Output::BatteryLoad(load) => {
                if let Some(b) = &mut self.battery {
                    b.set_load(load);
                }
            }
            Output::StartRecording { t_ms, trigger } => {
                let trigger = match trigger {
                    RecordTrigger::Pir => ClipTrigger::Pir,
                    RecordTrigger::Pixel => ClipTrigger::Pixel,
                    RecordTrigger::Manual => ClipTrigger::Manual,
                };
                let start_ts = self.machine.hub_time(t_ms);
                if let Err(e) = self.recorder.start(trigger, start_ts) {
                    // Recording goes on with the clip already under way.
                    tracing::warn!("clip recorder: {e}");
                }
                self.recording_start_ts = start_ts;
            }
            // Queued after the events of this turn (motion_end comes first).
            Output::StopRecording => self.clip_due = true,
            Output::SettingsChanged => self.apply_settings_to_hardware(),
            Output::Light {
                t_ms,
                condition,
                light,
            } => {
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
            }
            Output::State { t_ms, state } => {
                tracing::info!(state = state.as_str(), "lifecycle");
                if self.config.print_lights {
                    println!(
                        "state t={:.1}s state={}",
                        t_ms as f64 / 1000.0,
                        state.as_str()
                    );
                }
            }
            Output::LastError(error) => self.shared.update(|s| s.last_error = error),
        }
        Ok(())
    }

    fn report_rssi(&mut self, now: u64) {
        let rssi = self.wifi.as_ref().and_then(|w| w.rssi_dbm());
        self.machine.handle_input(now, Input::Rssi(rssi));
    }

    fn queue_changed(&mut self, now: u64) {
        let (items, bytes) = (self.queue.len(), self.queue.bytes_used());
        self.machine
            .handle_input(now, Input::Queue { items, bytes });
    }

    fn finish_clip(&mut self) -> Result<(), AgentError> {
        if !self.recorder.is_recording() {
            return Ok(());
        }
        let result = self.recorder.finish();
        if self.machine.credentials().is_none() {
            return Ok(());
        }
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
                let clip_id = self.name_clip(self.recording_start_ts)?;
                tracing::error!(clip_id, "clip recorder: {e}: the clip is dropped");
                let event = unfinished_clip_event(&clip_id, self.recording_start_ts, &e);
                self.queue.push_event(&event)?;
                self.queue_changed(self.mono());
                return Ok(());
            }
        };
        let clip_id = self.name_clip(clip.meta.start_ts)?;
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
        let now = self.mono();
        self.queue_changed(now);
        self.machine.handle_input(now, Input::ClipQueued);
        Ok(())
    }

    /// The id of a clip that started at hub time `start_ts`, unique per camera across
    /// restarts (the count is saved before the clip is queued).
    fn name_clip(&mut self, start_ts: u64) -> Result<String, AgentError> {
        let Some((device_id, n, creds)) = self.machine.next_clip_number() else {
            return Ok(String::new());
        };
        self.data.save_credentials(&creds)?;
        Ok(format!("{device_id}-{start_ts}-{n}"))
    }

    // ----- the session -------------------------------------------------------------------

    fn start_session(
        &mut self,
        now: u64,
        id: u64,
        keepalive_s: u64,
        last_will: Option<(String, Vec<u8>)>,
    ) {
        let Some(creds) = self.machine.credentials().cloned() else {
            self.machine
                .handle_input(now, Input::SessionFailed { session: id });
            return;
        };
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
            keepalive_s,
            last_will,
            tls,
            allow_plain: self.config.insecure,
            radio: Some(self.radio.clone()),
        };
        match Session::start(id, &config, self.session_tx.clone()) {
            Ok(s) => self.session = Some(s),
            Err(e) => {
                tracing::error!("cannot connect to the hub: {e}");
                self.machine
                    .handle_input(now, Input::SessionFailed { session: id });
            }
        }
    }

    fn on_session(&mut self, event: SessionEvent) {
        let now = self.mono();
        let input = match event {
            SessionEvent::Connected { session } => Input::Connected { session },
            SessionEvent::Refused { session, reason } => Input::Refused { session, reason },
            SessionEvent::Closed { session, reason } => Input::Closed { session, reason },
            SessionEvent::Message {
                session,
                topic,
                payload,
            } => Input::Message {
                session,
                topic,
                payload,
            },
            SessionEvent::Acked { session, tag } => Input::Acked { session, tag },
        };
        self.machine.handle_input(now, input);
    }

    // ----- delivery ------------------------------------------------------------------------

    fn peek_oldest(&mut self) -> Result<Option<Head>, AgentError> {
        let Some(item) = self.queue.peek_oldest()? else {
            return Ok(None);
        };
        let body = match item.body {
            ItemBody::Event(event) => HeadBody::Event(event),
            ItemBody::Clip { meta, bytes } => {
                self.peeked_clip = Some(PeekedClip {
                    seq: item.seq,
                    meta: meta.clone(),
                    bytes,
                });
                HeadBody::Clip { meta }
            }
        };
        Ok(Some(Head {
            seq: item.seq,
            body,
        }))
    }

    fn upload(&mut self, seq: u64) -> Result<(), AgentError> {
        let clip = match self.peeked_clip.take() {
            Some(c) if c.seq == seq => c,
            _ => match self.queue.read(seq)?.body {
                ItemBody::Clip { meta, bytes } => PeekedClip { seq, meta, bytes },
                ItemBody::Event(_) => return Ok(()),
            },
        };
        let Some(creds) = self.machine.credentials().cloned() else {
            return Ok(());
        };
        let client = self.http_client(&creds)?;
        let tx = self.upload_tx.clone();
        tokio::spawn(async move {
            let result = upload_clip(&client, &creds, &clip.meta, clip.bytes).await;
            let _ = tx.send(UploadDone { seq, result });
        });
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

    // ----- snapshots and live view -----------------------------------------------------

    /// Sends a frame to the live stream or as a snapshot; nothing gets through a silent
    /// radio (the hub's silence then stops the stream).
    fn live_frame(&mut self, now: u64, frame: &watchlight_hw::Frame) {
        let Some(creds) = self.machine.credentials().cloned() else {
            return;
        };
        if self.radio.is_silent() || !self.link_up {
            return;
        }
        match self.http_client(&creds) {
            Ok(client) => {
                let used = self.machine.use_frame();
                let captured_at = self.machine.hub_time(now);
                self.live
                    .on_frame(used, frame, captured_at, &client, &creds);
            }
            Err(e) => tracing::warn!("live view: {e}"),
        }
    }

    fn on_live(&mut self, report: LiveReport) {
        let now = self.mono();
        let input = match report {
            LiveReport::Frame { run, result } => Input::LiveFrameAnswered { run, result },
            LiveReport::Snapshot { cmd_ids, result } => Input::SnapshotUploaded { cmd_ids, result },
        };
        self.machine.handle_input(now, input);
    }

    fn apply_settings_to_hardware(&mut self) {
        let settings = self.machine.core().settings().clone();
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

    // ----- hardware ------------------------------------------------------------------------

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
                CoreInput::SensorOk(part)
            }
            Some(e) => {
                if !std::mem::replace(failing, true) {
                    tracing::warn!(%part, "{e}");
                }
                CoreInput::SensorFailed {
                    part,
                    reason: e.to_string(),
                }
            }
        };
        self.machine.handle_input(now, Input::Core(input));
    }

    /// One read of the image sensor and the PIR beside it. Every read tells the core
    /// whether each part answered, for its self-test; a failed read is not fatal, and
    /// one part failing does not stop the other (a broken PIR: no PIR motion, pixels
    /// still watched; a broken image sensor: the PIR still triggers).
    fn frame(&mut self, now: u64) -> Result<(), AgentError> {
        let (frame, pir) = self.scene.next(now);
        self.part_read(now, Part::MotionSensor, pir.as_ref().err());
        if pir.unwrap_or(false) && self.last_pir_at.is_none_or(|t| now >= t + PIR_EVERY_MS) {
            self.last_pir_at = Some(now);
            self.machine.handle_input(now, Input::Core(CoreInput::Pir));
        }
        self.part_read(now, Part::ImageSensor, frame.as_ref().err());
        let Ok(frame) = frame else {
            // No frames, no pixel motion.
            if std::mem::take(&mut self.motion_on) {
                self.machine
                    .handle_input(now, Input::Core(CoreInput::MotionEnd));
            }
            return Ok(());
        };
        if self.machine.live().wants_frame() {
            self.live_frame(now, &frame);
        }
        let verdict = self.detector.process(&frame.y)?;
        let (w, h) = (frame.width, frame.height);
        if verdict.motion != self.motion_on {
            self.motion_on = verdict.motion;
            let input = if verdict.motion {
                CoreInput::MotionStart
            } else {
                CoreInput::MotionEnd
            };
            self.machine.handle_input(now, Input::Core(input));
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

    fn read_battery(&mut self, now: u64, fresh_cells: bool) {
        if let Some(b) = &mut self.battery {
            let reading = b.read();
            self.machine.handle_input(
                now,
                Input::Battery {
                    reading,
                    fresh_cells,
                },
            );
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
                self.machine.handle_input(now, Input::RadioSilent(true));
            }
            Control::AccessPoint(ap) => {
                tracing::info!(ssid = %ap.ssid, "simulated access point reconfigured");
                let outage = !self.link_up;
                let mut wifi = SimWifi::new(&ap.ssid, &ap.passphrase, -55);
                wifi.set_outage(outage);
                self.wifi = Some(wifi);
                self.report_rssi(now);
            }
            Control::Link { up, .. } => {
                tracing::info!(up, "simulated Wi-Fi link");
                self.radio.set_silent(false);
                self.machine.handle_input(now, Input::RadioSilent(false));
                self.link_up = up;
                if let Some(w) = &mut self.wifi {
                    w.set_outage(!up);
                }
                self.report_rssi(now);
                if !up {
                    self.machine.handle_input(now, Input::LinkDown);
                }
            }
            Control::Motion => self.scene.walk(),
            Control::Battery(body) => self.battery_control(body, now),
            Control::Button { hold_ms } => {
                self.machine
                    .handle_input(now, Input::Core(CoreInput::ButtonDown));
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
        let was_off = self.machine.is_powered_off();
        self.read_battery(now, body.replace);
        if was_off && body.replace {
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
        self.http = None;
        let now = self.mono();
        self.machine
            .handle_input(now, Input::Provisioned(Box::new(creds)));
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
