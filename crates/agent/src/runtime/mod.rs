//! The agent's driver: the decisions of [`crate::machine::Machine`] carried out on real
//! time, with the I/O they need.
//!
//! One task owns everything (the machine and the camera core inside it, the disk queue,
//! the recorder, the detector, the hardware simulations, the MQTT session); the local
//! endpoint, the MQTT event loop, clip uploads and live frames talk to it through
//! channels. Each turn: wait for the earliest of the machine's timeout, the button's
//! release, or a message; report it to the machine; carry out its outputs (answering at
//! once those that ask something: a Wi-Fi join, the oldest queued item, a sensor or
//! battery reading); finish a clip whose recording stopped.
//!
//! The machine decides when to read the sensors; the reading, pixel motion on the frame
//! and the clip recorder are hardware and computation, done here, whose results the
//! machine hears as inputs.

mod clips;
mod hardware;
mod outputs;

pub(crate) use clips::{send_upload, signed_put};
use hardware::{detector_config, pre_roll_ms};

use crate::config::{AgentConfig, SceneChoice};
use crate::disk_queue::{self, DiskQueue};
use crate::live::{Live, LiveReport};
use crate::local::{self, Control, LocalShared};
use crate::machine::{Input, Machine, MachineConfig};
use crate::persist::{DataDir, PROVISION_URL_FILE, PersistError, QUEUE_DIR};
use crate::scene::CameraScene;
use crate::session::{Session, SessionEvent};
use serde_json::{Map, Value};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use tokio::sync::mpsc;
use watchlight_camera::queue::{DEFAULT_BUDGET_BYTES, QueueError};
use watchlight_camera::{Core, Input as CoreInput, PersistedState};
use watchlight_hw::sim::{SimBattery, SimWifi};
use watchlight_hw::{Clock, FrameError};
use watchlight_media::{ClipRecorder, MediaError, RecorderConfig};
use watchlight_motion::{Detector, MotionError};
use watchlight_protocol::{LightId, Part};

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
                frame_every_ms: (1000.0 / fps).round() as u64,
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
        let candidates = [self.machine.poll_timeout(), self.button_release_at];
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
