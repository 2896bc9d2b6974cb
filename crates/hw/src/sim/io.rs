//! The simulated button and PIR sensor: the simulator presses and fires them.

use crate::{Button, MotionSensor, SensorError};

/// A button the simulator presses and releases.
#[derive(Debug, Clone, Default)]
pub struct SimButton {
    pressed: bool,
}

impl SimButton {
    pub fn press(&mut self) {
        self.pressed = true;
    }

    pub fn release(&mut self) {
        self.pressed = false;
    }
}

impl Button for SimButton {
    fn is_pressed(&self) -> bool {
        self.pressed
    }
}

/// The name a broken PIR's errors carry.
pub const PIR_NAME: &str = "motion sensor (PIR)";

/// A PIR sensor the simulator fires. Triggers between two reads count once, as on a
/// latched interrupt line. It can break: then every read fails, as a PIR whose bus
/// gives no ACK would, and what fired meanwhile is lost (a dead part sees nothing), so
/// mending it does not deliver stale motion.
#[derive(Debug, Clone, Default)]
pub struct SimPir {
    fired: bool,
    total: u64,
    broken: bool,
}

impl SimPir {
    /// Something warm crosses its view. A broken PIR does not latch it.
    pub fn fire(&mut self) {
        self.fired |= !self.broken;
        self.total += 1;
    }

    /// How many times something crossed its view in all (seen or not).
    pub fn total_fired(&self) -> u64 {
        self.total
    }

    /// Breaks the PIR (`true`) or mends it (`false`).
    pub fn set_broken(&mut self, broken: bool) {
        self.broken = broken;
    }

    pub fn is_broken(&self) -> bool {
        self.broken
    }
}

impl MotionSensor for SimPir {
    fn take_trigger(&mut self) -> Result<bool, SensorError> {
        let fired = std::mem::take(&mut self.fired);
        if self.broken {
            return Err(SensorError::NoAnswer {
                part: PIR_NAME,
                detail: "no ACK on the PIR's bus (simulated fault)".into(),
            });
        }
        Ok(fired)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn button_follows_the_finger() {
        let mut b = SimButton::default();
        assert!(!b.is_pressed());
        b.press();
        assert!(b.is_pressed());
        b.release();
        assert!(!b.is_pressed());
    }

    #[test]
    fn pir_latches_until_read() {
        let mut p = SimPir::default();
        assert_eq!(p.take_trigger(), Ok(false));
        p.fire();
        p.fire();
        assert_eq!(p.take_trigger(), Ok(true));
        assert_eq!(p.take_trigger(), Ok(false));
        assert_eq!(p.total_fired(), 2);
    }

    #[test]
    fn a_broken_pir_errs_on_every_read_and_loses_what_fired_meanwhile() {
        let mut p = SimPir::default();
        p.set_broken(true);
        assert!(p.is_broken());
        p.fire();
        for _ in 0..3 {
            let err = p.take_trigger().unwrap_err();
            assert!(
                matches!(err, SensorError::NoAnswer { part: PIR_NAME, .. }),
                "{err:?}"
            );
            assert!(err.to_string().contains("PIR"), "{err}");
        }
        p.fire();
        p.set_broken(false);
        assert!(!p.is_broken());
        // The trigger that fired while it was broken is not delivered after the repair.
        assert_eq!(p.take_trigger(), Ok(false));
        p.fire();
        assert_eq!(p.take_trigger(), Ok(true));
        assert_eq!(p.total_fired(), 3);
    }
}
