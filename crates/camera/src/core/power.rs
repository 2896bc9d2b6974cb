//! The battery monitor's effects (SPEC §6): low-battery reminders, the critical
//! shutdown, and the wake-up on fresh batteries.

use super::*;

impl Core {
    pub(super) fn battery_reading(&mut self, reading: BatteryReading) {
        if !self.profile.on_battery() {
            return;
        }
        self.last_reading = Some(reading);
        let before = self.battery_level;
        let after = battery::assess(before, &reading);
        self.battery_level = after;
        let volts = json!({"resting_mv": reading.resting_mv, "loaded_mv": reading.loaded_mv});
        match (before, after) {
            (BatteryLevel::Critical, BatteryLevel::Critical) => {}
            (BatteryLevel::Critical, _) if self.state == LifecycleState::Shutdown => {
                // Fresh batteries: wake through boot.
                self.critical_since = None;
                self.boot();
            }
            (_, BatteryLevel::Critical) if self.is_powered() => self.shut_down(volts),
            _ if !self.is_powered() => {}
            (BatteryLevel::Ok, BatteryLevel::Low) => {
                self.event(EventKind::BatteryLow, volts);
                self.low_flash_since = Some(self.now);
                self.next_low_flash = Some(self.now + LOW_BATTERY_FLASH_EVERY_MS);
            }
            (BatteryLevel::Low, BatteryLevel::Ok) => {
                self.event(EventKind::BatteryOk, volts);
                self.low_flash_since = None;
                self.next_low_flash = None;
            }
            _ => {}
        }
    }

    pub(super) fn shut_down(&mut self, volts: Value) {
        if self.recording.is_some() {
            self.stop_recording(StopReason::BatteryCritical);
        }
        self.event(EventKind::BatteryCritical, volts);
        self.clear_runtime();
        self.critical_since = Some(self.now);
        let flash_ms = crate::lights::critical_light()
            .pattern
            .flash_duration_ms()
            .unwrap_or(0);
        self.power_off_at = Some(self.now + flash_ms);
        self.set_state(LifecycleState::Shutdown);
    }
}
