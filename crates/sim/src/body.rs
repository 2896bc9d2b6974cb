//! A simulated camera's body: the camera core (SPEC §3 light, §4 lifecycle, §6 battery,
//! §7 triggers) with the simulated battery pack (`watchlight_hw::sim`), on the camera's
//! own millisecond clock. Sans-IO: the camera task (`camera/`) tells it what happened
//! and when, and carries out what it asks ([`Act`]). Faults change the hardware it reads
//! (a drained or frozen pack, a dead image sensor) or the scene (motion outside the
//! watched zones), and the core answers as it does on a real camera: a light, an event,
//! a shutdown. A recording the core ends is a clip to upload when the image sensor gave
//! frames for it.

use serde_json::{Map, Value};
use std::collections::VecDeque;
use watchlight_camera::{Core, Input, Output, PersistedState, RecordTrigger};
use watchlight_hw::sim::{BatteryModel, Load, SimBattery, SimClock};
use watchlight_hw::{BatteryGauge, BatteryReading, Clock};
use watchlight_protocol::messages::LightReport;
use watchlight_protocol::{
    Color, ConditionId, EventKind, LifecycleState, Light, LightId, Part, ProfileId, Settings,
};

/// How often a battery camera reads its pack (as the agent does).
const BATTERY_READ_EVERY_MS: u64 = 10_000;
/// How often a dead image sensor's missing frame is noticed.
const SENSOR_READ_EVERY_MS: u64 = 1_000;

/// What the camera task must do for the body.
#[derive(Debug, Clone, PartialEq)]
pub enum Act {
    /// Queue this event for the hub (seq, acknowledgement, re-sends are the task's).
    Event {
        kind: EventKind,
        data: Map<String, Value>,
    },
    /// A recording that began at `started_ms` ended with frames: queue its clip for
    /// upload (its `clip_recorded` goes once the hub has it).
    Clip {
        trigger: RecordTrigger,
        started_ms: u64,
    },
    /// The light or the lifecycle state changed: tell the hub (`state`) when connected.
    StateChanged,
    /// The battery is critical: the camera is off until fresh batteries.
    PowerOff,
    /// A factory reset: the credential is forgotten.
    Forget,
}

pub struct Body {
    core: Core,
    clock: SimClock,
    battery: Option<SimBattery<SimClock>>,
    next_battery_read: Option<u64>,
    sensor_dead: bool,
    next_sensor_read: u64,
    /// The recording under way: its trigger, when it began, and whether the image sensor
    /// was giving frames then (a dead sensor records nothing, whatever the PIR says).
    recording: Option<(RecordTrigger, u64, bool)>,
    /// Where in the picture this camera's motion happens (normalised), for its zones.
    motion_at: (f32, f32),
    shown: (ConditionId, Light),
    /// The last red or green light shown and when: what makes an owner ask the doctor.
    last_alarming: Option<(u64, LightId)>,
    acts: VecDeque<Act>,
}

impl Body {
    /// A camera just powered on, at `now_ms` on its clock; `motion_at` is where its
    /// scene's motion happens.
    pub fn new(profile: ProfileId, now_ms: u64, motion_at: (f32, f32)) -> Body {
        let p = profile.profile();
        let clock = SimClock::new(now_ms);
        let battery = p
            .on_battery()
            .then(|| SimBattery::new(clock.clone(), BatteryModel::default()));
        let mut body = Body {
            core: Core::new(p, PersistedState::default(), now_ms),
            next_battery_read: battery.as_ref().map(|_| now_ms),
            battery,
            clock,
            sensor_dead: false,
            next_sensor_read: now_ms,
            recording: None,
            motion_at,
            shown: (ConditionId::Idle, Light::OFF),
            last_alarming: None,
            acts: VecDeque::new(),
        };
        body.input(now_ms, Input::PowerOn);
        body
    }

    /// Something happened to the camera at `now_ms`.
    pub fn input(&mut self, now_ms: u64, input: Input) {
        self.clock.set(now_ms.max(self.clock.now_ms()));
        self.core.handle_input(now_ms, input);
        self.drain();
    }

    /// Time passed: the core's timers, battery readings, a dead sensor's missing frames.
    pub fn tick(&mut self, now_ms: u64) {
        self.clock.set(now_ms.max(self.clock.now_ms()));
        if self.core.poll_timeout().is_some_and(|t| t <= now_ms) {
            self.core.handle_timeout(now_ms);
        }
        if self.next_battery_read.is_some_and(|t| t <= now_ms) {
            self.next_battery_read = Some(now_ms + BATTERY_READ_EVERY_MS);
            self.read_battery(now_ms);
        }
        if self.sensor_dead && self.next_sensor_read <= now_ms {
            self.next_sensor_read = now_ms + SENSOR_READ_EVERY_MS;
            self.core.handle_input(
                now_ms,
                Input::SensorFailed {
                    part: Part::ImageSensor,
                    reason: "no frame from the image sensor".into(),
                },
            );
        }
        self.drain();
    }

    /// When [`Body::tick`] has something to do next.
    pub fn next_wake(&self) -> Option<u64> {
        [
            self.core.poll_timeout(),
            self.next_battery_read,
            self.sensor_dead.then_some(self.next_sensor_read),
        ]
        .into_iter()
        .flatten()
        .min()
    }

    pub fn next_act(&mut self) -> Option<Act> {
        self.acts.pop_front()
    }

    /// Motion in front of the camera: the PIR (where the profile has one) and, when the
    /// motion is in a watched zone and the image sensor works, the pixel detector.
    pub fn motion_start(&mut self, now_ms: u64) {
        if self.core.profile().has_pir() {
            self.input(now_ms, Input::Pir);
        }
        let (x, y) = self.motion_at;
        if !self.sensor_dead && self.core.settings().zones.watches(x, y) {
            self.input(now_ms, Input::MotionStart);
        }
    }

    pub fn motion_end(&mut self, now_ms: u64) {
        self.input(now_ms, Input::MotionEnd);
    }

    /// The pack is drained to `depth` of its capacity (0..1) and read at once.
    pub fn drain_battery(&mut self, now_ms: u64, depth: f64) {
        if let Some(b) = &mut self.battery {
            b.set_depth(depth);
            self.read_battery(now_ms);
            self.drain();
        }
    }

    /// The pack is at `temp_c`, its cells `age_months` old and `depth` drawn; read at once.
    pub fn chill_battery(&mut self, now_ms: u64, temp_c: f64, age_months: f64, depth: f64) {
        if let Some(b) = &mut self.battery {
            b.set_temperature(temp_c);
            b.set_age_months(age_months);
            b.set_depth(depth);
            self.read_battery(now_ms);
            self.drain();
        }
    }

    /// Power-cycled: the core starts again from what it persisted (its credential and
    /// settings); the hardware stays as it is.
    pub fn reboot(&mut self, now_ms: u64) {
        self.clock.set(now_ms.max(self.clock.now_ms()));
        // A recording cut off by the power leaves no clip (the agent's recorder is in
        // memory).
        self.recording = None;
        let persisted = self.core.persisted().clone();
        let profile = self.core.profile().clone();
        self.core = Core::new(&profile, persisted, now_ms);
        self.next_sensor_read = now_ms;
        self.input(now_ms, Input::PowerOn);
    }

    pub fn break_image_sensor(&mut self, now_ms: u64) {
        self.sensor_dead = true;
        self.next_sensor_read = now_ms;
    }

    fn read_battery(&mut self, now_ms: u64) {
        if let Some(b) = &mut self.battery {
            let reading = b.read();
            self.core.handle_input(now_ms, Input::Battery(reading));
        }
    }

    fn drain(&mut self) {
        while let Some(t) = self.core.poll_output() {
            match t.output {
                Output::Light { condition, light } => {
                    self.shown = (condition, light);
                    if matches!(light.color, Color::Red | Color::Green) {
                        self.last_alarming = Some((t.t_ms, LightId::of(condition, light)));
                    }
                    self.acts.push_back(Act::StateChanged);
                }
                Output::State(_) => self.acts.push_back(Act::StateChanged),
                Output::Event { kind, data } => self.acts.push_back(Act::Event { kind, data }),
                Output::StartRecording { trigger } => {
                    self.recording = Some((trigger, t.t_ms, !self.sensor_dead));
                    if let Some(b) = &mut self.battery {
                        b.set_load(Load::Recording);
                    }
                }
                Output::StopRecording { .. } => {
                    if let Some(b) = &mut self.battery {
                        b.set_load(Load::Idle);
                    }
                    if let Some((trigger, started_ms, true)) = self.recording.take() {
                        self.acts.push_back(Act::Clip {
                            trigger,
                            started_ms,
                        });
                    }
                }
                Output::PowerOff => self.acts.push_back(Act::PowerOff),
                Output::FactoryReset => self.acts.push_back(Act::Forget),
                // Connecting and check-ins are the camera task's schedule; nothing persists.
                Output::Connect { .. }
                | Output::CheckIn
                | Output::SaveState(_)
                | Output::SettingsRejected { .. } => {}
            }
        }
    }

    /// A recording is under way (its `motion_end` is still to come).
    pub fn is_recording(&self) -> bool {
        self.core.is_recording()
    }

    pub fn state(&self) -> LifecycleState {
        self.core.state()
    }

    pub fn settings(&self) -> &Settings {
        self.core.settings()
    }

    /// The light shown now.
    pub fn light_id(&self) -> LightId {
        LightId::of(self.shown.0, self.shown.1)
    }

    /// The light as the `state` message reports it: with when it ends by itself and
    /// what follows, in hub time (`hub_now_ms` is the hub time of `now_ms`).
    pub fn light_report(&self, now_ms: u64, hub_now_ms: u64) -> LightReport {
        let (condition, light) = self.shown;
        let mut report = LightReport::new(condition, light);
        if let Some((at, next_condition, next_light)) = self.core.light_ends() {
            report.until = Some(hub_now_ms + at.saturating_sub(now_ms));
            report.then = Some(Box::new(LightReport::new(next_condition, next_light)));
        }
        report
    }

    /// The last red or green light and when it began (camera ms).
    pub fn last_alarming(&self) -> Option<(u64, LightId)> {
        self.last_alarming
    }

    pub fn battery_reading(&self) -> Option<BatteryReading> {
        self.core.last_battery_reading()
    }

    pub fn settings_version(&self) -> u64 {
        self.core.settings().version
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn events(body: &mut Body) -> Vec<EventKind> {
        let mut out = Vec::new();
        while let Some(a) = body.next_act() {
            if let Act::Event { kind, .. } = a {
                out.push(kind);
            }
        }
        out
    }

    /// Boots, is paired and connects, as the camera task drives it.
    fn online(profile: ProfileId) -> (Body, u64) {
        let mut b = Body::new(profile, 0, (0.5, 0.8));
        let mut t = 0;
        while b.state() != LifecycleState::Setup {
            t = b.next_wake().expect("booting ends");
            b.tick(t);
        }
        b.input(t, Input::Provisioned);
        b.input(t + 200, Input::HubConnected);
        let mut s = b.settings().clone();
        s.armed = true;
        b.input(t + 300, Input::Settings(Box::new(s)));
        events(&mut b);
        (b, t + 10_000)
    }

    #[test]
    fn a_new_camera_boots_into_setup_and_is_online_once_connected() {
        let b = Body::new(ProfileId::Mini, 0, (0.5, 0.5));
        assert_eq!(b.light_id(), LightId::RedBlink, "booting");
        let (b, _) = online(ProfileId::Mini);
        assert_eq!(b.state(), LifecycleState::Online);
        assert!(events(&mut Body::new(ProfileId::Mini, 0, (0.5, 0.5))).contains(&EventKind::Boot));
    }

    #[test]
    fn motion_outside_the_watched_zones_records_nothing() {
        let (mut b, t) = online(ProfileId::Mini);
        b.motion_start(t);
        assert!(events(&mut b).contains(&EventKind::MotionStart));
        b.motion_end(t + 1_000);
        b.tick(t + 30_000);
        events(&mut b);

        let mut s = b.settings().clone();
        // Only the top row watched: the motion at (0.5, 0.8) is outside.
        let cols = usize::from(s.zones.cols);
        for (i, cell) in s.zones.enabled.iter_mut().enumerate() {
            *cell = i < cols;
        }
        s.version += 1;
        b.input(t + 31_000, Input::Settings(Box::new(s)));
        b.motion_start(t + 40_000);
        assert!(!events(&mut b).contains(&EventKind::MotionStart));
    }

    #[test]
    fn the_motion_indicator_flashes_red_when_motion_starts_a_recording() {
        let (mut b, t) = online(ProfileId::Mini);
        let mut s = b.settings().clone();
        s.motion_indicator = true;
        s.version += 1;
        b.input(t, Input::Settings(Box::new(s)));
        b.motion_start(t + 1_000);
        assert_eq!(
            b.last_alarming(),
            Some((t + 1_000, LightId::RedFlashOnMotion))
        );
    }

    #[test]
    fn a_drained_pack_flashes_and_shuts_the_camera_down() {
        let (mut b, t) = online(ProfileId::Outdoor);
        b.drain_battery(t, 1.0);
        let ev = events(&mut b);
        assert!(ev.contains(&EventKind::BatteryCritical), "{ev:?}");
        assert_eq!(
            b.last_alarming().map(|(_, l)| l),
            Some(LightId::RedFlashThenDark)
        );
    }

    #[test]
    fn frozen_cells_sag_under_load_into_a_low_battery() {
        let (mut b, t) = online(ProfileId::Outdoor);
        // A recording puts the load on the pack the loaded voltage is read at.
        b.motion_start(t);
        b.chill_battery(t + 1_000, -25.0, 12.0, 0.6);
        let r = b.battery_reading().expect("a reading");
        assert!(r.resting_mv > 3_000, "resting stays healthy: {r:?}");
        assert!(r.loaded_mv < 2_600, "loaded sags: {r:?}");
        assert!(events(&mut b).contains(&EventKind::BatteryLow));
    }

    /// The clips `body` asks to upload over `secs` seconds from `t`.
    fn clips_over(body: &mut Body, t: u64, secs: u64) -> Vec<(RecordTrigger, u64)> {
        let mut out = Vec::new();
        for s in 0..=secs {
            body.tick(t + s * 1_000);
            while let Some(a) = body.next_act() {
                if let Act::Clip {
                    trigger,
                    started_ms,
                } = a
                {
                    out.push((trigger, started_ms));
                }
            }
        }
        out
    }

    #[test]
    fn a_recording_that_ends_is_one_clip_from_when_it_began() {
        let (mut b, t) = online(ProfileId::Mini);
        b.motion_start(t);
        assert!(b.is_recording());
        b.motion_end(t + 4_000);
        let clips = clips_over(&mut b, t + 4_000, 120);
        assert_eq!(clips.len(), 1, "{clips:?}");
        assert_eq!(clips[0].1, t);
        assert!(!b.is_recording());
    }

    #[test]
    fn a_dead_image_sensor_records_no_clip_even_when_the_pir_fires() {
        let (mut b, t) = online(ProfileId::Outdoor);
        assert!(b.core.profile().has_pir());
        b.break_image_sensor(t);
        b.tick(t);
        b.motion_start(t + 1_000);
        b.motion_end(t + 5_000);
        assert_eq!(clips_over(&mut b, t + 5_000, 120), vec![]);
    }

    #[test]
    fn a_dead_image_sensor_becomes_a_self_test_failure() {
        let (mut b, mut t) = online(ProfileId::Mini);
        b.break_image_sensor(t);
        let mut seen = Vec::new();
        for _ in 0..200 {
            t += 1_000;
            b.tick(t);
            seen.extend(events(&mut b));
        }
        assert!(seen.contains(&EventKind::SelfTestFailed), "{seen:?}");
    }
}
