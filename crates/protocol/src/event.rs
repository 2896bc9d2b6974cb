//! Event kinds a camera reports (SPEC §5 `event` topic).

use serde::{Deserialize, Serialize};
use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EventKind {
    Boot,
    Connected,
    LinkLost,
    MotionStart,
    MotionEnd,
    RecordingStart,
    RecordingEnd,
    ClipRecorded,
    ClipDropped,
    Button,
    Reset,
    BatteryLow,
    BatteryOk,
    BatteryCritical,
    WifiRejected,
    JoinTimeout,
    Provisioned,
    SettingsApplied,
    Shutdown,
    HubRejected,
    /// A part failed its self-test (at boot) or stopped working (while running); the
    /// event's `data.part` names it ([`Part`]). A camera that went quiet looks the same
    /// whether its firmware hung or its sensor died; this event tells them apart.
    SelfTestFailed,
    /// An event kind from a newer firmware: kept, not understood.
    #[serde(other)]
    Unknown,
}

impl EventKind {
    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::Boot => "boot",
            EventKind::Connected => "connected",
            EventKind::LinkLost => "link_lost",
            EventKind::MotionStart => "motion_start",
            EventKind::MotionEnd => "motion_end",
            EventKind::RecordingStart => "recording_start",
            EventKind::RecordingEnd => "recording_end",
            EventKind::ClipRecorded => "clip_recorded",
            EventKind::ClipDropped => "clip_dropped",
            EventKind::Button => "button",
            EventKind::Reset => "reset",
            EventKind::BatteryLow => "battery_low",
            EventKind::BatteryOk => "battery_ok",
            EventKind::BatteryCritical => "battery_critical",
            EventKind::WifiRejected => "wifi_rejected",
            EventKind::JoinTimeout => "join_timeout",
            EventKind::Provisioned => "provisioned",
            EventKind::SettingsApplied => "settings_applied",
            EventKind::Shutdown => "shutdown",
            EventKind::HubRejected => "hub_rejected",
            EventKind::SelfTestFailed => "self_test_failed",
            EventKind::Unknown => "unknown",
        }
    }
}

/// A part of the camera that tests itself, as named in a `self_test_failed` event's
/// `data.part`. Older hubs keep the event's data as it came, so a part added later is
/// stored by them unchanged.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Part {
    /// The image sensor: no frame arrives.
    ImageSensor,
    /// The passive-infrared motion sensor: it does not answer.
    MotionSensor,
}

impl Part {
    pub const ALL: [Part; 2] = [Part::ImageSensor, Part::MotionSensor];

    pub fn as_str(self) -> &'static str {
        match self {
            Part::ImageSensor => "image_sensor",
            Part::MotionSensor => "motion_sensor",
        }
    }

    /// The part a wire name means, if this build knows it.
    pub fn parse(name: &str) -> Option<Part> {
        Part::ALL.into_iter().find(|p| p.as_str() == name)
    }
}

impl fmt::Display for Part {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Display for EventKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn self_test_failed_round_trips_under_its_wire_name() {
        let json = serde_json::to_string(&EventKind::SelfTestFailed).unwrap();
        assert_eq!(json, "\"self_test_failed\"");
        assert_eq!(EventKind::SelfTestFailed.as_str(), "self_test_failed");
        let back: EventKind = serde_json::from_str(&json).unwrap();
        assert_eq!(back, EventKind::SelfTestFailed);
    }

    #[test]
    fn parts_have_the_wire_names_of_their_serde_form() {
        for part in Part::ALL {
            let json = serde_json::to_value(part).unwrap();
            assert_eq!(json, serde_json::Value::String(part.as_str().into()));
            assert_eq!(Part::parse(part.as_str()), Some(part));
        }
        assert_eq!(Part::parse("flux_capacitor"), None);
    }

    #[test]
    fn the_part_travels_in_the_event_data_and_extra_fields_are_kept() {
        let raw = br#"{"v":1,"ts":5,"seq":9,"event":"self_test_failed",
                       "data":{"part":"image_sensor","phase":"boot","future":1}}"#;
        let msg: crate::messages::EventMsg = crate::messages::decode(raw).unwrap();
        assert_eq!(msg.event, EventKind::SelfTestFailed);
        assert_eq!(msg.data["part"], "image_sensor");
        assert_eq!(msg.data["future"], 1);
    }
}
