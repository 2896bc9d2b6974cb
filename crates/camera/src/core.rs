//! The camera core: lifecycle (SPEC §4), battery monitor (§6), reset button (§4.3) and
//! recording decision (§7), as one sans-IO state machine in the quinn-proto style.
//!
//! ```text
//! let mut core = Core::new(profile, persisted, now);
//! core.handle_input(now, Input::PowerOn);
//! loop {
//!     while let Some(Timed { t_ms, output }) = core.poll_output() { /* act */ }
//!     // wait for an input or until core.poll_timeout(), then:
//!     core.handle_timeout(now);
//! }
//! ```
//!
//! Every transition happens at the exact virtual time it is due, even when the driver
//! calls in late: outputs carry their own time. The light shown is worked out in
//! [`crate::lights`].

mod button;
mod power;
mod recording;
mod selftest;

use crate::battery::{self, BatteryLevel};
use crate::io::{BatteryReading, Command, Input, Output, PersistedState, RecordTrigger};
use crate::io::{StopReason, Timed};
use serde_json::{Map, Value, json};
use std::collections::VecDeque;
use watchlight_protocol::{
    ConditionId, EventKind, LifecycleState, Light, Profile, Settings, Trigger,
};

pub use selftest::{SELF_TEST_BOOT_MS, SENSOR_WATCH_MS};

// The light table's times live with the table (SPEC §3, one place).
pub use watchlight_protocol::light_table::{
    CONNECTED_MS, JOIN_TIMEOUT_MS, LONG_OFFLINE_FLASH_EVERY_MS, LONG_OFFLINE_MS,
    LOW_BATTERY_FLASH_EVERY_MS, STATUS_CHECK_MS, WIFI_REJECTED_MS,
};
/// A press shorter than this is a status check.
pub const SHORT_PRESS_MS: u64 = 1_000;
/// Consecutive hub refusals that send a camera back to setup.
pub const HUB_REFUSALS_BEFORE_SETUP: u32 = 10;
/// Reconnect backoff: first retry, and the caps for mains and battery cameras.
pub const BACKOFF_FIRST_MS: u64 = 1_000;
pub const BACKOFF_CAP_MAINS_MS: u64 = 60_000;
pub const BACKOFF_CAP_BATTERY_MS: u64 = 300_000;

/// A clip being recorded.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Recording {
    pub(crate) started: u64,
    pub(crate) trigger: RecordTrigger,
    /// When it ends for lack of motion; `None` while pixel motion lasts.
    pub(crate) post_roll_end: Option<u64>,
    pub(crate) cap_end: u64,
}

/// The camera's brain. See the module documentation for how to drive it.
#[derive(Debug, Clone)]
pub struct Core {
    pub(crate) profile: Profile,
    pub(crate) persisted: PersistedState,
    pub(crate) state: LifecycleState,
    pub(crate) state_since: u64,
    pub(crate) now: u64,
    outputs: VecDeque<Timed>,

    // Lifecycle timers.
    boot_until: Option<u64>,
    join_deadline: Option<u64>,
    pub(crate) wifi_rejected_since: Option<u64>,
    /// A set-up camera's Wi-Fi refused its password while offline: say so when back.
    wifi_rejected_unreported: bool,
    hub_refusals: u32,
    next_connect: Option<(u32, u64)>,
    next_checkin: Option<u64>,

    // Light conditions.
    pub(crate) lost_since: Option<u64>,
    pub(crate) connected_since: Option<u64>,
    pub(crate) motion_flash_since: Option<u64>,
    pub(crate) status_check: Option<(u64, Light)>,
    pub(crate) identify_since: Option<u64>,
    pub(crate) button_down_at: Option<u64>,
    pub(crate) reset_armed_since: Option<u64>,

    // Battery.
    pub(crate) battery_level: BatteryLevel,
    last_reading: Option<BatteryReading>,
    pub(crate) low_flash_since: Option<u64>,
    next_low_flash: Option<u64>,
    pub(crate) critical_since: Option<u64>,
    power_off_at: Option<u64>,

    // Recording.
    pub(crate) recording: Option<Recording>,
    pub(crate) live_since: Option<u64>,
    motion_active: bool,
    confirm_until: Option<u64>,
    cooldown_until: u64,

    /// The image sensor and the PIR under watch, indexed by `selftest::index`.
    sensors: [selftest::PartWatch; 2],

    /// The light last emitted, and when its pattern started.
    pub(crate) shown: (ConditionId, Light, u64),
}

impl Core {
    /// A camera of `profile` with what it persisted, powered off at `now_ms`. A camera
    /// that was never set up starts in `factory`, any other in `off`; feed
    /// [`Input::PowerOn`] to boot it.
    pub fn new(profile: &Profile, persisted: PersistedState, now_ms: u64) -> Core {
        let state = if persisted.provisioned || persisted.setup_completed {
            LifecycleState::Off
        } else {
            LifecycleState::Factory
        };
        Core {
            profile: profile.clone(),
            persisted,
            state,
            state_since: now_ms,
            now: now_ms,
            outputs: VecDeque::new(),
            boot_until: None,
            join_deadline: None,
            wifi_rejected_since: None,
            wifi_rejected_unreported: false,
            hub_refusals: 0,
            next_connect: None,
            next_checkin: None,
            lost_since: None,
            connected_since: None,
            motion_flash_since: None,
            status_check: None,
            identify_since: None,
            button_down_at: None,
            reset_armed_since: None,
            battery_level: BatteryLevel::Ok,
            last_reading: None,
            low_flash_since: None,
            next_low_flash: None,
            critical_since: None,
            power_off_at: None,
            recording: None,
            live_since: None,
            motion_active: false,
            confirm_until: None,
            cooldown_until: 0,
            sensors: Default::default(),
            shown: (ConditionId::Idle, Light::OFF, now_ms),
        }
    }

    // ----- the public driving API -------------------------------------------------

    /// Feeds one input at `now_ms`. Timers due before `now_ms` fire first, at their own
    /// times. A `now_ms` earlier than the last one seen is treated as the last one
    /// (time never runs backwards inside the core).
    pub fn handle_input(&mut self, now_ms: u64, input: Input) {
        self.advance(now_ms);
        self.apply(input);
        self.refresh_light();
        // Anything the input made due at once (a post-roll of 0 s) happens now.
        self.advance(self.now);
    }

    /// Fires every timer due at or before `now_ms`.
    pub fn handle_timeout(&mut self, now_ms: u64) {
        self.advance(now_ms);
    }

    /// When the core next needs [`Core::handle_timeout`], if ever.
    pub fn poll_timeout(&self) -> Option<u64> {
        self.next_deadline()
    }

    /// The next output, oldest first.
    pub fn poll_output(&mut self) -> Option<Timed> {
        self.outputs.pop_front()
    }

    // ----- read-only views ----------------------------------------------------------

    pub fn state(&self) -> LifecycleState {
        self.state
    }

    /// The light shown now and the condition that owns it.
    pub fn light(&self) -> (ConditionId, Light) {
        (self.shown.0, self.shown.1)
    }

    pub fn settings(&self) -> &Settings {
        &self.persisted.settings
    }

    pub fn persisted(&self) -> &PersistedState {
        &self.persisted
    }

    pub fn profile(&self) -> &Profile {
        &self.profile
    }

    pub fn battery_level(&self) -> BatteryLevel {
        self.battery_level
    }

    /// The last battery reading, for telemetry.
    pub fn last_battery_reading(&self) -> Option<BatteryReading> {
        self.last_reading
    }

    pub fn is_recording(&self) -> bool {
        self.recording.is_some()
    }

    /// The virtual time the core has reached.
    pub fn now_ms(&self) -> u64 {
        self.now
    }

    // ----- time -----------------------------------------------------------------------

    fn advance(&mut self, target: u64) {
        while let Some(due) = self.next_deadline() {
            if due > target {
                break;
            }
            self.now = self.now.max(due);
            self.fire_timers();
            self.refresh_light();
        }
        self.now = self.now.max(target);
    }

    /// State-changing deadlines (they fire when due, then are cleared or moved on) and
    /// the times at which the light changes by itself (a flash ending).
    fn next_deadline(&self) -> Option<u64> {
        let transitions = [
            self.boot_until,
            self.join_deadline,
            self.wifi_rejected_since.map(|s| s + WIFI_REJECTED_MS),
            self.connected_since.map(|s| s + CONNECTED_MS),
            self.status_check.map(|(s, _)| s + STATUS_CHECK_MS),
            self.button_down_at
                .filter(|_| self.reset_armed_since.is_none())
                .map(|s| s + self.profile.reset_hold_ms),
            self.next_low_flash,
            self.power_off_at,
            self.next_connect.map(|(_, at)| at),
            self.next_checkin,
            self.recording.as_ref().and_then(|r| r.post_roll_end),
            self.recording.as_ref().map(|r| r.cap_end),
            self.sensor_deadline(),
        ];
        let transition = transitions.into_iter().flatten().min();
        let visual = self.next_visual_change().filter(|&t| t > self.now);
        transition.into_iter().chain(visual).min()
    }

    fn fire_timers(&mut self) {
        let now = self.now;
        let due = |t: Option<u64>| t.is_some_and(|t| t <= now);

        if due(self.power_off_at) {
            self.power_off_at = None;
            self.emit(Output::PowerOff);
        }
        if due(self.button_down_at.map(|s| s + self.profile.reset_hold_ms))
            && self.reset_armed_since.is_none()
        {
            self.reset_armed_since = Some(now);
        }
        if due(self.boot_until) {
            self.boot_until = None;
            self.boot_finished();
        }
        if due(self.wifi_rejected_since.map(|s| s + WIFI_REJECTED_MS)) {
            self.wifi_rejected_since = None;
        }
        if due(self.join_deadline) {
            self.join_deadline = None;
            self.join_timed_out();
        }
        if due(self.connected_since.map(|s| s + CONNECTED_MS)) {
            self.connected_since = None;
        }
        if due(self.status_check.map(|(s, _)| s + STATUS_CHECK_MS)) {
            self.status_check = None;
        }
        if due(self.next_low_flash) {
            self.low_flash_since = Some(now);
            self.next_low_flash = Some(now + LOW_BATTERY_FLASH_EVERY_MS);
        }
        if let Some((attempt, at)) = self.next_connect
            && at <= now
        {
            self.emit(Output::Connect { attempt });
            self.next_connect = Some((attempt + 1, now + self.backoff_ms(attempt + 1)));
        }
        if due(self.next_checkin) {
            self.emit(Output::CheckIn);
            self.next_checkin = Some(now + self.checkin_ms());
        }
        if let Some(rec) = &self.recording {
            if rec.cap_end <= now {
                self.stop_recording(StopReason::MaxClip);
            } else if rec.post_roll_end.is_some_and(|t| t <= now) {
                self.stop_recording(StopReason::PostRoll);
            }
        }
        self.fire_sensor_timers();
    }

    /// Backoff before reconnect attempt `attempt` (1-based): 1 s doubling to the cap.
    pub fn backoff_ms(&self, attempt: u32) -> u64 {
        let cap = if self.profile.on_battery() {
            BACKOFF_CAP_BATTERY_MS
        } else {
            BACKOFF_CAP_MAINS_MS
        };
        let shift = attempt.saturating_sub(1).min(20);
        (BACKOFF_FIRST_MS << shift).min(cap)
    }

    fn checkin_ms(&self) -> u64 {
        u64::from(self.persisted.settings.checkin_interval.max(1)) * 1000
    }

    // ----- outputs --------------------------------------------------------------------

    fn emit(&mut self, output: Output) {
        self.outputs.push_back(Timed {
            t_ms: self.now,
            output,
        });
    }

    fn event(&mut self, kind: EventKind, data: Value) {
        let data = match data {
            Value::Object(map) => map,
            _ => Map::new(),
        };
        self.emit(Output::Event { kind, data });
    }

    fn set_state(&mut self, state: LifecycleState) {
        if self.state != state {
            self.state = state;
            self.state_since = self.now;
            self.emit(Output::State(state));
        }
    }

    fn save(&mut self) {
        self.emit(Output::SaveState(self.persisted.clone()));
    }

    pub(crate) fn refresh_light(&mut self) {
        let (condition, light, since) = self.top_light();
        let (old_condition, old_light, old_since) = self.shown;
        let restarted = light.pattern.flash_duration_ms().is_some() && since != old_since;
        if condition != old_condition || light != old_light || restarted {
            self.shown = (condition, light, since);
            self.emit(Output::Light { condition, light });
        }
    }

    // ----- inputs ---------------------------------------------------------------------

    fn is_powered(&self) -> bool {
        !matches!(
            self.state,
            LifecycleState::Off | LifecycleState::Factory | LifecycleState::Shutdown
        )
    }

    fn apply(&mut self, input: Input) {
        if let Input::Battery(reading) = input {
            self.battery_reading(reading);
            return;
        }
        if let Input::Settings(settings) = input {
            self.apply_settings(*settings);
            return;
        }
        if let Input::Armed(armed) = input {
            let mut settings = self.persisted.settings.clone();
            settings.armed = armed;
            self.apply_settings(settings);
            return;
        }
        if matches!(input, Input::PowerOn) {
            let dead = self.battery_level == BatteryLevel::Critical;
            if matches!(self.state, LifecycleState::Off | LifecycleState::Factory) && !dead {
                self.boot();
            }
            return;
        }
        if !self.is_powered() {
            return;
        }
        match input {
            Input::Provisioned => self.provisioned(),
            Input::WifiRejected => self.wifi_rejected(),
            Input::HubConnected | Input::LinkRestored => self.hub_connected(),
            Input::HubRejected => self.hub_rejected(),
            Input::LinkLost => self.link_lost(),
            Input::Pir => self.pir(),
            Input::MotionStart => self.motion_start(),
            Input::MotionEnd => self.motion_end(),
            Input::ButtonDown => self.button_down(),
            Input::ButtonUp => self.button_up(),
            Input::Command(cmd) => self.command(cmd),
            Input::SensorOk(part) => self.sensor_ok(part),
            Input::SensorFailed { part, reason } => self.sensor_failed(part, reason),
            Input::PowerOn | Input::Battery(_) | Input::Settings(_) | Input::Armed(_) => {}
        }
    }

    /// Clears everything that does not survive a restart.
    fn clear_runtime(&mut self) {
        self.boot_until = None;
        self.join_deadline = None;
        self.wifi_rejected_since = None;
        self.hub_refusals = 0;
        self.next_connect = None;
        self.next_checkin = None;
        self.lost_since = None;
        self.connected_since = None;
        self.motion_flash_since = None;
        self.status_check = None;
        self.identify_since = None;
        self.button_down_at = None;
        self.reset_armed_since = None;
        self.low_flash_since = None;
        self.next_low_flash = None;
        self.critical_since = None;
        self.power_off_at = None;
        self.live_since = None;
        self.motion_active = false;
        self.confirm_until = None;
        self.cooldown_until = 0;
        self.reset_sensor_watch();
    }

    fn boot(&mut self) {
        if self.recording.is_some() {
            self.stop_recording(StopReason::Restart);
        }
        self.clear_runtime();
        self.set_state(LifecycleState::Booting);
        self.boot_until = Some(self.now + self.profile.boot_ms);
        self.event(EventKind::Boot, json!({}));
        // A low battery keeps reminding after a restart.
        if self.battery_level == BatteryLevel::Low {
            self.next_low_flash = Some(self.now + LOW_BATTERY_FLASH_EVERY_MS);
        }
    }

    fn boot_finished(&mut self) {
        if self.persisted.provisioned {
            self.start_joining();
        } else {
            self.set_state(LifecycleState::Setup);
        }
    }

    fn start_joining(&mut self) {
        self.set_state(LifecycleState::Joining);
        self.join_deadline = Some(self.now + JOIN_TIMEOUT_MS);
        self.emit(Output::Connect { attempt: 0 });
        self.next_connect = Some((1, self.now + self.backoff_ms(1)));
    }

    fn provisioned(&mut self) {
        if self.state != LifecycleState::Setup {
            return;
        }
        self.wifi_rejected_since = None;
        self.persisted.provisioned = true;
        self.save();
        self.event(EventKind::Provisioned, json!({}));
        self.report_held_sensor_failures();
        self.start_joining();
    }

    /// Back to setup: the credentials are forgotten (the owner adds the camera again).
    fn back_to_setup(&mut self) {
        self.join_deadline = None;
        self.next_connect = None;
        self.lost_since = None;
        self.next_checkin = None;
        self.persisted.provisioned = false;
        self.persisted.setup_completed = false;
        self.save();
        self.set_state(LifecycleState::Setup);
    }

    fn go_offline(&mut self) {
        self.join_deadline = None;
        self.connected_since = None;
        self.next_checkin = None;
        self.set_state(LifecycleState::Offline);
        if self.lost_since.is_none() {
            self.lost_since = Some(self.now);
        }
        self.next_connect = Some((1, self.now + self.backoff_ms(1)));
    }

    fn join_timed_out(&mut self) {
        if self.state != LifecycleState::Joining {
            return;
        }
        if self.persisted.setup_completed {
            self.go_offline();
        } else {
            self.event(EventKind::JoinTimeout, json!({"after_ms": JOIN_TIMEOUT_MS}));
            self.back_to_setup();
        }
    }

    fn wifi_rejected(&mut self) {
        match self.state {
            LifecycleState::Joining if !self.persisted.setup_completed => {
                self.event(EventKind::WifiRejected, json!({"during": "setup"}));
                self.back_to_setup();
                self.wifi_rejected_since = Some(self.now);
            }
            LifecycleState::Joining | LifecycleState::Online | LifecycleState::Offline => {
                self.wifi_rejected_unreported = true;
                if self.state != LifecycleState::Offline {
                    self.go_offline();
                }
            }
            _ => {}
        }
    }

    fn hub_connected(&mut self) {
        if !matches!(
            self.state,
            LifecycleState::Joining | LifecycleState::Offline
        ) {
            return;
        }
        let was_offline_ms = self.lost_since.map(|s| self.now - s);
        self.join_deadline = None;
        self.next_connect = None;
        self.lost_since = None;
        self.hub_refusals = 0;
        if !self.persisted.setup_completed {
            self.persisted.setup_completed = true;
            self.save();
        }
        self.set_state(LifecycleState::Online);
        self.connected_since = Some(self.now);
        self.next_checkin = Some(self.now + self.checkin_ms());
        let mut data = json!({});
        if let Some(ms) = was_offline_ms {
            data["offline_ms"] = json!(ms);
        }
        self.event(EventKind::Connected, data);
        if std::mem::take(&mut self.wifi_rejected_unreported) {
            self.event(EventKind::WifiRejected, json!({"during": "offline"}));
        }
    }

    fn hub_rejected(&mut self) {
        if !matches!(
            self.state,
            LifecycleState::Joining | LifecycleState::Offline | LifecycleState::Online
        ) {
            return;
        }
        self.hub_refusals += 1;
        if self.hub_refusals >= HUB_REFUSALS_BEFORE_SETUP {
            self.event(
                EventKind::HubRejected,
                json!({"refusals": self.hub_refusals}),
            );
            self.hub_refusals = 0;
            self.back_to_setup();
        } else if self.state == LifecycleState::Online {
            self.go_offline();
        }
    }

    fn link_lost(&mut self) {
        match self.state {
            LifecycleState::Online => {
                self.event(EventKind::LinkLost, json!({}));
                self.go_offline();
            }
            LifecycleState::Joining if self.persisted.setup_completed => self.go_offline(),
            _ => {}
        }
    }

    // ----- settings -------------------------------------------------------------------

    fn apply_settings(&mut self, settings: Settings) {
        if let Err(err) = settings.validate() {
            self.emit(Output::SettingsRejected {
                reason: err.to_string(),
            });
            return;
        }
        if settings == self.persisted.settings {
            return;
        }
        self.persisted.settings = settings;
        self.save();
        let s = &self.persisted.settings;
        if !(s.armed && s.motion_detection) {
            self.confirm_until = None;
            if self
                .recording
                .as_ref()
                .is_some_and(|r| r.trigger != RecordTrigger::Manual)
            {
                self.stop_recording(StopReason::Disarmed);
            }
        }
        if self.next_checkin.is_some() {
            self.next_checkin = Some(self.now + self.checkin_ms());
        }
    }
}
