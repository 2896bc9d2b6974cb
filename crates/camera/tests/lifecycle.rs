//! One test per lifecycle transition of SPEC §4 (and §6's shutdown), exact to the ms.

mod support;

use support::*;
use watchlight_camera::{Command, Core, Input, Output, PersistedState};
use watchlight_protocol::{EventKind, LifecycleState as S, ProfileId, Settings};

#[test]
fn factory_boots_into_setup() {
    let mut cam = Cam::fresh(ProfileId::Outdoor);
    assert_eq!(cam.core.state(), S::Factory);
    cam.at(0, Input::PowerOn).until(10_000);
    assert_eq!(cam.states(), vec![(0, S::Booting), (2000, S::Setup)]);
    assert_eq!(cam.events(), vec![(0, EventKind::Boot)]);
}

#[test]
fn setup_to_joining_to_online_saves_the_state_each_time() {
    let mut cam = Cam::fresh(ProfileId::Outdoor);
    cam.at(0, Input::PowerOn)
        .at(5000, Input::Provisioned)
        .at(8000, Input::HubConnected);
    assert_eq!(cam.states()[2..], [(5000, S::Joining), (8000, S::Online)]);
    let saves = cam.outputs(|o| matches!(o, Output::SaveState(_)));
    assert_eq!(saves.len(), 2);
    let Output::SaveState(last) = &saves[1].1 else {
        unreachable!()
    };
    assert!(last.provisioned && last.setup_completed);
    assert!(
        cam.outputs(|o| matches!(o, Output::Connect { attempt: 0 }))
            .len()
            == 1
    );
}

#[test]
fn joining_back_to_setup_on_rejected_wifi_and_on_timeout() {
    let mut cam = Cam::fresh(ProfileId::Indoor);
    cam.at(0, Input::PowerOn)
        .at(5000, Input::Provisioned)
        .at(6000, Input::WifiRejected);
    assert_eq!(cam.states().last(), Some(&(6000, S::Setup)));
    // The owner tries again with the right password.
    cam.at(9000, Input::Provisioned).until(68_999);
    assert_eq!(cam.states().last(), Some(&(9000, S::Joining)));
    cam.until(69_000);
    assert_eq!(cam.states().last(), Some(&(69_000, S::Setup)));
    assert!(cam.events().contains(&(69_000, EventKind::JoinTimeout)));
}

#[test]
fn online_to_offline_and_back() {
    let mut cam = Cam::online(ProfileId::Mini, Settings::default());
    cam.at(20_000, Input::LinkLost)
        .at(50_000, Input::HubConnected);
    assert_eq!(
        cam.states(),
        vec![(20_000, S::Offline), (50_000, S::Online)]
    );
    let connects: Vec<u64> = cam
        .outputs(|o| matches!(o, Output::Connect { .. }))
        .into_iter()
        .map(|(t, _)| t)
        .collect();
    // Exponential backoff: 1, 2, 4, 8, 16 s after the loss.
    assert_eq!(connects, vec![21_000, 23_000, 27_000, 35_000]);
}

#[test]
fn backoff_doubles_to_60_s_on_mains_and_300_s_on_battery() {
    let mains = Core::new(ProfileId::Mini.profile(), PersistedState::default(), 0);
    let battery = Core::new(ProfileId::Xt.profile(), PersistedState::default(), 0);
    let m: Vec<u64> = (1..=9).map(|a| mains.backoff_ms(a)).collect();
    assert_eq!(
        m,
        vec![
            1000, 2000, 4000, 8000, 16_000, 32_000, 60_000, 60_000, 60_000
        ]
    );
    assert_eq!(battery.backoff_ms(9), 256_000);
    assert_eq!(battery.backoff_ms(10), 300_000);
    assert_eq!(battery.backoff_ms(100), 300_000);
}

#[test]
fn a_set_up_camera_whose_wifi_refuses_it_stays_offline_and_says_so_when_back() {
    let mut cam = Cam::online(ProfileId::Outdoor, Settings::default());
    cam.at(20_000, Input::WifiRejected).until(200_000);
    assert_eq!(cam.states(), vec![(20_000, S::Offline)]);
    assert_eq!(cam.core.light().1, RED_BLINK);
    cam.at(300_000, Input::HubConnected);
    assert_eq!(cam.states().last(), Some(&(300_000, S::Online)));
    assert!(cam.events().contains(&(300_000, EventKind::WifiRejected)));
    assert!(cam.core.persisted().provisioned);
}

#[test]
fn a_set_up_camera_rebooting_joins_and_falls_back_to_offline_not_setup() {
    let mut cam = Cam::online(ProfileId::Outdoor, Settings::default());
    cam.at(20_000, Input::Command(Command::Reboot))
        .until(90_000);
    assert_eq!(
        cam.states(),
        vec![
            (20_000, S::Booting),
            (22_000, S::Joining),
            (82_000, S::Offline)
        ]
    );
}

#[test]
fn ten_hub_refusals_in_a_row_send_the_camera_back_to_setup() {
    let mut cam = Cam::online(ProfileId::Outdoor, Settings::default());
    cam.at(20_000, Input::LinkLost);
    for i in 0..9 {
        cam.at(21_000 + i * 1000, Input::HubRejected);
    }
    assert_eq!(cam.core.state(), S::Offline);
    cam.at(40_000, Input::HubRejected);
    assert_eq!(cam.states().last(), Some(&(40_000, S::Setup)));
    assert!(cam.events().contains(&(40_000, EventKind::HubRejected)));
    assert!(!cam.core.persisted().provisioned);
}

#[test]
fn a_successful_connection_resets_the_refusal_count() {
    let mut cam = Cam::online(ProfileId::Outdoor, Settings::default());
    cam.at(20_000, Input::LinkLost);
    for i in 0..9 {
        cam.at(21_000 + i * 1000, Input::HubRejected);
    }
    cam.at(31_000, Input::HubConnected)
        .at(32_000, Input::LinkLost);
    for i in 0..9 {
        cam.at(33_000 + i * 1000, Input::HubRejected);
    }
    assert_eq!(cam.core.state(), S::Offline);
}

#[test]
fn reset_held_then_released_resets_and_reboots_into_setup() {
    let mut cam = Cam::online(ProfileId::Outdoor, Settings::default());
    cam.at(20_000, Input::ButtonDown)
        .at(25_500, Input::ButtonUp)
        .until(30_000);
    assert_eq!(
        cam.states(),
        vec![
            (25_500, S::Resetting),
            (25_500, S::Booting),
            (27_500, S::Setup)
        ]
    );
    assert!(cam.events().contains(&(25_500, EventKind::Reset)));
    assert_eq!(cam.outputs(|o| matches!(o, Output::FactoryReset)).len(), 1);
    assert_eq!(cam.core.persisted(), &PersistedState::default());
}

#[test]
fn reset_released_early_does_nothing() {
    let mut cam = Cam::online(ProfileId::Outdoor, Settings::default());
    cam.at(20_000, Input::ButtonDown)
        .at(24_999, Input::ButtonUp)
        .until(30_000);
    assert!(cam.log.is_empty(), "{:?}", cam.log);
}

#[test]
fn battery_critical_shuts_down_and_only_fresh_batteries_wake_it() {
    let mut cam = Cam::online(ProfileId::Outdoor, Settings::default());
    cam.battery(20_000, 2590, 2500).until(21_000);
    assert_eq!(cam.states(), vec![(20_000, S::Shutdown)]);
    assert_eq!(
        cam.outputs(|o| matches!(o, Output::PowerOff)),
        vec![(20_900, Output::PowerOff)]
    );
    // Nothing wakes it: not the button, not power, not a slightly better reading.
    cam.at(30_000, Input::ButtonDown)
        .at(30_100, Input::ButtonUp)
        .at(31_000, Input::PowerOn)
        .battery(32_000, 2949, 2800);
    assert_eq!(cam.core.state(), S::Shutdown);
    cam.battery(40_000, 3300, 3100).until(43_000);
    assert_eq!(
        cam.states()[1..],
        [(40_000, S::Booting), (42_000, S::Joining)]
    );
}

#[test]
fn battery_critical_stops_a_recording_first() {
    let mut cam = Cam::online(
        ProfileId::Xt,
        Settings {
            armed: true,
            ..Settings::default()
        },
    );
    cam.at(20_000, Input::Pir).battery(21_000, 2700, 2300);
    let kinds: Vec<EventKind> = cam.events().into_iter().map(|(_, k)| k).collect();
    assert_eq!(
        kinds,
        vec![
            EventKind::MotionStart,
            EventKind::MotionEnd,
            EventKind::BatteryCritical
        ]
    );
    assert!(!cam.core.is_recording());
}

#[test]
fn mains_cameras_ignore_battery_readings() {
    let mut cam = Cam::online(ProfileId::Mini, Settings::default());
    cam.battery(20_000, 2000, 1000);
    assert_eq!(cam.core.state(), S::Online);
}

#[test]
fn factory_reset_command_and_reboot_command() {
    let mut cam = Cam::online(ProfileId::Mini, Settings::default());
    cam.at(20_000, Input::Command(Command::FactoryReset))
        .until(25_000);
    assert_eq!(cam.states().last(), Some(&(22_000, S::Setup)));
}

#[test]
fn check_ins_follow_the_interval_while_online() {
    let settings = Settings {
        checkin_interval: 60,
        ..Settings::default()
    };
    let mut cam = Cam::online(ProfileId::Xt, settings);
    cam.until(200_000);
    let times: Vec<u64> = cam
        .outputs(|o| matches!(o, Output::CheckIn))
        .into_iter()
        .map(|(t, _)| t)
        .collect();
    assert_eq!(times, vec![64_000, 124_000, 184_000]);
}

#[test]
fn outputs_carry_their_own_time_when_the_driver_calls_late() {
    let mut cam = Cam::fresh(ProfileId::Outdoor);
    cam.at(0, Input::PowerOn).until(100_000);
    assert_eq!(cam.states(), vec![(0, S::Booting), (2000, S::Setup)]);
    assert_eq!(cam.core.poll_timeout(), None);
}

#[test]
fn joining_retries_with_backoff_until_connected() {
    let mut cam = Cam::fresh(ProfileId::Mini);
    cam.at(0, Input::PowerOn)
        .at(3000, Input::Provisioned)
        .until(10_000)
        .at(10_500, Input::HubConnected)
        .until(60_000);
    let attempts: Vec<(u64, Output)> = cam.outputs(|o| matches!(o, Output::Connect { .. }));
    assert_eq!(
        attempts,
        vec![
            (3000, Output::Connect { attempt: 0 }),
            (4000, Output::Connect { attempt: 1 }),
            (6000, Output::Connect { attempt: 2 }),
            (10_000, Output::Connect { attempt: 3 }),
        ]
    );
}
