//! The simulated battery pack driving the core's battery monitor: a pack that ages
//! through recordings goes low (first under load, and sooner in the cold), then
//! critical, and the camera shuts down; fresh batteries wake it.

use watchlight_camera::{BatteryLevel, Core, Input, PersistedState};
use watchlight_hw::BatteryGauge;
use watchlight_hw::sim::{BatteryModel, Load, SimBattery, SimClock};
use watchlight_protocol::{LifecycleState, ProfileId, Settings};

const HOUR: u64 = 3_600_000;

fn online_core() -> Core {
    let persisted = PersistedState {
        provisioned: true,
        setup_completed: true,
        settings: Settings::default(),
    };
    let mut core = Core::new(ProfileId::Xt.profile(), persisted, 0);
    core.handle_input(0, Input::PowerOn);
    core.handle_input(5000, Input::HubConnected);
    core
}

#[test]
fn a_draining_pack_goes_low_then_critical_and_fresh_cells_wake_the_camera() {
    let clock = SimClock::new(0);
    let mut pack = SimBattery::new(clock.clone(), BatteryModel::default());
    let mut core = online_core();
    let mut low_at = None;
    let mut critical_at = None;
    // A busy camera: an hour of recording at a time, readings after each.
    for hour in 1..=20u64 {
        pack.set_load(Load::Recording);
        clock.advance(HOUR);
        let reading = pack.read();
        pack.set_load(Load::Idle);
        core.handle_input(hour * HOUR, Input::Battery(reading));
        if low_at.is_none() && core.battery_level() == BatteryLevel::Low {
            low_at = Some(hour);
        }
        if core.state() == LifecycleState::Shutdown {
            critical_at = Some(hour);
            break;
        }
    }
    // 3000 mAh at 350 mA: about 8.6 hours in all; low comes first, then critical.
    let (low, critical) = (low_at.unwrap(), critical_at.unwrap());
    assert!(low < critical, "low at {low} h, critical at {critical} h");
    assert!((6..=9).contains(&critical), "critical at {critical} h");

    pack.replace();
    let t = 30 * HOUR;
    core.handle_input(t, Input::Battery(pack.read()));
    assert_eq!(core.state(), LifecycleState::Booting);
    assert_eq!(core.battery_level(), BatteryLevel::Ok);
}

#[test]
fn cold_makes_a_half_used_pack_read_low_under_load() {
    let clock = SimClock::new(0);
    let mut pack = SimBattery::new(clock, BatteryModel::default());
    pack.set_depth(0.85);
    let mut warm = online_core();
    warm.handle_input(10_000, Input::Battery(pack.read()));
    assert_eq!(warm.battery_level(), BatteryLevel::Ok);

    pack.set_temperature(-5.0);
    let mut cold = online_core();
    cold.handle_input(10_000, Input::Battery(pack.read()));
    assert_eq!(cold.battery_level(), BatteryLevel::Low);
}
