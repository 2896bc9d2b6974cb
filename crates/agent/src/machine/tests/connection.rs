//! Connection attempts, backoff and jitter; a battery camera's check-in and sleep.

use super::*;

/// Loses the link at 10 s and lets every attempt fail until `until`; returns the Wi-Fi
/// joins (when the core's backoff fires) and the attempts (after the jitter) after the loss.
fn failing_reconnects(seed: u64, until: u64) -> (Vec<u64>, Vec<u64>) {
    let mut rig = Rig::new(MAINS, seed);
    rig.step_to(10_000);
    assert_eq!(
        rig.connects(),
        [BOOT_MS],
        "first connection when the boot ends, no jitter"
    );
    rig.on_connect = OnConnect::Fail;
    rig.lose_link();
    rig.step_to(until);
    let after = |v: Vec<u64>| v.into_iter().filter(|&t| t > 10_000).collect::<Vec<_>>();
    (after(rig.joins()), after(rig.connects()))
}

#[test]
fn reconnect_backoff_doubles_to_its_cap_with_a_jitter_the_seed_fixes() {
    let (joins, attempts) = failing_reconnects(7, 400_000);
    // The core's backoff: 1 s after the loss, then doubling, capped at 60 s (mains).
    let gaps: Vec<u64> = joins.windows(2).map(|w| w[1] - w[0]).collect();
    assert_eq!(joins[0], 11_000);
    assert_eq!(
        gaps[..8],
        [2_000, 4_000, 8_000, 16_000, 32_000, 60_000, 60_000, 60_000]
    );
    // Each attempt waits up to a fifth of its backoff after the join.
    assert_eq!(joins.len(), attempts.len());
    let delays: Vec<u64> = joins.iter().zip(&attempts).map(|(j, a)| a - j).collect();
    for (k, d) in delays.iter().enumerate() {
        let backoff = (1_000u64 << k).min(60_000);
        assert!(
            *d <= backoff / 5,
            "attempt {}: {d} ms after the join",
            k + 1
        );
    }
    assert!(
        delays.iter().any(|&d| d > 0),
        "jitter spreads the attempts: {delays:?}"
    );

    let (_, again) = failing_reconnects(7, 400_000);
    assert_eq!(again, attempts, "the same seed, the same attempts");
    let (_, other) = failing_reconnects(8, 400_000);
    assert_ne!(other, attempts, "another seed, other attempts");
}

#[test]
fn a_mains_camera_leaves_a_last_will_and_a_battery_camera_none() {
    for (profile, will) in [(MAINS, true), (BATTERY, false)] {
        let mut rig = Rig::new(profile, 1);
        rig.step_to(BOOT_MS);
        let last_will = rig.log.iter().find_map(|(_, o)| match o {
            Output::Connect { last_will, .. } => Some(last_will.clone()),
            _ => None,
        });
        let last_will = last_will.expect("connects when the boot ends");
        assert_eq!(last_will.is_some(), will, "{profile:?}");
        if let Some((topic, payload)) = last_will {
            assert_eq!(topic, rig.topics.topic(DeviceTopic::Availability));
            let msg = decode::<AvailabilityMsg>(&payload).unwrap();
            assert_eq!(msg.availability, Availability::Offline);
        }
    }
}

// ----- a battery camera's check-in -----------------------------------------------------

#[test]
fn a_battery_camera_with_its_queue_taken_sleeps_after_the_linger_and_checks_in_again() {
    let mut rig = Rig::new(BATTERY, 1);
    rig.hub_acks = true;
    rig.step_to(BOOT_MS + CHECKIN_LINGER_MS - 1);
    assert_eq!(rig.connects(), [BOOT_MS]);
    assert!(rig.events_sent().len() >= 2, "boot and connected delivered");
    assert!(rig.queue.is_empty(), "the hub took the queue");
    assert!(
        rig.said(Availability::Sleeping).is_empty(),
        "still lingering"
    );

    rig.step_to(BOOT_MS + CHECKIN_LINGER_MS);
    assert_eq!(
        rig.said(Availability::Sleeping),
        [BOOT_MS + CHECKIN_LINGER_MS]
    );
    let last = &rig.log.last().unwrap().1;
    assert_eq!(*last, Output::Disconnect, "hangs up after saying it");
    // The session ends; the camera believes itself online until its next check-in.
    rig.lose_link();
    assert!(rig.m.core().state() == LifecycleState::Online);

    let checkin = BOOT_MS + u64::from(Settings::default().checkin_interval) * 1000;
    rig.step_to(checkin - 1);
    assert_eq!(rig.connects().len(), 1, "asleep until the check-in");
    rig.step_to(checkin + CHECKIN_LINGER_MS);
    assert_eq!(
        rig.connects(),
        [BOOT_MS, checkin],
        "connects for the check-in"
    );
    assert_eq!(
        rig.said(Availability::Sleeping),
        [BOOT_MS + CHECKIN_LINGER_MS, checkin + CHECKIN_LINGER_MS]
    );
}

#[test]
fn a_battery_camera_whose_queue_the_hub_does_not_take_sleeps_after_the_max_check_in() {
    let mut rig = Rig::new(BATTERY, 1);
    rig.step_to(BOOT_MS + MAX_CHECKIN_MS - 1);
    assert!(
        rig.said(Availability::Sleeping).is_empty(),
        "waits for its queue"
    );
    let first = rig.events_sent()[0].1;
    let resent = rig
        .events_sent()
        .iter()
        .filter(|(_, s)| *s == first)
        .count();
    assert!(
        resent >= 2,
        "the unacknowledged event was sent {resent} times"
    );

    rig.step_to(BOOT_MS + MAX_CHECKIN_MS);
    assert_eq!(rig.said(Availability::Sleeping), [BOOT_MS + MAX_CHECKIN_MS]);
    assert!(
        !rig.log
            .iter()
            .any(|(_, o)| matches!(o, Output::DeleteItem { .. })),
        "nothing leaves the queue without the hub's acknowledgement"
    );
    assert_eq!(rig.queue.front().map(|h| h.seq), Some(first));
}

#[test]
fn ten_refusals_of_the_credential_send_the_camera_back_to_setup_without_it() {
    let mut rig = Rig::new(MAINS, 1);
    rig.on_connect = OnConnect::Refuse;
    rig.step_to(BOOT_MS + 8_500);
    assert_eq!(
        rig.connects().len(),
        9,
        "retried every second while joining"
    );
    assert!(
        rig.m.credentials().is_some(),
        "nine refusals are not enough"
    );

    rig.step_to(BOOT_MS + 30_000);
    let connects = rig.connects();
    assert_eq!(
        connects.len(),
        10,
        "no attempt after the tenth: {connects:?}"
    );
    assert_eq!(connects[9], BOOT_MS + 9 * JOIN_RETRY_MS);
    assert!(rig.m.credentials().is_none());
    assert_eq!(
        rig.times(|o| *o == Output::ForgetCredentials),
        [connects[9]],
        "forgotten once, at the tenth refusal"
    );
    assert_eq!(rig.m.core().state(), LifecycleState::Setup);
}

#[test]
fn a_failed_connection_while_joining_is_retried_every_second_and_a_lost_one_backs_off() {
    let mut rig = Rig::new(MAINS, 1);
    rig.on_connect = OnConnect::Fail;
    rig.step_to(BOOT_MS + 3_500);
    let joining: Vec<u64> = (0..4).map(|k| BOOT_MS + k * JOIN_RETRY_MS).collect();
    assert_eq!(rig.connects(), joining, "the first join is hurried");
    rig.on_connect = OnConnect::Accept;
    rig.step_to(BOOT_MS + 4_000);
    assert_eq!(rig.m.core().state(), LifecycleState::Online);
    assert!(rig.m.is_connected());
}

#[test]
fn the_sensors_are_read_every_frame_but_not_while_the_battery_has_powered_the_camera_off() {
    let mut rig = Rig::new(BATTERY, 1);
    rig.step_to(1_000);
    let reads = |rig: &Rig| rig.times(|o| *o == Output::ReadSensors);
    let every_frame: Vec<u64> = (0..=1_000 / FRAME_MS).map(|k| k * FRAME_MS).collect();
    assert_eq!(reads(&rig), every_frame);

    // The pack is read every 10 s; a critical reading shuts the camera down.
    rig.battery = BatteryReading {
        resting_mv: 2_500,
        loaded_mv: 2_300,
        temp_c: 20.0,
    };
    rig.step_to(30_000);
    assert!(rig.m.is_powered_off());
    let last = *reads(&rig).last().unwrap();
    assert!(
        (BATTERY_READ_EVERY_MS..20_000).contains(&last),
        "read until the critical light ends, then no more: last at {last}"
    );
    let connects = rig.connects().len();

    // Fresh cells: reads start again at once and the camera boots.
    rig.battery = FRESH;
    rig.input(Input::Battery {
        reading: FRESH,
        fresh_cells: true,
    });
    rig.step_to(30_000 + FRAME_MS);
    assert_eq!(
        reads(&rig)
            .into_iter()
            .filter(|&t| t >= 30_000)
            .collect::<Vec<_>>(),
        [30_000, 30_000 + FRAME_MS]
    );
    rig.step_to(30_000 + BOOT_MS);
    assert_eq!(rig.connects().len(), connects + 1, "back to its hub");
}
