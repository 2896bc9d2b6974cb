//! The doctor's case for one camera (SPEC §8 vocabulary), built from what the hub keeps:
//! its computed availability and history, telemetry, events, settings, the rest of the
//! fleet, the hub's own storage and its own network ([`crate::netwatch`]).
//!
//! Two halves: [`gather`] reads the store (and the hub's in-memory pairing progress) into
//! [`CaseInputs`]; [`build`] turns inputs and a time into a [`Case`] without I/O, so every
//! rule here is tested on exact times. Owner observations stay empty: they come from
//! the owner's answers.

use crate::state::HubState;
use watchlight_doctor::{Case, CaseSettings, HubNetwork, SeenAvailability};
use watchlight_protocol::messages::{Availability, TelemetryMsg};
use watchlight_protocol::{EventKind, ProfileId, Settings};
use watchlight_store::{AvailabilityChange, Device, StoreError, notice_kind};

const MINUTE_MS: u64 = 60_000;
const HOUR_MS: u64 = 60 * MINUTE_MS;

/// How far back telemetry is read: the full-resolution history the store keeps, so a
/// camera that went dark yesterday still shows its last readings.
pub const TELEMETRY_WINDOW_MS: u64 = 48 * HOUR_MS;
/// How many of the latest readings the case carries: enough for a trend (the doctor
/// takes the median of the last five signal readings), short enough to read.
pub const TELEMETRY_SAMPLES: usize = 12;
/// Events and storage notices of the last day count (the case's `recent_events`).
pub const EVENTS_WINDOW_MS: u64 = 24 * HOUR_MS;
/// Other cameras count as dropped "at the same time" when they went offline within this
/// much of this one: a battery camera is noticed two check-ins and 10 s after it goes
/// (SPEC §4.2), so a shared outage spreads over a couple of minutes.
pub const FLEET_WINDOW_MS: u64 = 5 * MINUTE_MS;
/// The camera's usual clips a day are its mean over this long (before the last day).
pub const USUAL_CLIPS_WINDOW_MS: u64 = 30 * DAY_MS;
const DAY_MS: u64 = 24 * HOUR_MS;

/// Another camera of the home, as the fleet context needs it.
#[derive(Debug, Clone, PartialEq)]
pub struct FleetMember {
    pub id: String,
    /// The hub's availability now (`None`: no opinion yet).
    pub current: Option<Availability>,
    /// Availability changes around the time that matters, oldest first.
    pub history: Vec<AvailabilityChange>,
}

/// Everything the case is built from, read at one moment.
#[derive(Debug, Clone, PartialEq)]
pub struct CaseInputs {
    pub profile: ProfileId,
    /// The camera reached the hub at least once.
    pub ever_connected: bool,
    /// The hub's computed availability now (`None`: no opinion yet).
    pub availability: Option<Availability>,
    /// When the current availability began.
    pub since_ms: Option<u64>,
    /// The last sign of life the hub recorded (any message, check-in or reading).
    pub last_seen_ms: Option<u64>,
    /// Full-resolution telemetry, oldest first.
    pub telemetry: Vec<TelemetryMsg>,
    pub settings: Settings,
    /// The camera's events and the pairing's refusals (`wifi_rejected`, `join_timeout`),
    /// oldest first, as (hub time, kind).
    pub events: Vec<(u64, EventKind)>,
    /// The other paired cameras of the home.
    pub fleet: Vec<FleetMember>,
    /// Free space on the hub's data disk, in percent (`None`: unknown).
    pub disk_free_pct: Option<f64>,
    /// The hub could not store a clip or event for lack of space (its storage is full
    /// now, or an unread `storage_full` notice).
    pub storage_full_notice: bool,
    /// When the camera first reached the hub.
    pub first_connected_ms: Option<u64>,
    /// Times (`sort_ts`) of the camera's clips of the last [`USUAL_CLIPS_WINDOW_MS`].
    pub clip_times: Vec<u64>,
    /// The most telling state of the hub's own network in the last day (`None`: the
    /// hub has not looked yet since it started).
    pub hub_network: Option<HubNetwork>,
}

/// The camera's case as the hub sees it at `now_ms`: [`gather`], then [`build`].
pub fn case_now(hub: &HubState, device: &Device, now_ms: u64) -> Result<Case, StoreError> {
    Ok(build(&gather(hub, device, now_ms)?, now_ms))
}

/// The case for `inputs` at hub time `now_ms`.
pub fn build(inputs: &CaseInputs, now_ms: u64) -> Case {
    let mut case = Case {
        profile: Some(inputs.profile),
        ..Case::default()
    };
    let t = &mut case.telemetry;
    t.availability = Some(seen_availability(inputs));
    t.minutes_since_seen = inputs
        .last_seen_ms
        .filter(|_| inputs.ever_connected)
        .map(|seen| minutes(now_ms.saturating_sub(seen)));

    let recent = &inputs.telemetry[inputs.telemetry.len().saturating_sub(TELEMETRY_SAMPLES)..];
    if inputs.profile.profile().on_battery() {
        t.battery_resting_mv = recent
            .iter()
            .filter_map(|s| s.battery_resting_mv.map(f64::from))
            .collect();
        t.battery_loaded_mv = recent
            .iter()
            .filter_map(|s| s.battery_loaded_mv.map(f64::from))
            .collect();
    }
    t.rssi_dbm = recent
        .iter()
        .filter_map(|s| s.rssi_dbm.map(f64::from))
        .collect();
    t.temperature_c = recent
        .iter()
        .rev()
        .find_map(|s| s.temperature_c)
        .map(|c| round1(f64::from(c)));
    t.reconnects_last_hour = reconnects_since(&inputs.telemetry, now_ms.saturating_sub(HOUR_MS));

    t.fleet_offline_fraction = fleet_offline_fraction(inputs);
    t.hub_storage_free_pct = if inputs.storage_full_notice {
        Some(0.0)
    } else {
        inputs.disk_free_pct.map(|p| round1(p.clamp(0.0, 100.0)))
    };
    t.settings = Some(CaseSettings {
        armed: Some(inputs.settings.armed),
        motion_detection: Some(inputs.settings.motion_detection),
        motion_indicator: Some(inputs.settings.motion_indicator),
    });
    let from = now_ms.saturating_sub(EVENTS_WINDOW_MS);
    // A refusal the camera got past (it reached the hub after it) is history: the owner
    // fixed the password, and it says nothing about why the camera is offline now.
    let connected_ms = last_connected_ms(inputs);
    let got_past = |ts: u64, kind: EventKind| {
        matches!(kind, EventKind::WifiRejected | EventKind::JoinTimeout)
            && connected_ms.is_some_and(|c| c > ts)
    };
    let mut kinds: Vec<EventKind> = Vec::new();
    for (_, kind) in inputs
        .events
        .iter()
        .filter(|(ts, kind)| *ts >= from && !got_past(*ts, *kind))
    {
        if *kind != EventKind::Unknown && !kinds.contains(kind) {
            kinds.push(*kind);
        }
    }
    t.recent_events = Some(kinds);
    // The hub built this case, so it answered.
    t.hub_answered = Some(true);
    t.hub_network = inputs.hub_network;
    let zones = &inputs.settings.zones;
    if zones.is_valid() {
        let off = zones.enabled.iter().filter(|on| !**on).count();
        t.zones_off_pct = Some(round1(off as f64 * 100.0 / zones.enabled.len() as f64));
    }
    // The last day's clips mean something only against a usual day with clips in it: a
    // camera that never recorded (never armed, or new) says nothing by recording nothing.
    if let Some(usual) = usual_clips_per_day(inputs, now_ms).filter(|u| *u > 0.0) {
        let day_ago = now_ms.saturating_sub(DAY_MS);
        let last_day = inputs
            .clip_times
            .iter()
            .filter(|ts| **ts >= day_ago)
            .count();
        t.clips_last_day = Some(last_day as f64);
        t.clips_per_day_usual = Some(usual);
    }
    case
}

/// Mean clips a day over the days before the last one (at most 30), counting only days
/// the camera was connected; `None` before it has a whole such day.
fn usual_clips_per_day(inputs: &CaseInputs, now_ms: u64) -> Option<f64> {
    let end = now_ms.saturating_sub(DAY_MS);
    let start = now_ms
        .saturating_sub(USUAL_CLIPS_WINDOW_MS)
        .max(inputs.first_connected_ms?);
    if end < start + DAY_MS {
        return None;
    }
    let days = (end - start) as f64 / DAY_MS as f64;
    let n = inputs
        .clip_times
        .iter()
        .filter(|ts| **ts >= start && **ts < end)
        .count();
    Some(round1(n as f64 / days))
}

fn seen_availability(inputs: &CaseInputs) -> SeenAvailability {
    if !inputs.ever_connected {
        return SeenAvailability::NeverSeen;
    }
    match inputs.availability {
        Some(Availability::Online) => SeenAvailability::Online,
        Some(Availability::Sleeping) => SeenAvailability::Sleeping,
        // Connected once and no opinion since (a hub restart): not heard from.
        Some(Availability::Offline) | None => SeenAvailability::Offline,
    }
}

/// Reconnections counted by the camera since `from_ms`: the counter's rises between
/// readings (a fall means the camera restarted and counts from zero again).
fn reconnects_since(samples: &[TelemetryMsg], from_ms: u64) -> Option<f64> {
    let window: Vec<&TelemetryMsg> = samples.iter().filter(|s| s.ts >= from_ms).collect();
    // The reading just before the window is the baseline, when there is one.
    let before = samples.iter().rev().find(|s| s.ts < from_ms);
    let mut previous = before.map(|s| s.reconnects);
    if window.is_empty() {
        return None;
    }
    let mut total = 0u64;
    for s in window {
        total += match previous {
            Some(p) if s.reconnects >= p => u64::from(s.reconnects - p),
            Some(_) => u64::from(s.reconnects),
            None => 0,
        };
        previous = Some(s.reconnects);
    }
    Some(total as f64)
}

/// The share of the home's other cameras offline at the same time: now, for a camera
/// the hub hears; around the moment it dropped, for one that is gone.
fn fleet_offline_fraction(inputs: &CaseInputs) -> Option<f64> {
    if inputs.fleet.is_empty() {
        return None;
    }
    let dropped_at = match (seen_availability(inputs), inputs.since_ms) {
        (SeenAvailability::Offline, Some(since)) => Some(since),
        _ => None,
    };
    let offline = inputs
        .fleet
        .iter()
        .filter(|m| match dropped_at {
            Some(t) => offline_between(m, t.saturating_sub(FLEET_WINDOW_MS), t + FLEET_WINDOW_MS),
            None => m.current == Some(Availability::Offline),
        })
        .count();
    Some(round2(offline as f64 / inputs.fleet.len() as f64))
}

/// Whether `m` was offline at any moment of `[from, to]`.
fn offline_between(m: &FleetMember, from: u64, to: u64) -> bool {
    let at_start = m
        .history
        .iter()
        .rev()
        .find(|c| c.ts_ms <= from)
        .map(|c| c.availability);
    let went_offline = m
        .history
        .iter()
        .any(|c| c.ts_ms > from && c.ts_ms <= to && c.availability == Availability::Offline);
    match at_start {
        Some(a) => a == Availability::Offline || went_offline,
        // No record before the window: what happened inside it, or (no record at all)
        // what the hub believes now.
        None if m.history.is_empty() => m.current == Some(Availability::Offline),
        None => went_offline,
    }
}

/// When the camera last came to the hub: when its current spell online began, or else
/// its first connection.
fn last_connected_ms(inputs: &CaseInputs) -> Option<u64> {
    let online_since = inputs
        .since_ms
        .filter(|_| matches!(inputs.availability, Some(a) if a != Availability::Offline));
    online_since.max(inputs.first_connected_ms)
}

fn minutes(ms: u64) -> f64 {
    round1(ms as f64 / MINUTE_MS as f64)
}

fn round1(x: f64) -> f64 {
    (x * 10.0).round() / 10.0
}

fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

/// Reads what [`build`] needs about `device` from the hub at hub time `now_ms`.
pub fn gather(hub: &HubState, device: &Device, now_ms: u64) -> Result<CaseInputs, StoreError> {
    let store = &hub.store;
    let record = store.availability(&device.id)?;
    let availability = hub
        .computed_availability(&device.id)
        .or(record.as_ref().map(|r| r.availability));
    let history = store.availability_history(
        &device.id,
        now_ms.saturating_sub(TELEMETRY_WINDOW_MS),
        now_ms + 1,
    )?;
    let telemetry = store.telemetry(
        &device.id,
        now_ms.saturating_sub(TELEMETRY_WINDOW_MS),
        now_ms + 1,
    )?;
    let mut events: Vec<(u64, EventKind)> = store
        .events(
            Some(&device.id),
            now_ms.saturating_sub(EVENTS_WINDOW_MS),
            now_ms + 1,
            1000,
        )?
        .iter()
        .map(|e| (e.ts_ms, e.kind()))
        .collect();
    events.reverse();
    if let Some(p) = hub.pairing_progress(&device.id) {
        match p.state.as_str() {
            "wifi_rejected" => events.push((p.updated_ms, EventKind::WifiRejected)),
            "join_timeout" => events.push((p.updated_ms, EventKind::JoinTimeout)),
            _ => {}
        }
    }
    let state_ms = store.device_state(&device.id)?.map(|s| s.received_ms);
    let last_seen_ms = [
        record.as_ref().and_then(|r| r.last_seen_ms),
        history
            .iter()
            .rev()
            .find(|c| c.availability != Availability::Offline)
            .map(|c| c.ts_ms),
        telemetry.last().map(|s| s.ts),
        events
            .iter()
            .filter(|(_, k)| *k != EventKind::WifiRejected && *k != EventKind::JoinTimeout)
            .map(|(ts, _)| *ts)
            .max(),
        state_ms,
    ]
    .into_iter()
    .flatten()
    .filter(|ts| *ts <= now_ms)
    .max();

    // Other cameras, around the moment this one dropped (or now).
    let pivot = match (availability, record.as_ref()) {
        (Some(Availability::Offline), Some(r)) => r.since_ms,
        _ => now_ms,
    };
    let mut fleet = Vec::new();
    for other in store.devices()? {
        if other.id == device.id || other.removed_ms.is_some() || other.first_connected_ms.is_none()
        {
            continue;
        }
        fleet.push(FleetMember {
            current: hub
                .computed_availability(&other.id)
                .or(store.availability(&other.id)?.map(|r| r.availability)),
            history: store.availability_history(
                &other.id,
                pivot.saturating_sub(TELEMETRY_WINDOW_MS),
                pivot + FLEET_WINDOW_MS + 1,
            )?,
            id: other.id,
        });
    }

    // The hub's own memory first: on a full disk the notice may not be in the database.
    let storage_full_notice = hub.storage_full().is_some()
        || store
            .notices(50, true)?
            .iter()
            .any(|n| n.kind == notice_kind::STORAGE_FULL && n.ts_ms + EVENTS_WINDOW_MS >= now_ms);
    Ok(CaseInputs {
        profile: device.profile,
        ever_connected: device.first_connected_ms.is_some(),
        availability,
        since_ms: record.as_ref().map(|r| r.since_ms),
        last_seen_ms,
        telemetry,
        settings: store.settings(&device.id)?,
        events,
        fleet,
        disk_free_pct: disk_free_pct(&hub.data_dir),
        storage_full_notice,
        first_connected_ms: device.first_connected_ms,
        clip_times: store
            .list_clips(
                Some(&device.id),
                now_ms.saturating_sub(USUAL_CLIPS_WINDOW_MS),
                now_ms + 1,
                100_000,
            )?
            .iter()
            .map(|c| c.sort_ts)
            .collect(),
        hub_network: hub.network_last_day(now_ms),
    })
}

/// Free space for unprivileged writers on the filesystem holding `dir`, in percent.
pub fn disk_free_pct(dir: &std::path::Path) -> Option<f64> {
    let s = rustix::fs::statvfs(dir).ok()?;
    if s.f_blocks == 0 {
        return None;
    }
    Some(s.f_bavail as f64 * 100.0 / s.f_blocks as f64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use watchlight_protocol::messages::VERSION;

    const T0: u64 = 1_700_000_000_000;

    fn reading(ts: u64, resting: u32, loaded: u32, rssi: i32, reconnects: u32) -> TelemetryMsg {
        TelemetryMsg {
            v: VERSION,
            ts,
            battery_resting_mv: Some(resting),
            battery_loaded_mv: Some(loaded),
            temperature_c: Some(-3.0),
            rssi_dbm: Some(rssi),
            uptime_s: 0,
            queue_bytes: 0,
            reconnects,
        }
    }

    fn change(ts_ms: u64, availability: Availability) -> AvailabilityChange {
        AvailabilityChange {
            ts_ms,
            availability,
            reason: "test".into(),
        }
    }

    fn member(id: &str, current: Availability, history: Vec<AvailabilityChange>) -> FleetMember {
        FleetMember {
            id: id.into(),
            current: Some(current),
            history,
        }
    }

    fn inputs() -> CaseInputs {
        CaseInputs {
            profile: ProfileId::Outdoor,
            ever_connected: true,
            availability: Some(Availability::Sleeping),
            since_ms: Some(T0),
            last_seen_ms: Some(T0),
            telemetry: Vec::new(),
            settings: Settings::default(),
            events: Vec::new(),
            fleet: Vec::new(),
            disk_free_pct: Some(63.27),
            storage_full_notice: false,
            first_connected_ms: Some(T0 - 40 * DAY_MS),
            clip_times: Vec::new(),
            hub_network: None,
        }
    }

    #[test]
    fn the_hub_network_goes_into_the_case_and_a_new_address_points_at_the_hub() {
        // A mains camera the hub has not heard for an hour, alone in the home.
        let mut i = inputs();
        i.profile = ProfileId::Mini;
        i.availability = Some(Availability::Offline);
        i.last_seen_ms = Some(T0);
        let now = T0 + HOUR_MS;
        assert_eq!(build(&i, now).telemetry.hub_network, None, "not looked yet");
        let p_hub = |network| {
            let mut i = i.clone();
            i.hub_network = Some(network);
            let case = build(&i, now);
            assert_eq!(case.telemetry.hub_network, Some(network));
            case.validate().unwrap();
            let d = watchlight_doctor::diagnose(&case, &Default::default());
            d.causes
                .iter()
                .find(|c| c.id.as_str() == "hub_unreachable")
                .map_or(0.0, |c| c.p)
        };
        assert!(
            p_hub(HubNetwork::AddressChanged) > 2.0 * p_hub(HubNetwork::Ok),
            "the hub moved: cameras look for it at the old address"
        );
    }

    #[test]
    fn a_battery_camera_that_sagged_then_dropped_reads_as_such() {
        let mut i = inputs();
        // Twenty readings a minute apart; only the last twelve go in the case.
        i.telemetry = (0..20)
            .map(|k| {
                reading(
                    T0 + k * MINUTE_MS,
                    3000 - 10 * k as u32,
                    2700 - 20 * k as u32,
                    -60,
                    0,
                )
            })
            .collect();
        i.availability = Some(Availability::Offline);
        i.since_ms = Some(T0 + 22 * MINUTE_MS);
        i.last_seen_ms = Some(T0 + 19 * MINUTE_MS);
        i.fleet = vec![member(
            "cam-2",
            Availability::Sleeping,
            vec![change(T0, Availability::Sleeping)],
        )];
        let case = build(&i, T0 + 31 * MINUTE_MS);
        let t = &case.telemetry;
        assert_eq!(t.availability, Some(SeenAvailability::Offline));
        assert_eq!(t.minutes_since_seen, Some(12.0));
        assert_eq!(t.battery_loaded_mv.len(), TELEMETRY_SAMPLES);
        assert_eq!(t.battery_loaded_mv.first(), Some(&2540.0), "oldest first");
        assert_eq!(t.battery_loaded_mv.last(), Some(&2320.0));
        assert_eq!(t.battery_resting_mv.last(), Some(&2810.0));
        assert_eq!(t.temperature_c, Some(-3.0));
        assert_eq!(t.fleet_offline_fraction, Some(0.0));
        assert_eq!(t.hub_storage_free_pct, Some(63.3));
        assert_eq!(
            case.observations,
            Default::default(),
            "owner observations stay empty"
        );
        case.validate().unwrap();
        let d = watchlight_doctor::diagnose(&case, &Default::default());
        assert!(
            matches!(d.top_cause().as_str(), "battery_dead" | "battery_low"),
            "{:?}",
            d.causes[0]
        );
    }

    #[test]
    fn fleet_fraction_counts_cameras_that_dropped_around_the_same_moment() {
        let mut i = inputs();
        i.availability = Some(Availability::Offline);
        let dropped = T0 + 60 * MINUTE_MS;
        i.since_ms = Some(dropped);
        i.fleet = vec![
            // Dropped two minutes later (a battery camera noticed after its check-ins).
            member(
                "a",
                Availability::Offline,
                vec![
                    change(T0, Availability::Online),
                    change(dropped + 2 * MINUTE_MS, Availability::Offline),
                ],
            ),
            // Already offline before, and still.
            member(
                "b",
                Availability::Offline,
                vec![change(T0, Availability::Offline)],
            ),
            // Dropped long after: another story.
            member(
                "c",
                Availability::Offline,
                vec![
                    change(T0, Availability::Online),
                    change(dropped + 30 * MINUTE_MS, Availability::Offline),
                ],
            ),
            // Never dropped.
            member(
                "d",
                Availability::Online,
                vec![change(T0, Availability::Online)],
            ),
        ];
        let case = build(&i, dropped + 40 * MINUTE_MS);
        assert_eq!(case.telemetry.fleet_offline_fraction, Some(0.5));
        // The same fleet seen from a camera that is online: who is offline now.
        i.availability = Some(Availability::Online);
        let case = build(&i, dropped + 40 * MINUTE_MS);
        assert_eq!(case.telemetry.fleet_offline_fraction, Some(0.75));
        // Alone in the home: no fleet evidence at all.
        i.fleet.clear();
        assert_eq!(build(&i, dropped).telemetry.fleet_offline_fraction, None);
    }

    #[test]
    fn reconnects_count_rises_in_the_last_hour_across_a_restart() {
        let mut i = inputs();
        i.telemetry = vec![
            reading(T0, 3000, 2900, -80, 40),
            reading(T0 + 30 * MINUTE_MS, 3000, 2900, -82, 43),
            reading(T0 + 50 * MINUTE_MS, 3000, 2900, -81, 1), // rebooted: counts from 0
            reading(T0 + 80 * MINUTE_MS, 3000, 2900, -84, 4),
        ];
        let now = T0 + 85 * MINUTE_MS; // the hour starts at T0 + 25 min
        assert_eq!(build(&i, now).telemetry.reconnects_last_hour, Some(7.0));
        assert_eq!(
            build(&i, now).telemetry.rssi_dbm,
            vec![-80.0, -82.0, -81.0, -84.0]
        );
        assert_eq!(
            build(&i, now + 2 * HOUR_MS).telemetry.reconnects_last_hour,
            None
        );
    }

    /// The web app's journey: a mistyped password at setup, fixed, then the link cut
    /// weeks of minutes later. The old refusal must not read as the cause.
    #[test]
    fn a_refusal_the_camera_got_past_is_not_evidence_now() {
        let mut i = inputs();
        i.ever_connected = true;
        i.first_connected_ms = Some(T0 + 5 * MINUTE_MS);
        i.events = vec![
            (T0, EventKind::WifiRejected),
            (T0 + 1, EventKind::JoinTimeout),
        ];
        let case = build(&i, T0 + 30 * MINUTE_MS);
        assert_eq!(case.telemetry.recent_events, Some(vec![]));
        // A refusal after it had connected (the router's password changed) still counts.
        i.events
            .push((T0 + 20 * MINUTE_MS, EventKind::WifiRejected));
        let case = build(&i, T0 + 30 * MINUTE_MS);
        assert_eq!(
            case.telemetry.recent_events,
            Some(vec![EventKind::WifiRejected])
        );
    }

    #[test]
    fn never_connected_mains_settings_events_and_storage() {
        let mut i = inputs();
        i.profile = ProfileId::Mini;
        i.ever_connected = false;
        i.availability = None;
        i.telemetry = vec![reading(T0, 3000, 2900, -60, 0)];
        i.settings.motion_indicator = true;
        i.events = vec![
            (T0 - 2 * EVENTS_WINDOW_MS, EventKind::BatteryCritical),
            (T0, EventKind::WifiRejected),
            (T0 + 1, EventKind::Unknown),
            (T0 + 2, EventKind::WifiRejected),
        ];
        i.storage_full_notice = true;
        let case = build(&i, T0 + MINUTE_MS);
        let t = &case.telemetry;
        assert_eq!(t.availability, Some(SeenAvailability::NeverSeen));
        assert_eq!(t.minutes_since_seen, None);
        assert!(
            t.battery_loaded_mv.is_empty(),
            "a mains camera has no battery"
        );
        assert_eq!(t.recent_events, Some(vec![EventKind::WifiRejected]));
        assert_eq!(t.hub_storage_free_pct, Some(0.0));
        let s = t.settings.as_ref().unwrap();
        assert_eq!(
            (s.armed, s.motion_detection, s.motion_indicator),
            (Some(false), Some(true), Some(true))
        );
        case.validate().unwrap();
    }

    #[test]
    fn clips_of_the_last_day_against_the_usual_and_zones_switched_off() {
        let mut i = inputs();
        let now = T0 + 100 * DAY_MS;
        // Ten clips a day for the last month, none in the last day.
        i.clip_times = (1..30 * 10)
            .map(|k| now - 30 * DAY_MS + k * DAY_MS / 10)
            .filter(|ts| *ts < now - DAY_MS)
            .collect();
        i.settings.zones.enabled[..12]
            .iter_mut()
            .for_each(|c| *c = false);
        let t = build(&i, now).telemetry;
        assert_eq!(t.clips_last_day, Some(0.0));
        assert_eq!(t.clips_per_day_usual, Some(10.0));
        assert_eq!(t.zones_off_pct, Some(25.0), "12 of 48 cells");
        assert_eq!(t.hub_answered, Some(true));
        // A camera connected an hour ago has no usual yet, nor one that never recorded:
        // their empty day is no evidence.
        i.first_connected_ms = Some(now - HOUR_MS);
        let t = build(&i, now).telemetry;
        assert_eq!((t.clips_last_day, t.clips_per_day_usual), (None, None));
        i.first_connected_ms = Some(T0);
        i.clip_times.clear();
        let t = build(&i, now).telemetry;
        assert_eq!((t.clips_last_day, t.clips_per_day_usual), (None, None));
    }

    #[test]
    fn the_disk_of_a_real_folder_has_a_free_share() {
        let dir = tempfile::tempdir().unwrap();
        let pct = disk_free_pct(dir.path()).unwrap();
        assert!((0.0..=100.0).contains(&pct), "{pct}");
        assert_eq!(disk_free_pct(&dir.path().join("missing")), None);
    }
}
