//! The monthly health report (SPEC §6): per camera, battery and forecast, signal, uptime,
//! missed check-ins, clips and the doctor's findings. [`due`] is the sans-IO trigger (given
//! the last run and now, which month, if any, needs its report); [`build`] makes the report
//! from plain data the hub reads from its store; it serialises to JSON and renders as text.

use crate::battery::Forecast;
use serde::{Deserialize, Serialize};
use std::fmt::Write;
use watchlight_protocol::messages::Availability;

const DAY_MS: i64 = 86_400_000;

/// Days since 1970-01-01 of a civil date (H. Hinnant's algorithm, proleptic Gregorian).
fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(m);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Civil (year, month) of a day count since 1970-01-01.
fn civil_month(days: i64) -> (i64, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m)
}

/// A calendar month in the home's local time.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Period {
    /// `YYYY-MM`.
    pub month: String,
    /// UTC bounds, ms: `[from_ms, to_ms)`.
    pub from_ms: u64,
    pub to_ms: u64,
}

impl Period {
    /// The local calendar month holding `at_ms`.
    pub fn containing(at_ms: u64, utc_offset_minutes: i32) -> Period {
        let offset = i64::from(utc_offset_minutes) * 60_000;
        let local_day = (at_ms as i64 + offset).div_euclid(DAY_MS);
        let (y, m) = civil_month(local_day);
        let (ny, nm) = if m == 12 { (y + 1, 1) } else { (y, m + 1) };
        let from = days_from_civil(y, m, 1) * DAY_MS - offset;
        let to = days_from_civil(ny, nm, 1) * DAY_MS - offset;
        Period {
            month: format!("{y:04}-{m:02}"),
            from_ms: from.max(0) as u64,
            to_ms: to.max(0) as u64,
        }
    }

    /// The month before this one.
    pub fn previous(&self, utc_offset_minutes: i32) -> Period {
        Period::containing(self.from_ms.saturating_sub(1), utc_offset_minutes)
    }
}

/// Whether a monthly report is due: the month that ended most recently before `now_ms`,
/// if the last run was before its end (i.e. before the current month started).
pub fn due(last_run_ms: Option<u64>, now_ms: u64, utc_offset_minutes: i32) -> Option<Period> {
    let this = Period::containing(now_ms, utc_offset_minutes);
    match last_run_ms {
        Some(last) if last >= this.from_ms => None,
        _ => Some(this.previous(utc_offset_minutes)),
    }
}

/// A finding of the doctor, as the report lists it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Finding {
    pub at_ms: u64,
    pub condition: String,
    pub summary: String,
}

/// What the hub gathers for one camera over a period.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CameraMonth {
    pub camera: String,
    pub name: String,
    /// The latest forecast (battery cameras).
    pub battery: Option<Forecast>,
    pub rssi_dbm: Vec<i32>,
    /// The hub's computed availability transitions, oldest first; may start before the
    /// period (the state the period starts in).
    pub availability: Vec<(u64, Availability)>,
    pub missed_checkins: u32,
    pub clips: u32,
    pub clip_bytes: u64,
    pub findings: Vec<Finding>,
    /// When the camera joined the home, if inside the period: its uptime counts from
    /// then (a camera paired on the 30th was not "down" for 29 days).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub since_ms: Option<u64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SignalStats {
    pub samples: usize,
    pub min_dbm: i32,
    pub median_dbm: i32,
    pub max_dbm: i32,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BatteryLine {
    pub percent: f64,
    pub days_left: f64,
    pub days_low: f64,
    pub days_high: f64,
    pub needs_replacement: bool,
    pub summary: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CameraReport {
    pub camera: String,
    pub name: String,
    pub battery: Option<BatteryLine>,
    pub signal: Option<SignalStats>,
    /// Share of the period the camera was reachable (online or sleeping on schedule).
    pub uptime_percent: f64,
    pub missed_checkins: u32,
    pub clips: u32,
    pub clip_bytes: u64,
    pub findings: Vec<Finding>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HealthReport {
    pub period: Period,
    pub generated_ms: u64,
    pub cameras: Vec<CameraReport>,
}

/// Share of `[from, to)` not offline, percent. Before the first transition the camera
/// counts as offline (not yet seen).
pub fn uptime_percent(transitions: &[(u64, Availability)], from_ms: u64, to_ms: u64) -> f64 {
    if to_ms <= from_ms {
        return 0.0;
    }
    let mut up_ms = 0u64;
    let mut state = Availability::Offline;
    let mut since = from_ms;
    for &(at, a) in transitions {
        let at = at.clamp(from_ms, to_ms);
        if state != Availability::Offline {
            up_ms += at - since;
        }
        since = at;
        state = a;
    }
    if state != Availability::Offline {
        up_ms += to_ms - since;
    }
    100.0 * up_ms as f64 / (to_ms - from_ms) as f64
}

fn signal(rssi: &[i32]) -> Option<SignalStats> {
    let mut v = rssi.to_vec();
    v.sort_unstable();
    Some(SignalStats {
        samples: v.len(),
        min_dbm: *v.first()?,
        median_dbm: v[v.len() / 2],
        max_dbm: *v.last()?,
    })
}

/// Builds the report of `period` from what the hub gathered.
pub fn build(period: Period, generated_ms: u64, cameras: &[CameraMonth]) -> HealthReport {
    let cameras = cameras
        .iter()
        .map(|c| CameraReport {
            camera: c.camera.clone(),
            name: c.name.clone(),
            battery: c.battery.as_ref().map(|f| BatteryLine {
                percent: (f.percent * 10.0).round() / 10.0,
                days_left: f.days_left.round(),
                days_low: f.days_low.round(),
                days_high: f.days_high.round(),
                needs_replacement: f.needs_replacement_reminder,
                summary: f.summary.clone(),
            }),
            signal: signal(&c.rssi_dbm),
            uptime_percent: (uptime_percent(
                &c.availability,
                c.since_ms
                    .map_or(period.from_ms, |s| s.clamp(period.from_ms, period.to_ms)),
                period.to_ms,
            ) * 100.0)
                .round()
                / 100.0,
            missed_checkins: c.missed_checkins,
            clips: c.clips,
            clip_bytes: c.clip_bytes,
            findings: c
                .findings
                .iter()
                .filter(|f| f.at_ms >= period.from_ms && f.at_ms < period.to_ms)
                .cloned()
                .collect(),
        })
        .collect();
    HealthReport {
        period,
        generated_ms,
        cameras,
    }
}

impl HealthReport {
    /// The report as the owner reads it in a mail or the app.
    pub fn render_text(&self) -> String {
        let mut s = format!("Watchlight health report for {}\n", self.period.month);
        for c in &self.cameras {
            let title = if c.name.is_empty() {
                &c.camera
            } else {
                &c.name
            };
            let _ = writeln!(s, "\n== {title} ({})", c.camera);
            match &c.battery {
                Some(b) => {
                    let _ = writeln!(s, "  battery:  {}", b.summary);
                }
                None => s.push_str("  battery:  mains powered\n"),
            }
            match &c.signal {
                Some(g) => {
                    let _ = writeln!(
                        s,
                        "  signal:   median {} dBm (min {}, max {}, {} samples)",
                        g.median_dbm, g.min_dbm, g.max_dbm, g.samples
                    );
                }
                None => s.push_str("  signal:   no samples\n"),
            }
            let _ = writeln!(
                s,
                "  uptime:   {:.2} %, {} missed check-ins",
                c.uptime_percent, c.missed_checkins
            );
            let _ = writeln!(
                s,
                "  clips:    {} ({:.1} MB)",
                c.clips,
                c.clip_bytes as f64 / 1e6
            );
            if c.findings.is_empty() {
                s.push_str("  doctor:   nothing found\n");
            }
            for f in &c.findings {
                let _ = writeln!(s, "  doctor:   {} — {}", f.condition, f.summary);
            }
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc(y: i64, m: u32, d: u32, h: i64) -> u64 {
        (days_from_civil(y, m, d) * DAY_MS + h * 3_600_000) as u64
    }

    #[test]
    fn civil_dates_round_trip() {
        assert_eq!(days_from_civil(1970, 1, 1), 0);
        assert_eq!(days_from_civil(2026, 11, 23), 1_795_392_000 / 86_400);
        for days in (-800_000..800_000).step_by(997) {
            let (y, m) = civil_month(days);
            assert!(days_from_civil(y, m, 1) <= days && days < days_from_civil(y, m, 1) + 31);
        }
    }

    #[test]
    fn periods_follow_the_calendar_and_the_offset() {
        let p = Period::containing(utc(2028, 2, 15, 12), 0);
        assert_eq!(p.month, "2028-02");
        assert_eq!(p.to_ms - p.from_ms, 29 * DAY_MS as u64); // leap year
        // 23:30 UTC on Jan 31 is already February in UTC+1.
        let late = utc(2027, 1, 31, 23) + 30 * 60_000;
        assert_eq!(Period::containing(late, 0).month, "2027-01");
        assert_eq!(Period::containing(late, 60).month, "2027-02");
        assert_eq!(
            Period::containing(utc(2027, 1, 5, 0), 0).previous(0).month,
            "2026-12"
        );
    }

    #[test]
    fn uptime_counts_sleeping_as_up_and_clips_at_the_period() {
        use Availability::*;
        let t = [(0, Online), (50, Offline), (75, Sleeping)];
        assert!((uptime_percent(&t, 0, 100) - 75.0).abs() < 1e-9);
        // The state before the period carries in.
        assert!((uptime_percent(&t, 60, 100) - 62.5).abs() < 1e-9);
        assert_eq!(uptime_percent(&[], 0, 100), 0.0);
    }
}
