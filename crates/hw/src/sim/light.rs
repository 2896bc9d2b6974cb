//! A status light that remembers everything it showed, so a test can ask what an owner
//! would have seen at any moment.

use crate::{Clock, StatusLight};
use watchlight_protocol::Light;

/// The simulated RGB light: a timeline of `(time, light)`.
#[derive(Debug, Clone)]
pub struct SimLight<C: Clock> {
    clock: C,
    timeline: Vec<(u64, Light)>,
}

impl<C: Clock> SimLight<C> {
    pub fn new(clock: C) -> SimLight<C> {
        SimLight {
            clock,
            timeline: Vec::new(),
        }
    }

    /// Every light shown, with the time it started.
    pub fn timeline(&self) -> &[(u64, Light)] {
        &self.timeline
    }

    /// The light showing at `t_ms` and when it started (off before the first).
    pub fn light_at(&self, t_ms: u64) -> (u64, Light) {
        self.timeline
            .iter()
            .rev()
            .find(|(t, _)| *t <= t_ms)
            .copied()
            .unwrap_or((0, Light::OFF))
    }

    /// Whether the LED is lit at `t_ms`, following the pattern's timing.
    pub fn is_lit_at(&self, t_ms: u64) -> bool {
        let (since, light) = self.light_at(t_ms);
        light.pattern.is_lit_at(t_ms - since)
    }

    pub fn current(&self) -> Light {
        self.timeline.last().map(|(_, l)| *l).unwrap_or(Light::OFF)
    }
}

impl<C: Clock> StatusLight for SimLight<C> {
    fn show(&mut self, light: Light) {
        self.timeline.push((self.clock.now_ms(), light));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::SimClock;
    use watchlight_protocol::{Color, Pattern};

    #[test]
    fn keeps_the_timeline_and_the_pattern_timing() {
        let clock = SimClock::new(0);
        let mut light = SimLight::new(clock.clone());
        clock.advance(1000);
        light.show(Light::new(Color::Red, Pattern::Blink));
        clock.advance(3000);
        light.show(Light::new(Color::Red, Pattern::Flash { count: 3 }));
        assert_eq!(light.timeline().len(), 2);
        assert!(!light.is_lit_at(500));
        assert!(light.is_lit_at(1000));
        assert!(!light.is_lit_at(1500));
        assert!(light.is_lit_at(2000));
        assert!(light.is_lit_at(4000));
        assert!(!light.is_lit_at(4150));
        assert!(!light.is_lit_at(4900));
        assert_eq!(light.current().pattern, Pattern::Flash { count: 3 });
    }
}
