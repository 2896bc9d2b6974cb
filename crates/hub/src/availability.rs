//! Availability as the hub computes it (SPEC §4.2), sans-IO.
//!
//! The hub, not the camera, is the source of truth: a camera's own retained
//! `availability` may be a stale `sleeping`. Mains cameras hold a session with a last
//! will, so the broker tells us when one dies and we react at once. Battery cameras
//! sleep between check-ins; one is counted offline when two check-ins in a row are
//! missed plus a 10 s grace, i.e. at `last_checkin + 2 × interval + 10 s` exactly.
//!
//! Inputs are the messages the hub sees and the time; outputs are the transitions to
//! publish and record. The caller asks [`AvailabilityTracker::next_deadline`] when to
//! call [`AvailabilityTracker::tick`] next.

use std::collections::HashMap;
use watchlight_protocol::messages::Availability;

/// Grace after two missed battery check-ins (SPEC §4.2).
pub const BATTERY_GRACE_MS: u64 = 10_000;

/// How a camera stays in touch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Liveness {
    /// A held session with a last will.
    Mains,
    /// Periodic check-ins every `checkin_interval_ms`.
    Battery { checkin_interval_ms: u64 },
}

/// A change of a camera's computed availability.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transition {
    pub device: String,
    /// `None` when the hub had no opinion yet (just started or just paired).
    pub from: Option<Availability>,
    pub to: Availability,
    pub at_ms: u64,
    /// Whether the camera (or the broker, by its last will) said so, rather than a
    /// missed deadline.
    pub reported: bool,
}

#[derive(Debug, Clone)]
struct Tracked {
    liveness: Liveness,
    current: Option<Availability>,
    /// When the camera last showed signs of life (any message), hub time.
    last_seen_ms: u64,
    /// A longer check-in interval the camera may still be sleeping on: it learns a new
    /// one only at its next check-in, so until then the old one still counts.
    previous_interval_ms: Option<u64>,
}

impl Tracked {
    fn offline_deadline(&self) -> Option<u64> {
        match (self.liveness, self.current) {
            (_, Some(Availability::Offline)) => None,
            (
                Liveness::Battery {
                    checkin_interval_ms,
                },
                _,
            ) => {
                let interval = checkin_interval_ms.max(self.previous_interval_ms.unwrap_or(0));
                Some(self.last_seen_ms + 2 * interval + BATTERY_GRACE_MS)
            }
            (Liveness::Mains, _) => None,
        }
    }
}

#[derive(Debug, Default)]
pub struct AvailabilityTracker {
    devices: HashMap<String, Tracked>,
}

impl AvailabilityTracker {
    pub fn new() -> Self {
        Self::default()
    }

    /// Starts tracking a camera (at hub start or pairing), or updates how it stays in
    /// touch (a new check-in interval). A battery camera's deadline counts from `now_ms`
    /// when the hub knows nothing newer, so a hub restart does not mark every sleeping
    /// camera offline at once.
    pub fn track(
        &mut self,
        device: &str,
        liveness: Liveness,
        known: Option<Availability>,
        now_ms: u64,
    ) {
        match self.devices.get_mut(device) {
            Some(t) => {
                if let Liveness::Battery {
                    checkin_interval_ms,
                } = t.liveness
                    && t.liveness != liveness
                {
                    t.previous_interval_ms =
                        Some(checkin_interval_ms.max(t.previous_interval_ms.unwrap_or(0)));
                }
                t.liveness = liveness;
            }
            None => {
                self.devices.insert(
                    device.to_string(),
                    Tracked {
                        liveness,
                        current: known,
                        last_seen_ms: now_ms,
                        previous_interval_ms: None,
                    },
                );
            }
        }
    }

    pub fn forget(&mut self, device: &str) {
        self.devices.remove(device);
    }

    pub fn current(&self, device: &str) -> Option<Availability> {
        self.devices.get(device).and_then(|t| t.current)
    }

    /// The camera published its own availability (or the broker published its last
    /// will). `offline` is believed at once; `online`/`sleeping` are signs of life.
    pub fn on_reported(
        &mut self,
        device: &str,
        reported: Availability,
        now_ms: u64,
    ) -> Option<Transition> {
        let t = self.devices.get_mut(device)?;
        if reported != Availability::Offline {
            t.last_seen_ms = now_ms;
            // Awake: its retained settings reach it in this session.
            t.previous_interval_ms = None;
        }
        let to = match (t.liveness, reported) {
            // A battery camera going to sleep is available, not gone.
            (Liveness::Battery { .. }, Availability::Sleeping) => Availability::Sleeping,
            (Liveness::Mains, Availability::Sleeping) => Availability::Online,
            (_, r) => r,
        };
        Self::change(device, t, to, now_ms, true)
    }

    /// Any other message from the camera (state, telemetry, event, result): it is awake.
    pub fn on_message(&mut self, device: &str, now_ms: u64) -> Option<Transition> {
        let t = self.devices.get_mut(device)?;
        t.last_seen_ms = now_ms;
        t.previous_interval_ms = None;
        match t.current {
            Some(Availability::Online) => None,
            _ => Self::change(device, t, Availability::Online, now_ms, true),
        }
    }

    /// Applies the deadlines that have passed at `now_ms`.
    pub fn tick(&mut self, now_ms: u64) -> Vec<Transition> {
        let mut out = Vec::new();
        let mut names: Vec<&String> = self.devices.keys().collect();
        names.sort();
        let due: Vec<String> = names
            .into_iter()
            .filter(|d| {
                self.devices[*d]
                    .offline_deadline()
                    .is_some_and(|deadline| now_ms >= deadline)
            })
            .cloned()
            .collect();
        for device in due {
            let t = self.devices.get_mut(&device).expect("listed above");
            out.extend(Self::change(
                &device,
                t,
                Availability::Offline,
                now_ms,
                false,
            ));
        }
        out
    }

    /// The earliest time at which [`tick`](Self::tick) may change something.
    pub fn next_deadline(&self) -> Option<u64> {
        self.devices
            .values()
            .filter_map(Tracked::offline_deadline)
            .min()
    }

    fn change(
        device: &str,
        t: &mut Tracked,
        to: Availability,
        at_ms: u64,
        reported: bool,
    ) -> Option<Transition> {
        if t.current == Some(to) {
            return None;
        }
        let from = t.current.replace(to);
        Some(Transition {
            device: device.to_string(),
            from,
            to,
            at_ms,
            reported,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Availability::*;

    const MIN: u64 = 60_000;

    fn battery() -> Liveness {
        Liveness::Battery {
            checkin_interval_ms: MIN,
        }
    }

    #[test]
    fn battery_camera_is_offline_at_two_missed_checkins_plus_ten_seconds_not_a_ms_earlier() {
        let mut a = AvailabilityTracker::new();
        a.track("cam-b", battery(), None, 0);
        let t0 = 1_000_000;
        assert_eq!(a.on_reported("cam-b", Online, t0).unwrap().to, Online);
        assert_eq!(
            a.on_reported("cam-b", Sleeping, t0 + 800).unwrap().to,
            Sleeping
        );
        let deadline = t0 + 800 + 2 * MIN + 10_000;
        assert_eq!(a.next_deadline(), Some(deadline));
        assert!(a.tick(deadline - 1).is_empty());
        assert_eq!(a.current("cam-b"), Some(Sleeping));
        let out = a.tick(deadline);
        assert_eq!(
            out,
            vec![Transition {
                device: "cam-b".into(),
                from: Some(Sleeping),
                to: Offline,
                at_ms: deadline,
                reported: false,
            }]
        );
        assert!(a.tick(deadline + 5 * MIN).is_empty(), "offline only once");
        assert_eq!(a.next_deadline(), None);
    }

    #[test]
    fn each_checkin_moves_the_deadline() {
        let mut a = AvailabilityTracker::new();
        a.track("cam-b", battery(), Some(Sleeping), 0);
        for k in 1..=5 {
            a.on_reported("cam-b", Online, k * MIN);
            a.on_reported("cam-b", Sleeping, k * MIN + 500);
            assert!(a.tick(k * MIN + 500 + 2 * MIN + 9_999).is_empty());
        }
        assert_eq!(a.current("cam-b"), Some(Sleeping));
    }

    #[test]
    fn a_camera_back_after_being_offline_is_online_again() {
        let mut a = AvailabilityTracker::new();
        a.track("cam-b", battery(), Some(Sleeping), 0);
        assert_eq!(a.tick(2 * MIN + 10_000).len(), 1);
        let back = a.on_message("cam-b", 10 * MIN).unwrap();
        assert_eq!((back.from, back.to), (Some(Offline), Online));
    }

    #[test]
    fn mains_camera_is_offline_on_its_last_will_at_once_and_has_no_timer() {
        let mut a = AvailabilityTracker::new();
        a.track("cam-m", Liveness::Mains, None, 0);
        assert_eq!(a.on_reported("cam-m", Online, 10).unwrap().to, Online);
        assert_eq!(a.next_deadline(), None);
        assert!(a.tick(u64::MAX / 2).is_empty());
        let t = a.on_reported("cam-m", Offline, 99).unwrap();
        assert_eq!((t.from, t.to, t.at_ms), (Some(Online), Offline, 99));
    }

    #[test]
    fn repeated_reports_do_not_repeat_transitions_and_strangers_are_ignored() {
        let mut a = AvailabilityTracker::new();
        a.track("cam-m", Liveness::Mains, Some(Online), 0);
        assert!(a.on_reported("cam-m", Online, 1).is_none());
        assert!(a.on_message("cam-m", 2).is_none());
        assert!(a.on_reported("cam-x", Online, 3).is_none());
    }

    #[test]
    fn a_shorter_checkin_interval_counts_only_once_the_camera_could_have_learned_it() {
        let mut a = AvailabilityTracker::new();
        a.track("cam-b", battery(), None, 0);
        a.on_reported("cam-b", Sleeping, 1_000);
        // The owner sets 3 s while the camera sleeps on its 60 s interval.
        let short = Liveness::Battery {
            checkin_interval_ms: 3_000,
        };
        a.track("cam-b", short, None, 5_000);
        assert!(
            a.tick(1_000 + 2 * MIN + 9_999).is_empty(),
            "still on the old interval"
        );
        // It checks in (and reads its retained settings): the 3 s interval counts now.
        a.on_reported("cam-b", Online, 61_000);
        a.on_reported("cam-b", Sleeping, 62_000);
        assert_eq!(a.next_deadline(), Some(62_000 + 2 * 3_000 + 10_000));
        // A longer interval counts at once.
        a.track("cam-b", battery(), None, 63_000);
        assert_eq!(a.next_deadline(), Some(62_000 + 2 * MIN + 10_000));
    }

    #[test]
    fn hub_restart_gives_sleeping_cameras_a_full_window() {
        let mut a = AvailabilityTracker::new();
        a.track("cam-b", battery(), Some(Sleeping), 5 * MIN);
        assert_eq!(a.next_deadline(), Some(7 * MIN + 10_000));
    }
}
