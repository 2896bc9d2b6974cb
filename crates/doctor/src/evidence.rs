//! From a case to discrete evidence: each [`Feature`] takes one of a few named values.
//!
//! Numbers are put into bands at the thresholds the rest of the system uses (SPEC §6's
//! battery thresholds, the usual Wi-Fi signal bands), so the knowledge base can say how
//! likely each band is under each fault.

use crate::case::{Case, SeenAvailability};
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
}

const YES_NO: &[&str] = &["yes", "no"];

/// The most telling event of the last day, most telling first; `nothing_notable` when
/// the hub has the events and none of these is among them.
const EVENT_VALUES: &[&str] = &[
    "wifi_rejected",
    "battery_critical",
    "hub_rejected",
    "join_timeout",
    "battery_low",
    "reset",
    "nothing_notable",
];

fn telling_event(events: &[EventKind]) -> usize {
    let rank = |e: &EventKind| match e {
        EventKind::WifiRejected => 0,
        EventKind::BatteryCritical | EventKind::Shutdown => 1,
        EventKind::HubRejected => 2,
        EventKind::JoinTimeout => 3,
        EventKind::BatteryLow => 4,
        EventKind::Reset => 5,
        _ => 6,
    };
    events.iter().map(rank).min().unwrap_or(6)
}

impl Feature {
    pub const ALL: [Feature; 18] = [
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
            Feature::Signal => &["strong", "fair", "weak"],
            Feature::Reconnects => &["none", "few", "many"],
            Feature::FleetOffline => &["none", "some", "most"],
            Feature::HubStorage => &["ok", "low", "full"],
            Feature::Arming => &["armed_and_detecting", "disarmed", "detection_off"],
            Feature::Events => EVENT_VALUES,
            Feature::SetupCompleted
            | Feature::OtherDevicesOnline
            | Feature::WifiPasswordChanged
            | Feature::Recording
            | Feature::HubOnline
            | Feature::MotionIndicator
            | Feature::HubReporting => YES_NO,
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

/// Signal bands: above −67 dBm video streams comfortably; below −77 dBm links drop.
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
    } else if median >= -77.0 {
        1
    } else {
        2
    })
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
        t.reconnects_last_hour.map(|r| {
            if r < 1.0 {
                0
            } else if r <= 3.0 {
                1
            } else {
                2
            }
        }),
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
            } else if p >= 2.0 {
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
    // The hub's own health: a case whose telemetry the hub computed comes from a hub
    // that is running. (Its absence says nothing: an owner's case file may omit it.)
    if t.availability.is_some() {
        push(Feature::HubReporting, Some(0));
    }
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
                light.as_str(),
                light.meaning().trim_end_matches('.').to_lowercase()
            )
        }
        Feature::When => format!("it shows {}", v.replace('_', " ")),
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
            "wifi_rejected" => "the camera reported that the Wi-Fi refused its password".into(),
            "battery_critical" => "the camera reported a critical battery and shut down".into(),
            "hub_rejected" => "the hub refused the camera's credential".into(),
            "join_timeout" => "the camera timed out joining the network".into(),
            "battery_low" => "the camera reported a low battery".into(),
            _ => "the camera was reset recently".into(),
        },
        Feature::HubReporting => "the hub is running and reporting on the camera".into(),
        Feature::MotionIndicator => {
            if yes {
                "the motion indicator setting is on".into()
            } else {
                "the motion indicator setting is off".into()
            }
        }
    }
}
