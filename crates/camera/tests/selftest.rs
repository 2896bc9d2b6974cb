//! The camera tests its own parts: a self-test at boot (3 s) and a watch while running
//! (10 s), one `self_test_failed` event per failure episode naming the part, exact to
//! the ms on the virtual clock.

mod support;

use serde_json::{Map, Value};
use support::*;
use watchlight_camera::{
    Command, Core, Input, Output, PersistedState, SELF_TEST_BOOT_MS, SENSOR_WATCH_MS,
};
use watchlight_protocol::{EventKind, LifecycleState as S, Part, ProfileId, Settings};

/// A camera that was set up before, powered off at 0.
fn set_up(profile: ProfileId) -> Cam {
    let persisted = PersistedState {
        provisioned: true,
        setup_completed: true,
        settings: Settings::default(),
    };
    Cam {
        core: Core::new(profile.profile(), persisted, 0),
        log: Vec::new(),
    }
}

/// What a driver at 10 fps reports: `part` fails on every read in `[from, to)`.
fn failing(cam: &mut Cam, part: Part, from: u64, to: u64) {
    for t in (from..to).step_by(100) {
        cam.at(
            t,
            Input::SensorFailed {
                part,
                reason: "frame read timed out".into(),
            },
        );
    }
}

/// The `self_test_failed` events so far, with their time and data.
fn failures(cam: &Cam) -> Vec<(u64, Map<String, Value>)> {
    cam.outputs(|o| {
        matches!(
            o,
            Output::Event {
                kind: EventKind::SelfTestFailed,
                ..
            }
        )
    })
    .into_iter()
    .map(|(t, o)| match o {
        Output::Event { data, .. } => (t, data),
        _ => unreachable!(),
    })
    .collect()
}

fn part_of(data: &Map<String, Value>) -> &str {
    data["part"].as_str().unwrap_or_default()
}

#[test]
fn a_sensor_that_never_gives_a_frame_fails_the_boot_self_test_3_s_after_power_on() {
    let mut cam = set_up(ProfileId::Mini);
    cam.at(0, Input::PowerOn);
    failing(&mut cam, Part::ImageSensor, 0, 2_950);
    cam.until(SELF_TEST_BOOT_MS - 1);
    assert_eq!(failures(&cam), vec![], "not before 3 s");
    cam.until(SELF_TEST_BOOT_MS);
    let got = failures(&cam);
    assert_eq!(got.len(), 1, "{got:?}");
    let (t, data) = &got[0];
    assert_eq!(*t, SELF_TEST_BOOT_MS);
    assert_eq!(part_of(data), "image_sensor");
    assert_eq!(data["phase"], "boot");
    assert_eq!(data["failing_ms"], SELF_TEST_BOOT_MS);
    assert_eq!(data["reason"], "frame read timed out");
    assert!(cam.core.part_failed(Part::ImageSensor));
    assert!(!cam.core.part_failed(Part::MotionSensor));
}

#[test]
fn a_sensor_that_stops_while_running_is_reported_once_after_10_s_of_failures() {
    let mut cam = Cam::online(ProfileId::Mini, Settings::default());
    cam.at(10_000, Input::SensorOk(Part::ImageSensor));
    failing(&mut cam, Part::ImageSensor, 20_000, 29_950);
    cam.until(29_999);
    assert_eq!(failures(&cam), vec![]);
    // It keeps failing for a minute: still one event, at 10 s.
    failing(&mut cam, Part::ImageSensor, 30_000, 90_000);
    let got = failures(&cam);
    assert_eq!(got.len(), 1, "one event per episode: {got:?}");
    assert_eq!(got[0].0, 20_000 + SENSOR_WATCH_MS);
    assert_eq!(part_of(&got[0].1), "image_sensor");
    assert_eq!(got[0].1["phase"], "running");
    assert_eq!(got[0].1["failing_ms"], SENSOR_WATCH_MS);
}

#[test]
fn one_good_frame_ends_an_episode_and_a_new_one_is_reported_again() {
    let mut cam = Cam::online(ProfileId::Mini, Settings::default());
    cam.at(10_000, Input::SensorOk(Part::ImageSensor));
    // A hiccup of 9.9 s: nothing to report.
    failing(&mut cam, Part::ImageSensor, 20_000, 29_950);
    cam.at(29_950, Input::SensorOk(Part::ImageSensor));
    failing(&mut cam, Part::ImageSensor, 30_000, 39_950);
    cam.until(39_999);
    assert_eq!(failures(&cam), vec![], "the hiccup restarted the count");
    cam.until(40_000);
    assert_eq!(failures(&cam).len(), 1);
    // Works again, then fails again: a second episode, a second event.
    cam.at(45_000, Input::SensorOk(Part::ImageSensor));
    assert!(!cam.core.part_failed(Part::ImageSensor));
    failing(&mut cam, Part::ImageSensor, 50_000, 70_000);
    let times: Vec<u64> = failures(&cam).into_iter().map(|(t, _)| t).collect();
    assert_eq!(times, vec![40_000, 60_000]);
}

#[test]
fn the_event_is_emitted_while_offline_so_it_waits_in_the_queue() {
    let mut cam = Cam::online(ProfileId::Mini, Settings::default());
    cam.at(10_000, Input::SensorOk(Part::ImageSensor))
        .at(15_000, Input::LinkLost);
    failing(&mut cam, Part::ImageSensor, 20_000, 31_000);
    assert_eq!(cam.core.state(), S::Offline);
    let times: Vec<u64> = failures(&cam).into_iter().map(|(t, _)| t).collect();
    assert_eq!(times, vec![30_000]);
}

#[test]
fn parts_are_watched_apart_and_the_pir_is_named_when_it_fails() {
    let mut cam = Cam::online(ProfileId::Xt, Settings::default());
    cam.at(10_000, Input::SensorOk(Part::ImageSensor))
        .at(10_000, Input::SensorOk(Part::MotionSensor));
    for t in (20_000..35_000).step_by(100) {
        cam.at(t, Input::SensorOk(Part::ImageSensor)).at(
            t,
            Input::SensorFailed {
                part: Part::MotionSensor,
                reason: "no answer".into(),
            },
        );
    }
    let got = failures(&cam);
    assert_eq!(got.len(), 1, "{got:?}");
    assert_eq!(got[0].0, 30_000);
    assert_eq!(part_of(&got[0].1), "motion_sensor");
    assert!(!cam.core.part_failed(Part::ImageSensor));
}

#[test]
fn a_failed_part_changes_no_light() {
    let mut cam = Cam::online(ProfileId::Mini, Settings::default());
    cam.at(10_000, Input::SensorOk(Part::ImageSensor));
    failing(&mut cam, Part::ImageSensor, 20_000, 40_000);
    assert_eq!(failures(&cam).len(), 1);
    assert_eq!(
        cam.lights(),
        vec![],
        "SPEC §3 has no light for a failed part"
    );
    assert_eq!(
        cam.core.light(),
        (watchlight_protocol::ConditionId::Idle, OFF)
    );
}

#[test]
fn a_camera_dead_out_of_the_box_reports_its_boot_failure_once_provisioned() {
    let mut cam = Cam::fresh(ProfileId::Mini);
    cam.at(0, Input::PowerOn);
    failing(&mut cam, Part::ImageSensor, 0, 8_000);
    // No hub to tell yet: held, not emitted (the agent queues nothing before pairing).
    assert_eq!(failures(&cam), vec![]);
    cam.at(8_000, Input::Provisioned);
    let got = failures(&cam);
    assert_eq!(got.len(), 1, "{got:?}");
    assert_eq!(got[0].0, 8_000);
    assert_eq!(got[0].1["phase"], "boot");
    assert_eq!(got[0].1["failing_ms"], SELF_TEST_BOOT_MS);
    // Reported once: going on failing after provisioning adds nothing.
    failing(&mut cam, Part::ImageSensor, 8_000, 30_000);
    assert_eq!(failures(&cam).len(), 1);
}

#[test]
fn a_sensor_that_recovered_before_provisioning_is_not_reported() {
    let mut cam = Cam::fresh(ProfileId::Mini);
    cam.at(0, Input::PowerOn);
    failing(&mut cam, Part::ImageSensor, 0, 5_000);
    cam.at(5_000, Input::SensorOk(Part::ImageSensor))
        .at(8_000, Input::Provisioned)
        .until(20_000);
    assert_eq!(failures(&cam), vec![]);
}

#[test]
fn a_reboot_tests_afresh_and_a_powered_off_camera_tests_nothing() {
    let mut cam = Cam::online(ProfileId::Mini, Settings::default());
    cam.at(10_000, Input::SensorOk(Part::ImageSensor));
    failing(&mut cam, Part::ImageSensor, 20_000, 31_000);
    assert_eq!(failures(&cam).len(), 1);
    // The owner reboots it (the doctor's cheap step): the boot self-test fails again.
    cam.at(31_000, Input::Command(Command::Reboot));
    failing(&mut cam, Part::ImageSensor, 31_000, 40_000);
    let got = failures(&cam);
    assert_eq!(got.len(), 2, "{got:?}");
    assert_eq!(got[1].0, 31_000 + SELF_TEST_BOOT_MS);
    assert_eq!(got[1].1["phase"], "boot");

    // A camera that is off ignores what a driver might still report.
    let mut off = set_up(ProfileId::Mini);
    failing(&mut off, Part::ImageSensor, 0, 20_000);
    off.until(60_000);
    assert_eq!(failures(&off), vec![]);
    assert_eq!(off.core.poll_timeout(), None);
}

#[test]
fn battery_critical_shutdown_stops_the_watch() {
    let mut cam = Cam::online(ProfileId::Xt, Settings::default());
    cam.at(10_000, Input::SensorOk(Part::ImageSensor));
    failing(&mut cam, Part::ImageSensor, 20_000, 25_000);
    cam.battery(25_000, 2400, 2300);
    assert_eq!(cam.core.state(), S::Shutdown);
    cam.until(60_000);
    assert_eq!(failures(&cam), vec![]);
}
