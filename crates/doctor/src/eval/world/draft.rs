//! One draw of the eval world, step by step: a camera that works, what its incident does
//! to it, the labels the physics gives, its light, and the case the hub and the owner
//! would give with the truth beside it.

use super::{Camera, Incident, TrueCase, light_of, reconnect_rate_per_hour, series};
use crate::case::{
    Case, CaseSettings, HubNetwork, Observations, SeenAvailability, Telemetry, When,
};
use crate::eval::rng::Rng;
use crate::ids::FaultId;
use watchlight_protocol::{ConditionId, EventKind, LightId};

/// What a draw knows so far about one troubled camera: everything the incident and the
/// physics change before the case is written down.
pub(super) struct Draft {
    conditions: Vec<ConditionId>,
    offline_min: f64,
    fault: FaultId,
    o: Observations,
    availability: SeenAvailability,
    fleet_offline: f64,
    storage_free: f64,
    settings: CaseSettings,
    pub(super) hub_reachable: bool,
    when: When,
    reconnects: f64,
    /// Minutes since the hub last heard anything from a camera it still counts online
    /// (telemetry comes every 30 s; only a hung camera goes quiet on a live session).
    silent_min: f64,
    /// Events the hub recorded for this camera over the last day.
    events: Vec<EventKind>,
    /// What is happening when the owner looks: motion in view now and then.
    motion_now: bool,
}

impl Draft {
    /// A camera that works, before its incident.
    pub(super) fn new(rng: &mut Rng, cam: &Camera) -> Draft {
        let o = Observations {
            setup_completed: Some(true),
            other_devices_online: Some(true),
            wifi_password_changed: Some(false),
            recording: Some(true),
            battery_age_months: Some((cam.battery_age_months * 10.0).round() / 10.0),
            hub_online: Some(true),
            ..Default::default()
        };
        let availability = if cam.on_battery() {
            SeenAvailability::Sleeping
        } else {
            SeenAvailability::Online
        };
        let storage_free = rng.uniform(12.0, 90.0);
        let settings = CaseSettings {
            armed: Some(true),
            motion_detection: Some(true),
            motion_indicator: Some(false),
        };
        let motion_now = rng.chance(0.15);
        Draft {
            conditions: Vec::new(),
            offline_min: 0.0,
            // Every incident names its fault.
            fault: FaultId::NoFault,
            o,
            availability,
            fleet_offline: 0.0,
            storage_free,
            settings,
            hub_reachable: true,
            when: When::Continuous,
            reconnects: cam.reconnects,
            silent_min: 0.0,
            events: Vec::new(),
            motion_now,
        }
    }

    /// What the incident does to the camera, its light and what the owner sees.
    pub(super) fn incident(&mut self, rng: &mut Rng, incident: Incident, cam: &Camera) {
        match incident {
            Incident::RouterOutage => self.router_outage(rng),
            Incident::HubPoweredOff | Incident::HubAddressChanged => self.hub_gone(rng, incident),
            Incident::CameraFarFromRouter => self.far_from_router(rng, cam),
            Incident::RouterPasswordChanged => self.router_password_changed(rng),
            Incident::SetupPasswordTypo => self.setup_password_typo(rng),
            Incident::SetupUnderway => self.setup_underway(rng),
            Incident::BatteryDrain => self.battery_drain(rng, cam),
            Incident::MotionIndicatorOn => self.motion_indicator_on(rng),
            Incident::Disarmed | Incident::DetectionOff => self.not_armed(incident),
            Incident::ZonesMisdrawn => self.zones_misdrawn(rng),
            Incident::DiskFull => self.disk_full(rng),
            Incident::FirmwareHang => self.firmware_hang(rng, cam),
            Incident::HardwareBroken => self.hardware_broken(rng, cam),
            Incident::HealthyButWorried => self.healthy_but_worried(rng),
        }
    }

    /// The router is down: the whole home is offline.
    fn router_outage(&mut self, rng: &mut Rng) {
        self.fault = FaultId::NetworkDown;
        self.offline_min = rng.exponential(25.0) + 1.0;
        self.conditions.push(ConditionId::ConnectionLost);
        self.availability = SeenAvailability::Offline;
        self.fleet_offline = 1.0;
        // A phone on mobile data still looks online to a hurried owner.
        self.o.other_devices_online = Some(rng.chance(0.12));
        self.o.hub_online = Some(rng.chance(0.25));
        self.o.recording = Some(false);
        self.hub_reachable = rng.chance(0.6);
        self.reconnects = rng.poisson(1.5) as f64;
        self.when = if rng.chance(0.8) {
            When::Continuous
        } else {
            When::Intermittent
        };
    }

    /// The hub is off or moved: every camera lost it.
    fn hub_gone(&mut self, rng: &mut Rng, incident: Incident) {
        self.fault = FaultId::HubUnreachable;
        self.offline_min = rng.exponential(60.0) + 1.0;
        self.conditions.push(ConditionId::ConnectionLost);
        self.availability = SeenAvailability::Offline;
        self.fleet_offline = 1.0;
        self.o.recording = Some(false);
        if incident == Incident::HubPoweredOff {
            self.o.hub_online = Some(rng.chance(0.05));
            self.hub_reachable = false;
        } else {
            self.o.hub_online = Some(true);
        }
        self.when = if rng.chance(0.85) {
            When::Continuous
        } else {
            When::Intermittent
        };
    }

    /// A camera far from the router: the label follows the physics.
    fn far_from_router(&mut self, rng: &mut Rng, cam: &Camera) {
        // The label follows the physics: a link that drops more than twice an hour.
        let rate = reconnect_rate_per_hour(cam.rssi);
        self.fault = if rate >= 2.0 {
            FaultId::WifiSignalWeak
        } else {
            FaultId::NoFault
        };
        let down_share = (rate * 2.0 / 60.0).min(0.8);
        if rng.chance(down_share) {
            self.conditions.push(ConditionId::ConnectionLost);
            self.offline_min = rng.exponential(4.0);
            self.availability = SeenAvailability::Offline;
        } else if rng.chance(0.2) {
            self.conditions.push(ConditionId::Connected);
        }
        self.o.recording = Some(rng.chance(if rate >= 2.0 { 0.5 } else { 0.9 }));
        self.when = if rng.chance(0.75) {
            When::Intermittent
        } else {
            When::Continuous
        };
    }

    /// The router's password changed under the cameras.
    fn router_password_changed(&mut self, rng: &mut Rng) {
        self.fault = FaultId::WifiCredentialsRejected;
        self.conditions.push(ConditionId::ConnectionLost);
        self.offline_min = rng.exponential(120.0) + 1.0;
        self.availability = SeenAvailability::Offline;
        self.fleet_offline = if rng.chance(0.8) { 1.0 } else { 0.0 };
        self.o.wifi_password_changed = Some(rng.chance(0.9));
        self.o.recording = Some(false);
    }

    /// A typo in the Wi-Fi password at setup.
    fn setup_password_typo(&mut self, rng: &mut Rng) {
        self.fault = FaultId::WifiCredentialsRejected;
        // Red solid for 10 s, then back to setup: the owner catches one or the other.
        self.conditions.push(if rng.chance(0.55) {
            ConditionId::WifiRejected
        } else {
            ConditionId::Setup
        });
        // The hub polls the provisioning status and records its last_error.
        if rng.chance(0.85) {
            self.events.push(EventKind::WifiRejected);
        }
        self.availability = SeenAvailability::NeverSeen;
        self.o.setup_completed = Some(false);
        self.o.recording = Some(false);
        self.when = When::DuringSetup;
    }

    /// Setup still under way.
    fn setup_underway(&mut self, rng: &mut Rng) {
        self.fault = FaultId::SetupInProgress;
        let phase = rng.weighted(&[0.15, 0.5, 0.35]);
        self.conditions.push(
            [
                ConditionId::Booting,
                ConditionId::Setup,
                ConditionId::Joining,
            ][phase],
        );
        self.availability = SeenAvailability::NeverSeen;
        let again = rng.chance(0.25);
        self.o.setup_completed = Some(again);
        self.o.recording = Some(false);
        self.when = if again {
            When::AfterReset
        } else {
            When::DuringSetup
        };
        if again {
            self.events.push(EventKind::Reset);
        }
        if rng.chance(0.1) {
            self.events.push(EventKind::JoinTimeout);
        }
    }

    /// A draining battery, labelled by its voltages.
    fn battery_drain(&mut self, rng: &mut Rng, cam: &Camera) {
        match cam.battery_state() {
            2 => {
                self.fault = FaultId::BatteryDead;
                // The farewell flash lasts a second; most owners find it dark.
                if rng.chance(0.3) {
                    self.conditions.push(ConditionId::BatteryCritical);
                }
                self.availability = SeenAvailability::Offline;
                self.offline_min = rng.exponential(300.0);
                self.o.recording = Some(false);
                self.when = if rng.chance(0.35) {
                    When::AfterRecording
                } else {
                    When::Continuous
                };
            }
            1 => {
                self.fault = FaultId::BatteryLow;
                if rng.chance(0.7) {
                    self.conditions.push(ConditionId::BatteryLow);
                }
                self.when = if rng.chance(0.7) {
                    When::AfterRecording
                } else {
                    When::Intermittent
                };
            }
            _ => {
                // Still fine: the owner worried for nothing.
                self.fault = FaultId::NoFault;
                if self.motion_now {
                    self.conditions.push(ConditionId::Recording);
                }
                self.when = When::Intermittent;
            }
        }
    }

    /// The motion indicator on: red flashes at motion.
    fn motion_indicator_on(&mut self, rng: &mut Rng) {
        self.fault = FaultId::MotionIndicator;
        self.settings.motion_indicator = Some(true);
        self.conditions.push(ConditionId::Motion);
        self.when = if rng.chance(0.85) {
            When::OnMotion
        } else {
            When::Intermittent
        };
    }

    /// Disarmed, or motion detection off.
    fn not_armed(&mut self, incident: Incident) {
        self.fault = FaultId::NotArmed;
        if incident == Incident::Disarmed {
            self.settings.armed = Some(false);
        } else {
            self.settings.motion_detection = Some(false);
        }
        self.o.recording = Some(false);
    }

    /// Activity zones that mask the motion.
    fn zones_misdrawn(&mut self, rng: &mut Rng) {
        self.fault = FaultId::ZonesExcludeMotion;
        self.o.recording = Some(rng.chance(0.1));
        self.when = if rng.chance(0.7) {
            When::Continuous
        } else {
            When::Intermittent
        };
    }

    /// The hub's disk is full.
    fn disk_full(&mut self, rng: &mut Rng) {
        self.fault = FaultId::StorageFull;
        self.storage_free = rng.uniform(0.0, 1.5);
        self.o.recording = Some(false);
        if self.motion_now || rng.chance(0.3) {
            self.conditions.push(ConditionId::Recording);
            self.when = When::OnMotion;
        }
    }

    /// The firmware hung.
    fn firmware_hang(&mut self, rng: &mut Rng, cam: &Camera) {
        self.fault = FaultId::FirmwareFault;
        // Frozen on whatever it showed when it hung.
        self.conditions.push(rng.pick(&[
            ConditionId::Recording,
            ConditionId::ConnectionLost,
            ConditionId::Idle,
        ]));
        self.offline_min = 5.0;
        // A hung battery camera misses its check-ins, so the hub marks it offline
        // (SPEC §5); a mains one may keep its MQTT session alive, but it sends no
        // telemetry: the hub last heard from it when it hung.
        self.availability = if rng.chance(0.7) || cam.on_battery() {
            SeenAvailability::Offline
        } else {
            self.availability
        };
        self.silent_min = self.offline_min;
        self.o.recording = Some(false);
        self.reconnects = rng.poisson(1.0) as f64;
    }

    /// A broken part.
    fn hardware_broken(&mut self, rng: &mut Rng, cam: &Camera) {
        self.fault = FaultId::HardwareFault;
        // Image sensors and PIRs (moisture, sun, a knock) fail about as often as
        // boards, radios and power parts. A camera with a dead sensor still talks
        // and its self-test says which part failed; a dead board or radio goes quiet.
        if rng.chance(0.45) {
            self.events.push(EventKind::SelfTestFailed);
        } else {
            // Silent since it died, minutes to days ago (never "offline for 0
            // minutes", which no hub reports); a failing radio keeps retrying.
            self.offline_min = rng.exponential(180.0) + 2.0;
            if rng.chance(0.25) {
                self.conditions.push(ConditionId::ConnectionLost);
            }
            self.availability = if rng.chance(0.85) {
                SeenAvailability::Offline
            } else {
                self.availability
            };
        }
        self.o.recording = Some(false);
        if cam.on_battery() && rng.chance(0.6) {
            // Fresh batteries already tried.
            self.o.battery_age_months = Some(rng.uniform(0.0, 1.0).round());
        }
        self.when = if rng.chance(0.4) {
            When::AfterReset
        } else {
            When::Continuous
        };
        if self.when == When::AfterReset {
            self.events.push(EventKind::Reset);
        }
    }

    /// Nothing wrong: the owner worried.
    fn healthy_but_worried(&mut self, rng: &mut Rng) {
        self.fault = FaultId::NoFault;
        self.conditions.push(rng.pick(&[
            ConditionId::Booting,
            ConditionId::Recording,
            ConditionId::Identify,
            ConditionId::Idle,
        ]));
        self.when = When::Intermittent;
    }

    /// Labels the physics gives whatever brought the owner here: a battery under
    /// its lines, a link that drops more than twice an hour.
    pub(super) fn physics_labels(&mut self, rng: &mut Rng, cam: &Camera) {
        // A battery that the physics puts under the low or critical line shows it, whatever
        // brought the owner here, when nothing else is wrong.
        if cam.on_battery() && self.fault == FaultId::NoFault {
            match cam.battery_state() {
                2 => {
                    self.fault = FaultId::BatteryDead;
                    self.conditions.clear();
                    if rng.chance(0.3) {
                        self.conditions.push(ConditionId::BatteryCritical);
                    }
                    self.availability = SeenAvailability::Offline;
                    self.offline_min = rng.exponential(300.0);
                    self.o.recording = Some(false);
                    self.when = When::Continuous;
                }
                1 => {
                    self.fault = FaultId::BatteryLow;
                    if rng.chance(0.7) {
                        self.conditions.push(ConditionId::BatteryLow);
                    }
                    self.when = When::AfterRecording;
                }
                _ => {}
            }
        }
        // Likewise a link that the physics makes drop more than twice an hour is weak,
        // whatever brought the owner here (the rule the far-camera incident labels by, so
        // a healthy-looking camera at -75 dBm is labelled as its far-camera twin is).
        if self.fault == FaultId::NoFault && reconnect_rate_per_hour(cam.rssi) >= 2.0 {
            self.fault = FaultId::WifiSignalWeak;
        }
    }

    /// The battery's own events (SPEC §6).
    pub(super) fn battery_events(&mut self, rng: &mut Rng, cam: &Camera) {
        // The battery reports its own state changes (SPEC §6), whatever else is wrong;
        // a critical event can be lost when the camera shuts down.
        if cam.on_battery() {
            match cam.battery_state() {
                2 => {
                    self.events.push(EventKind::BatteryLow);
                    if rng.chance(0.85) {
                        self.events.push(EventKind::BatteryCritical);
                    }
                }
                1 if rng.chance(0.85) => self.events.push(EventKind::BatteryLow),
                _ => {}
            }
        }
    }

    /// The light the owner sees (and when, for a light that shows on motion).
    pub(super) fn light(&mut self, incident: Incident, cam: &Camera) -> LightId {
        // Motion in view: the camera records (offline too: clips wait in its queue), and the
        // recording light outranks the connection-lost one.
        let can_record = !matches!(
            incident,
            Incident::SetupPasswordTypo
                | Incident::SetupUnderway
                | Incident::FirmwareHang
                | Incident::HardwareBroken
        ) && self.fault != FaultId::BatteryDead;
        if self.motion_now
            && can_record
            && self.settings.armed == Some(true)
            && self.settings.motion_detection == Some(true)
        {
            self.conditions.push(ConditionId::Recording);
        }
        // A camera whose battery is exhausted has shut down: no dim status light either.
        let glows = cam.always_on && self.fault != FaultId::BatteryDead;
        let light = light_of(&self.conditions, self.offline_min, glows);
        if light == LightId::RedFlashOnMotion {
            self.when = When::OnMotion;
        }

        light
    }
}

/// What the hub and the doctor's machine see besides the camera itself.
pub(super) struct Seen {
    /// Other cameras in the home.
    pub(super) others: usize,
    pub(super) light: LightId,
    pub(super) hub_network: HubNetwork,
    pub(super) router_answered: bool,
}

impl Draft {
    /// The case as the hub and the owner would give it, with the truth beside it.
    pub(super) fn into_case(
        self,
        rng: &mut Rng,
        incident: Incident,
        cam: &Camera,
        seen: Seen,
    ) -> TrueCase {
        let Draft {
            offline_min,
            fault,
            mut o,
            availability,
            fleet_offline,
            storage_free,
            settings,
            hub_reachable,
            when,
            reconnects,
            silent_min,
            events,
            ..
        } = self;
        let Seen {
            others,
            light,
            hub_network,
            router_answered,
        } = seen;

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
}
