//! What goes into the agent's machine and what comes out of it.

use crate::persist::Credentials;
use serde_json::{Map, Value};
use watchlight_camera::queue::QueuedEvent;
use watchlight_camera::{PersistedState, RecordTrigger};
use watchlight_hw::sim::Load;
use watchlight_hw::{BatteryReading, WifiError};
use watchlight_protocol::{ConditionId, LifecycleState, Light, ProfileId};

/// What the machine starts with.
#[derive(Debug, Clone)]
pub struct MachineConfig {
    /// Named in the camera's `state` messages.
    pub profile: ProfileId,
    /// The credentials kept from provisioning, if any.
    pub credentials: Option<Credentials>,
    /// Hub time minus the monotonic time at which the machine starts, ms: the system
    /// clock's guess until the hub sends `cmd/time`.
    pub hub_offset_ms: i64,
    /// Seed of the reconnect jitter: the same seed gives the same jitter.
    pub seed: u64,
    /// How often the image sensor and the PIR are read.
    pub frame_every_ms: u64,
}

/// Something that happened, reported by the driver.
#[derive(Debug, Clone, PartialEq)]
pub enum Input {
    /// Power applied: boots the core.
    PowerOn,
    /// An input for the camera core (sensors, motion, the button).
    Core(watchlight_camera::Input),
    /// Setup: the hub's credentials, already saved by the driver.
    Provisioned(Box<Credentials>),
    /// The answer to [`Output::JoinWifi`], with the signal the radio now has.
    WifiJoined {
        result: Result<(), WifiError>,
        rssi_dbm: Option<i32>,
    },
    /// The radio's signal changed (the link dropped, the access point changed).
    Rssi(Option<i32>),
    /// The Wi-Fi access point went away (the simulator's `link down`).
    LinkDown,
    /// The radio drops every packet (`true`) or works again.
    RadioSilent(bool),
    /// [`Output::Connect`] could not even start a session.
    SessionFailed { session: u64 },
    /// The broker accepted session `session`.
    Connected { session: u64 },
    /// The broker refused the device credential.
    Refused { session: u64, reason: String },
    /// The connection failed or closed.
    Closed { session: u64, reason: String },
    /// A message from the hub.
    Message {
        session: u64,
        topic: String,
        payload: Vec<u8>,
    },
    /// The broker acknowledged the publish tagged `tag`.
    Acked { session: u64, tag: u64 },
    /// The session could not take the publish tagged `tag` (its queue is full).
    PublishFailed { tag: u64 },
    /// The answer to [`Output::ReadSensors`]: what the PIR said and whether a frame came
    /// (the errors in words).
    SensorsRead {
        pir: Result<bool, String>,
        image: Result<(), String>,
    },
    /// The detector's verdict on the frame just read: pixel motion or not.
    PixelMotion(bool),
    /// A battery reading (periodic, asked for with [`Output::ReadBattery`], or after the
    /// simulator changed the pack); `fresh_cells` when new batteries went in.
    Battery {
        reading: BatteryReading,
        fresh_cells: bool,
    },
    /// What the offline queue holds now (after every change).
    Queue { items: usize, bytes: u64 },
    /// The answer to [`Output::PeekQueue`].
    Oldest(Option<Head>),
    /// A clip's upload (video and thumbnail) ended.
    UploadDone {
        seq: u64,
        result: Result<(), String>,
    },
    /// A clip was queued (a battery camera checks in to send it).
    ClipQueued,
    /// The hub answered a live frame of stream `run`: `Ok(true)` someone watches,
    /// `Ok(false)` nobody does.
    LiveFrameAnswered {
        run: u64,
        result: Result<bool, String>,
    },
    /// A snapshot upload for these commands ended.
    SnapshotUploaded {
        cmd_ids: Vec<String>,
        result: Result<(), String>,
    },
    /// The process stops: say `offline` if connected.
    Shutdown,
}

/// The oldest queued item, as far as delivery needs it (a clip without its bytes).
#[derive(Debug, Clone, PartialEq)]
pub struct Head {
    pub seq: u64,
    pub body: HeadBody,
}

#[derive(Debug, Clone, PartialEq)]
pub enum HeadBody {
    Event(QueuedEvent),
    Clip { meta: Map<String, Value> },
}

/// MQTT delivery guarantee of a publish.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Qos {
    AtMostOnce,
    AtLeastOnce,
}

/// Something the driver must do, in the order the machine decided it.
#[derive(Debug, Clone, PartialEq)]
pub enum Output {
    /// Join the Wi-Fi with these credentials; answer with [`Input::WifiJoined`].
    JoinWifi {
        ssid: String,
        passphrase: String,
    },
    /// Leave the Wi-Fi (to join again with new credentials).
    DropWifiLink,
    /// Start MQTT session number `session` with the held credentials.
    Connect {
        session: u64,
        keepalive_s: u64,
        /// Topic and payload of the last will (mains cameras).
        last_will: Option<(String, Vec<u8>)>,
    },
    Subscribe {
        filter: String,
    },
    /// Publish on the current session; a tagged publish comes back as
    /// [`Input::Acked`] or [`Input::PublishFailed`].
    Publish {
        topic: String,
        payload: Vec<u8>,
        qos: Qos,
        retain: bool,
        tag: Option<u64>,
    },
    /// A clean goodbye on the current session (no last will).
    Disconnect,
    /// Drop the current session at once, as a lost link does.
    DropSession,
    /// Read the oldest queued item; answer with [`Input::Oldest`].
    PeekQueue,
    /// Upload the queued clip `seq`; answer with [`Input::UploadDone`].
    Upload {
        seq: u64,
    },
    /// Keep this event in the offline queue.
    Enqueue(QueuedEvent),
    /// The hub has item `seq`: delete it (if it is still there).
    DeleteItem {
        seq: u64,
    },
    /// Delete every queued item (factory reset).
    ClearQueue,
    SaveState(PersistedState),
    SaveCredentials(Box<Credentials>),
    ForgetCredentials,
    /// Read the image sensor and the PIR; answer with [`Input::SensorsRead`], then (if
    /// a frame came) [`Input::PixelMotion`].
    ReadSensors,
    /// Read the battery; answer with [`Input::Battery`].
    ReadBattery,
    /// What the radio and the sensor draw now (battery cameras).
    BatteryLoad(Load),
    /// The core started recording at `t_ms`.
    StartRecording {
        t_ms: u64,
        trigger: RecordTrigger,
    },
    /// The recording ended: finish the clip and queue it.
    StopRecording,
    /// The core took new settings: apply them to the detector and the recorder.
    SettingsChanged,
    /// The light changed at `t_ms` (for people watching).
    Light {
        t_ms: u64,
        condition: ConditionId,
        light: Light,
    },
    /// The lifecycle state changed at `t_ms` (for people watching).
    State {
        t_ms: u64,
        state: LifecycleState,
    },
    /// What the local endpoint reports as the last error.
    LastError(Option<String>),
}
