//! SPEC §3's light table, once: every row with its priority, condition, light, light id,
//! how long it shows and what it means. Read it top to bottom beside the SPEC's table
//! (`tests/light_table_spec.rs` walks the two side by side).
//!
//! The camera core decides *when* each condition holds; what the condition shows, and for
//! how long, is read from here by the core, the replay printer, the doctor and the web app.

use crate::light::{Color, ConditionId, Light, LightId, Pattern};

/// How long the `wifi_rejected` light shows before setup resumes.
pub const WIFI_REJECTED_MS: u64 = 10_000;
/// How long `joining` may take before the camera gives up (`join_timeout`).
pub const JOIN_TIMEOUT_MS: u64 = 60_000;
/// How long the `connected` light shows.
pub const CONNECTED_MS: u64 = 5_000;
/// How long a `status_check` lasts.
pub const STATUS_CHECK_MS: u64 = 5_000;
/// After this long offline, the red blink becomes a flash(1) every 5 s.
pub const LONG_OFFLINE_MS: u64 = 10 * 60_000;
/// Period of the long-offline flash.
pub const LONG_OFFLINE_FLASH_EVERY_MS: u64 = 5_000;
/// Period of the low-battery reminder flash.
pub const LOW_BATTERY_FLASH_EVERY_MS: u64 = 60_000;

/// How long a row's light shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lasts {
    /// Until the reset button is released (then a factory reset).
    UntilRelease,
    /// Its flash once; then the camera shuts down and shows nothing.
    OnceThenShutdown,
    /// The profile's `boot_ms`.
    ProfileBoot,
    /// A fixed time, then the condition no longer holds.
    For { ms: u64 },
    /// Until the camera is provisioned.
    UntilProvisioned,
    /// Until connected; after `give_up_ms` the camera goes back to setup.
    UntilConnectedOrGiveUp { give_up_ms: u64 },
    /// Its flash, once per trigger.
    OncePerTrigger,
    /// While the recording or live view lasts.
    WhileItLasts,
    /// Until the connection is back.
    UntilReconnected,
    /// Its flash each time it is due (after a recording, and every `every_ms`).
    EachTime { every_ms: u64 },
    /// Its flash, once per request.
    Once,
    /// Whenever nothing else shows.
    Always,
}

/// A light a row moves to after a while (connection lost for 10 min; a dying battery's
/// flash ending in darkness).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Later {
    pub after_ms: Option<u64>,
    pub light: Light,
    pub light_id: LightId,
    /// The later light repeats this often (the long-offline flash).
    pub every_ms: Option<u64>,
}

/// One row of SPEC §3's table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Row {
    pub priority: u8,
    pub condition: ConditionId,
    /// The condition, in the SPEC's words.
    pub when: &'static str,
    /// The light this row shows. `status_check` shows another row's light (see
    /// [`Row::replays`]); its own light is the healthy answer.
    pub light: Light,
    pub light_id: LightId,
    pub later: Option<Later>,
    /// Shown instead of `light` when the `status_light_always_on` setting is on (idle).
    pub always_on: Option<(Light, LightId)>,
    pub lasts: Lasts,
}

impl Row {
    /// Whether this row replays the light of the most important condition that holds.
    pub fn replays(&self) -> bool {
        self.condition == ConditionId::StatusCheck
    }

    /// How long the light shows before the condition ends by itself, where the table
    /// gives a fixed time.
    pub fn fixed_ms(&self) -> Option<u64> {
        match self.lasts {
            Lasts::For { ms } => Some(ms),
            _ => self.light.pattern.flash_duration_ms(),
        }
    }
}

const fn lit(color: Color, pattern: Pattern) -> Light {
    Light::new(color, pattern)
}

use Color::{Blue, Green, Red};
use ConditionId as C;
use Pattern::{Blink, FastBlink, Flash, SlowBlink, Solid};

/// SPEC §3, highest priority first.
pub const TABLE: [Row; 14] = [
    Row {
        priority: 1,
        condition: C::ResetArmed,
        when: "reset button held for the profile's reset time or longer",
        light: lit(Red, FastBlink),
        light_id: LightId::RedFastBlink,
        later: None,
        always_on: None,
        lasts: Lasts::UntilRelease,
    },
    Row {
        priority: 2,
        condition: C::BatteryCritical,
        when: "battery critical (§6)",
        light: lit(Red, Flash { count: 3 }),
        light_id: LightId::RedFlashThenDark,
        later: Some(Later {
            after_ms: None,
            light: Light::OFF,
            light_id: LightId::RedFlashThenDark,
            every_ms: None,
        }),
        always_on: None,
        lasts: Lasts::OnceThenShutdown,
    },
    Row {
        priority: 3,
        condition: C::Booting,
        when: "booting",
        light: lit(Red, Blink),
        light_id: LightId::RedBlink,
        later: None,
        always_on: None,
        lasts: Lasts::ProfileBoot,
    },
    Row {
        priority: 4,
        condition: C::WifiRejected,
        when: "during setup, Wi-Fi refused the credentials",
        light: lit(Red, Solid),
        light_id: LightId::RedSolid,
        later: None,
        always_on: None,
        lasts: Lasts::For {
            ms: WIFI_REJECTED_MS,
        },
    },
    Row {
        priority: 5,
        condition: C::Setup,
        when: "setup mode: no credentials yet",
        light: lit(Red, SlowBlink),
        light_id: LightId::RedSlowBlink,
        later: None,
        always_on: None,
        lasts: Lasts::UntilProvisioned,
    },
    Row {
        priority: 6,
        condition: C::Joining,
        when: "credentials received, connecting to Wi-Fi and hub",
        light: lit(Green, Blink),
        light_id: LightId::GreenBlink,
        later: None,
        always_on: None,
        lasts: Lasts::UntilConnectedOrGiveUp {
            give_up_ms: JOIN_TIMEOUT_MS,
        },
    },
    Row {
        priority: 7,
        condition: C::Motion,
        when: "motion detected, if motion_indicator is on (default off)",
        light: lit(Red, Flash { count: 1 }),
        light_id: LightId::RedFlashOnMotion,
        later: None,
        always_on: None,
        lasts: Lasts::OncePerTrigger,
    },
    Row {
        priority: 8,
        condition: C::Recording,
        when: "recording (if recording_light is on, default on) or live view",
        light: lit(Blue, Solid),
        light_id: LightId::BlueSolid,
        later: None,
        always_on: None,
        lasts: Lasts::WhileItLasts,
    },
    Row {
        priority: 9,
        condition: C::StatusCheck,
        when: "a short press of the button (< 1 s)",
        light: lit(Blue, Solid),
        light_id: LightId::BlueSolid,
        later: None,
        always_on: None,
        lasts: Lasts::For {
            ms: STATUS_CHECK_MS,
        },
    },
    Row {
        priority: 10,
        condition: C::ConnectionLost,
        when: "connection lost after it had worked",
        light: lit(Red, Blink),
        light_id: LightId::RedBlink,
        later: Some(Later {
            after_ms: Some(LONG_OFFLINE_MS),
            light: lit(Red, Flash { count: 1 }),
            light_id: LightId::RedFlashEvery5s,
            every_ms: Some(LONG_OFFLINE_FLASH_EVERY_MS),
        }),
        always_on: None,
        lasts: Lasts::UntilReconnected,
    },
    Row {
        priority: 11,
        condition: C::Connected,
        when: "just connected",
        light: lit(Blue, Solid),
        light_id: LightId::BlueSolid,
        later: None,
        always_on: None,
        lasts: Lasts::For { ms: CONNECTED_MS },
    },
    Row {
        priority: 12,
        condition: C::BatteryLow,
        when: "battery low (§6)",
        light: lit(Red, Flash { count: 3 }),
        light_id: LightId::RedFlashAfterRecording,
        later: None,
        always_on: None,
        lasts: Lasts::EachTime {
            every_ms: LOW_BATTERY_FLASH_EVERY_MS,
        },
    },
    Row {
        priority: 13,
        condition: C::Identify,
        when: "identify requested from the app",
        light: lit(Green, Flash { count: 5 }),
        light_id: LightId::GreenFlash,
        later: None,
        always_on: None,
        lasts: Lasts::Once,
    },
    Row {
        priority: 14,
        condition: C::Idle,
        when: "nothing to say",
        light: Light::OFF,
        light_id: LightId::Off,
        later: None,
        always_on: Some((Light::dim(Blue, Solid), LightId::BlueDim)),
        lasts: Lasts::Always,
    },
];

/// The row of `condition`.
pub fn row(condition: ConditionId) -> &'static Row {
    // ConditionId's discriminants are its place in the table (checked by a test).
    &TABLE[condition as usize]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_are_in_priority_order_and_indexed_by_condition() {
        for (i, r) in TABLE.iter().enumerate() {
            assert_eq!(usize::from(r.priority), i + 1);
            assert_eq!(r.condition, ConditionId::ALL[i]);
            assert_eq!(r.condition.priority(), r.priority);
            assert_eq!(row(r.condition), r);
        }
    }

    #[test]
    fn each_rows_light_id_is_what_its_light_looks_like() {
        for r in TABLE.iter().filter(|r| !r.replays()) {
            assert_eq!(LightId::of(r.condition, r.light), r.light_id, "{:?}", r);
            if let Some(l) = r.later.filter(|l| l.light != Light::OFF) {
                assert_eq!(LightId::of(r.condition, l.light), l.light_id, "{:?}", r);
            }
            if let Some((light, id)) = r.always_on {
                assert_eq!(LightId::of(r.condition, light), id);
            }
        }
    }

    #[test]
    fn fixed_times_are_the_spec_ones() {
        assert_eq!(row(C::WifiRejected).fixed_ms(), Some(10_000));
        assert_eq!(row(C::Connected).fixed_ms(), Some(5_000));
        assert_eq!(row(C::StatusCheck).fixed_ms(), Some(5_000));
        assert_eq!(row(C::Motion).fixed_ms(), Some(300));
        assert_eq!(row(C::BatteryCritical).fixed_ms(), Some(900));
        assert_eq!(row(C::Setup).fixed_ms(), None);
    }
}
