//! MQTT topic names (SPEC §5). One place builds and parses them, so the broker's
//! permissions, the hub and the camera can never disagree on spelling.

use std::fmt;

pub const ROOT: &str = "watchlight/v1";
/// The name under `cmd/` of the hub's event acknowledgements (`messages::EventAckMsg`).
pub const EVENT_ACK: &str = "ack";
/// The device id under which the hub publishes its own state.
pub const HUB_DEVICE: &str = "hub";

/// Topics a device publishes to (its own only).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DeviceTopic {
    Availability,
    State,
    Telemetry,
    Event,
    CmdResult,
}

impl DeviceTopic {
    pub const ALL: [DeviceTopic; 5] = [
        DeviceTopic::Availability,
        DeviceTopic::State,
        DeviceTopic::Telemetry,
        DeviceTopic::Event,
        DeviceTopic::CmdResult,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            DeviceTopic::Availability => "availability",
            DeviceTopic::State => "state",
            DeviceTopic::Telemetry => "telemetry",
            DeviceTopic::Event => "event",
            DeviceTopic::CmdResult => "cmd_result",
        }
    }

    /// Whether messages on this topic are published retained.
    pub fn retained(self) -> bool {
        matches!(self, DeviceTopic::Availability | DeviceTopic::State)
    }
}

/// The topics of one device in one home.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct DeviceTopics {
    pub home: String,
    pub device: String,
}

impl DeviceTopics {
    pub fn new(home: impl Into<String>, device: impl Into<String>) -> Self {
        DeviceTopics {
            home: home.into(),
            device: device.into(),
        }
    }

    pub fn prefix(&self) -> String {
        format!("{ROOT}/{}/{}", self.home, self.device)
    }

    pub fn topic(&self, t: DeviceTopic) -> String {
        format!("{}/{}", self.prefix(), t.as_str())
    }

    pub fn settings(&self) -> String {
        format!("{}/settings", self.prefix())
    }

    pub fn cmd(&self, name: &str) -> String {
        format!("{}/cmd/{name}", self.prefix())
    }

    /// Where the hub acknowledges a stored event ([`crate::messages::EventAckMsg`]): under
    /// `cmd/`, which a camera subscribes to and only the hub may write.
    pub fn event_ack(&self) -> String {
        self.cmd(EVENT_ACK)
    }

    pub fn cmd_filter(&self) -> String {
        format!("{}/cmd/#", self.prefix())
    }

    /// Where the hub publishes its own computed availability for this camera (what Home
    /// Assistant reads), distinct from the camera's self-reported, retained one.
    pub fn hub_availability(&self) -> String {
        format!(
            "{ROOT}/{}/{HUB_DEVICE}/availability/{}",
            self.home, self.device
        )
    }
}

/// A topic a device message arrived on, parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParsedTopic<'a> {
    pub home: &'a str,
    pub device: &'a str,
    /// Everything after the device id, e.g. `state` or `cmd/reboot`.
    pub leaf: &'a str,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("topic '{0}' is not of the form watchlight/v1/<home>/<device>/<leaf>")]
pub struct BadTopic(pub String);

pub fn parse(topic: &str) -> Result<ParsedTopic<'_>, BadTopic> {
    let rest = topic
        .strip_prefix(ROOT)
        .and_then(|r| r.strip_prefix('/'))
        .ok_or_else(|| BadTopic(topic.to_string()))?;
    let mut parts = rest.splitn(3, '/');
    match (parts.next(), parts.next(), parts.next()) {
        (Some(home), Some(device), Some(leaf))
            if !home.is_empty() && !device.is_empty() && !leaf.is_empty() =>
        {
            Ok(ParsedTopic { home, device, leaf })
        }
        _ => Err(BadTopic(topic.to_string())),
    }
}

/// Whether `id` may name a home or a device: it becomes a topic level and an MQTT
/// user name, so no wildcards, separators or control characters.
pub fn is_valid_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 64
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        && id != HUB_DEVICE
}

impl fmt::Display for DeviceTopic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn build_and_parse_agree() {
        let t = DeviceTopics::new("home1", "cam-7");
        let s = t.topic(DeviceTopic::State);
        assert_eq!(s, "watchlight/v1/home1/cam-7/state");
        let p = parse(&s).unwrap();
        assert_eq!((p.home, p.device, p.leaf), ("home1", "cam-7", "state"));
        assert_eq!(parse(&t.cmd("reboot")).unwrap().leaf, "cmd/reboot");
        assert!(parse("watchlight/v1/home1").is_err());
        assert!(parse("other/v1/a/b/c").is_err());
    }

    #[test]
    fn ids_cannot_smuggle_wildcards() {
        assert!(is_valid_id("cam-1_A"));
        for bad in ["", "a/b", "+", "#", "hub", "a b", &"x".repeat(65)] {
            assert!(!is_valid_id(bad), "{bad:?}");
        }
    }
}
