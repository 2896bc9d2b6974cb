//! The agent's decisions as one sans-IO state machine, in the style of the camera core
//! (`watchlight_camera::Core`, which it owns and feeds) and of quinn-proto:
//!
//! ```text
//! let mut m = Machine::new(core, config);
//! m.handle_input(now, Input::PowerOn);
//! loop {
//!     while let Some(out) = m.poll_output() { /* carry it out; answer with inputs */ }
//!     // wait for an input or until m.poll_timeout(), then:
//!     m.handle_timeout(now);
//! }
//! ```
//!
//! Time is the agent's monotonic milliseconds, given with every call; nothing here reads
//! a clock, opens a socket or a file, or draws unseeded randomness (the reconnect jitter
//! comes from a generator seeded by [`MachineConfig::seed`]). The machine decides:
//!
//! - when to join the Wi-Fi and connect, with jitter on the core's backoff; a battery
//!   camera's check-in, how long it lingers and when it hangs up (`sleeping`);
//! - delivery of the offline queue, oldest first, one item at a time: an event is
//!   published and deleted only on the hub's `cmd/ack` (sent again after
//!   [`HUB_ACK_WAIT_MS`] or a lost link); a clip is uploaded, then its `clip_recorded`
//!   event goes the same way;
//! - what the hub's messages mean: settings for the core, commands, `cmd/ack`, a Wi-Fi
//!   change with its revert, snapshots and live view ([`live::LivePlan`]);
//! - when to read the image sensor, the PIR and the battery, and what a read means for
//!   the core (a part answering or not, a PIR trigger, pixel motion starting or ending);
//! - every MQTT payload the camera sends.
//!
//! The driver (`crate::runtime`) owns the session, the uploads, the disk queue, the
//! hardware and the encoder, and reports what they did as [`Input`]s. Some outputs ask
//! a question the driver answers at once with an input ([`Output::JoinWifi`] with
//! [`Input::WifiJoined`], [`Output::PeekQueue`] with [`Input::Oldest`],
//! [`Output::ReadBattery`] with [`Input::Battery`], [`Output::ReadSensors`] with
//! [`Input::SensorsRead`]).

mod connection;
mod delivery;
mod hub_messages;
mod io;
pub mod live;
#[cfg(test)]
mod sans_io;
mod sensors;
#[cfg(test)]
mod tests;

pub use io::{Head, HeadBody, Input, MachineConfig, Output, Qos};
pub use sensors::PIR_EVERY_MS;

use crate::persist::Credentials;
use live::LivePlan;
use serde_json::Map;
use serde_json::Value;
use std::collections::VecDeque;
use watchlight_camera::jitter::SplitMix64;
use watchlight_camera::queue::QueuedEvent;
use watchlight_camera::{Core, Timed};
use watchlight_hw::sim::Load;
use watchlight_protocol::topics::DeviceTopics;
use watchlight_protocol::{ConditionId, EventKind, LifecycleState, Light, ProfileId};

/// How often a battery camera reads its pack.
pub const BATTERY_READ_EVERY_MS: u64 = 10_000;
/// A battery camera stays connected this long after a check-in, for commands.
pub const CHECKIN_LINGER_MS: u64 = 1_500;
/// A battery camera whose queue the hub does not take (its disk is full) goes back to
/// sleep after this long connected, and tries again at its next check-in.
pub const MAX_CHECKIN_MS: u64 = 30_000;
/// After saying goodbye (sleeping, rejoining) the camera waits this long for its
/// session to send the message before it goes.
pub const HANG_UP_LINGER_MS: u64 = 2_000;
/// While the check-in waits for its queue (or a snapshot), it looks again this often.
pub const LINGER_STEP_MS: u64 = 250;
/// While joining, a failed connection is retried this often (the core's join timeout
/// still ends it after 60 s).
pub const JOIN_RETRY_MS: u64 = 1_000;
/// After a `wifi` command, the camera rejoins this long later (its result can leave first).
pub const REJOIN_AFTER_MS: u64 = 200;
/// A failed clip upload (or a publish the session could not take) is retried after this long.
pub const DELIVERY_RETRY_MS: u64 = 2_000;
/// How long the camera waits for the hub to acknowledge a stored event (`cmd/ack`)
/// before sending it again (the hub stores each seq once).
pub const HUB_ACK_WAIT_MS: u64 = 5_000;
/// Meta keys starting with this are the agent's own and never leave the camera.
pub const PRIVATE_META: &str = "_";

/// An item of the queue under way.
#[derive(Debug, Clone, PartialEq)]
enum InFlight {
    /// Its clip's bytes are on their way over HTTP.
    Uploading { seq: u64, meta: Map<String, Value> },
    /// Its event is published; the hub's `cmd/ack` frees it.
    Publishing { seq: u64 },
}

/// A `wifi` command under way: answered once the camera is back with the new
/// credentials, or back with the old ones because the access point refused the new.
#[derive(Debug, Clone)]
struct WifiChange {
    cmd_id: String,
    previous: (String, String),
    error: Option<String>,
}

/// The agent's brain. See the module documentation for how to drive it.
#[derive(Debug)]
pub struct Machine {
    core: Core,
    profile: ProfileId,
    on_battery: bool,
    creds: Option<Credentials>,
    hub_offset_ms: i64,
    rng: SplitMix64,
    now: u64,
    outputs: VecDeque<Output>,

    // What the driver said about the hardware.
    rssi_dbm: Option<i32>,
    radio_silent: bool,
    powered_off: bool,
    next_battery_read: u64,
    frame_every_ms: u64,
    next_frame_at: u64,
    last_pir_at: Option<u64>,
    /// The detector sees motion.
    motion_on: bool,
    /// The last frame read failed (logged once per run of failures).
    sensor_failing: bool,
    /// The last PIR read failed (logged once per run of failures).
    pir_failing: bool,

    // The connection.
    session: Option<u64>,
    sessions_made: u64,
    connected: bool,
    /// The camera said goodbye on purpose: its `Closed` is not a lost link.
    closing: bool,
    /// The goodbye under way is a rejoin, not a battery camera going to sleep.
    rejoining: bool,
    ever_connected: bool,
    reconnects: u32,
    /// A Wi-Fi join was asked for this connection attempt and not answered yet.
    joining_wifi: Option<u32>,
    pending_connect_at: Option<u64>,
    join_retry_at: Option<u64>,
    linger_until: Option<u64>,
    /// When a battery camera's check-in connected (see [`MAX_CHECKIN_MS`]).
    checkin_since: Option<u64>,
    /// A check-in waits for the battery reading it asked for.
    checkin_after_reading: bool,
    /// When to drop the link and rejoin with new Wi-Fi credentials.
    rejoin_at: Option<u64>,
    wifi_change: Option<WifiChange>,

    // Delivery.
    queue_items: usize,
    queue_bytes: u64,
    peeking: bool,
    in_flight: Option<InFlight>,
    /// When to give up waiting for the hub's acknowledgement of the event in flight.
    hub_ack_by: Option<u64>,
    retry_delivery_at: Option<u64>,

    live: LivePlan,
    shown: (ConditionId, Light),
    /// When the shown light ends by itself and what follows it (core time).
    shown_ends: Option<(u64, ConditionId, Light)>,
}

impl Machine {
    /// A machine around `core` (not yet powered on).
    pub fn new(core: Core, config: MachineConfig) -> Machine {
        let on_battery = core.profile().on_battery();
        Machine {
            core,
            profile: config.profile,
            on_battery,
            creds: config.credentials,
            hub_offset_ms: config.hub_offset_ms,
            rng: SplitMix64::new(config.seed),
            now: 0,
            outputs: VecDeque::new(),
            rssi_dbm: None,
            radio_silent: false,
            powered_off: false,
            next_battery_read: 0,
            frame_every_ms: config.frame_every_ms.max(1),
            next_frame_at: 0,
            last_pir_at: None,
            motion_on: false,
            sensor_failing: false,
            pir_failing: false,
            session: None,
            sessions_made: 0,
            connected: false,
            closing: false,
            rejoining: false,
            ever_connected: false,
            reconnects: 0,
            joining_wifi: None,
            pending_connect_at: None,
            join_retry_at: None,
            linger_until: None,
            checkin_since: None,
            checkin_after_reading: false,
            rejoin_at: None,
            wifi_change: None,
            queue_items: 0,
            queue_bytes: 0,
            peeking: false,
            in_flight: None,
            hub_ack_by: None,
            retry_delivery_at: None,
            live: LivePlan::default(),
            shown: (ConditionId::Idle, Light::OFF),
            shown_ends: None,
        }
    }

    // ----- the public driving API -------------------------------------------------

    /// Feeds one input at `now_ms` (monotonic; earlier than the last one counts as the last).
    pub fn handle_input(&mut self, now_ms: u64, input: Input) {
        self.now = self.now.max(now_ms);
        let now = self.now;
        match input {
            Input::PowerOn => self
                .core
                .handle_input(now, watchlight_camera::Input::PowerOn),
            Input::Core(i) => self.core.handle_input(now, i),
            Input::Provisioned(creds) => {
                self.creds = Some(*creds);
                self.emit(Output::LastError(None));
                self.feed_core(watchlight_camera::Input::Provisioned);
            }
            Input::WifiJoined { result, rssi_dbm } => {
                self.rssi_dbm = rssi_dbm;
                self.wifi_joined(result);
            }
            Input::Rssi(rssi) => self.rssi_dbm = rssi,
            Input::LinkDown => {
                let was_connected = self.connected;
                self.drop_session();
                if was_connected {
                    self.feed_core(watchlight_camera::Input::LinkLost);
                }
            }
            Input::RadioSilent(silent) => self.radio_silent = silent,
            Input::SessionFailed { session } => {
                if self.session == Some(session) {
                    self.session = None;
                    self.connect_failed();
                }
            }
            Input::Connected { session } if self.session == Some(session) => self.on_connected(),
            Input::Refused { session, reason } if self.session == Some(session) => {
                self.on_refused(&reason)
            }
            Input::Closed { session, reason } if self.session == Some(session) => {
                self.on_closed(&reason)
            }
            Input::Message {
                session,
                topic,
                payload,
            } if self.session == Some(session) => self.on_message(&topic, &payload),
            Input::Acked { session, tag } if self.session == Some(session) => {
                // The broker has the event; the hub's `cmd/ack` frees it.
                if self.in_flight == Some(InFlight::Publishing { seq: tag }) {
                    tracing::debug!(seq = tag, "event with the broker");
                }
            }
            // An event of a session already gone.
            Input::Connected { .. }
            | Input::Refused { .. }
            | Input::Closed { .. }
            | Input::Message { .. }
            | Input::Acked { .. } => {}
            Input::PublishFailed { tag } => self.publish_failed(tag),
            Input::SensorsRead { pir, image } => self.sensors_read(pir, image),
            Input::PixelMotion(motion) => self.pixel_motion(motion),
            Input::Battery {
                reading,
                fresh_cells,
            } => self.on_battery_reading(reading, fresh_cells),
            Input::Queue { items, bytes } => {
                self.queue_items = items;
                self.queue_bytes = bytes;
            }
            Input::Oldest(head) => self.on_oldest(head),
            Input::UploadDone { seq, result } => self.on_upload_done(seq, result),
            Input::ClipQueued => {
                if self.on_battery {
                    self.check_in();
                }
            }
            Input::LiveFrameAnswered { run, result } => {
                if let Err(e) = &result {
                    tracing::debug!("live frame: {e}");
                }
                if self.live.frame_answered(run, now, &result) {
                    tracing::info!("live view: nobody watches any more, stopped");
                    self.feed_core(watchlight_camera::Input::Command(
                        watchlight_camera::Command::LiveStop,
                    ));
                }
            }
            Input::SnapshotUploaded { cmd_ids, result } => {
                self.live.snapshot_done(&cmd_ids);
                if let Err(e) = &result {
                    tracing::warn!("snapshot: {e}");
                }
                for id in &cmd_ids {
                    self.publish_result(id, result.clone().err());
                }
            }
            Input::Shutdown => {
                if self.connected {
                    self.hang_up(watchlight_protocol::messages::Availability::Offline);
                }
            }
        }
        self.settle();
    }

    /// Does everything due at or before `now_ms`.
    pub fn handle_timeout(&mut self, now_ms: u64) {
        self.now = self.now.max(now_ms);
        let now = self.now;
        self.core.handle_timeout(now);
        self.sensors_due();
        let due = |t: Option<u64>| t.is_some_and(|t| t <= now);
        if self.on_battery && self.next_battery_read <= now {
            self.next_battery_read = now + BATTERY_READ_EVERY_MS;
            self.emit(Output::ReadBattery);
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
            self.hub_ack_by = None;
            self.hub_ack_overdue();
        }
        if due(self.rejoin_at) {
            self.rejoin_at = None;
            self.rejoin();
        }
        let live = self.live.tick(now);
        if live.stopped {
            tracing::warn!("live view: no answer from the hub, stopped");
            self.feed_core(watchlight_camera::Input::Command(
                watchlight_camera::Command::LiveStop,
            ));
        }
        for id in live.expired {
            self.publish_result(
                &id,
                Some("the image sensor gave no frame for the snapshot".into()),
            );
        }
        if due(self.linger_until) {
            self.linger_until = None;
            self.linger_over();
        }
        self.settle();
    }

    /// When the machine next needs [`Machine::handle_timeout`], if ever.
    pub fn poll_timeout(&self) -> Option<u64> {
        [
            self.core.poll_timeout(),
            (!self.powered_off).then_some(self.next_frame_at),
            self.on_battery.then_some(self.next_battery_read),
            self.pending_connect_at,
            self.join_retry_at,
            self.linger_until,
            self.retry_delivery_at,
            self.rejoin_at,
            self.hub_ack_by,
            self.live.next_deadline(),
        ]
        .into_iter()
        .flatten()
        .min()
    }

    /// The next output, oldest first.
    pub fn poll_output(&mut self) -> Option<Output> {
        self.outputs.pop_front()
    }

    // ----- read-only views and what the driver asks of the decisions ---------------

    pub fn core(&self) -> &Core {
        &self.core
    }

    pub fn live(&self) -> &LivePlan {
        &self.live
    }

    /// A frame was read and the driver can send it: what it is for (the live stream,
    /// snapshots), now marked as on its way.
    pub fn use_frame(&mut self) -> live::FrameUse {
        self.live.on_frame()
    }

    pub fn credentials(&self) -> Option<&Credentials> {
        self.creds.as_ref()
    }

    /// Names the next clip: `(device_id, number)`, with the credentials to save (they
    /// count the clips, so ids stay unique across restarts). `None` when not provisioned.
    pub fn next_clip_number(&mut self) -> Option<(String, u64, Credentials)> {
        let creds = self.creds.as_mut()?;
        let n = creds.clips_made;
        creds.clips_made += 1;
        Some((creds.device_id.clone(), n, creds.clone()))
    }

    pub fn is_connected(&self) -> bool {
        self.connected
    }

    pub fn is_powered_off(&self) -> bool {
        self.powered_off
    }

    /// The light shown and the condition that owns it.
    pub fn shown(&self) -> (ConditionId, Light) {
        self.shown
    }

    /// Hub time (ms since the epoch) at monotonic `mono_ms`.
    pub fn hub_time(&self, mono_ms: u64) -> u64 {
        (mono_ms as i64 + self.hub_offset_ms).max(0) as u64
    }

    // ----- the core's outputs ----------------------------------------------------------

    fn feed_core(&mut self, input: watchlight_camera::Input) {
        self.core.handle_input(self.now, input);
    }

    /// Acts on the core's outputs (which can feed it again) until it is quiet, then
    /// delivers what can be delivered.
    fn settle(&mut self) {
        while let Some(Timed { t_ms, output }) = self.core.poll_output() {
            self.on_core_output(t_ms, output);
        }
        self.pump();
    }

    fn on_core_output(&mut self, t_ms: u64, output: watchlight_camera::Output) {
        use watchlight_camera::Output as O;
        match output {
            O::Light { condition, light } => {
                self.shown = (condition, light);
                self.shown_ends = self.core.light_ends();
                self.emit(Output::Light {
                    t_ms,
                    condition,
                    light,
                });
                self.publish_state();
            }
            O::State(state) => {
                self.emit(Output::State { t_ms, state });
                if state != LifecycleState::Joining {
                    self.join_retry_at = None;
                }
                self.publish_state();
            }
            O::Event { kind, data } => {
                if matches!(kind, EventKind::WifiRejected | EventKind::JoinTimeout) {
                    let label = if kind == EventKind::WifiRejected {
                        "wifi_rejected"
                    } else {
                        "join_timeout"
                    };
                    self.emit(Output::LastError(Some(label.into())));
                }
                if self.creds.is_some() {
                    let ts = self.hub_time(t_ms);
                    self.emit(Output::Enqueue(QueuedEvent { kind, ts, data }));
                }
            }
            O::StartRecording { trigger } => {
                self.emit(Output::StartRecording { t_ms, trigger });
                self.emit_load(Load::Recording);
            }
            O::StopRecording { reason } => {
                tracing::info!(reason = reason.as_str(), "recording stopped");
                self.emit(Output::StopRecording);
                self.emit_load(Load::Idle);
            }
            O::Connect { attempt } => self.connect(attempt),
            O::CheckIn => self.check_in(),
            O::SaveState(state) => {
                let back_to_setup = !state.provisioned && !state.setup_completed;
                self.emit(Output::SaveState(state));
                if back_to_setup && self.creds.is_some() {
                    // Back to setup: the credentials are forgotten.
                    self.forget_hub();
                }
            }
            O::FactoryReset => {
                self.forget_hub();
                self.emit(Output::ClearQueue);
            }
            O::PowerOff => {
                tracing::warn!("battery critical: powered off until fresh batteries");
                self.powered_off = true;
                self.drop_session();
            }
            O::SettingsRejected { reason } => tracing::warn!("settings refused: {reason}"),
        }
    }

    fn forget_hub(&mut self) {
        self.drop_session();
        self.creds = None;
        self.emit(Output::ForgetCredentials);
    }

    // ----- helpers ---------------------------------------------------------------------

    fn emit(&mut self, output: Output) {
        self.outputs.push_back(output);
    }

    fn emit_load(&mut self, load: Load) {
        if self.on_battery {
            self.emit(Output::BatteryLoad(load));
        }
    }

    fn topics(&self) -> Option<DeviceTopics> {
        self.creds
            .as_ref()
            .map(|c| DeviceTopics::new(c.home.clone(), c.device_id.clone()))
    }
}
