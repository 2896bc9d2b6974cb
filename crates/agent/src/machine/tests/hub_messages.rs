//! The hub's messages: settings, commands, Wi-Fi change, live view.

use super::*;

#[test]
fn settings_from_the_hub_reach_the_core_and_the_state_says_so() {
    let mut rig = Rig::new(MAINS, 1);
    rig.step_to(3_000);
    let settings = Settings {
        version: 7,
        sensitivity: Settings::default().sensitivity.saturating_sub(1).max(1),
        ..Settings::default()
    };
    assert_ne!(rig.m.core().settings(), &settings);
    let msg = SettingsMsg {
        v: 1,
        ts: 0,
        settings: settings.clone(),
    };
    let payload = encode(&msg);
    // A message of a session already gone changes nothing.
    rig.input(Input::Message {
        session: 99,
        topic: rig.topics.settings(),
        payload: payload.clone(),
    });
    assert_eq!(rig.m.core().settings().version, Settings::default().version);

    let session = rig.session.unwrap();
    let topic = rig.topics.settings();
    rig.input(Input::Message {
        session,
        topic,
        payload,
    });
    assert_eq!(rig.m.core().settings(), &settings);
    assert!(rig.log.iter().any(|(_, o)| *o == Output::SettingsChanged));
    let (_, _, state, _) = rig.published(DeviceTopic::State).pop().unwrap();
    assert_eq!(decode::<StateMsg>(&state).unwrap().settings_version, 7);
}

#[test]
fn new_wifi_credentials_the_access_point_refuses_are_undone_and_the_result_says_so() {
    let mut rig = Rig::new(MAINS, 1);
    rig.step_to(3_000);
    rig.hub_message(
        "cmd/wifi",
        r#"{"v":1,"ts":0,"id":"w1","args":{"ssid":"home-ap","passphrase":"typo"}}"#,
    );
    rig.drain();
    let saved = |rig: &Rig| -> Vec<String> {
        rig.log
            .iter()
            .filter_map(|(_, o)| match o {
                Output::SaveCredentials(c) => Some(c.wifi_passphrase.clone()),
                _ => None,
            })
            .collect()
    };
    assert_eq!(saved(&rig), ["typo"], "kept before rejoining");
    rig.step_to(3_000 + REJOIN_AFTER_MS);
    assert_eq!(
        rig.said(Availability::Offline),
        [3_000 + REJOIN_AFTER_MS],
        "a goodbye"
    );
    assert!(rig.log.iter().any(|(_, o)| *o == Output::DropWifiLink));
    rig.lose_link(); // the goodbye's session ends
    assert_eq!(saved(&rig), ["typo", "right"], "the old ones back");
    assert_eq!(rig.m.credentials().unwrap().wifi_passphrase, "right");
    rig.step_to(rig.now);
    assert_eq!(rig.connects().len(), 2, "back with the old credentials");

    let (_, _, result, _) = rig.published(DeviceTopic::CmdResult).pop().unwrap();
    let result = decode::<CmdResultMsg>(&result).unwrap();
    assert_eq!((result.id.as_str(), result.ok), ("w1", false));
    assert!(result.error.unwrap().contains("kept the old ones"));
    assert!(
        rig.m.core().state() == LifecycleState::Online,
        "a rejoin is not a lost link"
    );
}

#[test]
fn a_live_stream_nobody_answers_stops_and_the_core_hears_it() {
    let mut rig = Rig::new(MAINS, 1);
    rig.step_to(3_000);
    rig.hub_message("cmd/live_start", r#"{"v":1,"ts":0,"id":"l1"}"#);
    rig.drain();
    assert!(rig.m.live().is_streaming());
    assert_eq!(
        rig.m.shown().0,
        ConditionId::Recording,
        "the light says live"
    );
    assert_eq!(rig.m.use_frame().stream, Some(1));
    rig.step_to(3_000 + live::WATCHDOG_MS - 1);
    assert!(rig.m.live().is_streaming());
    rig.step_to(3_000 + live::WATCHDOG_MS);
    assert!(!rig.m.live().is_streaming(), "the watchdog stopped it");
    assert_ne!(rig.m.shown().0, ConditionId::Recording, "the core heard it");
}

#[test]
fn the_hubs_time_dates_what_follows_and_an_expired_command_is_refused() {
    use watchlight_protocol::light_table::CONNECTED_MS;
    let mut rig = Rig::new(MAINS, 1);
    rig.hub_acks = true;
    // After the connected light, so that identify's shows.
    let t = BOOT_MS + CONNECTED_MS + 1_000;
    rig.step_to(t);
    rig.hub_message(
        "cmd/time",
        r#"{"v":1,"ts":0,"id":"t1","args":{"now_ms":5000000}}"#,
    );
    rig.drain();
    assert_eq!(rig.m.hub_time(t), 5_000_000);
    assert_eq!(rig.m.hub_time(t + 1_000), 5_001_000);

    rig.step_to(t + 1_000);
    rig.hub_message(
        "cmd/identify",
        r#"{"v":1,"ts":0,"id":"i1","expires_ts":5000999}"#,
    );
    rig.hub_message("cmd/fly", r#"{"v":1,"ts":0,"id":"f1"}"#);
    rig.drain();
    assert_eq!(
        rig.m.shown().0,
        ConditionId::Idle,
        "the core never heard it"
    );
    let results = rig.results();
    assert_eq!(results[0], ("t1".into(), true, None));
    assert_eq!(results[1], ("i1".into(), false, Some("expired".into())));
    assert_eq!(results[2].0, "f1");
    assert!(
        results[2]
            .2
            .as_ref()
            .unwrap()
            .contains("unknown command 'fly'")
    );

    rig.hub_message(
        "cmd/identify",
        r#"{"v":1,"ts":0,"id":"i2","expires_ts":5001001}"#,
    );
    rig.drain();
    assert_eq!(
        rig.m.shown().0,
        ConditionId::Identify,
        "in time: the core acts"
    );

    // What happens from now on is dated in the hub's time.
    rig.step_to(t + 2_500);
    rig.lose_link();
    let lost = rig.log.iter().find_map(|(_, o)| match o {
        Output::Enqueue(e) if e.kind == EventKind::LinkLost => Some(e.ts),
        _ => None,
    });
    assert_eq!(lost, Some(5_002_500));
}

#[test]
fn a_snapshot_is_answered_when_its_upload_ends_or_fails_when_no_frame_comes() {
    let mut rig = Rig::new(MAINS, 1);
    rig.step_to(3_000);
    rig.hub_message("cmd/snapshot", r#"{"v":1,"ts":0,"id":"s1"}"#);
    rig.drain();
    assert!(rig.m.live().wants_frame());
    let used = rig.m.use_frame();
    assert_eq!(used.snapshot_for, ["s1"]);
    assert!(rig.results().is_empty(), "no answer before the hub has it");
    rig.input(Input::SnapshotUploaded {
        cmd_ids: used.snapshot_for,
        result: Ok(()),
    });
    assert_eq!(rig.results(), [("s1".into(), true, None)]);

    rig.hub_message("cmd/snapshot", r#"{"v":1,"ts":0,"id":"s2"}"#);
    rig.drain();
    rig.step_to(3_000 + live::SNAPSHOT_WAIT_MS - 1);
    assert_eq!(rig.results().len(), 1);
    rig.step_to(3_000 + live::SNAPSHOT_WAIT_MS);
    let (id, ok, error) = rig.results().pop().unwrap();
    assert_eq!((id.as_str(), ok), ("s2", false));
    assert!(error.unwrap().contains("no frame"));
}

#[test]
fn a_factory_reset_answers_then_forgets_the_hub_and_empties_the_queue() {
    let mut rig = Rig::new(MAINS, 1);
    rig.step_to(3_000);
    rig.hub_message("cmd/factory_reset", r#"{"v":1,"ts":0,"id":"r1"}"#);
    rig.drain();
    assert_eq!(rig.results(), [("r1".into(), true, None)]);
    let result = rig.published(DeviceTopic::CmdResult)[0].0;
    let dropped = rig.first(|o| *o == Output::DropSession).expect("hangs up");
    let forgot = rig
        .first(|o| *o == Output::ForgetCredentials)
        .expect("forgets");
    let cleared = rig
        .first(|o| *o == Output::ClearQueue)
        .expect("empties the queue");
    assert!(result < dropped && dropped < forgot && forgot < cleared);
    assert!(rig.m.credentials().is_none());
    rig.step_to(60_000);
    assert_eq!(rig.m.core().state(), LifecycleState::Setup);
    assert_eq!(rig.connects().len(), 1, "no hub to connect to");
}
