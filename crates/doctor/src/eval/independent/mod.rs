//! A second eval world, written apart from the knowledge base and held fixed while it is
//! tuned: `watchlight doctor eval --world independent`.
//!
//! Its rates and structure come from the SPEC (the light each condition shows and for how
//! long, §3; the lifecycle, §4; the battery thresholds, §6) and from the hardware
//! simulations (`crates/hw/src/sim/battery.rs`: the pack's open-circuit curve and its
//! resistance growing with depth, age and cold; the camera's 350 mA while recording). It
//! does not draw each finding independently given the fault, as the knowledge base
//! assumes: findings come from one hidden scene per camera, so they move together —
//! cold lowers the loaded voltage and, through brown-outs on transmit, raises the link's
//! drops; a weak link's light, availability and clips all follow whether it is down
//! at the moment; an owner misreads the light now and then, most often as a light that
//! looks like it. No number here is copied from the knowledge base, nor the other way.

mod score;
mod truth;

pub use score::{IndependentReport, run, true_fix};

use super::rng::Rng;
use crate::case::{Case, SeenAvailability};
use crate::ids::FaultId;
use watchlight_protocol::{LightId, ProfileId};

/// The seed the figures are reported on; the world has no tuning seed of its own.
pub const SEED: u64 = 4242;

/// One troubled camera: the fault, everything true about it, and what the doctor gets.
#[derive(Debug, Clone)]
pub struct Scene {
    pub fault: FaultId,
    /// Everything the owner would answer truthfully (for questions).
    pub truth: Case,
    /// What reaches the doctor.
    pub given: Case,
}

/// How often each fault brings an owner to the doctor, from the guide's story (red
/// lights: the network and the batteries first) and support experience.
const FAULTS: [(FaultId, f64); 14] = [
    (FaultId::SetupInProgress, 0.08),
    (FaultId::WifiCredentialsRejected, 0.07),
    (FaultId::WifiSignalWeak, 0.12),
    (FaultId::NetworkDown, 0.10),
    (FaultId::HubUnreachable, 0.05),
    (FaultId::BatteryLow, 0.10),
    (FaultId::BatteryDead, 0.10),
    (FaultId::MotionIndicator, 0.06),
    (FaultId::NotArmed, 0.08),
    (FaultId::ZonesExcludeMotion, 0.04),
    (FaultId::StorageFull, 0.03),
    (FaultId::FirmwareFault, 0.05),
    (FaultId::HardwareFault, 0.03),
    (FaultId::NoFault, 0.09),
];

const PROFILES: [(ProfileId, f64); 5] = [
    (ProfileId::Mini, 0.2),
    (ProfileId::Indoor, 0.2),
    (ProfileId::Outdoor, 0.3),
    (ProfileId::Xt, 0.15),
    (ProfileId::Xt2, 0.15),
];

/// The simulated pack's open-circuit voltage by depth of discharge. The doctor may not
/// depend on `hw` (ARCHITECTURE.md), so the curve is written here and a test holds it
/// equal to `watchlight_hw::sim::OCV_CURVE`.
pub const PACK_CURVE: [(f64, f64); 9] = [
    (0.00, 3600.0),
    (0.05, 3300.0),
    (0.20, 3200.0),
    (0.50, 3100.0),
    (0.80, 3000.0),
    (0.90, 2900.0),
    (0.95, 2750.0),
    (0.98, 2550.0),
    (1.00, 2200.0),
];

/// The pack as `crates/hw/src/sim/battery.rs` models it: 2×AA lithium, open-circuit
/// voltage by depth of discharge, resistance rising with depth, age and cold.
pub(super) fn pack_resting_mv(depth: f64) -> f64 {
    const CURVE: [(f64, f64); 9] = PACK_CURVE;
    let d = depth.clamp(0.0, 1.0);
    let i = CURVE.iter().position(|&(x, _)| x >= d).unwrap_or(8).max(1);
    let (x0, y0) = CURVE[i - 1];
    let (x1, y1) = CURVE[i];
    y0 + (y1 - y0) * (d - x0) / (x1 - x0)
}

pub(super) fn pack_loaded_mv(depth: f64, age_months: f64, temp_c: f64, extra_ohm: f64) -> f64 {
    let r = 0.30
        * (1.0 + 0.04 * age_months.max(0.0))
        * (1.0 + 0.03 * (20.0 - temp_c).max(0.0))
        * (1.0 + 3.0 * depth.clamp(0.0, 1.0).powi(3))
        + extra_ohm;
    pack_resting_mv(depth) - 350.0 * r
}

/// Link drops an hour at a signal: rare above −67 dBm, a few near −74, constant below
/// −80 (a free-space path with fading); cold multiplies them on battery cameras, whose
/// sagging pack browns the radio out on transmit.
pub(super) fn drops_per_hour(rssi: f64, cold_factor: f64) -> f64 {
    (0.05 * ((-rssi - 60.0) / 3.0).exp()).min(12.0) * cold_factor
}

pub(super) fn pick<T: Copy>(rng: &mut Rng, items: &[(T, f64)]) -> T {
    let weights: Vec<f64> = items.iter().map(|(_, w)| *w).collect();
    items[rng.weighted(&weights)].0
}

/// What an owner reports seeing when the true light is `light`: mostly right, now and
/// then a light that looks like it; a flash that is dark most of the time is missed.
fn seen_light(light: LightId, rng: &mut Rng) -> LightId {
    use LightId as L;
    let missed = match light {
        L::RedFlashEvery5s | L::RedFlashOnMotion | L::GreenFlash => 0.15,
        L::RedFlashAfterRecording => 0.1,
        _ => 0.0,
    };
    if rng.chance(missed) {
        return L::Off;
    }
    if !rng.chance(0.1) {
        return light;
    }
    match light {
        L::RedBlink => L::RedFlashEvery5s,
        L::RedFlashEvery5s => L::RedBlink,
        L::RedSlowBlink => L::RedBlink,
        L::RedSolid => L::RedSlowBlink,
        L::RedFlashOnMotion => L::RedBlink,
        L::RedFlashAfterRecording => L::RedFlashOnMotion,
        L::RedFlashThenDark => L::RedFlashAfterRecording,
        L::BlueSolid => L::BlueDim,
        L::BlueDim => L::Off,
        L::GreenBlink => L::GreenFlash,
        L::GreenFlash => L::GreenBlink,
        L::RedFastBlink => L::RedBlink,
        L::Off => L::BlueDim,
    }
}

/// The hidden scene of one camera, before anyone looks at it.
pub(super) struct World {
    profile: ProfileId,
    on_battery: bool,
    temp_c: f64,
    age_months: f64,
    depth: f64,
    extra_ohm: f64,
    rssi: f64,
    cold_factor: f64,
    usual_clips: f64,
}

pub(super) fn world(rng: &mut Rng) -> World {
    let profile = pick(rng, &PROFILES);
    let on_battery = profile.profile().on_battery();
    let outdoors = matches!(profile, ProfileId::Outdoor | ProfileId::Xt | ProfileId::Xt2);
    let temp_c = if outdoors {
        if rng.chance(0.3) {
            rng.normal(-6.0, 7.0)
        } else {
            rng.normal(14.0, 7.0)
        }
    } else {
        rng.normal(20.0, 2.5)
    };
    let age_months = rng.uniform(0.0, 14.0);
    // Depth follows age (a pack lasts about a year here), with the spread of use; owners
    // replace a pack when the app warns, so one in service is rarely past two thirds.
    let depth = (age_months / 20.0 + rng.normal(0.0, 0.1)).clamp(0.0, 0.65);
    let cold_factor = if on_battery && temp_c < 0.0 {
        1.0 + (-temp_c) / 8.0
    } else {
        1.0
    };
    World {
        profile,
        on_battery,
        temp_c,
        age_months,
        depth,
        extra_ohm: 0.0,
        rssi: rng.normal(-60.0, 6.0).clamp(-74.0, -35.0),
        cold_factor,
        usual_clips: rng.uniform(4.0, 30.0).round(),
    }
}

/// What reaches the doctor: a third of cases typed by hand from what the owner says;
/// the rest from a hub (when it is up), with readings missing now and then.
fn given(truth: &Case, hub_up: bool, rng: &mut Rng) -> Case {
    let o = &truth.observations;
    let mut g = Case {
        v: 1,
        profile: truth.profile,
        ..Default::default()
    };
    let go = &mut g.observations;
    if rng.chance(0.85) {
        go.light = o.light.map(|l| seen_light(l, rng));
    }
    let keep = |rng: &mut Rng, p: f64| rng.chance(p);
    if keep(rng, 0.6) {
        go.when = o.when;
    }
    if keep(rng, 0.4) {
        go.setup_completed = o.setup_completed;
    }
    if keep(rng, 0.4) {
        go.other_devices_online = o.other_devices_online;
    }
    if keep(rng, 0.3) {
        go.wifi_password_changed = o.wifi_password_changed;
    }
    if keep(rng, 0.5) {
        go.recording = o.recording;
    }
    if keep(rng, 0.3) {
        go.battery_age_months = o.battery_age_months;
    }
    if keep(rng, 0.25) {
        go.hub_online = o.hub_online;
    }
    let by_hand = rng.chance(1.0 / 3.0);
    if by_hand {
        return g;
    }
    if !hub_up {
        g.telemetry.hub_answered = Some(false);
        g.telemetry.router_answered = truth.telemetry.router_answered;
        return g;
    }
    let s = &truth.telemetry;
    let gt = &mut g.telemetry;
    gt.hub_answered = Some(true);
    gt.availability = s.availability;
    gt.minutes_since_seen = s.minutes_since_seen;
    gt.hub_network = s.hub_network;
    gt.fleet_offline_fraction = s.fleet_offline_fraction;
    gt.hub_storage_free_pct = s.hub_storage_free_pct;
    gt.recent_events = s.recent_events.clone();
    if keep(rng, 0.9) {
        gt.settings = s.settings.clone();
        gt.zones_off_pct = s.zones_off_pct;
    }
    if keep(rng, 0.85) {
        gt.clips_last_day = s.clips_last_day;
        gt.clips_per_day_usual = s.clips_per_day_usual;
    }
    // A camera the hub never heard from has no readings.
    if s.availability != Some(SeenAvailability::NeverSeen) {
        if keep(rng, 0.85) {
            gt.battery_resting_mv = s.battery_resting_mv.clone();
            gt.battery_loaded_mv = s.battery_loaded_mv.clone();
            gt.temperature_c = s.temperature_c;
        }
        if keep(rng, 0.9) {
            gt.rssi_dbm = s.rssi_dbm.clone();
            gt.reconnects_last_hour = s.reconnects_last_hour;
        }
    }
    g
}

/// Draw one troubled camera.
pub fn draw(rng: &mut Rng) -> Scene {
    let (fault, truth, hub_up) = truth::truth(pick(rng, &FAULTS), rng);
    let given = given(&truth, hub_up, rng);
    Scene {
        fault,
        truth,
        given,
    }
}
