//! A population of troubled cameras drawn from physical models, independent of the
//! knowledge base's numbers: battery discharge with voltage sag under load and in the
//! cold, Wi-Fi path loss from distance and walls to RSSI to reconnects, router and hub
//! outages that hit the whole home, owner settings, setup mistakes, full storage, stuck
//! firmware and broken hardware. The light the owner sees is derived from the
//! conditions that hold, by SPEC §3's priority table. The fault label follows from the
//! physics (a battery is "dead" because its loaded voltage fell under 2.4 V, a link is
//! "weak" because it drops more than twice an hour), not from a table of the doctor's.

mod draft;

use super::rng::Rng;
use crate::case::{Case, HubNetwork};
use crate::ids::{ActionId, FaultId};
use draft::{Draft, Seen};
use watchlight_protocol::light_table;
use watchlight_protocol::{ConditionId, LightId, ProfileId};

/// What happened in the home (finer than a fault: it decides what truly fixes it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Incident {
    RouterOutage,
    HubPoweredOff,
    HubAddressChanged,
    CameraFarFromRouter,
    RouterPasswordChanged,
    SetupPasswordTypo,
    SetupUnderway,
    BatteryDrain,
    MotionIndicatorOn,
    Disarmed,
    DetectionOff,
    ZonesMisdrawn,
    DiskFull,
    FirmwareHang,
    HardwareBroken,
    HealthyButWorried,
}

/// How often each incident brings an owner to the doctor: the world's rates, chosen
/// from the guide's emphasis, deliberately not the knowledge base's priors.
const INCIDENTS: [(Incident, f64); 16] = [
    (Incident::RouterOutage, 0.13),
    (Incident::HubPoweredOff, 0.03),
    (Incident::HubAddressChanged, 0.015),
    (Incident::CameraFarFromRouter, 0.12),
    (Incident::RouterPasswordChanged, 0.04),
    (Incident::SetupPasswordTypo, 0.04),
    (Incident::SetupUnderway, 0.09),
    (Incident::BatteryDrain, 0.22),
    (Incident::MotionIndicatorOn, 0.05),
    (Incident::Disarmed, 0.06),
    (Incident::DetectionOff, 0.025),
    (Incident::ZonesMisdrawn, 0.03),
    (Incident::DiskFull, 0.02),
    (Incident::FirmwareHang, 0.04),
    (Incident::HardwareBroken, 0.02),
    (Incident::HealthyButWorried, 0.06),
];

/// A troubled camera with the whole truth: the fault, what truly fixes it, and every
/// observation and reading as it really is (before owners and sensors lose any).
#[derive(Debug, Clone)]
pub struct TrueCase {
    pub incident: Incident,
    pub fault: FaultId,
    pub case: Case,
    /// Whether the hub is up to give its telemetry.
    pub hub_reachable: bool,
}

/// Two AA lithium (Li-FeS2) cells in series: open-circuit voltage from state of charge.
/// Flat near 1.5–1.6 V per cell for most of the capacity, steep at the end.
pub fn pack_resting_mv(soc: f64) -> f64 {
    let s = soc.clamp(0.0, 1.0);
    2.0 * (1200.0 + 420.0 * s.powf(0.25) + 130.0 * s)
}

/// Pack internal resistance (ohms): about 0.12 Ω a cell when fresh and warm, rising
/// steeply near empty and by ~3.5 % a degree below 20 °C.
pub fn pack_resistance_ohm(soc: f64, temp_c: f64) -> f64 {
    let s = soc.clamp(0.0, 1.0);
    let depletion = 1.0 + 3.0 * (1.0 - s).powi(6);
    let cold = 1.0 + 0.035 * (20.0 - temp_c).max(0.0);
    2.0 * 0.12 * depletion * cold
}

/// The current drawn while recording and transmitting (A).
const LOAD_A: f64 = 0.6;

/// Free-space-like path loss indoors: −35 dBm at 1 m, exponent 2.5, 5 dB a wall.
pub fn rssi_dbm(distance_m: f64, walls: u32) -> f64 {
    -35.0 - 25.0 * distance_m.max(1.0).log10() - 5.0 * walls as f64
}

/// Link drops an hour at a given signal: rare above −70 dBm, a few an hour near −75,
/// constant below −80.
pub fn reconnect_rate_per_hour(rssi: f64) -> f64 {
    (0.05 + 3.0 * ((-75.0 - rssi) / 3.0).exp()).min(40.0)
}

/// The light the owner sees when these conditions hold (SPEC §3: the highest priority
/// wins). `offline_min` distinguishes the two connection-lost lights; `always_on` the
/// idle ones.
pub fn light_of(conditions: &[ConditionId], offline_min: f64, always_on: bool) -> LightId {
    let top = conditions
        .iter()
        .min()
        .copied()
        .unwrap_or(ConditionId::Idle);
    // SPEC §3's table, read from its one definition; a status check on a healthy camera
    // answers with its own blue.
    let row = light_table::row(top);
    let offline_ms = offline_min * 60_000.0;
    match (row.later, row.always_on) {
        (Some(later), _) if later.after_ms.is_some_and(|t| offline_ms >= t as f64) => {
            later.light_id
        }
        (_, Some((_, dim))) if always_on => dim,
        _ => row.light_id,
    }
}

struct Camera {
    profile: ProfileId,
    rssi: f64,
    reconnects: f64,
    temp_c: f64,
    battery_age_months: f64,
    soc: f64,
    always_on: bool,
    /// Motion events a day in view (what drains the battery and fills the clip list).
    events_per_day: f64,
}

impl Camera {
    fn on_battery(&self) -> bool {
        self.profile.profile().on_battery()
    }

    fn battery(&self) -> (f64, f64) {
        let resting = pack_resting_mv(self.soc);
        let loaded = resting - 1000.0 * LOAD_A * pack_resistance_ohm(self.soc, self.temp_c);
        (resting, loaded)
    }

    /// SPEC §6 bands: 2 critical, 1 low, 0 ok.
    fn battery_state(&self) -> u8 {
        let (resting, loaded) = self.battery();
        if loaded < 2400.0 || resting < 2600.0 {
            2
        } else if loaded < 2600.0 || resting < 2900.0 {
            1
        } else {
            0
        }
    }
}

fn outdoor(profile: ProfileId) -> bool {
    matches!(profile, ProfileId::Outdoor | ProfileId::Xt | ProfileId::Xt2)
}

fn draw_camera(rng: &mut Rng, far: bool, draining: bool) -> Camera {
    let profile = ProfileId::ALL[rng.weighted(&[0.2, 0.2, 0.3, 0.1, 0.2])];
    let (distance, walls) = if far {
        (rng.uniform(12.0, 45.0), 1 + rng.below(3) as u32)
    } else {
        (rng.uniform(2.0, 18.0), rng.below(3) as u32)
    };
    let rssi = rssi_dbm(distance, walls) + rng.normal(0.0, 2.0);
    let reconnects = rng.poisson(reconnect_rate_per_hour(rssi)) as f64;
    let temp_c = if outdoor(profile) {
        rng.normal(6.0, 9.0)
    } else {
        rng.normal(20.0, 2.0)
    };
    let events_per_day = rng.uniform(5.0, 60.0);
    let drain_per_month = 0.02 + 0.0015 * events_per_day;
    let life = 1.0 / drain_per_month;
    let age = if draining {
        rng.uniform(0.7 * life, 1.3 * life)
    } else {
        rng.uniform(0.0, 0.75 * life)
    };
    Camera {
        profile,
        rssi,
        reconnects,
        temp_c,
        battery_age_months: age,
        soc: (1.0 - age * drain_per_month).max(0.0),
        always_on: rng.chance(0.1),
        events_per_day,
    }
}

fn series(rng: &mut Rng, value: f64, sd: f64, n: usize) -> Vec<f64> {
    (0..n)
        .map(|_| (value + rng.normal(0.0, sd)).round())
        .collect()
}

/// The hub's own network, as its light and its log show it. A router outage takes
/// the hub's gateway too; a new address is how a running hub loses its cameras; any
/// other home sees its internet blip or its lease renewed now and then.
fn hub_network(rng: &mut Rng, incident: Incident) -> HubNetwork {
    match incident {
        Incident::RouterOutage if rng.chance(0.8) => HubNetwork::UpstreamLost,
        Incident::RouterOutage => HubNetwork::NoNetwork,
        Incident::HubAddressChanged if rng.chance(0.9) => HubNetwork::AddressChanged,
        _ => match rng.weighted(&[0.95, 0.02, 0.03]) {
            0 => HubNetwork::Ok,
            1 => HubNetwork::AddressChanged,
            _ => HubNetwork::UpstreamLost,
        },
    }
}

/// What the doctor's own machine finds when it looks for the home's router: a
/// router that is down (and took the hub's LAN with it) answers nobody, unless the
/// owner runs the doctor from a phone on mobile data, whose gateway answers; a
/// router that only lost its upstream still answers on the LAN; anything else leaves
/// the router alone (a laptop that just lost its Wi-Fi aside).
fn router_answered(rng: &mut Rng, incident: Incident, hub_reachable: bool) -> bool {
    match incident {
        Incident::RouterOutage if !hub_reachable => rng.chance(0.12),
        _ => rng.chance(0.97),
    }
}

/// The incident, and the camera it befell.
fn incident_and_camera(rng: &mut Rng) -> (Incident, Camera) {
    let weights: Vec<f64> = INCIDENTS.iter().map(|(_, w)| *w).collect();
    let mut incident = INCIDENTS[rng.weighted(&weights)].0;
    let mut cam = draw_camera(
        rng,
        incident == Incident::CameraFarFromRouter,
        incident == Incident::BatteryDrain,
    );
    if incident == Incident::BatteryDrain && !cam.on_battery() {
        // A mains camera has no batteries to drain: this owner's trouble is another one.
        incident = Incident::CameraFarFromRouter;
        cam = draw_camera(rng, true, false);
    }
    (incident, cam)
}

/// Draw one troubled camera.
pub fn draw(rng: &mut Rng) -> TrueCase {
    let (incident, cam) = incident_and_camera(rng);
    let others = rng.below(5); // other cameras in the home
    let mut draft = Draft::new(rng, &cam);
    draft.incident(rng, incident, &cam);
    draft.physics_labels(rng, &cam);
    draft.battery_events(rng, &cam);
    let light = draft.light(incident, &cam);
    let hub_network = hub_network(rng, incident);
    let router_answered = router_answered(rng, incident, draft.hub_reachable);
    let seen = Seen {
        others,
        light,
        hub_network,
        router_answered,
    };
    draft.into_case(rng, incident, &cam, seen)
}

/// What truly ends the trouble in this world: P(action fixes | incident). The doctor
/// never sees this table; it is how the world works, not what the doctor believes.
pub fn true_fix(incident: Incident, fault: FaultId, action: ActionId) -> f64 {
    use ActionId as A;
    use Incident as I;
    if fault == FaultId::NoFault {
        return 0.0;
    }
    // Support with the bundle solves any trouble except broken hardware, most times.
    if action == A::ContactSupport {
        return if incident == I::HardwareBroken {
            1.0
        } else {
            0.9
        };
    }
    match (incident, fault, action) {
        (I::RouterOutage, _, A::RestartRouter) => 0.9,
        (I::HubPoweredOff, _, A::CheckHub) => 0.95,
        (I::HubAddressChanged, _, A::CheckHub) => 0.8,
        (I::HubAddressChanged, _, A::RestartRouter) => 0.4,
        (I::HubAddressChanged, _, A::FactoryReset) => 0.5,
        (_, FaultId::WifiSignalWeak, A::MoveCloserOrExtender) => 0.9,
        (_, FaultId::WifiSignalWeak, A::RestartRouter) => 0.1,
        (I::RouterPasswordChanged, _, A::ReconnectWifi) => 0.75,
        (I::RouterPasswordChanged, _, A::FactoryReset) => 0.95,
        (I::SetupPasswordTypo, _, A::ReconnectWifi) => 0.9,
        (I::SetupPasswordTypo, _, A::FactoryReset) => 0.9,
        (I::SetupUnderway, _, A::WaitForSetup) => 0.85,
        (I::SetupUnderway, _, A::ReconnectWifi) => 0.4,
        (I::SetupUnderway, _, A::RebootCamera) => 0.1,
        (I::SetupUnderway, _, A::FactoryReset) => 0.7,
        (_, FaultId::BatteryLow | FaultId::BatteryDead, A::ReplaceBatteries) => 0.98,
        (I::MotionIndicatorOn, _, A::DisableMotionIndicator) => 1.0,
        (I::Disarmed | I::DetectionOff, _, A::ArmOrEnableMotion) => 0.98,
        (I::ZonesMisdrawn, _, A::AdjustZones) => 0.9,
        (I::ZonesMisdrawn, _, A::FactoryReset) => 0.7,
        (I::DiskFull, _, A::FreeStorage) => 0.95,
        (I::FirmwareHang, _, A::RebootCamera) => 0.6,
        (I::FirmwareHang, _, A::ReplaceBatteries) => 0.6,
        (I::FirmwareHang, _, A::FactoryReset) => 0.95,
        _ => 0.0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn battery_physics_follows_the_spec_bands() {
        // Fresh and warm: well above the low line even under load.
        let fresh = pack_resting_mv(1.0) - 1000.0 * LOAD_A * pack_resistance_ohm(1.0, 20.0);
        assert!(fresh > 3200.0, "{fresh}");
        // Nearly empty and cold: the loaded voltage crosses the critical line first.
        let soc = 0.1;
        let rest = pack_resting_mv(soc);
        let cold_loaded = rest - 1000.0 * LOAD_A * pack_resistance_ohm(soc, -10.0);
        assert!(
            rest > 2600.0 && cold_loaded < 2400.0,
            "{rest} {cold_loaded}"
        );
    }

    #[test]
    fn signal_falls_with_distance_and_walls_and_drops_follow() {
        assert!(rssi_dbm(3.0, 0) > rssi_dbm(20.0, 2));
        assert!(reconnect_rate_per_hour(-65.0) < 0.5);
        assert!(reconnect_rate_per_hour(-82.0) > 10.0);
    }

    #[test]
    fn the_light_follows_the_priority_table() {
        use ConditionId as C;
        assert_eq!(
            light_of(&[C::Idle, C::Recording, C::ConnectionLost], 30.0, false),
            LightId::BlueSolid
        );
        assert_eq!(
            light_of(&[C::ConnectionLost], 30.0, false),
            LightId::RedFlashEvery5s
        );
        assert_eq!(
            light_of(&[C::ConnectionLost], 3.0, false),
            LightId::RedBlink
        );
        assert_eq!(
            light_of(&[C::BatteryCritical, C::Recording], 0.0, false),
            LightId::RedFlashThenDark
        );
        assert_eq!(light_of(&[], 0.0, true), LightId::BlueDim);
    }

    #[test]
    fn every_fault_occurs_in_the_population() {
        let mut rng = Rng::new(3);
        let mut seen = [0usize; crate::ids::FAULT_COUNT];
        for _ in 0..3000 {
            seen[draw(&mut rng).fault.index()] += 1;
        }
        for f in FaultId::ALL {
            assert!(seen[f.index()] > 0, "{f} never drawn");
        }
    }
}
