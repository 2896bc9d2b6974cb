//! Property tests of the core: random input sequences never panic, time never runs
//! backwards in the outputs, and the light is always the table's light of the
//! highest-priority condition that shows.

mod support;

use proptest::prelude::*;
use support::*;
use watchlight_camera::{BatteryReading, Command, Core, Input, Output, PersistedState};
use watchlight_protocol::{
    Color, ConditionId as C, LifecycleState as S, Light, Part, ProfileId, Settings, SettingsPatch,
};

fn input() -> impl Strategy<Value = Input> {
    prop_oneof![
        1 => Just(Input::PowerOn),
        1 => Just(Input::Provisioned),
        1 => Just(Input::WifiRejected),
        3 => Just(Input::HubConnected),
        1 => Just(Input::HubRejected),
        2 => Just(Input::LinkLost),
        1 => Just(Input::LinkRestored),
        3 => Just(Input::Pir),
        3 => Just(Input::MotionStart),
        3 => Just(Input::MotionEnd),
        2 => (2000u32..3700, 2000u32..3700).prop_map(|(r, l)| Input::Battery(BatteryReading {
            resting_mv: r,
            loaded_mv: l.min(r),
            temp_c: 20.0,
        })),
        2 => Just(Input::ButtonDown),
        2 => Just(Input::ButtonUp),
        1 => (any::<bool>(), any::<bool>(), any::<bool>(), 0u32..8).prop_map(|(a, b, c, post)| {
            let patch = SettingsPatch {
                motion_indicator: Some(a),
                recording_light: Some(b),
                status_light_always_on: Some(c),
                post_roll: Some(post),
                ..SettingsPatch::default()
            };
            Input::Settings(Box::new(Settings::default().patched(&patch).unwrap()))
        }),
        1 => any::<bool>().prop_map(Input::Armed),
        1 => prop::sample::select(Command::ALL.to_vec()).prop_map(Input::Command),
        2 => prop::sample::select(Part::ALL.to_vec()).prop_map(Input::SensorOk),
        2 => prop::sample::select(Part::ALL.to_vec()).prop_map(|part| Input::SensorFailed {
            part,
            reason: "no frame".into(),
        }),
    ]
}

fn gap() -> impl Strategy<Value = u64> {
    prop_oneof![Just(0u64), 1u64..400, 400u64..6000, 6000u64..700_000]
}

/// The lights each condition may show (SPEC §3's "light" column).
fn allowed(condition: C, light: Light) -> bool {
    let is = |l: Light| l == light;
    match condition {
        C::ResetArmed => is(RED_FAST_BLINK),
        C::BatteryCritical => is(flash(Color::Red, 3)) || is(OFF),
        C::Booting => is(RED_BLINK),
        C::WifiRejected => is(RED_SOLID),
        C::Setup => is(RED_SLOW_BLINK),
        C::Joining => is(GREEN_BLINK),
        C::Motion => is(flash(Color::Red, 1)),
        C::Recording => is(BLUE_SOLID),
        C::StatusCheck => is(RED_BLINK) || is(flash(Color::Red, 3)) || is(BLUE_SOLID),
        C::ConnectionLost => is(RED_BLINK) || is(flash(Color::Red, 1)),
        C::Connected => is(BLUE_SOLID),
        C::BatteryLow => is(flash(Color::Red, 3)),
        C::Identify => is(flash(Color::Green, 5)),
        C::Idle => is(OFF) || is(BLUE_DIM),
    }
}

fn check(core: &Core, last_light: Option<(C, Light)>) -> Result<(), TestCaseError> {
    let (condition, light) = core.light();
    prop_assert!(allowed(condition, light), "{condition} shows {light}");
    if let Some(emitted) = last_light {
        prop_assert_eq!(
            emitted,
            (condition, light),
            "last Light output is the light shown"
        );
    }
    // Highest priority among the conditions that show something.
    for higher in C::ALL.into_iter().take_while(|&c| c != condition) {
        prop_assert!(
            core.showing(higher).is_none(),
            "{higher} shows but {condition} has the light"
        );
    }
    prop_assert!(core.holds(condition));
    // What the lifecycle state alone implies about the light.
    let reset = condition == C::ResetArmed;
    match core.state() {
        S::Shutdown => prop_assert_eq!(condition, C::BatteryCritical),
        S::Booting => prop_assert!(reset || condition == C::Booting, "{condition}"),
        S::Setup => prop_assert!(
            reset || condition == C::WifiRejected || condition == C::Setup,
            "{condition}"
        ),
        S::Joining => prop_assert!(reset || condition == C::Joining, "{condition}"),
        S::Off | S::Factory => prop_assert_eq!((condition, light), (C::Idle, OFF)),
        S::Online | S::Offline => {
            prop_assert!(
                reset || condition > C::Joining,
                "{condition} while {}",
                core.state()
            );
            if core.is_recording() && core.settings().recording_light {
                prop_assert!(
                    reset || condition == C::Motion || condition == C::Recording,
                    "recording but showing {condition}"
                );
            }
            if core.state() == S::Online {
                prop_assert!(condition != C::ConnectionLost);
            }
        }
        S::Sleeping | S::Resetting => {}
    }
    if let Some(next) = core.poll_timeout() {
        prop_assert!(next > core.now_ms(), "a timer is overdue");
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    #[test]
    fn random_inputs_never_panic_and_the_light_follows_the_table(
        profile in prop::sample::select(ProfileId::ALL.to_vec()),
        armed in any::<bool>(),
        indicator in any::<bool>(),
        steps in prop::collection::vec((gap(), input()), 1..80),
    ) {
        let settings = Settings { armed, motion_indicator: indicator, ..Settings::default() };
        let persisted = PersistedState { settings, ..PersistedState::default() };
        let mut core = Core::new(profile.profile(), persisted, 0);
        let mut now = 0u64;
        let mut last_t = 0u64;
        let mut last_light = None;
        for (dt, input) in steps {
            // Half the gaps are spent in one timeout call, half by inputs alone.
            if dt % 2 == 0 {
                core.handle_timeout(now + dt / 2);
            }
            now += dt;
            core.handle_input(now, input);
            while let Some(out) = core.poll_output() {
                prop_assert!(out.t_ms >= last_t, "time ran backwards");
                prop_assert!(out.t_ms <= now);
                last_t = out.t_ms;
                if let Output::Light { condition, light } = out.output {
                    last_light = Some((condition, light));
                }
            }
            check(&core, last_light)?;
        }
    }

    #[test]
    fn late_and_early_drivers_see_the_same_timeline(
        profile in prop::sample::select(ProfileId::ALL.to_vec()),
        steps in prop::collection::vec((gap(), input()), 1..40),
    ) {
        // One driver wakes at every poll_timeout, the other only for inputs: the
        // outputs and their times must be identical.
        let run = |eager: bool| {
            let mut core = Core::new(profile.profile(), PersistedState::default(), 0);
            let mut now = 0u64;
            let mut log = Vec::new();
            for (dt, input) in &steps {
                let target = now + dt;
                if eager {
                    while let Some(t) = core.poll_timeout().filter(|&t| t <= target) {
                        core.handle_timeout(t);
                    }
                }
                now = target;
                core.handle_input(now, input.clone());
                while let Some(out) = core.poll_output() {
                    log.push(out);
                }
            }
            log
        };
        prop_assert_eq!(run(true), run(false));
    }
}
