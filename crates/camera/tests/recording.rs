//! The decision to record (SPEC §7): armed, motion detection on, the profile's trigger,
//! post-roll, the clip cap and the retrigger cooldown.

mod support;

use support::*;
use watchlight_camera::{Command, Input, Output, RecordTrigger, StopReason};
use watchlight_protocol::{ProfileId, Settings};

fn armed() -> Settings {
    Settings {
        armed: true,
        ..Settings::default()
    }
}

fn recordings(cam: &Cam) -> Vec<(u64, Output)> {
    cam.outputs(|o| {
        matches!(
            o,
            Output::StartRecording { .. } | Output::StopRecording { .. }
        )
    })
}

fn start(trigger: RecordTrigger) -> Output {
    Output::StartRecording { trigger }
}

fn stop(reason: StopReason) -> Output {
    Output::StopRecording { reason }
}

#[test]
fn pir_alone_records_on_pir_only_profiles() {
    for profile in [ProfileId::Xt, ProfileId::Xt2] {
        let mut cam = Cam::online(profile, armed());
        cam.at(20_000, Input::Pir).until(40_000);
        assert_eq!(
            recordings(&cam),
            vec![
                (20_000, start(RecordTrigger::Pir)),
                (25_000, stop(StopReason::PostRoll))
            ],
            "{profile}"
        );
    }
}

#[test]
fn confirming_profiles_need_pixel_motion_within_confirm_ms() {
    for profile in [ProfileId::Indoor, ProfileId::Outdoor] {
        let mut cam = Cam::online(profile, armed());
        cam.at(20_000, Input::Pir).until(30_000);
        assert!(recordings(&cam).is_empty(), "PIR alone must not record");

        let mut cam = Cam::online(profile, armed());
        cam.at(20_000, Input::Pir).at(22_001, Input::MotionStart);
        assert!(recordings(&cam).is_empty(), "confirmation too late");

        let mut cam = Cam::online(profile, armed());
        cam.at(20_000, Input::Pir)
            .at(22_000, Input::MotionStart)
            .at(24_000, Input::MotionEnd)
            .until(40_000);
        assert_eq!(
            recordings(&cam),
            vec![
                (22_000, start(RecordTrigger::Pir)),
                (29_000, stop(StopReason::PostRoll))
            ]
        );
    }
}

#[test]
fn mini_records_on_pixel_motion() {
    let mut cam = Cam::online(ProfileId::Mini, armed());
    cam.at(20_000, Input::MotionStart)
        .at(21_000, Input::MotionEnd)
        .until(40_000);
    assert_eq!(
        recordings(&cam),
        vec![
            (20_000, start(RecordTrigger::Pixel)),
            (26_000, stop(StopReason::PostRoll))
        ]
    );
}

#[test]
fn disarmed_or_motion_detection_off_neither_records_nor_flashes() {
    let indicator = Settings {
        motion_indicator: true,
        ..Settings::default()
    };
    let mut cam = Cam::online(ProfileId::Mini, indicator.clone());
    cam.at(20_000, Input::MotionStart).until(40_000);
    assert!(cam.log.is_empty());

    let off = Settings {
        armed: true,
        motion_detection: false,
        ..indicator
    };
    let mut cam = Cam::online(ProfileId::Mini, off);
    cam.at(20_000, Input::MotionStart).until(40_000);
    assert!(cam.log.is_empty());
}

#[test]
fn not_online_or_offline_means_no_recording() {
    let mut cam = Cam::armed(ProfileId::Mini);
    cam.at(0, Input::PowerOn)
        .at(3000, Input::MotionStart)
        .until(10_000);
    assert!(recordings(&cam).is_empty());
}

#[test]
fn recording_continues_offline() {
    let mut cam = Cam::online(ProfileId::Mini, armed());
    cam.at(20_000, Input::LinkLost)
        .at(21_000, Input::MotionStart)
        .at(22_000, Input::MotionEnd)
        .until(40_000);
    assert_eq!(recordings(&cam).len(), 2);
}

#[test]
fn motion_that_lasts_is_capped_at_max_clip_then_cools_down() {
    let mut cam = Cam::online(ProfileId::Mini, armed());
    cam.at(20_000, Input::MotionStart).until(60_000);
    assert_eq!(
        recordings(&cam),
        vec![
            (20_000, start(RecordTrigger::Pixel)),
            (50_000, stop(StopReason::MaxClip))
        ]
    );
    // A new trigger during the 10 s cooldown is ignored; after it, it records.
    cam.at(59_999, Input::MotionEnd)
        .at(59_999, Input::MotionStart)
        .at(60_000, Input::MotionEnd)
        .at(60_000, Input::MotionStart);
    assert_eq!(recordings(&cam).len(), 3);
    assert_eq!(recordings(&cam)[2], (60_000, start(RecordTrigger::Pixel)));
}

#[test]
fn new_motion_extends_the_post_roll() {
    let mut cam = Cam::online(ProfileId::Xt, armed());
    cam.at(20_000, Input::Pir)
        .at(24_000, Input::Pir)
        .at(28_000, Input::Pir)
        .until(60_000);
    assert_eq!(
        recordings(&cam),
        vec![
            (20_000, start(RecordTrigger::Pir)),
            (33_000, stop(StopReason::PostRoll))
        ]
    );
}

#[test]
fn disarming_stops_a_recording() {
    let mut cam = Cam::online(ProfileId::Mini, armed());
    cam.at(20_000, Input::MotionStart)
        .at(22_000, Input::Armed(false));
    assert_eq!(recordings(&cam)[1], (22_000, stop(StopReason::Disarmed)));
}

#[test]
fn settings_change_post_roll_max_clip_and_retrigger() {
    let settings = Settings {
        armed: true,
        post_roll: 2,
        max_clip: 4,
        retrigger: 0,
        ..Settings::default()
    };
    let mut cam = Cam::online(ProfileId::Xt, settings);
    cam.at(20_000, Input::Pir)
        .at(21_500, Input::Pir)
        .at(23_000, Input::Pir)
        .until(24_000)
        .at(24_000, Input::Pir)
        .until(40_000);
    assert_eq!(
        recordings(&cam),
        vec![
            (20_000, start(RecordTrigger::Pir)),
            (24_000, stop(StopReason::MaxClip)),
            (24_000, start(RecordTrigger::Pir)),
            (26_000, stop(StopReason::PostRoll))
        ]
    );
}

#[test]
fn invalid_settings_are_refused_and_the_old_ones_kept() {
    let mut cam = Cam::online(ProfileId::Mini, armed());
    let bad = Settings {
        sensitivity: 0,
        ..armed()
    };
    cam.at(20_000, Input::Settings(Box::new(bad)));
    assert!(matches!(
        cam.log[0].output,
        Output::SettingsRejected { ref reason } if reason.contains("sensitivity")
    ));
    assert_eq!(cam.core.settings().sensitivity, 5);
}

#[test]
fn manual_record_command_records_even_disarmed() {
    let mut cam = Cam::online(ProfileId::Mini, Settings::default());
    cam.at(20_000, Input::Command(Command::Record))
        .until(30_000);
    assert_eq!(
        recordings(&cam),
        vec![
            (20_000, start(RecordTrigger::Manual)),
            (25_000, stop(StopReason::PostRoll))
        ]
    );
}

#[test]
fn battery_cameras_check_in_on_motion() {
    let mut cam = Cam::online(ProfileId::Xt, armed());
    cam.at(20_000, Input::Pir);
    assert_eq!(
        cam.outputs(|o| matches!(o, Output::CheckIn)),
        vec![(20_000, Output::CheckIn)]
    );
}
