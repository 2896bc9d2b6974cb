//! The light the owner should expect on the camera now, for the app's cards. A
//! connected camera reports its own light; a camera the hub cannot hear cannot, so the
//! hub says what the light table makes it show: the connection-lost red blink once it
//! had worked (the flash every 5 s after 10 minutes), or the setup lights while it is
//! being paired.

use serde_json::{Value, json};
use watchlight_protocol::light_table::row;
use watchlight_protocol::messages::{Availability, LightReport};
use watchlight_protocol::{ConditionId, Light, LightId, Pattern};

/// What the hub knows about the camera.
pub struct Seen<'a> {
    pub reported: Option<&'a LightReport>,
    pub availability: Option<Availability>,
    /// Since when the availability holds.
    pub since_ms: Option<u64>,
    pub now_ms: u64,
    pub paired: bool,
    /// The pairing step the hub last saw (`joining`, `wifi_rejected`, ...).
    pub pairing: Option<&'a str>,
}

/// What the camera is doing, in words: the condition's own words while it shows its
/// row's light, else (a later light, such as offline for ten minutes) the light's meaning.
fn doing(condition: ConditionId, id: LightId) -> &'static str {
    if row(condition).light_id == id {
        condition.doing()
    } else {
        id.meaning()
    }
}

/// `{color, pattern, count, dim, condition, light_id, meaning, doing, inferred, since_ms}`.
pub fn json(seen: &Seen) -> Value {
    let inferred = |condition: ConditionId, light: Light| {
        let id = LightId::of(condition, light);
        let count = match light.pattern {
            Pattern::Flash { count } => Some(count),
            _ => None,
        };
        json!({
            "color": light.color.as_str(),
            "pattern": light.pattern.as_str(),
            "count": count,
            "dim": light.dim,
            "condition": condition.as_str(),
            "light_id": id.as_str(),
            "meaning": id.meaning(),
            "doing": doing(condition, id),
            "inferred": true,
            "since_ms": seen.since_ms,
        })
    };
    let table = |condition: ConditionId| inferred(condition, row(condition).light);
    if seen.paired && seen.availability == Some(Availability::Offline) {
        let lost = row(ConditionId::ConnectionLost);
        let offline_ms = seen
            .now_ms
            .saturating_sub(seen.since_ms.unwrap_or(seen.now_ms));
        if let Some(later) = lost.later
            && later.after_ms.is_some_and(|after| offline_ms >= after)
        {
            return inferred(ConditionId::ConnectionLost, later.light);
        }
        return table(ConditionId::ConnectionLost);
    }
    if !seen.paired {
        return match seen.pairing {
            Some("provisioning" | "joining") => table(ConditionId::Joining),
            Some("wifi_rejected") => table(ConditionId::WifiRejected),
            _ => table(ConditionId::Setup),
        };
    }
    match seen.reported {
        Some(r) => {
            let meaning = LightId::parse(&r.light_id).map(LightId::meaning);
            json!({
                "color": r.color,
                "pattern": r.pattern,
                "count": r.count,
                "dim": r.dim,
                "condition": r.condition,
                "light_id": r.light_id,
                "meaning": meaning,
                "doing": ConditionId::parse(&r.condition)
                    .zip(LightId::parse(&r.light_id))
                    .map(|(c, id)| doing(c, id)),
                "inferred": false,
                "since_ms": seen.since_ms,
                "until": r.until,
                "then": r.then,
            })
        }
        // Heard from but no state yet: it has just connected.
        None if seen.availability == Some(Availability::Online) => table(ConditionId::Connected),
        None => inferred(ConditionId::Idle, Light::OFF),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seen(availability: Availability, paired: bool, pairing: Option<&str>) -> Value {
        json(&Seen {
            reported: None,
            availability: Some(availability),
            since_ms: Some(5),
            now_ms: 1_000,
            paired,
            pairing,
        })
    }

    #[test]
    fn a_camera_the_hub_lost_blinks_red() {
        let v = seen(Availability::Offline, true, None);
        assert_eq!(v["light_id"], "red_blink");
        assert_eq!(v["pattern"], "blink");
        assert_eq!(v["inferred"], true);
        assert_eq!(v["since_ms"], 5);
    }

    #[test]
    fn after_ten_minutes_offline_it_flashes_every_five_seconds() {
        let v = json(&Seen {
            reported: None,
            availability: Some(Availability::Offline),
            since_ms: Some(0),
            now_ms: 10 * 60_000,
            paired: true,
            pairing: None,
        });
        assert_eq!(v["light_id"], "red_flash_every_5s");
        assert_eq!(v["count"], 1);
        // The later light's own meaning: the ten minutes are the news.
        assert_eq!(v["doing"], LightId::RedFlashEvery5s.meaning());
    }

    #[test]
    fn pairing_steps_show_the_setup_lights() {
        let id = |p| seen(Availability::Offline, false, p)["light_id"].clone();
        assert_eq!(id(None), "red_slow_blink");
        assert_eq!(id(Some("joining")), "green_blink");
        assert_eq!(id(Some("wifi_rejected")), "red_solid");
    }

    #[test]
    fn a_connected_camera_shows_what_it_reported() {
        let report = LightReport {
            color: "red".into(),
            pattern: "flash".into(),
            count: Some(3),
            dim: false,
            condition: "battery_low".into(),
            light_id: "red_flash_after_recording".into(),
            until: None,
            then: None,
        };
        let v = json(&Seen {
            reported: Some(&report),
            availability: Some(Availability::Online),
            since_ms: None,
            now_ms: 0,
            paired: true,
            pairing: None,
        });
        assert_eq!(v["count"], 3);
        assert_eq!(v["meaning"], LightId::RedFlashAfterRecording.meaning());
        assert_eq!(v["inferred"], false);
    }

    /// Blue means recording, live view, a button press or a new connection; the card
    /// says which, since the camera reported its condition.
    #[test]
    fn a_shared_light_is_told_apart_by_the_condition_behind_it() {
        let blue = |condition: &str| LightReport {
            color: "blue".into(),
            pattern: "solid".into(),
            count: None,
            dim: false,
            condition: condition.into(),
            light_id: "blue_solid".into(),
            until: None,
            then: None,
        };
        let doing = |report: &LightReport| {
            json(&Seen {
                reported: Some(report),
                availability: Some(Availability::Online),
                since_ms: None,
                now_ms: 0,
                paired: true,
                pairing: None,
            })["doing"]
                .clone()
        };
        assert_eq!(doing(&blue("connected")), "Just connected: all is well.");
        assert_eq!(doing(&blue("recording")), ConditionId::Recording.doing());
        assert_ne!(doing(&blue("recording")), doing(&blue("status_check")));
    }
}
