//! The hub's own status light (SPEC §3), sans-IO: what it shows follows from a few
//! facts, highest priority first. The app mirrors it from `GET /api/v1/hub`.

use serde::Serialize;
use watchlight_protocol::{Color, Light, Pattern};

/// What the hub knows about itself right now.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct HubFacts {
    /// The reset button has been held for the hub's reset time (10 s).
    pub reset_armed: bool,
    /// The hub has a usable local network (its listeners are up).
    pub network_up: bool,
    /// The hub reaches what it depends on upstream: its MQTT broker session
    /// (embedded or external).
    pub upstream_up: bool,
    /// The disk is full: clips and events wait on the cameras (`crate::storage`).
    pub storage_full: bool,
    /// An owner is adding a camera (a pairing attempt in progress).
    pub pairing_window_open: bool,
}

/// The hub light: up to two LEDs lit at once.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HubLight {
    /// A stable id for the app and the doctor.
    pub id: &'static str,
    pub lights: Vec<LightPart>,
    pub meaning: &'static str,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LightPart {
    pub color: &'static str,
    pub pattern: &'static str,
}

fn part(light: Light) -> LightPart {
    LightPart {
        color: light.color.as_str(),
        pattern: light.pattern.as_str(),
    }
}

pub fn hub_light(facts: HubFacts) -> HubLight {
    use Color::*;
    use Pattern::*;
    let (id, lights, meaning) = if facts.reset_armed {
        (
            "red_fast_blink",
            vec![Light::new(Red, FastBlink)],
            "Reset armed: release the button to forget every camera and the owner",
        )
    } else if !facts.network_up {
        (
            "red_solid",
            vec![Light::new(Red, Solid)],
            "No network at all",
        )
    } else if !facts.upstream_up {
        (
            "blue_solid_green_blink",
            vec![Light::new(Blue, Solid), Light::new(Green, Blink)],
            "Upstream network lost: cameras cannot report",
        )
    } else if facts.storage_full {
        (
            "blue_solid_red_blink",
            vec![Light::new(Blue, Solid), Light::new(Red, Blink)],
            "Storage full: clips and events wait on the cameras; free space or lower the clip budget",
        )
    } else if facts.pairing_window_open {
        (
            "blue_blink_green_solid",
            vec![Light::new(Blue, Blink), Light::new(Green, Solid)],
            "Pairing window open: a camera is being added",
        )
    } else {
        (
            "blue_solid_green_solid",
            vec![Light::new(Blue, Solid), Light::new(Green, Solid)],
            "Running, network fine",
        )
    };
    HubLight {
        id,
        lights: lights.into_iter().map(part).collect(),
        meaning,
    }
}

/// How long the hub's reset button must be held to arm a reset (SPEC §4.3).
pub const HUB_RESET_HOLD_MS: u64 = 10_000;

/// What letting go of the reset button does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Release {
    /// Released before the reset time (or not pressed): nothing happens.
    Nothing,
    /// Held for the reset time: forget every camera and the owner (SPEC §4.3).
    Reset,
}

/// The hub's reset button, sans-IO: pressed at some time, armed once held for
/// [`HUB_RESET_HOLD_MS`] (the light shows red fast blink), and a release then resets.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ResetButton {
    pressed_at_ms: Option<u64>,
}

impl ResetButton {
    /// Pressing an already pressed button changes nothing (the hold goes on).
    pub fn press(&mut self, now_ms: u64) {
        self.pressed_at_ms.get_or_insert(now_ms);
    }

    pub fn is_pressed(&self) -> bool {
        self.pressed_at_ms.is_some()
    }

    /// Held for the reset time or longer.
    pub fn is_armed(&self, now_ms: u64) -> bool {
        self.pressed_at_ms
            .is_some_and(|t| now_ms.saturating_sub(t) >= HUB_RESET_HOLD_MS)
    }

    pub fn release(&mut self, now_ms: u64) -> Release {
        let armed = self.is_armed(now_ms);
        self.pressed_at_ms = None;
        if armed {
            Release::Reset
        } else {
            Release::Nothing
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fine() -> HubFacts {
        HubFacts {
            reset_armed: false,
            network_up: true,
            upstream_up: true,
            storage_full: false,
            pairing_window_open: false,
        }
    }

    #[test]
    fn a_full_disk_shows_above_pairing_and_below_a_lost_network() {
        let l = hub_light(HubFacts {
            storage_full: true,
            pairing_window_open: true,
            ..fine()
        });
        assert_eq!(l.id, "blue_solid_red_blink");
        assert!(l.meaning.starts_with("Storage full"), "{}", l.meaning);
        let l = hub_light(HubFacts {
            storage_full: true,
            upstream_up: false,
            ..fine()
        });
        assert_eq!(l.id, "blue_solid_green_blink");
    }

    #[test]
    fn each_row_of_the_spec() {
        assert_eq!(hub_light(fine()).id, "blue_solid_green_solid");
        let l = hub_light(HubFacts {
            pairing_window_open: true,
            ..fine()
        });
        assert_eq!(l.id, "blue_blink_green_solid");
        assert_eq!(
            l.lights,
            vec![
                LightPart {
                    color: "blue",
                    pattern: "blink"
                },
                LightPart {
                    color: "green",
                    pattern: "solid"
                }
            ]
        );
        let l = hub_light(HubFacts {
            upstream_up: false,
            ..fine()
        });
        assert_eq!(l.id, "blue_solid_green_blink");
        let l = hub_light(HubFacts {
            network_up: false,
            upstream_up: false,
            ..fine()
        });
        assert_eq!(l.id, "red_solid");
    }

    #[test]
    fn the_reset_button_arms_at_ten_seconds_exactly_and_only_then_resets() {
        let mut b = ResetButton::default();
        assert_eq!(b.release(5), Release::Nothing, "not pressed");
        b.press(1_000);
        b.press(5_000);
        assert!(!b.is_armed(1_000 + HUB_RESET_HOLD_MS - 1));
        assert!(
            b.is_armed(1_000 + HUB_RESET_HOLD_MS),
            "the hold counts from the first press"
        );
        assert_eq!(b.release(1_000 + HUB_RESET_HOLD_MS + 3), Release::Reset);
        assert!(!b.is_pressed());
        b.press(50_000);
        assert_eq!(b.release(50_000 + HUB_RESET_HOLD_MS - 1), Release::Nothing);
        assert!(!b.is_armed(u64::MAX / 2), "released: disarmed");
    }

    #[test]
    fn reset_armed_outranks_everything() {
        let l = hub_light(HubFacts {
            reset_armed: true,
            network_up: false,
            upstream_up: false,
            storage_full: true,
            pairing_window_open: true,
        });
        assert_eq!(l.id, "red_fast_blink");
        assert_eq!(l.lights[0].pattern, "fast_blink");
    }
}
