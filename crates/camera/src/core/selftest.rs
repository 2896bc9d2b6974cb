//! The camera's own parts under watch: a self-test at boot and a watch while running.
//!
//! A camera that went quiet looks the same to the hub whether its firmware hung (a
//! reset fixes it) or its image sensor died (it needs support). The camera itself
//! knows the difference: the driver tells the core after every read whether the part
//! answered ([`Input::SensorOk`]) or not ([`Input::SensorFailed`]: an error, or no
//! frame at all), and the core reports a `self_test_failed` event naming the part once
//! the failures have lasted long enough to rule out a hiccup:
//!
//! - **At boot** (the part has not worked since power-on): [`SELF_TEST_BOOT_MS`].
//! - **While running** (it worked, then stopped): [`SENSOR_WATCH_MS`].
//!
//! One event per failure episode: repeated failures do not repeat it; the part must
//! work again (one good read) before a new episode can be reported. The event goes
//! through the offline queue like every other, so a camera that is offline at the time
//! reports it when it is back. A failure found before the camera was ever provisioned
//! (a camera dead out of the box) is held and reported right after provisioning, when
//! the camera has a hub to tell. SPEC §3 has no light for a failed part: the event is
//! the signal, and the light is left alone.

use super::*;
use watchlight_protocol::Part;

/// How long a part may fail from power-on, before it ever worked, until the boot
/// self-test fails. A healthy sensor gives its first frame within a few hundred ms of
/// power-up (10 fps: the first read); 3 s is 30 failed reads in a row, long past any
/// start-up delay, and still reported before the camera finished joining.
pub const SELF_TEST_BOOT_MS: u64 = 3_000;

/// How long a part that worked may fail, without one good read, before it counts as
/// gone. A running sensor can stall for a second or two (a bus reset, a busy CPU, an
/// exposure change); 10 s of nothing at 10 fps is 100 failed reads in a row, which no
/// hiccup explains, and short enough that the owner learns it the same minute.
pub const SENSOR_WATCH_MS: u64 = 10_000;

/// One part's watch.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct PartWatch {
    /// The part answered at least once since power-on (so a failure now is a failure
    /// while running, not at boot).
    worked: bool,
    /// The current failure episode: when it started, and whether it started before the
    /// part ever worked (the boot self-test).
    failing_since: Option<(u64, bool)>,
    /// The last reason the driver gave.
    reason: String,
    /// This episode was reported (or is held until provisioning).
    reported: bool,
    /// The failure was found before the camera was provisioned: report it then.
    held: Option<Value>,
}

impl PartWatch {
    /// When this part's failure becomes an event, if it is failing and not yet reported.
    fn deadline(&self) -> Option<u64> {
        match self.failing_since {
            Some((since, at_boot)) if !self.reported => Some(
                since
                    + if at_boot {
                        SELF_TEST_BOOT_MS
                    } else {
                        SENSOR_WATCH_MS
                    },
            ),
            _ => None,
        }
    }
}

fn index(part: Part) -> usize {
    match part {
        Part::ImageSensor => 0,
        Part::MotionSensor => 1,
    }
}

impl Core {
    /// The part answered: any failure episode is over.
    pub(super) fn sensor_ok(&mut self, part: Part) {
        let watch = &mut self.sensors[index(part)];
        watch.worked = true;
        watch.failing_since = None;
        watch.reported = false;
        watch.held = None;
    }

    /// The part did not answer. Starts an episode, or continues the one under way.
    pub(super) fn sensor_failed(&mut self, part: Part, reason: String) {
        let now = self.now;
        let watch = &mut self.sensors[index(part)];
        if watch.failing_since.is_none() {
            watch.failing_since = Some((now, !watch.worked));
        }
        watch.reason = reason;
    }

    /// The earliest time a part's failure becomes an event (only while powered: a
    /// camera that is off tests nothing).
    pub(super) fn sensor_deadline(&self) -> Option<u64> {
        if !self.is_powered() {
            return None;
        }
        self.sensors.iter().filter_map(PartWatch::deadline).min()
    }

    pub(super) fn fire_sensor_timers(&mut self) {
        if !self.is_powered() {
            return;
        }
        let now = self.now;
        for part in Part::ALL {
            let watch = &mut self.sensors[index(part)];
            if watch.deadline().is_none_or(|t| t > now) {
                continue;
            }
            let Some((since, at_boot)) = watch.failing_since else {
                continue;
            };
            watch.reported = true;
            let data = json!({
                "part": part.as_str(),
                "phase": if at_boot { "boot" } else { "running" },
                "failing_ms": now - since,
                "reason": watch.reason,
            });
            if self.persisted.provisioned {
                self.event(EventKind::SelfTestFailed, data);
            } else {
                watch.held = Some(data);
            }
        }
    }

    /// Just provisioned: report the failures found before there was a hub to tell.
    pub(super) fn report_held_sensor_failures(&mut self) {
        for part in Part::ALL {
            if let Some(data) = self.sensors[index(part)].held.take() {
                self.event(EventKind::SelfTestFailed, data);
            }
        }
    }

    /// Power-on or restart: every part is tested afresh.
    pub(super) fn reset_sensor_watch(&mut self) {
        self.sensors = Default::default();
    }

    /// Whether `part` is in a failure episode that was reported (for the driver and tests).
    pub fn part_failed(&self, part: Part) -> bool {
        let watch = &self.sensors[index(part)];
        watch.failing_since.is_some() && watch.reported
    }
}
