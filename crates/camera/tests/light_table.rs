//! One test per row of SPEC §3's light table, on the virtual clock, exact to the ms.

mod support;

use support::*;
use watchlight_camera::{Command, Input};
use watchlight_protocol::{
    Color, ConditionId as C, EventKind, LifecycleState, ProfileId, Settings,
};

#[test]
fn row_1_reset_armed_red_fast_blink_from_the_reset_time_until_release() {
    let mut cam = Cam::online(ProfileId::Outdoor, Settings::default());
    cam.at(20_000, Input::ButtonDown).until(24_999);
    assert!(cam.lights().is_empty(), "nothing before 5 s");
    cam.until(25_000);
    assert_eq!(cam.lights(), vec![(25_000, C::ResetArmed, RED_FAST_BLINK)]);
    cam.at(26_000, Input::ButtonUp).until(30_000);
    assert_eq!(
        cam.lights()[1..],
        [
            (26_000, C::Booting, RED_BLINK),
            (28_000, C::Setup, RED_SLOW_BLINK)
        ]
    );
}

#[test]
fn row_2_battery_critical_flash_3_then_dark() {
    let mut cam = Cam::online(ProfileId::Outdoor, Settings::default());
    cam.battery(20_000, 2700, 2390).until(30_000);
    assert_eq!(
        cam.lights(),
        vec![
            (20_000, C::BatteryCritical, flash(Color::Red, 3)),
            (20_900, C::BatteryCritical, OFF)
        ]
    );
    assert_eq!(cam.states(), vec![(20_000, LifecycleState::Shutdown)]);
}

#[test]
fn row_3_booting_red_blink_for_the_profiles_boot_time() {
    let mut cam = Cam::fresh(ProfileId::Mini);
    cam.at(0, Input::PowerOn).until(5000);
    assert_eq!(
        cam.lights(),
        vec![(0, C::Booting, RED_BLINK), (2000, C::Setup, RED_SLOW_BLINK)]
    );
}

#[test]
fn row_4_wifi_rejected_red_solid_10_s_then_setup() {
    let mut cam = Cam::fresh(ProfileId::Indoor);
    cam.at(0, Input::PowerOn)
        .at(5000, Input::Provisioned)
        .at(7000, Input::WifiRejected)
        .until(30_000);
    assert_eq!(
        cam.lights()[2..],
        [
            (5000, C::Joining, GREEN_BLINK),
            (7000, C::WifiRejected, RED_SOLID),
            (17_000, C::Setup, RED_SLOW_BLINK)
        ]
    );
    assert!(cam.events().contains(&(7000, EventKind::WifiRejected)));
}

#[test]
fn row_5_setup_red_slow_blink_until_provisioned() {
    let mut cam = Cam::fresh(ProfileId::Outdoor);
    cam.at(0, Input::PowerOn).until(3_600_000);
    assert_eq!(cam.lights().last(), Some(&(2000, C::Setup, RED_SLOW_BLINK)));
    assert_eq!(cam.core.state(), LifecycleState::Setup);
}

#[test]
fn row_6_joining_green_blink_then_setup_after_60_s_with_join_timeout() {
    let mut cam = Cam::fresh(ProfileId::Outdoor);
    cam.at(0, Input::PowerOn)
        .at(3000, Input::Provisioned)
        .until(62_999);
    assert_eq!(cam.lights().last(), Some(&(3000, C::Joining, GREEN_BLINK)));
    cam.until(63_000);
    assert_eq!(
        cam.lights().last(),
        Some(&(63_000, C::Setup, RED_SLOW_BLINK))
    );
    assert!(cam.events().contains(&(63_000, EventKind::JoinTimeout)));
    assert!(!cam.core.persisted().provisioned);
}

#[test]
fn row_7_motion_flash_1_ahead_of_the_recording_light() {
    let settings = Settings {
        armed: true,
        motion_indicator: true,
        ..Settings::default()
    };
    let mut cam = Cam::online(ProfileId::Xt, settings);
    cam.at(20_000, Input::Pir).until(40_000);
    assert_eq!(
        cam.lights(),
        vec![
            (20_000, C::Motion, flash(Color::Red, 1)),
            (20_300, C::Recording, BLUE_SOLID),
            (25_000, C::Idle, OFF)
        ]
    );
}

#[test]
fn row_7_a_trigger_that_extends_the_recording_flashes_again() {
    let settings = Settings {
        armed: true,
        motion_indicator: true,
        ..Settings::default()
    };
    let mut cam = Cam::online(ProfileId::Xt, settings);
    cam.at(20_000, Input::Pir)
        .at(23_000, Input::Pir)
        .until(40_000);
    assert_eq!(
        cam.lights(),
        vec![
            (20_000, C::Motion, flash(Color::Red, 1)),
            (20_300, C::Recording, BLUE_SOLID),
            (23_000, C::Motion, flash(Color::Red, 1)),
            (23_300, C::Recording, BLUE_SOLID),
            (28_000, C::Idle, OFF)
        ]
    );
}

#[test]
fn row_8_recording_blue_solid_while_it_lasts_and_hidden_when_recording_light_is_off() {
    let mut cam = Cam::online(
        ProfileId::Mini,
        Settings {
            armed: true,
            ..Settings::default()
        },
    );
    cam.at(20_000, Input::MotionStart)
        .at(27_000, Input::MotionEnd)
        .until(40_000);
    assert_eq!(
        cam.lights(),
        vec![(20_000, C::Recording, BLUE_SOLID), (32_000, C::Idle, OFF)]
    );

    let hidden = Settings {
        armed: true,
        recording_light: false,
        ..Settings::default()
    };
    let mut cam = Cam::online(ProfileId::Mini, hidden);
    cam.at(20_000, Input::MotionStart)
        .at(27_000, Input::MotionEnd)
        .until(40_000);
    assert!(cam.lights().is_empty());
    assert!(cam.events().contains(&(32_000, EventKind::MotionEnd)));
}

#[test]
fn row_8_live_view_shows_the_recording_light() {
    let mut cam = Cam::online(ProfileId::Mini, Settings::default());
    cam.at(20_000, Input::Command(Command::LiveStart))
        .at(30_000, Input::Command(Command::LiveStop));
    assert_eq!(
        cam.lights(),
        vec![(20_000, C::Recording, BLUE_SOLID), (30_000, C::Idle, OFF)]
    );
}

#[test]
fn row_9_status_check_blue_5_s_when_all_is_well() {
    let mut cam = Cam::online(ProfileId::Outdoor, Settings::default());
    cam.at(20_000, Input::ButtonDown)
        .at(20_400, Input::ButtonUp)
        .until(30_000);
    assert_eq!(
        cam.lights(),
        vec![(20_400, C::StatusCheck, BLUE_SOLID), (25_400, C::Idle, OFF)]
    );
}

#[test]
fn row_9_status_check_replays_a_lost_connection_and_a_quiet_low_battery() {
    let mut cam = Cam::online(ProfileId::Outdoor, Settings::default());
    cam.at(20_000, Input::LinkLost)
        .at(30_000, Input::ButtonDown)
        .at(30_500, Input::ButtonUp)
        .until(40_000);
    assert_eq!(
        cam.lights(),
        vec![
            (20_000, C::ConnectionLost, RED_BLINK),
            (30_500, C::StatusCheck, RED_BLINK),
            (35_500, C::ConnectionLost, RED_BLINK)
        ]
    );

    let mut cam = Cam::online(ProfileId::Outdoor, Settings::default());
    cam.battery(20_000, 2880, 2700).until(30_000);
    cam.clear();
    cam.at(30_000, Input::ButtonDown)
        .at(30_200, Input::ButtonUp)
        .until(36_000);
    assert_eq!(
        cam.lights(),
        vec![
            (30_200, C::StatusCheck, flash(Color::Red, 3)),
            (31_100, C::Idle, OFF)
        ]
    );
}

#[test]
fn row_9_a_press_between_1_s_and_the_reset_time_does_nothing() {
    let mut cam = Cam::online(ProfileId::Outdoor, Settings::default());
    cam.at(20_000, Input::ButtonDown)
        .at(21_000, Input::ButtonUp)
        .until(30_000);
    assert!(cam.lights().is_empty());
    assert!(cam.events().is_empty());
}

#[test]
fn row_10_connection_lost_red_blink_then_flash_every_5_s_after_10_min() {
    let mut cam = Cam::online(ProfileId::Mini, Settings::default());
    cam.at(20_000, Input::LinkLost)
        .until(20_000 + 600_000 + 5_300);
    let lost = 20_000;
    assert_eq!(
        cam.lights(),
        vec![
            (lost, C::ConnectionLost, RED_BLINK),
            (lost + 600_000, C::ConnectionLost, flash(Color::Red, 1)),
            (lost + 600_300, C::Idle, OFF),
            (lost + 605_000, C::ConnectionLost, flash(Color::Red, 1)),
            (lost + 605_300, C::Idle, OFF),
        ]
    );
    cam.clear();
    cam.at(lost + 606_000, Input::LinkRestored)
        .until(lost + 620_000);
    assert_eq!(
        cam.lights(),
        vec![
            (lost + 606_000, C::Connected, BLUE_SOLID),
            (lost + 611_000, C::Idle, OFF)
        ]
    );
}

#[test]
fn row_11_connected_blue_solid_5_s() {
    let mut cam = Cam::fresh(ProfileId::Outdoor);
    cam.at(0, Input::PowerOn)
        .at(3000, Input::Provisioned)
        .at(4321, Input::HubConnected)
        .until(20_000);
    assert_eq!(
        cam.lights()[3..],
        [(4321, C::Connected, BLUE_SOLID), (9321, C::Idle, OFF)]
    );
}

/// A battery camera sleeps through the end of its `connected` blue; what it reports
/// before sleeping says when that light ends and what follows (the hub shows it then).
#[test]
fn a_timed_light_says_when_it_ends_and_what_follows() {
    let mut cam = Cam::fresh(ProfileId::Outdoor);
    cam.at(0, Input::PowerOn)
        .at(3000, Input::Provisioned)
        .at(4321, Input::HubConnected);
    assert_eq!(cam.core.light(), (C::Connected, BLUE_SOLID));
    assert_eq!(cam.core.light_ends(), Some((9321, C::Idle, OFF)));
    cam.until(9321);
    assert_eq!(cam.core.light(), (C::Idle, OFF));
    assert_eq!(cam.core.light_ends(), None, "the idle light lasts");
}

#[test]
fn row_12_battery_low_flash_3_when_a_recording_ends_and_once_a_minute() {
    let mut cam = Cam::online(
        ProfileId::Xt,
        Settings {
            armed: true,
            ..Settings::default()
        },
    );
    cam.at(20_000, Input::Pir)
        .battery(21_000, 2950, 2550)
        .until(90_000);
    assert_eq!(
        cam.lights(),
        vec![
            (20_000, C::Recording, BLUE_SOLID),
            (25_000, C::BatteryLow, flash(Color::Red, 3)),
            (25_900, C::Idle, OFF),
            (81_000, C::BatteryLow, flash(Color::Red, 3)),
            (81_900, C::Idle, OFF),
        ]
    );
    assert!(cam.events().contains(&(21_000, EventKind::BatteryLow)));
}

#[test]
fn row_13_identify_green_flash_5() {
    let mut cam = Cam::online(ProfileId::Outdoor, Settings::default());
    cam.at(20_000, Input::Command(Command::Identify))
        .until(30_000);
    assert_eq!(
        cam.lights(),
        vec![
            (20_000, C::Identify, flash(Color::Green, 5)),
            (21_500, C::Idle, OFF)
        ]
    );
}

#[test]
fn row_14_idle_is_off_or_blue_dim_with_status_light_always_on() {
    let settings = Settings {
        status_light_always_on: true,
        ..Settings::default()
    };
    let mut cam = Cam::fresh(ProfileId::Outdoor);
    cam.at(0, Input::PowerOn)
        .at(3000, Input::Provisioned)
        .at(4000, Input::HubConnected)
        .until(10_000);
    assert_eq!(cam.lights().last(), Some(&(9000, C::Idle, OFF)));

    let mut cam = Cam::new(ProfileId::Outdoor, settings);
    cam.at(0, Input::PowerOn)
        .at(3000, Input::Provisioned)
        .at(4000, Input::HubConnected)
        .until(10_000);
    assert_eq!(cam.lights().last(), Some(&(9000, C::Idle, BLUE_DIM)));
}

#[test]
fn higher_rows_hide_lower_ones_recording_over_connection_lost() {
    let mut cam = Cam::online(
        ProfileId::Mini,
        Settings {
            armed: true,
            ..Settings::default()
        },
    );
    cam.at(20_000, Input::LinkLost)
        .at(21_000, Input::MotionStart)
        .at(22_000, Input::MotionEnd)
        .until(30_000);
    assert_eq!(
        cam.lights(),
        vec![
            (20_000, C::ConnectionLost, RED_BLINK),
            (21_000, C::Recording, BLUE_SOLID),
            (27_000, C::ConnectionLost, RED_BLINK)
        ]
    );
}
