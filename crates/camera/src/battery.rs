//! The battery monitor of SPEC §6: `ok`, `low` and `critical` from resting and loaded
//! voltage, with 50 mV of hysteresis so a pack hovering at a threshold does not flap.

use crate::io::BatteryReading;

pub use watchlight_protocol::battery::{
    CRITICAL_LOADED_MV, CRITICAL_RESTING_MV, HYSTERESIS_MV, LOW_LOADED_MV, LOW_RESTING_MV,
};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BatteryLevel {
    Ok,
    Low,
    Critical,
}

impl BatteryLevel {
    pub fn as_str(self) -> &'static str {
        match self {
            BatteryLevel::Ok => "ok",
            BatteryLevel::Low => "low",
            BatteryLevel::Critical => "critical",
        }
    }
}

/// The level after `reading`, given the level before it.
///
/// `critical` is sticky: only fresh batteries (a resting voltage back above the low
/// threshold plus hysteresis) leave it, and then the reading is judged afresh.
pub fn assess(previous: BatteryLevel, reading: &BatteryReading) -> BatteryLevel {
    let (resting, loaded) = (reading.resting_mv, reading.loaded_mv);
    if previous == BatteryLevel::Critical && resting < LOW_RESTING_MV + HYSTERESIS_MV {
        return BatteryLevel::Critical;
    }
    if loaded < CRITICAL_LOADED_MV || resting < CRITICAL_RESTING_MV {
        return BatteryLevel::Critical;
    }
    let below_low = resting < LOW_RESTING_MV || loaded < LOW_LOADED_MV;
    let clear_of_low =
        resting >= LOW_RESTING_MV + HYSTERESIS_MV && loaded >= LOW_LOADED_MV + HYSTERESIS_MV;
    match previous {
        BatteryLevel::Low if !clear_of_low => BatteryLevel::Low,
        _ if below_low => BatteryLevel::Low,
        _ => BatteryLevel::Ok,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(resting_mv: u32, loaded_mv: u32) -> BatteryReading {
        BatteryReading {
            resting_mv,
            loaded_mv,
            temp_c: 20.0,
        }
    }

    #[test]
    fn thresholds_of_the_spec() {
        use BatteryLevel::*;
        assert_eq!(assess(Ok, &r(3000, 2800)), Ok);
        assert_eq!(assess(Ok, &r(2899, 2800)), Low);
        assert_eq!(assess(Ok, &r(2900, 2599)), Low);
        assert_eq!(assess(Ok, &r(2900, 2600)), Ok);
        assert_eq!(assess(Ok, &r(2900, 2399)), Critical);
        assert_eq!(assess(Ok, &r(2599, 2500)), Critical);
        assert_eq!(assess(Low, &r(2600, 2400)), Low);
    }

    #[test]
    fn low_needs_50_mv_to_clear() {
        use BatteryLevel::*;
        assert_eq!(assess(Low, &r(2949, 2800)), Low);
        assert_eq!(assess(Low, &r(2950, 2649)), Low);
        assert_eq!(assess(Low, &r(2950, 2650)), Ok);
    }

    #[test]
    fn critical_is_left_only_with_fresh_batteries() {
        use BatteryLevel::*;
        assert_eq!(assess(Critical, &r(2949, 2800)), Critical);
        assert_eq!(assess(Critical, &r(2950, 2800)), Ok);
        assert_eq!(assess(Critical, &r(3000, 2550)), Low);
    }
}
