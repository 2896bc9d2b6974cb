//! From a case to discrete evidence: each [`Feature`] takes one of a few named values.
//!
//! Numbers are put into bands at the thresholds the rest of the system uses (SPEC §6's
//! battery thresholds, the usual Wi-Fi signal bands), so the knowledge base can say how
//! likely each band is under each fault.

use crate::case::{Case, HubNetwork, SeenAvailability};
use crate::ids::QuestionId;
use watchlight_protocol::{EventKind, LightId};

/// One kind of evidence.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Feature {
    Light,
    When,
    SetupCompleted,
    OtherDevicesOnline,
    WifiPasswordChanged,
    Recording,
    BatteryAge,
    HubOnline,
    Availability,
    Battery,
    Signal,
    Reconnects,
    FleetOffline,
    HubStorage,
    Arming,
    MotionIndicator,
    Events,
    HubReporting,
    HubNetwork,
    OfflineFor,
    Clips,
    ZonesOff,
    SilentOnline,
    RouterAnswered,
}

const YES_NO: &[&str] = &["yes", "no"];

/// The most telling event of the last day, most telling first; `nothing_notable` when
/// the hub has the events and none of these is among them.
const EVENT_VALUES: &[&str] = &[
    "self_test_failed",
    "wifi_rejected",
    "battery_critical",
    "hub_rejected",
    "join_timeout",
    "battery_low",
    "reset",
    "nothing_notable",
];

fn telling_event(events: &[EventKind]) -> usize {
    let nothing_notable = EVENT_VALUES.len() - 1;
    let rank = |e: &EventKind| match e {
        EventKind::SelfTestFailed => 0,
        EventKind::WifiRejected => 1,
        EventKind::BatteryCritical | EventKind::Shutdown => 2,
        EventKind::HubRejected => 3,
        EventKind::JoinTimeout => 4,
        EventKind::BatteryLow => 5,
        EventKind::Reset => 6,
        _ => nothing_notable,
    };
    events.iter().map(rank).min().unwrap_or(nothing_notable)
}

impl Feature {
    pub const ALL: [Feature; 24] = [
        Feature::Light,
        Feature::When,
        Feature::SetupCompleted,
        Feature::OtherDevicesOnline,
        Feature::WifiPasswordChanged,
        Feature::Recording,
        Feature::BatteryAge,
        Feature::HubOnline,
        Feature::Availability,
        Feature::Battery,
        Feature::Signal,
        Feature::Reconnects,
        Feature::FleetOffline,
        Feature::HubStorage,
        Feature::Arming,
        Feature::MotionIndicator,
        Feature::Events,
        Feature::HubReporting,
        Feature::HubNetwork,
        Feature::OfflineFor,
        Feature::Clips,
        Feature::ZonesOff,
        Feature::SilentOnline,
        Feature::RouterAnswered,
    ];

    pub fn index(self) -> usize {
        self as usize
    }

    /// The name the knowledge base uses.
    pub fn as_str(self) -> &'static str {
        match self {
            Feature::Light => "light",
            Feature::When => "when",
            Feature::SetupCompleted => "setup_completed",
            Feature::OtherDevicesOnline => "other_devices_online",
            Feature::WifiPasswordChanged => "wifi_password_changed",
            Feature::Recording => "recording",
            Feature::BatteryAge => "battery_age",
            Feature::HubOnline => "hub_online",
            Feature::Availability => "availability",
            Feature::Battery => "battery",
            Feature::Signal => "signal",
            Feature::Reconnects => "reconnects",
            Feature::FleetOffline => "fleet_offline",
            Feature::HubStorage => "hub_storage",
            Feature::Arming => "arming",
            Feature::MotionIndicator => "motion_indicator",
            Feature::Events => "events",
            Feature::HubReporting => "hub_reporting",
            Feature::HubNetwork => "hub_network",
            Feature::OfflineFor => "offline_for",
            Feature::Clips => "clips",
            Feature::ZonesOff => "zones_off",
            Feature::SilentOnline => "silent_online",
            Feature::RouterAnswered => "router_answered",
        }
    }

    /// The values this feature can take, in a fixed order.
    pub fn values(self) -> &'static [&'static str] {
        match self {
            Feature::Light => &[
                "red_fast_blink",
                "red_flash_then_dark",
                "red_blink",
                "red_solid",
                "red_slow_blink",
                "green_blink",
                "red_flash_on_motion",
                "blue_solid",
                "red_flash_every_5s",
                "red_flash_after_recording",
                "green_flash",
                "blue_dim",
                "off",
            ],
            Feature::When => &[
                "continuous",
                "intermittent",
                "after_recording",
                "on_motion",
                "during_setup",
                "after_reset",
            ],
            Feature::BatteryAge => &["new", "months", "old"],
            Feature::Availability => &["online", "offline", "sleeping", "never_seen"],
            Feature::Battery => &["ok", "low", "critical"],
            Feature::Signal => &["strong", "fair", "marginal", "poor", "weak"],
            Feature::Reconnects => &["none", "one", "few", "many"],
            Feature::FleetOffline => &["none", "some", "most"],
            Feature::HubStorage => &["ok", "low", "full"],
            Feature::Arming => &["armed_and_detecting", "disarmed", "detection_off"],
            Feature::Events => EVENT_VALUES,
            Feature::HubNetwork => &["ok", "address_changed", "upstream_lost", "no_network"],
            Feature::OfflineFor => &["minutes", "within_hour", "hours", "over_6h"],
            Feature::Clips => &["none", "fewer", "usual"],
            Feature::ZonesOff => &["none", "some", "most"],
            Feature::SetupCompleted
            | Feature::OtherDevicesOnline
            | Feature::WifiPasswordChanged
            | Feature::Recording
            | Feature::HubOnline
            | Feature::MotionIndicator
            | Feature::HubReporting
            | Feature::SilentOnline
            | Feature::RouterAnswered => YES_NO,
        }
    }

    pub fn value_index(self, value: &str) -> Option<usize> {
        self.values().iter().position(|v| *v == value)
    }

    /// The question that fills this feature, if an owner can answer it.
    pub fn question(self) -> Option<QuestionId> {
        Some(match self {
            Feature::Light => QuestionId::AskLight,
            Feature::When => QuestionId::AskWhen,
            Feature::SetupCompleted => QuestionId::AskSetupCompleted,
            Feature::OtherDevicesOnline => QuestionId::AskOtherDevicesOnline,
            Feature::WifiPasswordChanged => QuestionId::AskWifiPasswordChanged,
            Feature::Recording => QuestionId::AskRecording,
            Feature::BatteryAge => QuestionId::AskBatteryAgeMonths,
            Feature::HubOnline => QuestionId::AskHubOnline,
            _ => return None,
        })
    }

    pub fn of_question(question: QuestionId) -> Feature {
        Feature::ALL
            .into_iter()
            .find(|f| f.question() == Some(question))
            .expect("every question fills a feature")
    }
}

/// One piece of evidence: a feature and the index of its value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Finding {
    pub feature: Feature,
    pub value: usize,
}

impl Finding {
    pub fn value_str(&self) -> &'static str {
        self.feature.values()[self.value]
    }
}

fn yes_no(b: bool) -> usize {
    if b { 0 } else { 1 }
}

/// The battery band from SPEC §6: critical below 2.4 V loaded or 2.6 V resting; low
/// below 2.6 V loaded or 2.9 V resting.
pub fn battery_band(resting_mv: Option<f64>, loaded_mv: Option<f64>) -> Option<usize> {
    if resting_mv.is_none() && loaded_mv.is_none() {
        return None;
    }
    let loaded = loaded_mv.unwrap_or(f64::INFINITY);
    let resting = resting_mv.unwrap_or(f64::INFINITY);
    Some(if loaded < 2400.0 || resting < 2600.0 {
        2
    } else if loaded < 2600.0 || resting < 2900.0 {
        1
    } else {
        0
    })
}

/// Free space on the hub under which it counts as full: a day of clips from a busy
/// home no longer fits with retention's margin, and owners call it "nearly full". A
/// share, not bytes: on a large disk a few percent is still room (kept low for that).
pub const STORAGE_FULL_PCT: f64 = 3.5;

/// Signal bands: above −67 dBm video streams comfortably; down to −72 dBm a link holds
/// with the odd drop; from −72 to −75 dBm (`marginal`) it starts dropping about twice an
/// hour, the line between a link that holds and one that does not, so the band is narrow
/// and the drops counted beside it decide; to −78 dBm drops come several times an hour
/// (`poor`); below, the link barely holds at all (`weak`).
pub fn signal_band(rssi_dbm: &[f64]) -> Option<usize> {
    // The median of the last five readings: one bad sample is not a weak link.
    let tail: Vec<f64> = rssi_dbm.iter().rev().take(5).copied().collect();
    if tail.is_empty() {
        return None;
    }
    let mut sorted = tail;
    sorted.sort_by(f64::total_cmp);
    let median = sorted[sorted.len() / 2];
    Some(if median >= -67.0 {
        0
    } else if median >= -72.0 {
        1
    } else if median >= -75.0 {
        2
    } else if median >= -78.0 {
        3
    } else {
        4
    })
}

/// Link drops in the last hour: none, one (anything drops once), a few (two or three:
/// a link at the edge), many (four or more: a link that does not hold).
pub fn reconnects_band(drops: f64) -> usize {
    if drops < 1.0 {
        0
    } else if drops < 2.0 {
        1
    } else if drops <= 3.0 {
        2
    } else {
        3
    }
}

/// The last day's clips against the camera's usual day: none at all, fewer than 40 % of
/// usual, or about as usual. Without the usual figure, one or two clips count as fewer.
pub fn clips_band(last_day: f64, usual: Option<f64>) -> usize {
    if last_day < 0.5 {
        return 0;
    }
    let fewer = match usual {
        Some(u) if u > 0.0 => last_day < 0.4 * u,
        _ => last_day < 3.0,
    };
    if fewer { 1 } else { 2 }
}

/// How much of the activity-zone grid is off: none, some (a street or a window masked),
/// or most (30 % or more).
pub fn zones_off_band(pct: f64) -> usize {
    if pct < 1.0 {
        0
    } else if pct < 30.0 {
        1
    } else {
        2
    }
}

/// How long an offline camera has been silent: minutes (a drop that is still clearing),
/// within the hour (a typical outage), hours, or over six hours (nobody has noticed yet).
pub fn offline_band(minutes: f64) -> usize {
    if minutes < 10.0 {
        0
    } else if minutes < 60.0 {
        1
    } else if minutes < 360.0 {
        2
    } else {
        3
    }
}

/// Everything the case says, as findings. Battery findings are dropped for mains
/// profiles (they have no battery to speak of).
pub fn findings(case: &Case) -> Vec<Finding> {
    let mut out = Vec::new();
    let mut push = |feature: Feature, value: Option<usize>| {
        if let Some(value) = value {
            out.push(Finding { feature, value });
        }
    };
    let o = &case.observations;
    let t = &case.telemetry;
    let on_battery = case
        .profile
        .map(|p| p.profile().on_battery())
        .unwrap_or(true);
    push(
        Feature::Light,
        o.light
            .map(|l| LightId::ALL.iter().position(|x| *x == l).unwrap_or(0)),
    );
    push(Feature::When, o.when.map(|w| w as usize));
    push(Feature::SetupCompleted, o.setup_completed.map(yes_no));
    push(
        Feature::OtherDevicesOnline,
        o.other_devices_online.map(yes_no),
    );
    push(
        Feature::WifiPasswordChanged,
        o.wifi_password_changed.map(yes_no),
    );
    push(Feature::Recording, o.recording.map(yes_no));
    if on_battery {
        push(
            Feature::BatteryAge,
            o.battery_age_months.map(|m| {
                if m < 4.0 {
                    0
                } else if m < 10.0 {
                    1
                } else {
                    2
                }
            }),
        );
        push(
            Feature::Battery,
            battery_band(
                t.battery_resting_mv.last().copied(),
                t.battery_loaded_mv.last().copied(),
            ),
        );
    }
    push(Feature::HubOnline, o.hub_online.map(yes_no));
    push(
        Feature::Availability,
        t.availability.map(|a| match a {
            SeenAvailability::Online => 0,
            SeenAvailability::Offline => 1,
            SeenAvailability::Sleeping => 2,
            SeenAvailability::NeverSeen => 3,
        }),
    );
    push(Feature::Signal, signal_band(&t.rssi_dbm));
    push(
        Feature::Reconnects,
        t.reconnects_last_hour.map(reconnects_band),
    );
    push(
        Feature::FleetOffline,
        t.fleet_offline_fraction.map(|f| {
            if f < 0.25 {
                0
            } else if f < 0.6 {
                1
            } else {
                2
            }
        }),
    );
    push(
        Feature::HubStorage,
        t.hub_storage_free_pct.map(|p| {
            if p >= 10.0 {
                0
            } else if p >= STORAGE_FULL_PCT {
                1
            } else {
                2
            }
        }),
    );
    if let Some(s) = &t.settings {
        let arming = match (s.armed, s.motion_detection) {
            (Some(false), _) => Some(1),
            (_, Some(false)) => Some(2),
            (Some(true), Some(true)) => Some(0),
            _ => None,
        };
        push(Feature::Arming, arming);
        push(Feature::MotionIndicator, s.motion_indicator.map(yes_no));
    }
    push(
        Feature::Events,
        t.recent_events.as_deref().map(telling_event),
    );
    if t.availability == Some(SeenAvailability::Offline) {
        push(Feature::OfflineFor, t.minutes_since_seen.map(offline_band));
    }
    // An online camera sends telemetry every 30 s: two minutes of silence on a live
    // session means the camera itself has stopped talking.
    if t.availability == Some(SeenAvailability::Online) {
        push(
            Feature::SilentOnline,
            t.minutes_since_seen.map(|m| yes_no(m >= 2.0)),
        );
    }
    // Whether the hub answered: said outright by a live client, or implied by telemetry
    // only a running hub computes. (Silence says nothing: an owner's case file may
    // leave the hub out.)
    let answered = t
        .hub_answered
        .or_else(|| t.availability.is_some().then_some(true));
    push(Feature::HubReporting, answered.map(yes_no));
    push(Feature::RouterAnswered, t.router_answered.map(yes_no));
    push(
        Feature::Clips,
        t.clips_last_day
            .map(|c| clips_band(c, t.clips_per_day_usual)),
    );
    push(Feature::ZonesOff, t.zones_off_pct.map(zones_off_band));
    push(
        Feature::HubNetwork,
        t.hub_network.map(|n| match n {
            HubNetwork::Ok => 0,
            HubNetwork::AddressChanged => 1,
            HubNetwork::UpstreamLost => 2,
            HubNetwork::NoNetwork => 3,
        }),
    );
    out
}

/// A finding in plain words, with the numbers behind it where there are some.
pub fn describe(finding: &Finding, case: &Case) -> String {
    let t = &case.telemetry;
    let v = finding.value_str();
    let yes = finding.value == 0;
    match finding.feature {
        Feature::Light => {
            let light = LightId::ALL[finding.value];
            format!(
                "the light is {} ({})",
                crate::words::light_choice(light),
                light.meaning().trim_end_matches('.').to_lowercase()
            )
        }
        Feature::When => format!(
            "it shows {}",
            crate::words::when_choice(crate::case::When::ALL[finding.value])
        ),
        Feature::SetupCompleted => {
            if yes {
                "the camera worked before".into()
            } else {
                "the camera was never set up".into()
            }
        }
        Feature::OtherDevicesOnline => {
            if yes {
                "your other devices are online".into()
            } else {
                "your other devices have no network either".into()
            }
        }
        Feature::WifiPasswordChanged => {
            if yes {
                "the Wi-Fi password changed recently".into()
            } else {
                "the Wi-Fi password did not change".into()
            }
        }
        Feature::Recording => {
            if yes {
                "clips do appear in the app".into()
            } else {
                "no clips appear when there is motion".into()
            }
        }
        Feature::BatteryAge => match case.observations.battery_age_months {
            Some(m) => format!("the batteries are {m} months old"),
            None => format!("the batteries are {v}"),
        },
        Feature::HubOnline => {
            if yes {
                "the app shows the hub running".into()
            } else {
                "the app cannot reach the hub".into()
            }
        }
        Feature::Availability => match (v, t.minutes_since_seen) {
            ("offline", Some(m)) => format!("the hub last heard from it {m} minutes ago"),
            ("never_seen", _) => "the hub has never heard from it".into(),
            _ => format!("the hub sees it {v}"),
        },
        Feature::Battery => {
            let mut parts = Vec::new();
            if let Some(l) = t.battery_loaded_mv.last() {
                parts.push(format!("{:.2} V under load", l / 1000.0));
            }
            if let Some(r) = t.battery_resting_mv.last() {
                parts.push(format!("{:.2} V at rest", r / 1000.0));
            }
            let cold = match t.temperature_c {
                Some(c) if c < 0.0 => format!(" at {c} °C"),
                _ => String::new(),
            };
            format!(
                "the battery read {}{cold} at the last reading ({v})",
                parts.join(" and ")
            )
        }
        Feature::Signal => {
            let last = t.rssi_dbm.last().copied().unwrap_or(0.0);
            format!("the Wi-Fi signal is {v} ({last} dBm)")
        }
        Feature::Reconnects => format!(
            "it reconnected {} times in the last hour",
            t.reconnects_last_hour.unwrap_or(0.0)
        ),
        Feature::FleetOffline => format!(
            "{:.0} % of the home's other devices went offline at the same time",
            t.fleet_offline_fraction.unwrap_or(0.0) * 100.0
        ),
        Feature::HubStorage => format!(
            "the hub has {} % storage free",
            t.hub_storage_free_pct.unwrap_or(0.0)
        ),
        Feature::Arming => match v {
            "disarmed" => "the system is disarmed".into(),
            "detection_off" => "motion detection is off for this camera".into(),
            _ => "the system is armed and motion detection is on".into(),
        },
        Feature::Events => match v {
            "nothing_notable" => "the camera reported nothing unusual".into(),
            "self_test_failed" => {
                "the camera's own self-test found a part that failed (image or motion sensor)"
                    .into()
            }
            "wifi_rejected" => "the camera reported that the Wi-Fi refused its password".into(),
            "battery_critical" => "the camera reported a critical battery and shut down".into(),
            "hub_rejected" => "the hub refused the camera's credential".into(),
            "join_timeout" => "the camera timed out joining the network".into(),
            "battery_low" => "the camera reported a low battery".into(),
            _ => "the camera was reset recently".into(),
        },
        Feature::HubReporting => {
            if yes {
                "the hub is running and reporting on the camera".into()
            } else {
                "the hub did not answer".into()
            }
        }
        Feature::RouterAnswered => {
            if yes {
                "your router answers (so the home network is up)".into()
            } else {
                "your router does not answer either".into()
            }
        }
        Feature::HubNetwork => match v {
            "ok" => "the hub's own network is fine".into(),
            "address_changed" => "the router gave the hub a new address".into(),
            "upstream_lost" => "the hub lost its connection to the router".into(),
            _ => "the hub has no network at all".into(),
        },
        Feature::Clips => match (t.clips_last_day, t.clips_per_day_usual) {
            (Some(c), Some(u)) => format!("{c} clips in the last day against {u:.0} usually"),
            (Some(c), None) => format!("{c} clips in the last day"),
            _ => format!("clips: {v}"),
        },
        Feature::SilentOnline => {
            if yes {
                format!(
                    "it is connected but has sent nothing for {}",
                    how_long(t.minutes_since_seen.unwrap_or(0.0))
                )
            } else {
                "it is connected and sending telemetry".into()
            }
        }
        Feature::ZonesOff => format!(
            "{:.0} % of the activity-zone grid is switched off",
            t.zones_off_pct.unwrap_or(0.0)
        ),
        Feature::OfflineFor => format!(
            "it has been offline for {}",
            how_long(t.minutes_since_seen.unwrap_or(0.0))
        ),
        Feature::MotionIndicator => {
            if yes {
                "the motion indicator setting is on".into()
            } else {
                "the motion indicator setting is off".into()
            }
        }
    }
}

/// A span in the words an owner uses ("under a minute", "12 minutes", "about 3 hours").
fn how_long(minutes: f64) -> String {
    match minutes {
        m if m < 1.0 => "under a minute".into(),
        m if m < 1.5 => "a minute".into(),
        m if m < 90.0 => format!("{} minutes", m.round()),
        m if m < 36.0 * 60.0 => format!("about {} hours", (m / 60.0).round()),
        m => format!("about {} days", (m / 1440.0).round()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::case::Telemetry;

    #[test]
    fn spans_are_said_as_an_owner_says_them() {
        let said: Vec<String> = [0.0, 0.4, 1.0, 12.3, 89.0, 95.0, 600.0, 4000.0]
            .into_iter()
            .map(how_long)
            .collect();
        assert_eq!(
            said,
            [
                "under a minute",
                "under a minute",
                "a minute",
                "12 minutes",
                "89 minutes",
                "about 2 hours",
                "about 10 hours",
                "about 3 days"
            ]
        );
    }

    fn value(case: &Case, feature: Feature) -> Option<&'static str> {
        findings(case)
            .into_iter()
            .find(|f| f.feature == feature)
            .map(|f| f.value_str())
    }

    #[test]
    fn numbers_fall_into_their_bands() {
        assert_eq!(signal_band(&[-60.0, -90.0, -61.0, -62.0, -59.0]), Some(0));
        assert_eq!(signal_band(&[-70.0]), Some(1));
        assert_eq!(signal_band(&[-72.0]), Some(1));
        assert_eq!(signal_band(&[-72.5]), Some(2));
        assert_eq!(signal_band(&[-75.0]), Some(2));
        assert_eq!(signal_band(&[-75.5]), Some(3));
        assert_eq!(signal_band(&[-80.0]), Some(4));
        assert_eq!(reconnects_band(0.0), 0);
        assert_eq!(reconnects_band(1.0), 1);
        assert_eq!(reconnects_band(3.0), 2);
        assert_eq!(reconnects_band(4.0), 3);
        assert_eq!(offline_band(3.0), 0);
        assert_eq!(offline_band(30.0), 1);
        assert_eq!(offline_band(200.0), 2);
        assert_eq!(offline_band(800.0), 3);
        // Clips against the camera's usual day; without it, one or two count as fewer.
        assert_eq!(clips_band(0.0, Some(20.0)), 0);
        assert_eq!(clips_band(5.0, Some(20.0)), 1);
        assert_eq!(clips_band(12.0, Some(20.0)), 2);
        assert_eq!(clips_band(2.0, None), 1);
        assert_eq!(zones_off_band(0.0), 0);
        assert_eq!(zones_off_band(20.0), 1);
        assert_eq!(zones_off_band(60.0), 2);
    }

    #[test]
    fn whether_the_hub_answered_is_said_or_implied() {
        let mut case = Case::default();
        assert_eq!(value(&case, Feature::HubReporting), None);
        case.telemetry.availability = Some(SeenAvailability::Offline);
        assert_eq!(value(&case, Feature::HubReporting), Some("yes"));
        case.telemetry = Telemetry {
            hub_answered: Some(false),
            ..Default::default()
        };
        assert_eq!(value(&case, Feature::HubReporting), Some("no"));
    }

    #[test]
    fn silence_counts_only_on_a_live_session_and_offline_time_only_offline() {
        let mut case = Case::default();
        case.telemetry.availability = Some(SeenAvailability::Online);
        case.telemetry.minutes_since_seen = Some(5.0);
        assert_eq!(value(&case, Feature::SilentOnline), Some("yes"));
        assert_eq!(value(&case, Feature::OfflineFor), None);
        case.telemetry.minutes_since_seen = Some(0.0);
        assert_eq!(value(&case, Feature::SilentOnline), Some("no"));
        case.telemetry.availability = Some(SeenAvailability::Offline);
        case.telemetry.minutes_since_seen = Some(90.0);
        assert_eq!(value(&case, Feature::SilentOnline), None);
        assert_eq!(value(&case, Feature::OfflineFor), Some("hours"));
    }
}
