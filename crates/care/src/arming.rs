//! Arming (SPEC §7): `disarmed` (the default), `home` (the chosen cameras armed) and `away`
//! (all armed); weekly schedules at minute resolution in the home's local time that switch
//! the mode; and the pure function from all that to each camera's `armed` setting.
//!
//! The owner's manual choice and the schedule combine simply: whichever changed the mode
//! last wins, so arming by hand at 21:50 holds until the schedule's next switch.
//!
//! The mode names match `watchlight_store::ArmMode` (`disarmed`, `home`, `away`).

use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use watchlight_protocol::SettingsPatch;

const MINUTE_MS: i64 = 60_000;
const DAY_MS: i64 = 86_400_000;
const WEEK_MINUTES: i64 = 7 * 1440;

/// The arming modes are the protocol's, so the hub's store and this crate agree.
pub use watchlight_protocol::ArmMode;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ArmingError {
    #[error("schedule time '{0}' is not HH:MM between 00:00 and 23:59")]
    BadTime(String),
    #[error("schedule entry {0} names no weekday")]
    NoDays(usize),
    #[error("UTC offset {0} minutes is outside -14:00..+14:00")]
    BadOffset(i32),
}

/// Day of the week, Monday first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Weekday {
    Mon,
    Tue,
    Wed,
    Thu,
    Fri,
    Sat,
    Sun,
}

impl Weekday {
    pub const ALL: [Weekday; 7] = [
        Weekday::Mon,
        Weekday::Tue,
        Weekday::Wed,
        Weekday::Thu,
        Weekday::Fri,
        Weekday::Sat,
        Weekday::Sun,
    ];

    fn index(self) -> i64 {
        self as i64
    }
}

/// A local time of day at minute resolution, written `HH:MM`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct LocalTime(u16);

impl LocalTime {
    pub fn minute_of_day(self) -> u16 {
        self.0
    }
}

impl TryFrom<String> for LocalTime {
    type Error = ArmingError;
    fn try_from(s: String) -> Result<Self, ArmingError> {
        s.parse()
    }
}

impl std::str::FromStr for LocalTime {
    type Err = ArmingError;
    fn from_str(s: &str) -> Result<Self, ArmingError> {
        let bad = || ArmingError::BadTime(s.to_string());
        let (h, m) = s.split_once(':').ok_or_else(bad)?;
        if h.len() != 2 || m.len() != 2 {
            return Err(bad());
        }
        let (h, m): (u16, u16) = (h.parse().map_err(|_| bad())?, m.parse().map_err(|_| bad())?);
        if h > 23 || m > 59 {
            return Err(bad());
        }
        Ok(LocalTime(h * 60 + m))
    }
}

impl From<LocalTime> for String {
    fn from(t: LocalTime) -> String {
        t.to_string()
    }
}

impl fmt::Display for LocalTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:02}:{:02}", self.0 / 60, self.0 % 60)
    }
}

/// "On these days at this time, switch to this mode."
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScheduleEntry {
    pub days: BTreeSet<Weekday>,
    pub at: LocalTime,
    pub mode: ArmMode,
}

/// A weekly schedule in the home's local time.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Schedule {
    /// Local time minus UTC, minutes (e.g. +60 for CET). The owner updates it at DST changes.
    pub utc_offset_minutes: i32,
    pub entries: Vec<ScheduleEntry>,
}

impl Schedule {
    pub fn validate(&self) -> Result<(), ArmingError> {
        if !(-14 * 60..=14 * 60).contains(&self.utc_offset_minutes) {
            return Err(ArmingError::BadOffset(self.utc_offset_minutes));
        }
        match self.entries.iter().position(|e| e.days.is_empty()) {
            Some(i) => Err(ArmingError::NoDays(i)),
            None => Ok(()),
        }
    }

    /// Minutes since Monday 00:00 local of the week holding `now_ms`, and that Monday's
    /// UTC time in ms.
    fn week_position(&self, now_ms: u64) -> (i64, i64) {
        let local = now_ms as i64 + i64::from(self.utc_offset_minutes) * MINUTE_MS;
        let day = local.div_euclid(DAY_MS);
        // 1970-01-01 was a Thursday (index 3).
        let weekday = (day + 3).rem_euclid(7);
        let monday_local = (day - weekday) * DAY_MS;
        let minute_in_week = (local - monday_local) / MINUTE_MS;
        let monday_utc = monday_local - i64::from(self.utc_offset_minutes) * MINUTE_MS;
        (minute_in_week, monday_utc)
    }

    /// All switches as (minute in the week, mode), sorted.
    fn switches(&self) -> Vec<(i64, ArmMode)> {
        let mut v: Vec<(i64, ArmMode)> = self
            .entries
            .iter()
            .flat_map(|e| {
                e.days
                    .iter()
                    .map(move |d| (d.index() * 1440 + i64::from(e.at.0), e.mode))
            })
            .collect();
        v.sort_by_key(|s| s.0);
        v
    }

    /// The latest switch at or before `now_ms`: its UTC time and mode.
    pub fn last_switch(&self, now_ms: u64) -> Option<(u64, ArmMode)> {
        let (pos, monday) = self.week_position(now_ms);
        let switches = self.switches();
        let (minute, mode, week_back) = match switches.iter().rev().find(|s| s.0 <= pos) {
            Some(&(m, mode)) => (m, mode, 0),
            None => {
                let &(m, mode) = switches.last()?;
                (m, mode, 1)
            }
        };
        let at = monday + (minute - week_back * WEEK_MINUTES) * MINUTE_MS;
        Some((at.max(0) as u64, mode))
    }

    /// The next switch after `now_ms` (for the hub's timer).
    pub fn next_switch(&self, now_ms: u64) -> Option<(u64, ArmMode)> {
        let (pos, monday) = self.week_position(now_ms);
        let switches = self.switches();
        let (minute, mode, week_on) = match switches.iter().find(|s| s.0 > pos) {
            Some(&(m, mode)) => (m, mode, 0),
            None => {
                let &(m, mode) = switches.first()?;
                (m, mode, 1)
            }
        };
        Some((
            (monday + (minute + week_on * WEEK_MINUTES) * MINUTE_MS) as u64,
            mode,
        ))
    }
}

/// Everything that decides who is armed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ArmingConfig {
    /// The mode the owner chose by hand, and when.
    pub manual_mode: ArmMode,
    pub manual_at_ms: u64,
    /// Cameras armed in `home` mode.
    pub home_cameras: BTreeSet<String>,
    pub schedule: Schedule,
}

impl ArmingConfig {
    /// The mode in force at `now_ms`: the later of the manual choice and the last switch.
    pub fn mode_at(&self, now_ms: u64) -> ArmMode {
        match self.schedule.last_switch(now_ms) {
            Some((at, mode)) if at > self.manual_at_ms => mode,
            _ => self.manual_mode,
        }
    }

    /// Whether `camera` is armed in `mode`.
    pub fn arms(&self, mode: ArmMode, camera: &str) -> bool {
        match mode {
            ArmMode::Disarmed => false,
            ArmMode::Away => true,
            ArmMode::Home => self.home_cameras.contains(camera),
        }
    }

    /// Each camera's `armed` setting at `now_ms`.
    pub fn armed_at<'a>(
        &self,
        now_ms: u64,
        cameras: impl IntoIterator<Item = &'a str>,
    ) -> BTreeMap<String, bool> {
        let mode = self.mode_at(now_ms);
        cameras
            .into_iter()
            .map(|c| (c.to_string(), self.arms(mode, c)))
            .collect()
    }

    /// The settings patches to send: only for cameras whose `armed` must change.
    /// `current` maps each camera to its present `armed` setting.
    pub fn patches(
        &self,
        now_ms: u64,
        current: &BTreeMap<String, bool>,
    ) -> BTreeMap<String, SettingsPatch> {
        self.armed_at(now_ms, current.keys().map(String::as_str))
            .into_iter()
            .filter(|(c, armed)| current.get(c) != Some(armed))
            .map(|(c, armed)| {
                (
                    c,
                    SettingsPatch {
                        armed: Some(armed),
                        ..SettingsPatch::default()
                    },
                )
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Monday 2026-11-23 00:00 UTC.
    const MONDAY: u64 = 1_795_392_000_000;
    const MIN: u64 = 60_000;

    fn entry(days: &[Weekday], at: &str, mode: ArmMode) -> ScheduleEntry {
        ScheduleEntry {
            days: days.iter().copied().collect(),
            at: at.parse().unwrap(),
            mode,
        }
    }

    fn config(offset: i32) -> ArmingConfig {
        ArmingConfig {
            home_cameras: ["garden".to_string()].into(),
            schedule: Schedule {
                utc_offset_minutes: offset,
                entries: vec![
                    entry(&Weekday::ALL[..5], "08:30", ArmMode::Away),
                    entry(&Weekday::ALL[..5], "17:45", ArmMode::Disarmed),
                    entry(&Weekday::ALL, "23:00", ArmMode::Home),
                ],
            },
            ..ArmingConfig::default()
        }
    }

    #[test]
    fn the_reference_monday_is_a_monday() {
        let s = Schedule::default();
        assert_eq!(s.week_position(MONDAY), (0, MONDAY as i64));
        assert_eq!(
            s.week_position(MONDAY + 3 * 86_400_000 + 61 * MIN).0,
            3 * 1440 + 61
        );
    }

    #[test]
    fn disarmed_by_default() {
        let c = ArmingConfig::default();
        let armed = c.armed_at(MONDAY, ["a", "b"]);
        assert!(armed.values().all(|a| !a));
    }

    #[test]
    fn schedule_arms_and_disarms_at_the_right_minute() {
        let c = config(0);
        let cams = ["garden", "door"];
        // Monday 08:29 → still Sunday night's `home`: garden only.
        let at = |h: u64, m: u64| MONDAY + (h * 60 + m) * MIN;
        assert_eq!(c.mode_at(at(8, 29)), ArmMode::Home);
        assert!(!c.armed_at(at(8, 29), cams)["door"]);
        assert!(c.armed_at(at(8, 29), cams)["garden"]);
        // 08:30 sharp → away: everything armed.
        assert_eq!(c.mode_at(at(8, 30)), ArmMode::Away);
        assert!(c.armed_at(at(8, 30), cams).values().all(|a| *a));
        // 17:44:59 still away, 17:45 disarmed.
        assert_eq!(c.mode_at(at(17, 45) - 1000), ArmMode::Away);
        assert!(c.armed_at(at(17, 45), cams).values().all(|a| !a));
        // Saturday 08:30: no weekday switch, last was Friday 23:00 → home.
        let saturday = MONDAY + 5 * 86_400_000;
        assert_eq!(c.mode_at(saturday + 8 * 60 * MIN + 30 * MIN), ArmMode::Home);
        assert_eq!(
            c.schedule.next_switch(at(8, 30)),
            Some((at(17, 45), ArmMode::Disarmed))
        );
        // Sunday 23:30 → next is Monday 08:30 of the next week.
        let sunday_late = MONDAY + 6 * 86_400_000 + (23 * 60 + 30) * MIN;
        assert_eq!(
            c.schedule.next_switch(sunday_late),
            Some((MONDAY + 7 * 86_400_000 + 510 * MIN, ArmMode::Away))
        );
    }

    /// A naive reading of the schedule: walk back minute by minute from `now` (local
    /// weekday and time computed afresh each step) until a minute that holds a switch.
    fn naive_mode(s: &Schedule, now_ms: u64) -> Option<ArmMode> {
        let now_min = (now_ms / MIN) as i64;
        for back in 0..=(7 * 1440) {
            let m = now_min - back;
            let local = m + i64::from(s.utc_offset_minutes);
            let weekday = Weekday::ALL[((local.div_euclid(1440) + 3).rem_euclid(7)) as usize];
            let minute = local.rem_euclid(1440) as u16;
            if let Some(e) = s
                .entries
                .iter()
                .rev()
                .find(|e| e.days.contains(&weekday) && e.at.0 == minute)
            {
                return Some(e.mode);
            }
        }
        None
    }

    #[test]
    fn every_minute_of_a_week_agrees_with_a_naive_reading() {
        for offset in [0, 330, -300, 840, -720] {
            let c = config(offset);
            // Every 7th minute (coprime with hours and days); the switch minutes themselves
            // are checked exactly through `next_switch`.
            for minute in (0..(7 * 1440 + 90)).step_by(7) {
                let t = MONDAY + minute * MIN + 30_000;
                let expected = naive_mode(&c.schedule, t).unwrap();
                assert_eq!(c.mode_at(t), expected, "offset {offset}, minute {minute}");
                let (next_at, next_mode) = c.schedule.next_switch(t).unwrap();
                assert!(next_at > t && next_at - t <= 7 * 1440 * MIN);
                assert_eq!(naive_mode(&c.schedule, next_at), Some(next_mode));
                assert_eq!(
                    c.mode_at(next_at - 1),
                    expected,
                    "nothing switches before next"
                );
                assert_eq!(c.mode_at(next_at), next_mode);
            }
        }
    }

    #[test]
    fn local_offset_moves_the_switch() {
        // UTC+2: 08:30 local is 06:30 UTC.
        let c = config(120);
        assert_eq!(c.mode_at(MONDAY + (6 * 60 + 29) * MIN), ArmMode::Home);
        assert_eq!(c.mode_at(MONDAY + (6 * 60 + 30) * MIN), ArmMode::Away);
        // UTC-5: Monday 08:30 local is 13:30 UTC.
        let c = config(-300);
        assert_eq!(c.mode_at(MONDAY + (13 * 60 + 29) * MIN), ArmMode::Home);
        assert_eq!(c.mode_at(MONDAY + (13 * 60 + 30) * MIN), ArmMode::Away);
    }

    #[test]
    fn manual_choice_holds_until_the_next_switch() {
        let mut c = config(0);
        let t = MONDAY + 18 * 60 * MIN; // disarmed since 17:45
        c.manual_mode = ArmMode::Away;
        c.manual_at_ms = t;
        assert_eq!(c.mode_at(t + MIN), ArmMode::Away);
        assert_eq!(c.mode_at(MONDAY + 23 * 60 * MIN), ArmMode::Home);
    }

    #[test]
    fn patches_only_for_changes() {
        let c = config(0);
        let current: BTreeMap<String, bool> =
            [("garden".into(), true), ("door".into(), true)].into();
        let p = c.patches(MONDAY, &current); // home: door must disarm
        assert_eq!(p.len(), 1);
        assert_eq!(p["door"].armed, Some(false));
    }

    #[test]
    fn bad_schedules_are_named() {
        assert_eq!(
            "24:00".parse::<LocalTime>(),
            Err(ArmingError::BadTime("24:00".into()))
        );
        assert!("7:30".parse::<LocalTime>().is_err());
        let json = r#"{"days":["mon"],"at":"25:99","mode":"away"}"#;
        let err = serde_json::from_str::<ScheduleEntry>(json).unwrap_err();
        assert!(err.to_string().contains("25:99"), "{err}");
        let mut s = config(0).schedule;
        s.entries[1].days.clear();
        assert_eq!(s.validate(), Err(ArmingError::NoDays(1)));
        s.utc_offset_minutes = 15 * 60;
        assert_eq!(s.validate(), Err(ArmingError::BadOffset(900)));
    }
}
