//! A population of troubled cameras drawn from physical models, independent of the
//! knowledge base's numbers: battery discharge with voltage sag under load and in the
//! cold, Wi-Fi path loss from distance and walls to RSSI to reconnects, router and hub
//! outages that hit the whole home, owner settings, setup mistakes, full storage, stuck
//! firmware and broken hardware. The light the owner sees is derived from the
//! conditions that hold, by SPEC §3's priority table. The fault label follows from the
//! physics (a battery is "dead" because its loaded voltage fell under 2.4 V, a link is
//! "weak" because it drops more than twice an hour), not from a table of the doctor's.

use super::rng::Rng;
use crate::case::{
    Case, CaseSettings, HubNetwork, Observations, SeenAvailability, Telemetry, When,
};
use crate::ids::{ActionId, FaultId};
use watchlight_protocol::{ConditionId, EventKind, LightId, ProfileId};

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
    match top {
        ConditionId::ResetArmed => LightId::RedFastBlink,
        ConditionId::BatteryCritical => LightId::RedFlashThenDark,
        ConditionId::Booting => LightId::RedBlink,
        ConditionId::WifiRejected => LightId::RedSolid,
        ConditionId::Setup => LightId::RedSlowBlink,
        ConditionId::Joining => LightId::GreenBlink,
        ConditionId::Motion => LightId::RedFlashOnMotion,
        ConditionId::Recording | ConditionId::StatusCheck | ConditionId::Connected => {
            LightId::BlueSolid
        }
        ConditionId::ConnectionLost if offline_min >= 10.0 => LightId::RedFlashEvery5s,
        ConditionId::ConnectionLost => LightId::RedBlink,
        ConditionId::BatteryLow => LightId::RedFlashAfterRecording,
        ConditionId::Identify => LightId::GreenFlash,
        ConditionId::Idle if always_on => LightId::BlueDim,
        ConditionId::Idle => LightId::Off,
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

/// Draw one troubled camera.
pub fn draw(rng: &mut Rng) -> TrueCase {
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
    let others = rng.below(5); // other cameras in the home
    let mut conditions: Vec<ConditionId> = Vec::new();
    let mut offline_min = 0.0;
    let mut fault;
    let mut o = Observations {
        setup_completed: Some(true),
        other_devices_online: Some(true),
        wifi_password_changed: Some(false),
        recording: Some(true),
        battery_age_months: Some((cam.battery_age_months * 10.0).round() / 10.0),
        hub_online: Some(true),
        ..Default::default()
    };
    let mut availability = if cam.on_battery() {
        SeenAvailability::Sleeping
    } else {
        SeenAvailability::Online
    };
    let mut fleet_offline = 0.0;
    let mut storage_free = rng.uniform(12.0, 90.0);
    let mut settings = CaseSettings {
        armed: Some(true),
        motion_detection: Some(true),
        motion_indicator: Some(false),
    };
    let mut hub_reachable = true;
    let mut when = When::Continuous;
    let mut reconnects = cam.reconnects;
    // Minutes since the hub last heard anything from a camera it still counts online
    // (telemetry comes every 30 s; only a hung camera goes quiet on a live session).
    let mut silent_min = 0.0;
    // Events the hub recorded for this camera over the last day.
    let mut events: Vec<EventKind> = Vec::new();
    // What is happening when the owner looks: motion in view now and then.
    let motion_now = rng.chance(0.15);

    match incident {
        Incident::RouterOutage => {
            fault = FaultId::NetworkDown;
            offline_min = rng.exponential(25.0) + 1.0;
            conditions.push(ConditionId::ConnectionLost);
            availability = SeenAvailability::Offline;
            fleet_offline = 1.0;
            // A phone on mobile data still looks online to a hurried owner.
            o.other_devices_online = Some(rng.chance(0.12));
            o.hub_online = Some(rng.chance(0.25));
            o.recording = Some(false);
            hub_reachable = rng.chance(0.6);
            reconnects = rng.poisson(1.5) as f64;
            when = if rng.chance(0.8) {
                When::Continuous
            } else {
                When::Intermittent
            };
        }
        Incident::HubPoweredOff | Incident::HubAddressChanged => {
            fault = FaultId::HubUnreachable;
            offline_min = rng.exponential(60.0) + 1.0;
            conditions.push(ConditionId::ConnectionLost);
            availability = SeenAvailability::Offline;
            fleet_offline = 1.0;
            o.recording = Some(false);
            if incident == Incident::HubPoweredOff {
                o.hub_online = Some(rng.chance(0.05));
                hub_reachable = false;
            } else {
                o.hub_online = Some(true);
            }
            when = if rng.chance(0.85) {
                When::Continuous
            } else {
                When::Intermittent
            };
        }
        Incident::CameraFarFromRouter => {
            // The label follows the physics: a link that drops more than twice an hour.
            let rate = reconnect_rate_per_hour(cam.rssi);
            fault = if rate >= 2.0 {
                FaultId::WifiSignalWeak
            } else {
                FaultId::NoFault
            };
            let down_share = (rate * 2.0 / 60.0).min(0.8);
            if rng.chance(down_share) {
                conditions.push(ConditionId::ConnectionLost);
                offline_min = rng.exponential(4.0);
                availability = SeenAvailability::Offline;
            } else if rng.chance(0.2) {
                conditions.push(ConditionId::Connected);
            }
            o.recording = Some(rng.chance(if rate >= 2.0 { 0.5 } else { 0.9 }));
            when = if rng.chance(0.75) {
                When::Intermittent
            } else {
                When::Continuous
            };
        }
        Incident::RouterPasswordChanged => {
            fault = FaultId::WifiCredentialsRejected;
            conditions.push(ConditionId::ConnectionLost);
            offline_min = rng.exponential(120.0) + 1.0;
            availability = SeenAvailability::Offline;
            fleet_offline = if rng.chance(0.8) { 1.0 } else { 0.0 };
            o.wifi_password_changed = Some(rng.chance(0.9));
            o.recording = Some(false);
        }
        Incident::SetupPasswordTypo => {
            fault = FaultId::WifiCredentialsRejected;
            // Red solid for 10 s, then back to setup: the owner catches one or the other.
            conditions.push(if rng.chance(0.55) {
                ConditionId::WifiRejected
            } else {
                ConditionId::Setup
            });
            // The hub polls the provisioning status and records its last_error.
            if rng.chance(0.85) {
                events.push(EventKind::WifiRejected);
            }
            availability = SeenAvailability::NeverSeen;
            o.setup_completed = Some(false);
            o.recording = Some(false);
            when = When::DuringSetup;
        }
        Incident::SetupUnderway => {
            fault = FaultId::SetupInProgress;
            let phase = rng.weighted(&[0.15, 0.5, 0.35]);
            conditions.push(
                [
                    ConditionId::Booting,
                    ConditionId::Setup,
                    ConditionId::Joining,
                ][phase],
            );
            availability = SeenAvailability::NeverSeen;
            let again = rng.chance(0.25);
            o.setup_completed = Some(again);
            o.recording = Some(false);
            when = if again {
                When::AfterReset
            } else {
                When::DuringSetup
            };
            if again {
                events.push(EventKind::Reset);
            }
            if rng.chance(0.1) {
                events.push(EventKind::JoinTimeout);
            }
        }
        Incident::BatteryDrain => {
            match cam.battery_state() {
                2 => {
                    fault = FaultId::BatteryDead;
                    // The farewell flash lasts a second; most owners find it dark.
                    if rng.chance(0.3) {
                        conditions.push(ConditionId::BatteryCritical);
                    }
                    availability = SeenAvailability::Offline;
                    offline_min = rng.exponential(300.0);
                    o.recording = Some(false);
                    when = if rng.chance(0.35) {
                        When::AfterRecording
                    } else {
                        When::Continuous
                    };
                }
                1 => {
                    fault = FaultId::BatteryLow;
                    if rng.chance(0.7) {
                        conditions.push(ConditionId::BatteryLow);
                    }
                    when = if rng.chance(0.7) {
                        When::AfterRecording
                    } else {
                        When::Intermittent
                    };
                }
                _ => {
                    // Still fine: the owner worried for nothing.
                    fault = FaultId::NoFault;
                    if motion_now {
                        conditions.push(ConditionId::Recording);
                    }
                    when = When::Intermittent;
                }
            }
        }
        Incident::MotionIndicatorOn => {
            fault = FaultId::MotionIndicator;
            settings.motion_indicator = Some(true);
            conditions.push(ConditionId::Motion);
            when = if rng.chance(0.85) {
                When::OnMotion
            } else {
                When::Intermittent
            };
        }
        Incident::Disarmed | Incident::DetectionOff => {
            fault = FaultId::NotArmed;
            if incident == Incident::Disarmed {
                settings.armed = Some(false);
            } else {
                settings.motion_detection = Some(false);
            }
            o.recording = Some(false);
        }
        Incident::ZonesMisdrawn => {
            fault = FaultId::ZonesExcludeMotion;
            o.recording = Some(rng.chance(0.1));
            when = if rng.chance(0.7) {
                When::Continuous
            } else {
                When::Intermittent
            };
        }
        Incident::DiskFull => {
            fault = FaultId::StorageFull;
            storage_free = rng.uniform(0.0, 1.5);
            o.recording = Some(false);
            if motion_now || rng.chance(0.3) {
                conditions.push(ConditionId::Recording);
                when = When::OnMotion;
            }
        }
        Incident::FirmwareHang => {
            fault = FaultId::FirmwareFault;
            // Frozen on whatever it showed when it hung.
            conditions.push(rng.pick(&[
                ConditionId::Recording,
                ConditionId::ConnectionLost,
                ConditionId::Idle,
            ]));
            offline_min = 5.0;
            // A hung battery camera misses its check-ins, so the hub marks it offline
            // (SPEC §5); a mains one may keep its MQTT session alive, but it sends no
            // telemetry: the hub last heard from it when it hung.
            availability = if rng.chance(0.7) || cam.on_battery() {
                SeenAvailability::Offline
            } else {
                availability
            };
            silent_min = offline_min;
            o.recording = Some(false);
            reconnects = rng.poisson(1.0) as f64;
        }
        Incident::HardwareBroken => {
            fault = FaultId::HardwareFault;
            // Image sensors and PIRs (moisture, sun, a knock) fail about as often as
            // boards, radios and power parts. A camera with a dead sensor still talks
            // and its self-test says which part failed; a dead board or radio goes quiet.
            if rng.chance(0.45) {
                events.push(EventKind::SelfTestFailed);
            } else {
                // Silent since it died, minutes to days ago (it used to say "offline
                // for 0 minutes", which no hub reports); a failing radio keeps retrying.
                offline_min = rng.exponential(180.0) + 2.0;
                if rng.chance(0.25) {
                    conditions.push(ConditionId::ConnectionLost);
                }
                availability = if rng.chance(0.85) {
                    SeenAvailability::Offline
                } else {
                    availability
                };
            }
            o.recording = Some(false);
            if cam.on_battery() && rng.chance(0.6) {
                // Fresh batteries already tried.
                o.battery_age_months = Some(rng.uniform(0.0, 1.0).round());
            }
            when = if rng.chance(0.4) {
                When::AfterReset
            } else {
                When::Continuous
            };
            if when == When::AfterReset {
                events.push(EventKind::Reset);
            }
        }
        Incident::HealthyButWorried => {
            fault = FaultId::NoFault;
            conditions.push(rng.pick(&[
                ConditionId::Booting,
                ConditionId::Recording,
                ConditionId::Identify,
                ConditionId::Idle,
            ]));
            when = When::Intermittent;
        }
    }
    // A battery that the physics puts under the low or critical line shows it, whatever
    // brought the owner here, when nothing else is wrong.
    if cam.on_battery() && fault == FaultId::NoFault {
        match cam.battery_state() {
            2 => {
                fault = FaultId::BatteryDead;
                conditions.clear();
                if rng.chance(0.3) {
                    conditions.push(ConditionId::BatteryCritical);
                }
                availability = SeenAvailability::Offline;
                offline_min = rng.exponential(300.0);
                o.recording = Some(false);
                when = When::Continuous;
            }
            1 => {
                fault = FaultId::BatteryLow;
                if rng.chance(0.7) {
                    conditions.push(ConditionId::BatteryLow);
                }
                when = When::AfterRecording;
            }
            _ => {}
        }
    }
    // Likewise a link that the physics makes drop more than twice an hour is weak,
    // whatever brought the owner here (the rule the far-camera incident labels by; a
    // healthy-looking camera at -75 dBm used to be labelled `no_fault` while its twin
    // from the far-camera incident was `wifi_signal_weak`).
    if fault == FaultId::NoFault && reconnect_rate_per_hour(cam.rssi) >= 2.0 {
        fault = FaultId::WifiSignalWeak;
    }
    // The battery reports its own state changes (SPEC §6), whatever else is wrong;
    // a critical event can be lost when the camera shuts down.
    if cam.on_battery() {
        match cam.battery_state() {
            2 => {
                events.push(EventKind::BatteryLow);
                if rng.chance(0.85) {
                    events.push(EventKind::BatteryCritical);
                }
            }
            1 if rng.chance(0.85) => events.push(EventKind::BatteryLow),
            _ => {}
        }
    }
    // Motion in view: the camera records (offline too: clips wait in its queue), and the
    // recording light outranks the connection-lost one.
    let can_record = !matches!(
        incident,
        Incident::SetupPasswordTypo
            | Incident::SetupUnderway
            | Incident::FirmwareHang
            | Incident::HardwareBroken
    ) && fault != FaultId::BatteryDead;
    if motion_now
        && can_record
        && settings.armed == Some(true)
        && settings.motion_detection == Some(true)
    {
        conditions.push(ConditionId::Recording);
    }
    // A camera whose battery is exhausted has shut down: no dim status light either.
    let glows = cam.always_on && fault != FaultId::BatteryDead;
    let light = light_of(&conditions, offline_min, glows);
    if light == LightId::RedFlashOnMotion {
        when = When::OnMotion;
    }

    // The hub's own network, as its light and its log show it. A router outage takes
    // the hub's gateway too; a new address is how a running hub loses its cameras; any
    // other home sees its internet blip or its lease renewed now and then.
    let hub_network = match incident {
        Incident::RouterOutage if rng.chance(0.8) => HubNetwork::UpstreamLost,
        Incident::RouterOutage => HubNetwork::NoNetwork,
        Incident::HubAddressChanged if rng.chance(0.9) => HubNetwork::AddressChanged,
        _ => match rng.weighted(&[0.95, 0.02, 0.03]) {
            0 => HubNetwork::Ok,
            1 => HubNetwork::AddressChanged,
            _ => HubNetwork::UpstreamLost,
        },
    };
    // What the doctor's own machine finds when it looks for the home's router: a
    // router that is down (and took the hub's LAN with it) answers nobody, unless the
    // owner runs the doctor from a phone on mobile data, whose gateway answers; a
    // router that only lost its upstream still answers on the LAN; anything else leaves
    // the router alone (a laptop that just lost its Wi-Fi aside).
    let router_answered = match incident {
        Incident::RouterOutage if !hub_reachable => rng.chance(0.12),
        _ => rng.chance(0.97),
    };
    let (resting, loaded) = cam.battery();
    let profile = cam.profile;
    let on_battery = cam.on_battery();
    let mut telemetry = Telemetry {
        availability: Some(availability),
        minutes_since_seen: Some(if availability == SeenAvailability::Offline {
            offline_min.round()
        } else {
            silent_min
        }),
        battery_resting_mv: if on_battery {
            series(rng, resting, 8.0, 3)
        } else {
            vec![]
        },
        battery_loaded_mv: if on_battery {
            series(rng, loaded, 15.0, 3)
        } else {
            vec![]
        },
        rssi_dbm: series(rng, cam.rssi, 3.0, 5),
        reconnects_last_hour: Some(reconnects),
        temperature_c: Some((cam.temp_c * 10.0).round() / 10.0),
        fleet_offline_fraction: if others > 0 {
            Some(fleet_offline)
        } else {
            None
        },
        hub_storage_free_pct: Some((storage_free * 10.0).round() / 10.0),
        settings: Some(settings),
        recent_events: Some(events),
        hub_network: Some(hub_network),
        hub_answered: Some(hub_reachable),
        router_answered: Some(router_answered),
        ..Default::default()
    };
    // The clip list the hub keeps. A camera that worked records its usual day, less the
    // part of the day it has been offline, disarmed, masked or refused storage (clips
    // queued on an offline camera arrive later, not in this day's list).
    let recorded_share = match incident {
        Incident::Disarmed | Incident::DetectionOff if rng.chance(0.6) => 0.0,
        Incident::Disarmed | Incident::DetectionOff => rng.uniform(0.0, 0.5),
        Incident::ZonesMisdrawn => rng.uniform(0.0, 0.25),
        Incident::DiskFull => rng.uniform(0.0, 0.05),
        // A failing part records little, from whenever it began to fail.
        Incident::HardwareBroken => rng.uniform(0.0, 0.6),
        _ if availability == SeenAvailability::NeverSeen => 0.0,
        _ if availability == SeenAvailability::Offline => (1.0 - offline_min / 1440.0).max(0.0),
        _ => 1.0,
    };
    let worked_before = o.setup_completed == Some(true);
    telemetry.clips_last_day = Some(rng.poisson(cam.events_per_day * recorded_share) as f64);
    telemetry.clips_per_day_usual =
        worked_before.then_some((cam.events_per_day * 10.0).round() / 10.0);
    // Activity zones: most owners never touch them, some mask a street or a window; a
    // misdrawn grid switches off a large part of the view, or the one spot that matters.
    let zones_off = if incident == Incident::ZonesMisdrawn {
        rng.uniform(15.0, 90.0)
    } else if rng.chance(0.35) {
        rng.uniform(5.0, 45.0)
    } else {
        0.0
    };
    telemetry.zones_off_pct = Some(zones_off.round());
    o.light = Some(light);
    o.when = Some(when);
    if !on_battery {
        o.battery_age_months = None;
    }
    TrueCase {
        incident,
        fault,
        case: Case {
            v: 1,
            profile: Some(profile),
            observations: o,
            telemetry,
        },
        hub_reachable,
    }
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
