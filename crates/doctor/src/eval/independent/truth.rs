//! The true state of a troubled camera: one hidden scene per camera, so its findings
//! move together.

use super::{drops_per_hour, pack_loaded_mv, pack_resting_mv, pick, world};
use crate::case::{
    Case, CaseSettings, HubNetwork, Observations, SeenAvailability, Telemetry, When,
};
use crate::eval::rng::Rng;
use crate::ids::FaultId;
use watchlight_protocol::{EventKind, LightId};

/// The true state of a camera with `fault`, as a case with everything filled in.
pub(super) fn truth(mut fault: FaultId, rng: &mut Rng) -> (FaultId, Case, bool) {
    let mut w = world(rng);
    // Battery faults need a battery.
    while !w.on_battery && matches!(fault, FaultId::BatteryLow | FaultId::BatteryDead) {
        w = world(rng);
    }
    let mut o = Observations {
        setup_completed: Some(true),
        other_devices_online: Some(true),
        wifi_password_changed: Some(false),
        recording: Some(true),
        hub_online: Some(true),
        ..Default::default()
    };
    let mut t = Telemetry {
        availability: Some(if w.on_battery {
            SeenAvailability::Sleeping
        } else {
            SeenAvailability::Online
        }),
        minutes_since_seen: Some(rng.uniform(0.0, 1.0).round()),
        fleet_offline_fraction: Some(0.0),
        hub_storage_free_pct: Some(rng.uniform(15.0, 80.0).round()),
        settings: Some(CaseSettings {
            armed: Some(true),
            motion_detection: Some(true),
            motion_indicator: Some(rng.chance(0.15)),
        }),
        zones_off_pct: Some(if rng.chance(0.7) {
            0.0
        } else {
            rng.uniform(5.0, 25.0).round()
        }),
        recent_events: Some(vec![]),
        hub_network: Some(HubNetwork::Ok),
        hub_answered: Some(true),
        ..Default::default()
    };
    let mut light = if rng.chance(0.1) {
        LightId::BlueDim
    } else {
        LightId::Off
    };
    let mut when = When::Continuous;
    let mut hub_up = true;
    let mut clips = w.usual_clips * rng.uniform(0.7, 1.2);
    let offline = |t: &mut Telemetry, minutes: f64| {
        t.availability = Some(SeenAvailability::Offline);
        t.minutes_since_seen = Some(minutes.round());
    };
    match fault {
        FaultId::SetupInProgress => {
            o.setup_completed = Some(rng.chance(0.2));
            o.recording = Some(false);
            t.availability = Some(if o.setup_completed == Some(true) {
                SeenAvailability::Offline
            } else {
                SeenAvailability::NeverSeen
            });
            t.minutes_since_seen = None;
            light = pick(
                rng,
                &[
                    (LightId::RedSlowBlink, 0.65),
                    (LightId::GreenBlink, 0.2),
                    (LightId::RedBlink, 0.15),
                ],
            );
            when = if o.setup_completed == Some(true) {
                When::AfterReset
            } else {
                When::DuringSetup
            };
            if o.setup_completed == Some(true) {
                t.recent_events = Some(vec![EventKind::Reset]);
            }
            clips = 0.0;
        }
        FaultId::WifiCredentialsRejected => {
            if rng.chance(0.5) {
                // Mistyped at setup: 10 s of red solid, then setup again.
                o.setup_completed = Some(false);
                o.recording = Some(false);
                t.availability = Some(SeenAvailability::NeverSeen);
                t.minutes_since_seen = None;
                light = pick(
                    rng,
                    &[(LightId::RedSolid, 0.5), (LightId::RedSlowBlink, 0.5)],
                );
                when = When::DuringSetup;
                if rng.chance(0.8) {
                    t.recent_events = Some(vec![EventKind::WifiRejected]);
                }
                clips = 0.0;
            } else {
                // The router's password changed under installed cameras: all of them.
                o.wifi_password_changed = Some(rng.chance(0.85));
                o.recording = Some(false);
                let minutes = rng.exponential(300.0) + 5.0;
                offline(&mut t, minutes);
                t.fleet_offline_fraction = Some(if rng.chance(0.85) { 1.0 } else { 0.5 });
                light = if minutes > 10.0 {
                    LightId::RedFlashEvery5s
                } else {
                    LightId::RedBlink
                };
                clips *= (1.0 - minutes / 1440.0).max(0.0);
            }
        }
        FaultId::WifiSignalWeak => {
            w.rssi = rng.normal(-79.0, 3.0).clamp(-90.0, -72.0);
            when = When::Intermittent;
            let down = rng.chance(0.35);
            if down {
                offline(&mut t, rng.uniform(1.0, 20.0));
                light = LightId::RedBlink;
                o.recording = Some(rng.chance(0.4));
            } else {
                light = pick(
                    rng,
                    &[
                        (LightId::RedBlink, 0.4),
                        (LightId::Off, 0.4),
                        (LightId::BlueSolid, 0.2),
                    ],
                );
                o.recording = Some(rng.chance(0.7));
            }
            clips *= rng.uniform(0.5, 1.0);
        }
        FaultId::NetworkDown => {
            hub_up = rng.chance(0.6); // the hub's LAN may still carry it
            o.other_devices_online = Some(rng.chance(0.1)); // a phone on mobile data
            o.hub_online = Some(rng.chance(0.2));
            o.recording = Some(false);
            let minutes = rng.exponential(45.0) + 3.0;
            offline(&mut t, minutes);
            t.fleet_offline_fraction = Some(1.0);
            t.hub_network = Some(if rng.chance(0.8) {
                HubNetwork::UpstreamLost
            } else {
                HubNetwork::NoNetwork
            });
            light = if minutes > 10.0 {
                LightId::RedFlashEvery5s
            } else {
                LightId::RedBlink
            };
            if !hub_up {
                t.router_answered = Some(rng.chance(0.1));
            }
        }
        FaultId::HubUnreachable => {
            o.recording = Some(false);
            let minutes = rng.exponential(120.0) + 3.0;
            offline(&mut t, minutes);
            t.fleet_offline_fraction = Some(1.0);
            light = if minutes > 10.0 {
                LightId::RedFlashEvery5s
            } else {
                LightId::RedBlink
            };
            match rng.weighted(&[0.6, 0.25, 0.15]) {
                0 => {
                    hub_up = false;
                    o.hub_online = Some(false);
                    t.router_answered = Some(true);
                }
                1 => {
                    t.hub_network = Some(HubNetwork::AddressChanged);
                    o.hub_online = Some(rng.chance(0.8));
                }
                _ => {
                    t.recent_events = Some(vec![EventKind::HubRejected]);
                    if minutes > 15.0 {
                        light = LightId::RedSlowBlink;
                    }
                }
            }
        }
        FaultId::BatteryLow => {
            w.depth = rng.uniform(0.9, 0.96);
            w.age_months = w.age_months.max(rng.uniform(6.0, 16.0));
            light = pick(
                rng,
                &[
                    (LightId::RedFlashAfterRecording, 0.7),
                    (LightId::Off, 0.2),
                    (LightId::BlueSolid, 0.1),
                ],
            );
            when = if rng.chance(0.7) {
                When::AfterRecording
            } else {
                When::Intermittent
            };
            t.recent_events = Some(vec![EventKind::BatteryLow]);
        }
        FaultId::BatteryDead => {
            w.depth = rng.uniform(0.97, 1.0);
            w.age_months = w.age_months.max(rng.uniform(8.0, 20.0));
            o.recording = Some(false);
            offline(&mut t, rng.exponential(600.0) + 10.0);
            light = if rng.chance(0.25) {
                LightId::RedFlashThenDark
            } else {
                LightId::Off
            };
            t.recent_events = Some(if rng.chance(0.85) {
                vec![EventKind::BatteryLow, EventKind::BatteryCritical]
            } else {
                vec![EventKind::BatteryLow]
            });
            clips *= rng.uniform(0.0, 0.6);
        }
        FaultId::MotionIndicator => {
            if let Some(s) = t.settings.as_mut() {
                s.motion_indicator = Some(true);
            }
            light = LightId::RedFlashOnMotion;
            when = if rng.chance(0.8) {
                When::OnMotion
            } else {
                When::Intermittent
            };
        }
        FaultId::NotArmed => {
            if let Some(s) = t.settings.as_mut() {
                if rng.chance(0.7) {
                    s.armed = Some(false);
                } else {
                    s.motion_detection = Some(false);
                }
            }
            o.recording = Some(false);
            clips = if rng.chance(0.7) { 0.0 } else { clips * 0.3 };
        }
        FaultId::ZonesExcludeMotion => {
            t.zones_off_pct = Some(rng.uniform(35.0, 95.0).round());
            o.recording = Some(false);
            clips *= rng.uniform(0.0, 0.3);
        }
        FaultId::StorageFull => {
            t.hub_storage_free_pct = Some(rng.uniform(0.0, 3.0));
            o.recording = Some(false);
            clips = 0.0;
            if rng.chance(0.4) {
                light = LightId::BlueSolid;
                when = When::OnMotion;
            }
        }
        FaultId::FirmwareFault => {
            // Hung: the light freezes on whatever it showed, the camera goes quiet.
            light = pick(
                rng,
                &[
                    (LightId::BlueSolid, 0.3),
                    (LightId::RedBlink, 0.25),
                    (LightId::Off, 0.2),
                    (LightId::GreenBlink, 0.15),
                    (LightId::RedSolid, 0.1),
                ],
            );
            o.recording = Some(false);
            let minutes = rng.exponential(240.0) + 10.0;
            if !w.on_battery && rng.chance(0.5) {
                t.minutes_since_seen = Some(minutes.round());
            } else {
                offline(&mut t, minutes);
            }
            clips *= rng.uniform(0.0, 0.7);
        }
        FaultId::HardwareFault => {
            if rng.chance(0.5) {
                // A dead sensor: it talks and says so.
                if rng.chance(0.85) {
                    t.recent_events = Some(vec![EventKind::SelfTestFailed]);
                }
                o.recording = Some(false);
                clips = 0.0;
            } else if w.on_battery && rng.chance(0.3) {
                // A failing power path: fresh cells that sag under load.
                w.age_months = rng.uniform(0.0, 3.0);
                w.depth = rng.uniform(0.0, 0.2);
                w.extra_ohm = rng.uniform(2.0, 4.0);
                o.recording = Some(false);
                clips *= 0.2;
            } else {
                // A dead board or radio: silent, dark, even after new cells.
                offline(&mut t, rng.exponential(2000.0) + 30.0);
                w.age_months = rng.uniform(0.0, 2.0);
                w.depth = rng.uniform(0.0, 0.1);
                o.recording = Some(false);
                when = if rng.chance(0.4) {
                    When::AfterReset
                } else {
                    When::Continuous
                };
                clips = 0.0;
            }
            light = LightId::Off;
        }
        FaultId::NoFault => {
            light = pick(
                rng,
                &[
                    (LightId::BlueSolid, 0.35),
                    (LightId::BlueDim, 0.2),
                    (LightId::GreenFlash, 0.1),
                    (LightId::Off, 0.25),
                    (LightId::RedBlink, 0.1),
                ],
            );
            when = if light == LightId::BlueDim {
                When::Continuous
            } else if light == LightId::BlueSolid && rng.chance(0.5) {
                When::OnMotion
            } else {
                When::Intermittent
            };
        }
    }
    // Readings that follow the scene whatever the fault.
    let drops = rng.poisson(drops_per_hour(w.rssi, w.cold_factor)) as f64;
    t.reconnects_last_hour = Some(drops);
    t.rssi_dbm = (0..3)
        .map(|_| (w.rssi + rng.normal(0.0, 2.0)).round())
        .collect();
    t.temperature_c = Some(w.temp_c.round());
    if w.on_battery {
        t.battery_resting_mv = vec![(pack_resting_mv(w.depth) + rng.normal(0.0, 15.0)).round()];
        t.battery_loaded_mv = vec![
            (pack_loaded_mv(w.depth, w.age_months, w.temp_c, w.extra_ohm) + rng.normal(0.0, 20.0))
                .round(),
        ];
        o.battery_age_months = Some(w.age_months.round());
        // A pack that reads under SPEC §6's low line (cold sag, or simply near its end)
        // is in the `low` state whatever brought the owner: the camera warns after each
        // recording and the trouble is its batteries.
        if fault == FaultId::NoFault
            && (t.battery_loaded_mv[0] < 2600.0 || t.battery_resting_mv[0] < 2900.0)
        {
            fault = FaultId::BatteryLow;
            light = LightId::RedFlashAfterRecording;
            when = When::AfterRecording;
            t.recent_events = Some(vec![EventKind::BatteryLow]);
        }
    }
    t.clips_last_day = Some(clips.round());
    t.clips_per_day_usual = Some(w.usual_clips);
    if t.settings
        .as_ref()
        .is_some_and(|s| s.motion_indicator == Some(true))
        // On a camera with nothing else wrong the flash is the owner's question, which
        // makes it a motion_indicator case, not a decoy.
        && !matches!(fault, FaultId::MotionIndicator | FaultId::NoFault)
        && matches!(light, LightId::Off | LightId::BlueDim)
        && o.recording == Some(true)
        && rng.chance(0.3)
    {
        // A second, harmless explanation in view: the indicator's flash.
        light = LightId::RedFlashOnMotion;
        when = When::OnMotion;
    }
    o.light = Some(light);
    o.when = Some(when);
    let case = Case {
        v: 1,
        profile: Some(w.profile),
        observations: o,
        telemetry: t,
    };
    (fault, case, hub_up)
}
