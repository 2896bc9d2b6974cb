//! The simulated button and PIR sensor: the simulator presses and fires them.

use crate::{Button, MotionSensor};

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

/// A PIR sensor the simulator fires. Triggers between two reads count once, as on a
/// latched interrupt line.
#[derive(Debug, Clone, Default)]
pub struct SimPir {
    fired: bool,
    total: u64,
}

impl SimPir {
    pub fn fire(&mut self) {
        self.fired = true;
        self.total += 1;
    }

    /// How many times it fired in all.
    pub fn total_fired(&self) -> u64 {
        self.total
    }
}

impl MotionSensor for SimPir {
    fn take_trigger(&mut self) -> bool {
        std::mem::take(&mut self.fired)
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
        assert!(!p.take_trigger());
        p.fire();
        p.fire();
        assert!(p.take_trigger());
        assert!(!p.take_trigger());
        assert_eq!(p.total_fired(), 2);
    }
}
