//! Battery analytics for 2×AA lithium packs (SPEC §6): charge percent from the resting
//! voltage, internal resistance from the resting and loaded voltages, and a days-left
//! forecast with an uncertainty band that knows what cold does to the loaded voltage.
//!
//! The camera reports voltages only; everything here is derived by the hub from
//! telemetry samples and from how much the camera worked (seconds recorded and
//! transmitted per day, which the hub counts from clips and events).
//!
//! # The discharge curve
//! [`OCV_CURVE`] maps depth of discharge to the pack's open-circuit (resting) voltage. Its
//! shape is that of the Energizer L91 (Li-FeS2) datasheet's light-load curve for two cells
//! in series: a quick fall from the fresh 1.8 V/cell to a long flat plateau around
//! 1.5–1.6 V/cell, then a knee in the last 10 % of capacity. It is the same table the
//! simulator's pack uses (`watchlight_hw::sim::BatteryModel`), so the check against the
//! simulator measures the forecasting method, not a mismatch of curves. On the plateau the
//! curve is flat (≈ 3 mV per percent), which is why the forecast carries a depth
//! uncertainty from the voltage resolution.
//!
//! # End of life
//! The camera goes critical when its loaded voltage falls below 2.4 V or its resting voltage
//! below 2.6 V. The loaded voltage is the resting voltage minus the drop across the internal
//! resistance, which rises steeply near the end of the discharge (assumed
//! `R(d) ∝ 1 + 3·d³`, the datasheet's end-of-life rise) and in the cold (+3 %/°C below
//! 20 °C). So a cold pack dies at a shallower depth: the forecast computes the end depth
//! at the last reported temperature and says how many days the cold costs.

use serde::{Deserialize, Serialize};

/// Depth of discharge (0 = fresh, 1 = empty) → pack open-circuit voltage, millivolts.
pub const OCV_CURVE: [(f64, f64); 9] = [
    (0.00, 3600.0),
    (0.05, 3300.0),
    (0.20, 3200.0),
    (0.50, 3100.0),
    (0.80, 3000.0),
    (0.90, 2900.0),
    (0.95, 2750.0),
    (0.98, 2550.0),
    (1.00, 2200.0),
];

/// The replacement reminder fires when the forecast falls under this many days (SPEC §6).
pub const REMINDER_DAYS: f64 = 14.0;

const MS_PER_DAY: f64 = 86_400_000.0;

/// What the hub knows of a battery camera's pack and consumption (from its profile).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PackSpec {
    pub capacity_mah: f64,
    pub idle_ma: f64,
    pub transmit_ma: f64,
    pub record_ma: f64,
    /// The current the loaded voltage is measured at (the camera samples it while recording).
    pub loaded_current_ma: f64,
    /// Resistance growth per degree below 20 °C.
    pub cold_per_degree: f64,
    pub critical_loaded_mv: f64,
    pub critical_resting_mv: f64,
    /// Resting-voltage measurement uncertainty, ± millivolts.
    pub voltage_resolution_mv: f64,
}

impl Default for PackSpec {
    fn default() -> Self {
        PackSpec {
            capacity_mah: 3000.0,
            idle_ma: 0.08,
            transmit_ma: 180.0,
            record_ma: 350.0,
            loaded_current_ma: 350.0,
            cold_per_degree: 0.03,
            critical_loaded_mv: 2400.0,
            critical_resting_mv: 2600.0,
            voltage_resolution_mv: 3.0,
        }
    }
}

/// One telemetry reading of the pack.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct BatterySample {
    /// Hub time, milliseconds since the Unix epoch.
    pub at_ms: u64,
    pub resting_mv: u32,
    pub loaded_mv: u32,
    pub temp_c: f32,
}

/// How much the camera worked on one day (the hub sums clip durations and uploads).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct DailyUse {
    pub recording_s: f64,
    pub transmit_s: f64,
}

/// Why a forecast could not be made.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum BatteryError {
    #[error("no battery samples to forecast from")]
    NoSamples,
    #[error(
        "loaded voltage {loaded_mv} mV is above the resting voltage {resting_mv} mV: the reading is inconsistent"
    )]
    LoadedAboveResting { resting_mv: u32, loaded_mv: u32 },
    #[error(
        "no usage known and the voltage trend shows no discharge yet: cannot tell the rate of use"
    )]
    UnknownRate,
    #[error("pack spec field {0} must be positive")]
    BadSpec(&'static str),
}

/// Which limit ends the pack's life first at the current temperature.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EndCause {
    LoadedVoltage,
    RestingVoltage,
}

/// Where the rate of use came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RateSource {
    /// Seconds recorded and transmitted per day × the profile's currents.
    Duty,
    /// The fall of the depth (from resting voltage) over the recent samples.
    Trend,
}

/// What the cold costs, when the last reading was below 20 °C.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ColdEffect {
    pub temp_c: f64,
    /// How much lower the loaded voltage reads than it would at 20 °C.
    pub loaded_drop_mv: f64,
    /// Days the forecast would gain if the pack were at 20 °C.
    pub days_lost: f64,
}

/// A days-left forecast.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Forecast {
    pub percent: f64,
    pub resistance_ohm: f64,
    pub days_left: f64,
    /// Uncertainty band: the forecast is expected between these.
    pub days_low: f64,
    pub days_high: f64,
    pub end_cause: EndCause,
    pub rate_source: RateSource,
    /// Charge used per day, mAh.
    pub mah_per_day: f64,
    pub cold: Option<ColdEffect>,
    pub needs_replacement_reminder: bool,
    /// One sentence for the owner.
    pub summary: String,
}

/// Depth of discharge for a resting voltage, by the inverse of [`OCV_CURVE`]. Where the
/// curve is flat the inverse is the midpoint of the flat span.
pub fn depth_from_resting_mv(resting_mv: f64) -> f64 {
    if resting_mv >= OCV_CURVE[0].1 {
        return 0.0;
    }
    for w in OCV_CURVE.windows(2) {
        let ((d0, v0), (d1, v1)) = (w[0], w[1]);
        if resting_mv <= v0 && resting_mv >= v1 {
            return d0 + (d1 - d0) * (v0 - resting_mv) / (v0 - v1);
        }
    }
    1.0
}

/// Resting voltage at a depth of discharge.
pub fn resting_mv_at(depth: f64) -> f64 {
    let d = depth.clamp(0.0, 1.0);
    for w in OCV_CURVE.windows(2) {
        let ((d0, v0), (d1, v1)) = (w[0], w[1]);
        if d <= d1 {
            return v0 + (v1 - v0) * (d - d0) / (d1 - d0);
        }
    }
    OCV_CURVE[OCV_CURVE.len() - 1].1
}

/// Charge left, percent of the pack's capacity, from the resting voltage.
pub fn charge_percent(resting_mv: u32) -> f64 {
    (100.0 * (1.0 - depth_from_resting_mv(f64::from(resting_mv)))).clamp(0.0, 100.0)
}

/// Internal resistance (ohms) from the resting and loaded voltages and the load current.
pub fn internal_resistance_ohm(sample: &BatterySample, load_ma: f64) -> Result<f64, BatteryError> {
    if load_ma <= 0.0 {
        return Err(BatteryError::BadSpec("loaded_current_ma"));
    }
    if sample.loaded_mv > sample.resting_mv {
        return Err(BatteryError::LoadedAboveResting {
            resting_mv: sample.resting_mv,
            loaded_mv: sample.loaded_mv,
        });
    }
    Ok(f64::from(sample.resting_mv - sample.loaded_mv) / load_ma)
}

/// The end-of-life rise of the internal resistance with depth.
fn end_of_life_factor(depth: f64) -> f64 {
    1.0 + 3.0 * depth.clamp(0.0, 1.0).powi(3)
}

fn cold_factor(spec: &PackSpec, temp_c: f64) -> f64 {
    1.0 + spec.cold_per_degree * (20.0 - temp_c).max(0.0)
}

/// The depth at which the camera goes critical, given the resistance `r_now` measured at
/// `depth_now` and the same temperature.
fn end_depth(spec: &PackSpec, depth_now: f64, r_now: f64) -> (f64, EndCause) {
    let r_base = r_now / end_of_life_factor(depth_now);
    let dead = |d: f64| -> Option<EndCause> {
        let rest = resting_mv_at(d);
        if rest < spec.critical_resting_mv {
            return Some(EndCause::RestingVoltage);
        }
        let loaded = rest - spec.loaded_current_ma * r_base * end_of_life_factor(d);
        (loaded < spec.critical_loaded_mv).then_some(EndCause::LoadedVoltage)
    };
    if let Some(cause) = dead(depth_now) {
        return (depth_now, cause);
    }
    // Bisection between alive (lo) and dead (hi = 1.0 is always dead: 2.2 V resting).
    let (mut lo, mut hi) = (depth_now, 1.0);
    for _ in 0..50 {
        let mid = 0.5 * (lo + hi);
        if dead(mid).is_some() {
            hi = mid;
        } else {
            lo = mid;
        }
    }
    (hi, dead(hi).unwrap_or(EndCause::RestingVoltage))
}

fn mah_per_day(spec: &PackSpec, day: &DailyUse) -> f64 {
    spec.idle_ma * 24.0
        + day.recording_s / 3600.0 * spec.record_ma
        + day.transmit_s / 3600.0 * spec.transmit_ma
}

/// Least-squares slope of depth per day over the samples of the last 14 days.
fn trend_depth_per_day(samples: &[BatterySample]) -> Option<f64> {
    let last = samples.last()?.at_ms;
    let window: Vec<(f64, f64)> = samples
        .iter()
        .filter(|s| last.saturating_sub(s.at_ms) as f64 <= 14.0 * MS_PER_DAY)
        .map(|s| {
            (
                s.at_ms as f64 / MS_PER_DAY,
                depth_from_resting_mv(f64::from(s.resting_mv)),
            )
        })
        .collect();
    if window.len() < 3 || window[window.len() - 1].0 - window[0].0 < 2.0 {
        return None;
    }
    let n = window.len() as f64;
    let mx = window.iter().map(|p| p.0).sum::<f64>() / n;
    let my = window.iter().map(|p| p.1).sum::<f64>() / n;
    let sxy: f64 = window.iter().map(|p| (p.0 - mx) * (p.1 - my)).sum();
    let sxx: f64 = window.iter().map(|p| (p.0 - mx).powi(2)).sum();
    let slope = sxy / sxx;
    (slope > 0.0).then_some(slope)
}

/// Forecasts the days left from the samples (oldest first; the last is "now") and the
/// recent daily use (any order). With no usage the rate comes from the voltage trend.
pub fn forecast(
    spec: &PackSpec,
    samples: &[BatterySample],
    usage: &[DailyUse],
) -> Result<Forecast, BatteryError> {
    for (name, v) in [
        ("capacity_mah", spec.capacity_mah),
        ("loaded_current_ma", spec.loaded_current_ma),
    ] {
        if v <= 0.0 || v.is_nan() {
            return Err(BatteryError::BadSpec(name));
        }
    }
    let now = samples.last().ok_or(BatteryError::NoSamples)?;
    let r_now = internal_resistance_ohm(now, spec.loaded_current_ma)?;
    let depth_now = depth_from_resting_mv(f64::from(now.resting_mv));
    let temp = f64::from(now.temp_c);

    // Rate of use, in depth per day, and its relative uncertainty.
    // `cv` is the day-to-day variation of use (coefficient of variation), `n` the days seen.
    let (rate, cv, n, source) = if usage.is_empty() {
        let slope = trend_depth_per_day(samples).ok_or(BatteryError::UnknownRate)?;
        (slope, 0.5, 4.0, RateSource::Trend)
    } else {
        let per_day: Vec<f64> = usage.iter().map(|d| mah_per_day(spec, d)).collect();
        let n = per_day.len() as f64;
        let mean = per_day.iter().sum::<f64>() / n;
        let var = per_day.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1.0).max(1.0);
        let cv = if n >= 2.0 { var.sqrt() / mean } else { 0.5 };
        (mean / spec.capacity_mah, cv, n, RateSource::Duty)
    };
    if rate <= 0.0 || rate.is_nan() {
        return Err(BatteryError::UnknownRate);
    }

    let (d_end, cause) = end_depth(spec, depth_now, r_now);
    let days_left = ((d_end - depth_now) / rate).max(0.0);
    // The rate's uncertainty: that of the mean over the days seen, and the variation of
    // the days still to come (large for the last few days, averaging out over many).
    let rel = ((cv * cv / n) + cv * cv / days_left.max(1.0))
        .sqrt()
        .max(0.05);

    // Band: depth error from the voltage resolution on the local slope of the curve,
    // ±15 % on the resistance, and the rate's uncertainty.
    let d_lo = depth_from_resting_mv(f64::from(now.resting_mv) + spec.voltage_resolution_mv);
    let d_hi = depth_from_resting_mv(f64::from(now.resting_mv) - spec.voltage_resolution_mv);
    let (end_lo, _) = end_depth(spec, depth_now, r_now * 1.15);
    let (end_hi, _) = end_depth(spec, depth_now, r_now * 0.85);
    let days_low = ((end_lo - d_hi) / (rate * (1.0 + rel))).max(0.0);
    let days_high = ((end_hi - d_lo) / (rate * (1.0 - rel).max(0.05))).max(days_left);
    let days_low = days_low.min(days_left);

    let cold = (temp < 20.0).then(|| {
        let factor = cold_factor(spec, temp);
        let r_warm = r_now / factor;
        let (end_warm, _) = end_depth(spec, depth_now, r_warm);
        ColdEffect {
            temp_c: temp,
            loaded_drop_mv: spec.loaded_current_ma * (r_now - r_warm),
            days_lost: ((end_warm - d_end) / rate).max(0.0),
        }
    });
    let needs_replacement_reminder = days_left < REMINDER_DAYS;
    let percent = charge_percent(now.resting_mv);
    let mut summary = format!(
        "{percent:.0} % charge, about {days_left:.0} days left ({days_low:.0}–{days_high:.0})"
    );
    if let Some(c) = cold.as_ref().filter(|c| c.days_lost >= 1.0) {
        summary.push_str(&format!(
            "; the cold ({:.0} °C) lowers the voltage under load by {:.0} mV and costs about {:.0} days",
            c.temp_c, c.loaded_drop_mv, c.days_lost
        ));
    }
    if needs_replacement_reminder {
        summary.push_str("; replace the batteries soon");
    }
    Ok(Forecast {
        percent,
        resistance_ohm: r_now,
        days_left,
        days_low,
        days_high,
        end_cause: cause,
        rate_source: source,
        mah_per_day: rate * spec.capacity_mah,
        cold,
        needs_replacement_reminder,
        summary,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(at_day: f64, resting_mv: u32, loaded_mv: u32, temp_c: f32) -> BatterySample {
        BatterySample {
            at_ms: (at_day * MS_PER_DAY) as u64,
            resting_mv,
            loaded_mv,
            temp_c,
        }
    }

    #[test]
    fn percent_follows_the_curve() {
        assert_eq!(charge_percent(3600), 100.0);
        assert_eq!(charge_percent(3700), 100.0);
        assert!((charge_percent(3100) - 50.0).abs() < 1e-9);
        assert!((charge_percent(2900) - 10.0).abs() < 1e-9);
        assert_eq!(charge_percent(2000), 0.0);
        for mv in (2200..3600).step_by(7) {
            assert!(charge_percent(mv) <= charge_percent(mv + 7));
        }
        for d in [0.0, 0.03, 0.3, 0.85, 0.97, 0.99] {
            assert!((depth_from_resting_mv(resting_mv_at(d)) - d).abs() < 1e-9);
        }
    }

    #[test]
    fn resistance_from_the_two_voltages() {
        let r = internal_resistance_ohm(&sample(0.0, 3600, 3495, 20.0), 350.0).unwrap();
        assert!((r - 0.3).abs() < 1e-9);
        let err = internal_resistance_ohm(&sample(0.0, 3000, 3100, 20.0), 350.0).unwrap_err();
        assert!(err.to_string().contains("above the resting"), "{err}");
    }

    #[test]
    fn forecast_needs_samples_and_a_rate() {
        let spec = PackSpec::default();
        assert_eq!(forecast(&spec, &[], &[]), Err(BatteryError::NoSamples));
        let flat = [sample(0.0, 3150, 3000, 20.0), sample(5.0, 3150, 3000, 20.0)];
        assert_eq!(forecast(&spec, &flat, &[]), Err(BatteryError::UnknownRate));
    }

    #[test]
    fn cold_shortens_the_forecast_and_says_so() {
        let spec = PackSpec::default();
        let usage = [DailyUse {
            recording_s: 600.0,
            transmit_s: 60.0,
        }; 7];
        // Same depth (resting 3000 mV); warm vs cold resistance (0.3 Ω×2.536 vs ×1.9 more).
        let warm = forecast(&spec, &[sample(0.0, 3000, 2734, 20.0)], &usage).unwrap();
        let cold = forecast(&spec, &[sample(0.0, 3000, 2494, -10.0)], &usage).unwrap();
        assert!(warm.cold.is_none());
        let c = cold.cold.as_ref().unwrap();
        assert!(cold.days_left + 1.0 < warm.days_left, "{cold:?} {warm:?}");
        assert!(c.days_lost > 1.0 && c.loaded_drop_mv > 100.0, "{c:?}");
        assert!(cold.summary.contains("cold"), "{}", cold.summary);
        assert!(cold.days_low <= cold.days_left && cold.days_left <= cold.days_high);
    }

    #[test]
    fn reminder_under_fourteen_days() {
        let spec = PackSpec::default();
        let heavy = [DailyUse {
            recording_s: 3600.0,
            transmit_s: 600.0,
        }];
        let nearly_empty = forecast(&spec, &[sample(0.0, 2850, 2500, 20.0)], &heavy).unwrap();
        assert!(nearly_empty.needs_replacement_reminder, "{nearly_empty:?}");
        assert!(nearly_empty.summary.contains("replace"));
        let light = [DailyUse {
            recording_s: 300.0,
            transmit_s: 60.0,
        }];
        let fresh = forecast(&spec, &[sample(0.0, 3300, 3190, 20.0)], &light).unwrap();
        assert!(!fresh.needs_replacement_reminder, "{fresh:?}");
    }
}
