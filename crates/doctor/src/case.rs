//! The case file (SPEC §8): what the owner and the hub know about one camera.
//!
//! Every field is optional. Unknown fields and values are errors that name them, so a
//! typo never silently turns into "no evidence".

use serde::{Deserialize, Serialize};
use watchlight_protocol::{EventKind, LightId, ProfileId};

/// When the owner sees the light.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum When {
    Continuous,
    Intermittent,
    AfterRecording,
    OnMotion,
    DuringSetup,
    AfterReset,
}

impl When {
    pub const ALL: [When; 6] = [
        When::Continuous,
        When::Intermittent,
        When::AfterRecording,
        When::OnMotion,
        When::DuringSetup,
        When::AfterReset,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            When::Continuous => "continuous",
            When::Intermittent => "intermittent",
            When::AfterRecording => "after_recording",
            When::OnMotion => "on_motion",
            When::DuringSetup => "during_setup",
            When::AfterReset => "after_reset",
        }
    }
}

/// What the hub says about the camera's presence (`never_seen`: it never connected).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SeenAvailability {
    Online,
    Offline,
    Sleeping,
    NeverSeen,
}

/// The hub's own network as the hub sees it (SPEC §3's hub light: blue and green solid
/// `ok`; green blinking `upstream_lost`; red solid `no_network`), plus `address_changed`
/// when the router gave the hub a new address in the last day. The most telling state of
/// the last day is reported, in that order: no_network, upstream_lost, address_changed, ok.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HubNetwork {
    Ok,
    AddressChanged,
    UpstreamLost,
    NoNetwork,
}

/// What the owner can tell by looking (or by answering a question).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Observations {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub light: Option<LightId>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub when: Option<When>,
    /// The camera was set up and worked before.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub setup_completed: Option<bool>,
    /// The owner's other devices (phone, other cameras) have network.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub other_devices_online: Option<bool>,
    /// The Wi-Fi name or password changed recently.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wifi_password_changed: Option<bool>,
    /// Clips appear in the app when there is motion.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recording: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub battery_age_months: Option<f64>,
    /// The app reaches the hub and shows it running (its light blue and green).
    /// An addition to SPEC §8's vocabulary: it separates a hub that is down from a
    /// router that is down.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hub_online: Option<bool>,
}

/// The camera's settings as the hub holds them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CaseSettings {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub armed: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub motion_detection: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub motion_indicator: Option<bool>,
}

/// What the hub knows from availability, telemetry, settings and the rest of the fleet.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Telemetry {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub availability: Option<SeenAvailability>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub minutes_since_seen: Option<f64>,
    /// Oldest first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub battery_resting_mv: Vec<f64>,
    /// Oldest first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub battery_loaded_mv: Vec<f64>,
    /// Oldest first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rssi_dbm: Vec<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reconnects_last_hour: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub temperature_c: Option<f64>,
    /// 0–1: share of the home's other devices offline at the same time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fleet_offline_fraction: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hub_storage_free_pct: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub settings: Option<CaseSettings>,
    /// The camera's events of the last day as the hub recorded them (SPEC §5 `event`,
    /// and the provisioning status's `last_error`). An addition to SPEC §8's vocabulary:
    /// `wifi_rejected`, `battery_critical` and `hub_rejected` name their fault outright.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "known_events"
    )]
    pub recent_events: Option<Vec<EventKind>>,
    /// The hub's own health: its network as it sees it. An addition to SPEC §8's
    /// vocabulary ("the hub's own health"): it separates a router that is down (the hub
    /// lost its gateway too) from a camera or a password problem (the hub is fine).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hub_network: Option<HubNetwork>,
    /// Whether the hub answered when the doctor asked it for this camera's case: the
    /// hub's case builder writes `true`; a live client that cannot reach the hub writes
    /// `false` (and then knows nothing else of the telemetry); a hand-written case
    /// leaves it out. An addition to SPEC §8's vocabulary.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hub_answered: Option<bool>,
    /// Whether the home's router answered the doctor's own machine when the hub did
    /// not (see `netprobe`): a router that answers while the hub does not points at the
    /// hub; one that does not, at the home's network. Written by a live client that
    /// could not reach the hub. An addition to SPEC §8's vocabulary.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub router_answered: Option<bool>,
    /// Clips the hub stored for this camera in the last 24 hours. An addition to SPEC
    /// §8's vocabulary: clips against motion tell "not recording" causes apart.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub clips_last_day: Option<f64>,
    /// The camera's usual clips a day (the hub's 30-day mean), to judge the last day by.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub clips_per_day_usual: Option<f64>,
    /// Share (0–100) of the camera's activity-zone grid the owner switched off (SPEC §7),
    /// from the settings the hub holds. An addition to SPEC §8's vocabulary.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub zones_off_pct: Option<f64>,
}

/// Event names as the protocol spells them; one we do not know is an error naming it
/// (the protocol's catch-all `unknown` is for the wire, not for case files).
fn known_events<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> Result<Option<Vec<EventKind>>, D::Error> {
    let names: Vec<String> = Vec::deserialize(d)?;
    names
        .iter()
        .map(|name| {
            match serde_json::from_value::<EventKind>(serde_json::Value::String(name.clone())) {
                Ok(EventKind::Unknown) | Err(_) => {
                    Err(serde::de::Error::custom(format!("unknown event '{name}'")))
                }
                Ok(kind) => Ok(kind),
            }
        })
        .collect::<Result<Vec<_>, _>>()
        .map(Some)
}

/// One camera's trouble, as a case file or as the hub builds it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Case {
    #[serde(default = "version_one")]
    pub v: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub profile: Option<ProfileId>,
    #[serde(default)]
    pub observations: Observations,
    #[serde(default)]
    pub telemetry: Telemetry,
}

fn version_one() -> u32 {
    1
}

impl Default for Case {
    fn default() -> Self {
        Case {
            v: 1,
            profile: None,
            observations: Observations::default(),
            telemetry: Telemetry::default(),
        }
    }
}

/// A case that cannot be used, naming the field and what is wrong with it.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum CaseError {
    #[error("case file is not valid: {location}: {message}")]
    Parse { location: String, message: String },
    #[error("case file field '{field}': {message}")]
    Invalid { field: String, message: String },
}

impl CaseError {
    fn invalid(field: &str, message: impl Into<String>) -> CaseError {
        CaseError::Invalid {
            field: field.to_string(),
            message: message.into(),
        }
    }
}

impl Case {
    /// Parse and check a case file's text.
    pub fn from_json(text: &str) -> Result<Case, CaseError> {
        let mut de = serde_json::Deserializer::from_str(text);
        let case: Case = serde_path_to_error::deserialize(&mut de).map_err(|err| {
            let path = err.path().to_string();
            let inner = err.into_inner();
            let location = if path == "." || path.is_empty() {
                format!("line {} column {}", inner.line(), inner.column())
            } else {
                format!("field '{path}'")
            };
            // Broken JSON is found by position; a bad value by its field.
            let message = if inner.is_syntax() || inner.is_eof() {
                inner.to_string()
            } else {
                strip_position(&inner.to_string())
            };
            CaseError::Parse { location, message }
        })?;
        case.validate()?;
        Ok(case)
    }

    /// Check values serde cannot: the version and the ranges of numbers.
    pub fn validate(&self) -> Result<(), CaseError> {
        if self.v != 1 {
            return Err(CaseError::invalid(
                "v",
                format!("version {} is not supported (only 1)", self.v),
            ));
        }
        let o = &self.observations;
        check_range(
            "observations.battery_age_months",
            o.battery_age_months,
            0.0,
            240.0,
        )?;
        let t = &self.telemetry;
        check_range(
            "telemetry.minutes_since_seen",
            t.minutes_since_seen,
            0.0,
            1e9,
        )?;
        check_range(
            "telemetry.reconnects_last_hour",
            t.reconnects_last_hour,
            0.0,
            1e6,
        )?;
        check_range("telemetry.temperature_c", t.temperature_c, -60.0, 90.0)?;
        check_range(
            "telemetry.fleet_offline_fraction",
            t.fleet_offline_fraction,
            0.0,
            1.0,
        )?;
        check_range(
            "telemetry.hub_storage_free_pct",
            t.hub_storage_free_pct,
            0.0,
            100.0,
        )?;
        check_range("telemetry.clips_last_day", t.clips_last_day, 0.0, 1e6)?;
        check_range(
            "telemetry.clips_per_day_usual",
            t.clips_per_day_usual,
            0.0,
            1e6,
        )?;
        check_range("telemetry.zones_off_pct", t.zones_off_pct, 0.0, 100.0)?;
        check_all(
            "telemetry.battery_resting_mv",
            &t.battery_resting_mv,
            0.0,
            10_000.0,
        )?;
        check_all(
            "telemetry.battery_loaded_mv",
            &t.battery_loaded_mv,
            0.0,
            10_000.0,
        )?;
        check_all("telemetry.rssi_dbm", &t.rssi_dbm, -130.0, 0.0)?;
        Ok(())
    }
}

fn check_range(field: &str, value: Option<f64>, lo: f64, hi: f64) -> Result<(), CaseError> {
    match value {
        Some(x) if !(lo..=hi).contains(&x) => Err(CaseError::invalid(
            field,
            format!("value {x} is out of range {lo}..={hi}"),
        )),
        _ => Ok(()),
    }
}

fn check_all(field: &str, values: &[f64], lo: f64, hi: f64) -> Result<(), CaseError> {
    for (i, x) in values.iter().enumerate() {
        check_range(&format!("{field}[{i}]"), Some(*x), lo, hi)?;
    }
    Ok(())
}

/// serde_json appends " at line L column C"; the path already says where.
fn strip_position(message: &str) -> String {
    match message.rfind(" at line ") {
        Some(i) => message[..i].to_string(),
        None => message.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_spec_example_parses() {
        let case = Case::from_json(
            r#"{"v":1,"profile":"outdoor",
                "observations":{"light":"red_blink","when":"continuous",
                  "other_devices_online":false,"wifi_password_changed":false},
                "telemetry":{"battery_loaded_mv":[2980,2950,2940],"rssi_dbm":[-61,-63,-60],
                  "availability":"offline","minutes_since_seen":12}}"#,
        )
        .unwrap();
        assert_eq!(case.profile, Some(ProfileId::Outdoor));
        assert_eq!(case.observations.light, Some(LightId::RedBlink));
        assert_eq!(case.telemetry.rssi_dbm, vec![-61.0, -63.0, -60.0]);
    }

    #[test]
    fn an_empty_case_is_valid() {
        assert_eq!(Case::from_json("{}").unwrap(), Case::default());
    }

    #[test]
    fn unknown_field_is_named() {
        let err = Case::from_json(r#"{"observations":{"lihgt":"red_blink"}}"#).unwrap_err();
        let text = err.to_string();
        assert!(text.contains("lihgt"), "{text}");
        assert!(text.contains("observations"), "{text}");
    }

    #[test]
    fn unknown_value_is_named_with_its_field() {
        let err = Case::from_json(r#"{"observations":{"light":"purple_glow"}}"#).unwrap_err();
        let text = err.to_string();
        assert!(text.contains("observations.light"), "{text}");
        assert!(text.contains("purple_glow"), "{text}");
        let err =
            Case::from_json(r#"{"telemetry":{"recent_events":["boot","gremlin"]}}"#).unwrap_err();
        assert!(err.to_string().contains("telemetry.recent_events"), "{err}");
        assert!(err.to_string().contains("gremlin"), "{err}");
        let case = Case::from_json(r#"{"telemetry":{"recent_events":["wifi_rejected"]}}"#).unwrap();
        assert_eq!(
            case.telemetry.recent_events,
            Some(vec![EventKind::WifiRejected])
        );
        let err = Case::from_json(r#"{"profile":"xt3"}"#).unwrap_err();
        assert!(err.to_string().contains("xt3"), "{err}");
    }

    #[test]
    fn out_of_range_numbers_are_named() {
        let err = Case::from_json(r#"{"telemetry":{"fleet_offline_fraction":1.5}}"#).unwrap_err();
        assert!(
            err.to_string().contains("telemetry.fleet_offline_fraction"),
            "{err}"
        );
        let err = Case::from_json(r#"{"telemetry":{"rssi_dbm":[-60, 12]}}"#).unwrap_err();
        assert!(err.to_string().contains("telemetry.rssi_dbm[1]"), "{err}");
        let err = Case::from_json(r#"{"v":2}"#).unwrap_err();
        assert!(err.to_string().contains("'v'"), "{err}");
    }

    #[test]
    fn the_hub_health_and_clip_fields_parse_and_are_checked() {
        let case = Case::from_json(
            r#"{"telemetry":{"hub_network":"upstream_lost","hub_answered":true,
                "clips_last_day":3,"clips_per_day_usual":20.5,"zones_off_pct":40}}"#,
        )
        .unwrap();
        assert_eq!(case.telemetry.hub_network, Some(HubNetwork::UpstreamLost));
        assert_eq!(case.telemetry.hub_answered, Some(true));
        assert_eq!(case.telemetry.clips_last_day, Some(3.0));
        let err = Case::from_json(r#"{"telemetry":{"hub_network":"wobbly"}}"#).unwrap_err();
        assert!(err.to_string().contains("telemetry.hub_network"), "{err}");
        assert!(err.to_string().contains("wobbly"), "{err}");
        let err = Case::from_json(r#"{"telemetry":{"zones_off_pct":150}}"#).unwrap_err();
        assert!(err.to_string().contains("telemetry.zones_off_pct"), "{err}");
        let err = Case::from_json(r#"{"telemetry":{"clips_last_day":-1}}"#).unwrap_err();
        assert!(
            err.to_string().contains("telemetry.clips_last_day"),
            "{err}"
        );
    }

    #[test]
    fn wrong_types_and_broken_json_are_clear() {
        let err = Case::from_json(r#"{"observations":{"recording":"yes"}}"#).unwrap_err();
        assert!(err.to_string().contains("observations.recording"), "{err}");
        let err = Case::from_json(r#"{"observations":"#).unwrap_err();
        assert!(err.to_string().contains("line 1"), "{err}");
    }

    #[test]
    fn a_case_round_trips_through_json() {
        let mut case = Case::default();
        case.observations.light = Some(LightId::RedFlashEvery5s);
        case.telemetry.settings = Some(CaseSettings {
            armed: Some(true),
            ..Default::default()
        });
        let text = serde_json::to_string(&case).unwrap();
        assert_eq!(Case::from_json(&text).unwrap(), case);
    }
}
