//! Who may publish and subscribe to what (SPEC §5), as pure functions of the home, the
//! authenticated identity and the topic, so every rule is a small exact test and the broker
//! glue in [`crate::auth`] holds no policy of its own.

use watchlight_protocol::topics::{self, DeviceTopic, DeviceTopics, HUB_DEVICE, ROOT};

/// The MQTT user name of the hub itself.
pub const HUB_USER: &str = HUB_DEVICE;

/// Where Home Assistant reads its discovery documents; the hub alone writes there.
pub const HOME_ASSISTANT_ROOT: &str = "homeassistant";

/// An authenticated MQTT user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Identity<'a> {
    /// The hub: everything under `watchlight/v1/#` and `homeassistant/#`.
    Hub,
    /// A camera: its own topics only.
    Device(&'a str),
}

impl<'a> Identity<'a> {
    /// The identity behind an authenticated user name (`hub` or a device id).
    pub fn from_user(user: &'a str) -> Self {
        if user == HUB_USER {
            Identity::Hub
        } else {
            Identity::Device(user)
        }
    }
}

/// Whether `identity` may publish to `topic` in `home`.
///
/// A device may publish only to its own `availability`, `state`, `telemetry`, `event` and
/// `cmd_result`, nothing below them; `settings` and `cmd` are the hub's to write.
pub fn may_publish(home: &str, identity: &Identity<'_>, topic: &str) -> bool {
    if has_wildcard(topic) {
        return false;
    }
    match identity {
        Identity::Hub => under_hub_roots(topic),
        Identity::Device(device) => match topics::parse(topic) {
            Ok(parsed) => {
                parsed.home == home
                    && parsed.device == *device
                    && DeviceTopic::ALL.iter().any(|t| t.as_str() == parsed.leaf)
            }
            Err(_) => false,
        },
    }
}

/// Whether `identity` may subscribe to `filter` in `home`.
///
/// A device may subscribe only to its own `settings` and to its own `cmd/#` or any filter
/// inside it (`cmd/reboot`, `cmd/+`); `#`, `watchlight/v1/+/+/state`, another device's
/// subtree and shared subscriptions (`$share/...`) are refused.
pub fn may_subscribe(home: &str, identity: &Identity<'_>, filter: &str) -> bool {
    if !is_well_formed_filter(filter) {
        return false;
    }
    match identity {
        Identity::Hub => under_hub_roots(filter),
        Identity::Device(device) => {
            let own = DeviceTopics::new(home, *device);
            if filter == own.settings() {
                return true;
            }
            let cmd_filter = own.cmd_filter();
            // `cmd_filter` is `<prefix>/cmd/#`; any filter that starts with the literal
            // `<prefix>/cmd/` is a subset of it, wherever its wildcards are.
            let cmd_prefix = cmd_filter.strip_suffix('#').unwrap_or(&cmd_filter);
            filter == cmd_filter
                || filter
                    .strip_prefix(cmd_prefix)
                    .is_some_and(|rest| !rest.is_empty())
        }
    }
}

/// Whether `identity` may leave a last will on `topic`: a device only on its own
/// `availability` (so a dying camera cannot speak for another), the hub where it may publish.
pub fn may_leave_will(home: &str, identity: &Identity<'_>, topic: &str) -> bool {
    match identity {
        Identity::Hub => may_publish(home, identity, topic),
        Identity::Device(device) => {
            topic == DeviceTopics::new(home, *device).topic(DeviceTopic::Availability)
        }
    }
}

/// Topics and filters the hub owns. A literal first level, so `#` and `+/...` never pass.
fn under_hub_roots(topic_or_filter: &str) -> bool {
    [ROOT, HOME_ASSISTANT_ROOT].iter().any(|root| {
        topic_or_filter
            .strip_prefix(root)
            .is_some_and(|rest| rest.starts_with('/'))
    })
}

fn has_wildcard(topic: &str) -> bool {
    topic.contains(['#', '+']) || topic.contains('\0')
}

/// MQTT's rules for filters: `#` only as a whole last level, `+` only as a whole level.
fn is_well_formed_filter(filter: &str) -> bool {
    if filter.is_empty() || filter.contains('\0') {
        return false;
    }
    let levels: Vec<&str> = filter.split('/').collect();
    levels.iter().enumerate().all(|(i, level)| {
        if level.contains('#') {
            *level == "#" && i == levels.len() - 1
        } else if level.contains('+') {
            *level == "+"
        } else {
            true
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOME: &str = "home1";
    const A: Identity<'static> = Identity::Device("cam-a");

    fn a_topics() -> DeviceTopics {
        DeviceTopics::new(HOME, "cam-a")
    }

    fn b_topics() -> DeviceTopics {
        DeviceTopics::new(HOME, "cam-b")
    }

    #[test]
    fn device_publishes_only_its_own_reports() {
        for t in DeviceTopic::ALL {
            assert!(may_publish(HOME, &A, &a_topics().topic(t)), "{t}");
            assert!(!may_publish(HOME, &A, &b_topics().topic(t)), "{t}");
            assert!(
                !may_publish(HOME, &A, &DeviceTopics::new("home2", "cam-a").topic(t)),
                "another home: {t}"
            );
        }
    }

    #[test]
    fn device_cannot_write_what_only_the_hub_writes() {
        let own = a_topics();
        for topic in [
            own.settings(),
            own.cmd("reboot"),
            own.hub_availability(),
            format!("{}/state/extra", own.prefix()),
            format!("{}/unknown", own.prefix()),
            "homeassistant/binary_sensor/cam-a/config".to_string(),
            "other/topic".to_string(),
        ] {
            assert!(!may_publish(HOME, &A, &topic), "{topic}");
        }
    }

    #[test]
    fn device_subscribes_only_to_its_settings_and_commands() {
        let own = a_topics();
        for ok in [
            own.settings(),
            own.cmd_filter(),
            own.cmd("reboot"),
            format!("{}/cmd/+", own.prefix()),
        ] {
            assert!(may_subscribe(HOME, &A, &ok), "{ok}");
        }
        for refused in [
            "#".to_string(),
            "+/#".to_string(),
            "watchlight/v1/#".to_string(),
            "watchlight/v1/+/+/state".to_string(),
            format!("{ROOT}/{HOME}/+/settings"),
            format!("{}/#", own.prefix()),
            format!("{}/cmd", own.prefix()),
            own.topic(DeviceTopic::State),
            b_topics().settings(),
            b_topics().cmd_filter(),
            format!("{}/#", b_topics().prefix()),
            format!("$share/g/{}", own.settings()),
            format!("{}/cmd/#/x", own.prefix()),
            format!("{}/cmd/a+", own.prefix()),
        ] {
            assert!(!may_subscribe(HOME, &A, &refused), "{refused}");
        }
    }

    #[test]
    fn device_will_only_on_its_own_availability() {
        assert!(may_leave_will(
            HOME,
            &A,
            &a_topics().topic(DeviceTopic::Availability)
        ));
        assert!(!may_leave_will(
            HOME,
            &A,
            &b_topics().topic(DeviceTopic::Availability)
        ));
        assert!(!may_leave_will(
            HOME,
            &A,
            &a_topics().topic(DeviceTopic::State)
        ));
    }

    #[test]
    fn hub_may_do_everything_under_its_roots_but_not_elsewhere() {
        let hub = Identity::from_user("hub");
        assert_eq!(hub, Identity::Hub);
        assert!(may_publish(HOME, &hub, &a_topics().settings()));
        assert!(may_publish(HOME, &hub, &a_topics().cmd("time")));
        assert!(may_publish(HOME, &hub, "homeassistant/sensor/x/config"));
        assert!(may_subscribe(HOME, &hub, "watchlight/v1/#"));
        assert!(may_subscribe(HOME, &hub, "watchlight/v1/+/+/state"));
        assert!(may_subscribe(HOME, &hub, "homeassistant/#"));
        for refused in [
            "#",
            "+/v1/#",
            "$SYS/#",
            "watchlight/v2/x",
            "watchlightx/v1/a",
        ] {
            assert!(!may_subscribe(HOME, &hub, refused), "{refused}");
        }
        assert!(!may_publish(HOME, &hub, "other/topic"));
        assert!(!may_publish(HOME, &hub, "watchlight/v1/+/x"));
    }
}
