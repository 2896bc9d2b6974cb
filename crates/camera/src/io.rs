//! What goes into the camera core and what comes out of it.
//!
//! The core never reads a clock or touches hardware: the driver (the camera agent, or
//! the replay runner) turns the world into [`Input`]s with a time and carries the
//! [`Output`]s out to the light, the recorder, MQTT and disk.

use serde_json::{Map, Value};
pub use watchlight_hw::BatteryReading;
use watchlight_protocol::{ConditionId, EventKind, LifecycleState, Light, Part, Settings};

/// Something that happened to the camera, reported by its driver.
#[derive(Debug, Clone, PartialEq)]
pub enum Input {
    /// Power applied (batteries in, USB plugged). Ignored while already on or shut down
    /// (a shut-down camera wakes only on a fresh battery reading).
    PowerOn,
    /// Setup: the hub sent Wi-Fi credentials and a device token (SPEC §4.1). The core
    /// goes to `joining`; the driver then reports [`Input::HubConnected`],
    /// [`Input::WifiRejected`] or nothing (60 s later: `join_timeout`).
    Provisioned,
    /// The access point refused the passphrase. During setup: red solid 10 s, then setup
    /// again. On a camera that was set up: it stays offline and says so when back.
    WifiRejected,
    /// The hub accepted the device credential: the camera is online.
    HubConnected,
    /// The hub refused the device credential; ten in a row send the camera back to setup.
    HubRejected,
    /// The connection to the hub dropped (Wi-Fi down, hub gone, socket closed).
    LinkLost,
    /// The connection to the hub works again (same effect as [`Input::HubConnected`]
    /// while offline).
    LinkRestored,
    /// The PIR sensor fired. Ignored on profiles without PIR.
    Pir,
    /// Pixel motion detection started seeing motion.
    MotionStart,
    /// Pixel motion detection stopped seeing motion.
    MotionEnd,
    /// A battery reading (battery profiles only; ignored on mains profiles).
    Battery(BatteryReading),
    ButtonDown,
    ButtonUp,
    /// A whole settings document from the hub (replaces the current one if valid).
    Settings(Box<Settings>),
    /// The hub armed or disarmed this camera (a shortcut for `settings.armed`).
    Armed(bool),
    /// A command from the hub or the app.
    Command(Command),
    /// The part answered (a frame arrived, the PIR responded): a failure under way is
    /// over. The driver may send it after every read.
    SensorOk(Part),
    /// The part did not answer (an error, or no frame at all). Long enough in a row, it
    /// becomes a `self_test_failed` event (see [`crate::SELF_TEST_BOOT_MS`] and
    /// [`crate::SENSOR_WATCH_MS`]); repeats continue the same episode. The driver may
    /// send it after every failed read.
    SensorFailed {
        part: Part,
        reason: String,
    },
}

/// Commands the core acts on (SPEC §5 `cmd/{name}`). Commands that are pure I/O
/// (`snapshot`, `wifi`, `time`) are handled by the agent and never reach the core.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Command {
    /// Green flash(5), once.
    Identify,
    /// Record a clip now, armed or not (trigger `manual`).
    Record,
    /// Live view: the recording light shows while it lasts.
    LiveStart,
    LiveStop,
    /// Restart through boot.
    Reboot,
    /// Erase credentials, settings and queue; reboot into setup.
    FactoryReset,
}

impl Command {
    pub const ALL: [Command; 6] = [
        Command::Identify,
        Command::Record,
        Command::LiveStart,
        Command::LiveStop,
        Command::Reboot,
        Command::FactoryReset,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Command::Identify => "identify",
            Command::Record => "record",
            Command::LiveStart => "live_start",
            Command::LiveStop => "live_stop",
            Command::Reboot => "reboot",
            Command::FactoryReset => "factory_reset",
        }
    }

    pub fn parse(name: &str) -> Option<Command> {
        Command::ALL.into_iter().find(|c| c.as_str() == name)
    }
}

/// What started a recording (the `trigger` of a clip's metadata).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RecordTrigger {
    Pir,
    Pixel,
    Manual,
}

impl RecordTrigger {
    pub fn as_str(self) -> &'static str {
        match self {
            RecordTrigger::Pir => "pir",
            RecordTrigger::Pixel => "pixel",
            RecordTrigger::Manual => "manual",
        }
    }
}

/// Why a recording ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum StopReason {
    /// `post_roll` seconds without motion.
    PostRoll,
    /// `max_clip` seconds reached.
    MaxClip,
    /// The camera was disarmed or its motion detection switched off.
    Disarmed,
    BatteryCritical,
    /// Reboot or factory reset.
    Restart,
}

impl StopReason {
    pub fn as_str(self) -> &'static str {
        match self {
            StopReason::PostRoll => "post_roll",
            StopReason::MaxClip => "max_clip",
            StopReason::Disarmed => "disarmed",
            StopReason::BatteryCritical => "battery_critical",
            StopReason::Restart => "restart",
        }
    }
}

/// What the core persists across restarts. The agent stores it (atomically) whenever
/// the core emits [`Output::SaveState`], and gives it back to [`crate::Core::new`].
#[derive(Debug, Clone, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct PersistedState {
    /// Credentials received (Wi-Fi, hub, device token); the agent holds the secrets.
    pub provisioned: bool,
    /// The camera reached its hub at least once with these credentials: from now on a
    /// refused Wi-Fi password keeps it offline instead of sending it back to setup.
    pub setup_completed: bool,
    pub settings: Settings,
}

/// Something the driver must do or show, in the order the core decided it.
#[derive(Debug, Clone, PartialEq)]
pub enum Output {
    /// Show this light now (its pattern starts now). `condition` is the condition of
    /// SPEC §3 that owns the light; `LightId::of(condition, light)` names it for the owner.
    Light {
        condition: ConditionId,
        light: Light,
    },
    /// The lifecycle state changed.
    State(LifecycleState),
    /// Report an event to the hub (through the offline queue). `data` holds the
    /// event-specific fields.
    Event {
        kind: EventKind,
        data: Map<String, Value>,
    },
    /// Start recording a clip (the agent adds the pre-roll it buffered).
    StartRecording { trigger: RecordTrigger },
    /// Stop the clip being recorded; the agent finishes it and queues it for upload.
    StopRecording { reason: StopReason },
    /// Try to (re)connect to Wi-Fi and the hub now. `attempt` 0 is the first try after
    /// provisioning or boot; later ones follow exponential backoff while the camera is
    /// joining or offline, until it is online (the agent may add jitter on top, and
    /// ignores an attempt while one is still under way).
    Connect { attempt: u32 },
    /// Time to check in (battery cameras wake up and connect) and send telemetry.
    CheckIn,
    /// Persist this state (atomically) before acting on anything that follows.
    SaveState(PersistedState),
    /// Erase credentials, settings and the offline queue (tell the hub first if it can).
    FactoryReset,
    /// Battery critical: cut power after the farewell flash; only fresh batteries wake it.
    PowerOff,
    /// A settings document was refused; the old one stays.
    SettingsRejected { reason: String },
}

/// An [`Output`] with the virtual time at which it happened.
#[derive(Debug, Clone, PartialEq)]
pub struct Timed {
    pub t_ms: u64,
    pub output: Output,
}
