//! The status-light language (SPEC §3): colors, patterns, the conditions a camera
//! can be in, and the light ids an owner reports to the doctor.

use serde::{Deserialize, Serialize};
use std::fmt;

/// The color of the RGB status light. `None` goes with [`Pattern::Off`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Color {
    Red,
    Green,
    Blue,
    None,
}

impl Color {
    pub fn as_str(self) -> &'static str {
        match self {
            Color::Red => "red",
            Color::Green => "green",
            Color::Blue => "blue",
            Color::None => "none",
        }
    }
}

/// How the light is driven over time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Pattern {
    Off,
    Solid,
    /// 1 Hz, 50 % duty.
    Blink,
    /// 0.5 Hz, 50 % duty.
    SlowBlink,
    /// 4 Hz, 50 % duty.
    FastBlink,
    /// `count` pulses of 150 ms on / 150 ms off, then off.
    Flash {
        count: u8,
    },
}

/// One pulse of a flash: on time, and the off time that follows it.
pub const FLASH_PULSE_MS: u64 = 150;

impl Pattern {
    /// The pattern's id as it appears on the wire (`flash` carries its count separately).
    pub fn as_str(self) -> &'static str {
        match self {
            Pattern::Off => "off",
            Pattern::Solid => "solid",
            Pattern::Blink => "blink",
            Pattern::SlowBlink => "slow_blink",
            Pattern::FastBlink => "fast_blink",
            Pattern::Flash { .. } => "flash",
        }
    }

    /// How long a flash lasts from its first pulse to the end of its last off time;
    /// `None` for patterns that repeat until replaced.
    pub fn flash_duration_ms(self) -> Option<u64> {
        match self {
            Pattern::Flash { count } => Some(u64::from(count) * 2 * FLASH_PULSE_MS),
            _ => None,
        }
    }

    /// Whether the LED is lit `elapsed_ms` after the pattern started.
    pub fn is_lit_at(self, elapsed_ms: u64) -> bool {
        let square = |period: u64| elapsed_ms % period < period / 2;
        match self {
            Pattern::Off => false,
            Pattern::Solid => true,
            Pattern::Blink => square(1000),
            Pattern::SlowBlink => square(2000),
            Pattern::FastBlink => square(250),
            Pattern::Flash { count } => {
                elapsed_ms < u64::from(count) * 2 * FLASH_PULSE_MS && square(2 * FLASH_PULSE_MS)
            }
        }
    }
}

/// What the light shows: a color, a pattern, and whether it is the dim idle light.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Light {
    pub color: Color,
    pub pattern: Pattern,
    /// Only the idle light with `status_light_always_on` is dim.
    pub dim: bool,
}

impl Light {
    pub const OFF: Light = Light {
        color: Color::None,
        pattern: Pattern::Off,
        dim: false,
    };

    pub const fn new(color: Color, pattern: Pattern) -> Light {
        Light {
            color,
            pattern,
            dim: false,
        }
    }

    pub const fn dim(color: Color, pattern: Pattern) -> Light {
        Light {
            color,
            pattern,
            dim: true,
        }
    }
}

impl fmt::Display for Light {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.pattern {
            Pattern::Off => f.write_str("off"),
            Pattern::Flash { count } => write!(f, "{} flash({count})", self.color.as_str()),
            p => {
                write!(f, "{} {}", self.color.as_str(), p.as_str())?;
                if self.dim {
                    f.write_str(" (dim)")?;
                }
                Ok(())
            }
        }
    }
}

/// The conditions of SPEC §3's light table, in priority order (first = highest).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ConditionId {
    ResetArmed,
    BatteryCritical,
    Booting,
    WifiRejected,
    Setup,
    Joining,
    Motion,
    Recording,
    StatusCheck,
    ConnectionLost,
    Connected,
    BatteryLow,
    Identify,
    Idle,
}

impl ConditionId {
    /// Every condition, highest priority first.
    pub const ALL: [ConditionId; 14] = [
        ConditionId::ResetArmed,
        ConditionId::BatteryCritical,
        ConditionId::Booting,
        ConditionId::WifiRejected,
        ConditionId::Setup,
        ConditionId::Joining,
        ConditionId::Motion,
        ConditionId::Recording,
        ConditionId::StatusCheck,
        ConditionId::ConnectionLost,
        ConditionId::Connected,
        ConditionId::BatteryLow,
        ConditionId::Identify,
        ConditionId::Idle,
    ];

    /// 1 is the highest priority, as in the SPEC's table.
    pub fn priority(self) -> u8 {
        self as u8 + 1
    }

    pub fn as_str(self) -> &'static str {
        match self {
            ConditionId::ResetArmed => "reset_armed",
            ConditionId::BatteryCritical => "battery_critical",
            ConditionId::Booting => "booting",
            ConditionId::WifiRejected => "wifi_rejected",
            ConditionId::Setup => "setup",
            ConditionId::Joining => "joining",
            ConditionId::Motion => "motion",
            ConditionId::Recording => "recording",
            ConditionId::StatusCheck => "status_check",
            ConditionId::ConnectionLost => "connection_lost",
            ConditionId::Connected => "connected",
            ConditionId::BatteryLow => "battery_low",
            ConditionId::Identify => "identify",
            ConditionId::Idle => "idle",
        }
    }
}

impl ConditionId {
    pub fn parse(s: &str) -> Option<ConditionId> {
        ConditionId::ALL.into_iter().find(|c| c.as_str() == s)
    }

    /// What the camera is doing, in the owner's words, once the condition is known. A
    /// light's own [`LightId::meaning`] must cover every condition that shows it (blue is
    /// recording, live view, a button press or a new connection); this says which.
    pub fn doing(self) -> &'static str {
        match self {
            ConditionId::ResetArmed => {
                "Reset button held long enough: releasing it restores factory settings."
            }
            ConditionId::BatteryCritical => {
                "Batteries are exhausted: the camera has shut down until they are replaced."
            }
            ConditionId::Booting => "Not connected yet: the camera is starting up.",
            ConditionId::WifiRejected => {
                "The Wi-Fi network refused the password given during setup."
            }
            ConditionId::Setup => "Setup mode: waiting to be added in the app.",
            ConditionId::Joining => "Joining Wi-Fi and the hub.",
            ConditionId::Motion => "Motion seen (the motion indicator setting is on).",
            ConditionId::Recording => "Recording, or someone is watching live: all is well.",
            ConditionId::StatusCheck => "Showing its status after a button press: all is well.",
            ConditionId::ConnectionLost => "Not connected: it lost its connection and is retrying.",
            ConditionId::Connected => "Just connected: all is well.",
            ConditionId::BatteryLow => "Batteries are low: replace them soon.",
            ConditionId::Identify => "Identifying itself because you asked in the app.",
            ConditionId::Idle => "Idle and healthy.",
        }
    }
}

impl fmt::Display for ConditionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What the owner sees, as the doctor's case files name it (SPEC §3 "light id", §8).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LightId {
    RedFastBlink,
    RedFlashThenDark,
    RedBlink,
    RedSolid,
    RedSlowBlink,
    GreenBlink,
    RedFlashOnMotion,
    BlueSolid,
    #[serde(rename = "red_flash_every_5s")]
    RedFlashEvery5s,
    RedFlashAfterRecording,
    GreenFlash,
    BlueDim,
    Off,
}

impl LightId {
    pub const ALL: [LightId; 13] = [
        LightId::RedFastBlink,
        LightId::RedFlashThenDark,
        LightId::RedBlink,
        LightId::RedSolid,
        LightId::RedSlowBlink,
        LightId::GreenBlink,
        LightId::RedFlashOnMotion,
        LightId::BlueSolid,
        LightId::RedFlashEvery5s,
        LightId::RedFlashAfterRecording,
        LightId::GreenFlash,
        LightId::BlueDim,
        LightId::Off,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            LightId::RedFastBlink => "red_fast_blink",
            LightId::RedFlashThenDark => "red_flash_then_dark",
            LightId::RedBlink => "red_blink",
            LightId::RedSolid => "red_solid",
            LightId::RedSlowBlink => "red_slow_blink",
            LightId::GreenBlink => "green_blink",
            LightId::RedFlashOnMotion => "red_flash_on_motion",
            LightId::BlueSolid => "blue_solid",
            LightId::RedFlashEvery5s => "red_flash_every_5s",
            LightId::RedFlashAfterRecording => "red_flash_after_recording",
            LightId::GreenFlash => "green_flash",
            LightId::BlueDim => "blue_dim",
            LightId::Off => "off",
        }
    }

    pub fn parse(s: &str) -> Option<LightId> {
        LightId::ALL.into_iter().find(|l| l.as_str() == s)
    }

    /// The light id an owner would report for `light` shown because of `condition`.
    /// The condition is needed where two rows share a look (a red flash(3) is a dying
    /// battery's farewell or a low battery's reminder).
    pub fn of(condition: ConditionId, light: Light) -> LightId {
        use Color::*;
        match (light.color, light.pattern) {
            (_, Pattern::Off) | (Color::None, _) => LightId::Off,
            (Red, Pattern::FastBlink) => LightId::RedFastBlink,
            (Red, Pattern::Flash { .. }) => match condition {
                ConditionId::BatteryCritical => LightId::RedFlashThenDark,
                ConditionId::ConnectionLost => LightId::RedFlashEvery5s,
                ConditionId::Motion => LightId::RedFlashOnMotion,
                _ => LightId::RedFlashAfterRecording,
            },
            (Red, Pattern::Blink) => LightId::RedBlink,
            (Red, Pattern::Solid) => LightId::RedSolid,
            (Red, Pattern::SlowBlink) => LightId::RedSlowBlink,
            (Green, Pattern::Flash { .. }) => LightId::GreenFlash,
            (Green, _) => LightId::GreenBlink,
            (Blue, _) if light.dim => LightId::BlueDim,
            (Blue, _) => LightId::BlueSolid,
        }
    }

    /// What the light means, in words an owner understands.
    pub fn meaning(self) -> &'static str {
        match self {
            LightId::RedFastBlink => {
                "Reset button held long enough: release it to restore factory settings."
            }
            LightId::RedFlashThenDark => {
                "Batteries are exhausted: the camera has shut down until they are replaced."
            }
            LightId::RedBlink => {
                "Not connected: the camera is starting up, or it lost its connection and is retrying."
            }
            LightId::RedSolid => "The Wi-Fi network refused the password given during setup.",
            LightId::RedSlowBlink => "Setup mode: waiting to be added in the app.",
            LightId::GreenBlink => "Joining Wi-Fi and the hub.",
            LightId::RedFlashOnMotion => "Motion seen (the motion indicator setting is on).",
            LightId::BlueSolid => "Recording, live view, or just connected: all is well.",
            LightId::RedFlashEvery5s => "Offline for more than 10 minutes; still retrying.",
            LightId::RedFlashAfterRecording => "Batteries are low: replace them soon.",
            LightId::GreenFlash => "Identifying itself because you asked in the app.",
            LightId::BlueDim => "Idle and healthy (status light always on).",
            LightId::Off => "Idle and healthy, or without power.",
        }
    }
}

impl fmt::Display for LightId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn priorities_follow_the_table() {
        assert_eq!(ConditionId::ResetArmed.priority(), 1);
        assert_eq!(ConditionId::Recording.priority(), 8);
        assert_eq!(ConditionId::Idle.priority(), 14);
        for pair in ConditionId::ALL.windows(2) {
            assert!(pair[0] < pair[1]);
        }
    }

    #[test]
    fn light_ids_round_trip_through_their_names() {
        for id in LightId::ALL {
            assert_eq!(LightId::parse(id.as_str()), Some(id));
            let json = serde_json::to_string(&id).unwrap();
            assert_eq!(json, format!("\"{}\"", id.as_str()));
        }
    }

    #[test]
    fn flash_timing_is_150ms_on_150ms_off() {
        let flash3 = Pattern::Flash { count: 3 };
        assert_eq!(flash3.flash_duration_ms(), Some(900));
        assert!(flash3.is_lit_at(0));
        assert!(flash3.is_lit_at(149));
        assert!(!flash3.is_lit_at(150));
        assert!(flash3.is_lit_at(300));
        assert!(!flash3.is_lit_at(900));
    }

    #[test]
    fn same_look_different_meaning() {
        let flash3 = Light::new(Color::Red, Pattern::Flash { count: 3 });
        assert_eq!(
            LightId::of(ConditionId::BatteryCritical, flash3),
            LightId::RedFlashThenDark
        );
        assert_eq!(
            LightId::of(ConditionId::BatteryLow, flash3),
            LightId::RedFlashAfterRecording
        );
        let dim = Light::dim(Color::Blue, Pattern::Solid);
        assert_eq!(LightId::of(ConditionId::Idle, dim), LightId::BlueDim);
    }
}
