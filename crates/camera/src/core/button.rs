//! The button (SPEC §4.3): a short press replays the status, a long hold arms the
//! factory reset, which happens on release.

use super::*;

impl Core {
    pub(super) fn button_down(&mut self) {
        if self.button_down_at.is_none() {
            self.button_down_at = Some(self.now);
        }
    }

    pub(super) fn button_up(&mut self) {
        let Some(down) = self.button_down_at.take() else {
            return;
        };
        let held_ms = self.now - down;
        if self.reset_armed_since.take().is_some() {
            self.factory_reset(held_ms);
        } else if held_ms < SHORT_PRESS_MS {
            self.event(EventKind::Button, json!({"press_ms": held_ms}));
            let light = self.status_light();
            self.status_check = Some((self.now, light));
        }
    }

    /// What a status check replays: the most important condition that holds below it,
    /// quiet ones included; blue solid when nothing is wrong.
    pub(super) fn status_light(&self) -> Light {
        use watchlight_protocol::light_table::row;
        if self.lost_since.is_some() {
            row(ConditionId::ConnectionLost).light
        } else if self.battery_level == BatteryLevel::Low {
            row(ConditionId::BatteryLow).light
        } else {
            row(ConditionId::StatusCheck).light
        }
    }

    pub(super) fn factory_reset(&mut self, held_ms: u64) {
        self.event(EventKind::Reset, json!({"held_ms": held_ms}));
        if self.recording.is_some() {
            self.stop_recording(StopReason::Restart);
        }
        self.set_state(LifecycleState::Resetting);
        self.emit(Output::FactoryReset);
        self.persisted = PersistedState::default();
        self.save();
        self.wifi_rejected_unreported = false;
        self.boot();
    }

    pub(super) fn command(&mut self, cmd: Command) {
        match cmd {
            Command::Identify => self.identify_since = Some(self.now),
            Command::Record => {
                if self.can_record() {
                    self.trigger(RecordTrigger::Manual);
                }
            }
            Command::LiveStart => {
                if self.live_since.is_none() {
                    self.live_since = Some(self.now);
                }
            }
            Command::LiveStop => self.live_since = None,
            Command::Reboot => self.boot(),
            Command::FactoryReset => self.factory_reset(0),
        }
    }
}
