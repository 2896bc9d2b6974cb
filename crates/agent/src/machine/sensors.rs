//! When to read the image sensor and the PIR, and what a read means for the core: each
//! part answered or not (its self-test counts on it), a PIR trigger at most every
//! [`PIR_EVERY_MS`], pixel motion starting and ending. The driver reads the parts and
//! runs the detector and the recorder on the frame.

use super::{Machine, Output};
use watchlight_camera::Input as CoreInput;
use watchlight_protocol::Part;

/// Consecutive PIR frames count as one trigger per this interval.
pub const PIR_EVERY_MS: u64 = 500;

impl Machine {
    /// Asks for a read when one is due (never while powered off).
    pub(super) fn sensors_due(&mut self) {
        if !self.powered_off && self.next_frame_at <= self.now {
            self.emit(Output::ReadSensors);
            self.next_frame_at = next_frame_at(self.next_frame_at, self.frame_every_ms, self.now);
        }
    }

    /// What one read gave: whether the PIR sees something, whether a frame came.
    pub(super) fn sensors_read(&mut self, pir: Result<bool, String>, image: Result<(), String>) {
        self.part_read(Part::MotionSensor, pir.as_ref().err());
        let now = self.now;
        if pir.unwrap_or(false) && self.last_pir_at.is_none_or(|t| now >= t + PIR_EVERY_MS) {
            self.last_pir_at = Some(now);
            self.feed_core(CoreInput::Pir);
        }
        self.part_read(Part::ImageSensor, image.as_ref().err());
        // No frames, no pixel motion.
        if image.is_err() && std::mem::take(&mut self.motion_on) {
            self.feed_core(CoreInput::MotionEnd);
        }
    }

    /// The detector's verdict on the frame just read.
    pub(super) fn pixel_motion(&mut self, motion: bool) {
        if motion != self.motion_on {
            self.motion_on = motion;
            self.feed_core(if motion {
                CoreInput::MotionStart
            } else {
                CoreInput::MotionEnd
            });
        }
    }

    /// Tells the core whether `part` answered this read, logging a failure once per run
    /// of failures and the recovery after one.
    fn part_read(&mut self, part: Part, failure: Option<&String>) {
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
                    reason: e.clone(),
                }
            }
        };
        self.feed_core(input);
    }
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
}
