//! The decision to record (SPEC §7): armed, motion detection on, the profile's
//! trigger, post-roll, the clip cap and the retrigger cooldown.

use super::*;

impl Core {
    /// Armed, motion detection on, and in a state that watches.
    pub(super) fn motion_armed(&self) -> bool {
        let s = &self.persisted.settings;
        s.armed && s.motion_detection && self.can_record()
    }

    pub(super) fn can_record(&self) -> bool {
        matches!(
            self.state,
            LifecycleState::Online | LifecycleState::Offline | LifecycleState::Sleeping
        )
    }

    pub(super) fn pir(&mut self) {
        if !self.profile.has_pir() || !self.motion_armed() {
            return;
        }
        match self.profile.trigger {
            Trigger::Pir => self.trigger(RecordTrigger::Pir),
            Trigger::PirConfirmed => {
                let window = self.profile.confirm_ms.unwrap_or(0);
                self.confirm_until = Some(self.now + window);
            }
            Trigger::Pixel => {}
        }
    }

    pub(super) fn motion_start(&mut self) {
        self.motion_active = true;
        if !self.motion_armed() {
            return;
        }
        let confirmed = self.confirm_until.is_some_and(|t| self.now <= t);
        let triggers = match self.profile.trigger {
            Trigger::Pixel => true,
            Trigger::PirConfirmed => self.recording.is_some() || confirmed,
            Trigger::Pir => false,
        };
        if let Some(rec) = &mut self.recording {
            rec.post_roll_end = None;
        }
        if triggers {
            self.confirm_until = None;
            let trigger = match self.profile.trigger {
                Trigger::Pixel => RecordTrigger::Pixel,
                _ => RecordTrigger::Pir,
            };
            self.trigger(trigger);
        }
    }

    pub(super) fn motion_end(&mut self) {
        self.motion_active = false;
        let post_roll = self.post_roll_ms();
        if let Some(rec) = &mut self.recording {
            let end = self.now + post_roll;
            rec.post_roll_end = Some(rec.post_roll_end.map_or(end, |t| t.max(end)));
        }
    }

    pub(super) fn post_roll_ms(&self) -> u64 {
        u64::from(self.persisted.settings.post_roll) * 1000
    }

    /// A trigger: starts a recording, or extends the one under way.
    pub(super) fn trigger(&mut self, trigger: RecordTrigger) {
        let post_roll_end = (!self.motion_active).then(|| self.now + self.post_roll_ms());
        if let Some(rec) = &mut self.recording {
            rec.post_roll_end = match (rec.post_roll_end, post_roll_end) {
                (Some(a), Some(b)) => Some(a.max(b)),
                _ => post_roll_end,
            };
        } else {
            if self.now < self.cooldown_until {
                return;
            }
            let max_clip = u64::from(self.persisted.settings.max_clip) * 1000;
            self.recording = Some(Recording {
                started: self.now,
                trigger,
                post_roll_end,
                cap_end: self.now + max_clip,
            });
            self.emit(Output::StartRecording { trigger });
            self.event(EventKind::MotionStart, json!({"trigger": trigger.as_str()}));
            if self.profile.on_battery() {
                self.emit(Output::CheckIn);
            }
        }
        if self.persisted.settings.motion_indicator {
            self.motion_flash_since = Some(self.now);
        }
    }

    pub(super) fn stop_recording(&mut self, reason: StopReason) {
        let Some(rec) = self.recording.take() else {
            return;
        };
        self.emit(Output::StopRecording { reason });
        self.event(
            EventKind::MotionEnd,
            json!({
                "trigger": rec.trigger.as_str(),
                "reason": reason.as_str(),
                "duration_ms": self.now - rec.started,
            }),
        );
        self.cooldown_until = self.now + u64::from(self.persisted.settings.retrigger) * 1000;
        if self.battery_level == BatteryLevel::Low && reason != StopReason::BatteryCritical {
            self.low_flash_since = Some(self.now);
        }
    }
}
