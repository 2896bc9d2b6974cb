//! The machine on a virtual clock: a small driver answers its questions at once (Wi-Fi,
//! battery, the oldest queued item) and plays the hub as each test needs.

use super::*;
use watchlight_camera::PersistedState;
use watchlight_hw::{BatteryReading, WifiError};
use watchlight_protocol::Settings;
use watchlight_protocol::messages::{
    Availability, AvailabilityMsg, CmdResultMsg, EventMsg, SettingsMsg, StateMsg, decode, encode,
};
use watchlight_protocol::topics::DeviceTopic;

const MAINS: ProfileId = ProfileId::Mini;
const BATTERY: ProfileId = ProfileId::Indoor;
/// A set-up camera joins when its boot ends.
const BOOT_MS: u64 = 2_000;

fn credentials() -> Credentials {
    Credentials {
        wifi_ssid: "home-ap".into(),
        wifi_passphrase: "right".into(),
        home: "h1".into(),
        device_id: "cam-t1".into(),
        token: "token".into(),
        mqtt_url: "mqtt://127.0.0.1:1883".into(),
        http_url: "http://127.0.0.1:8080".into(),
        cert_pem: None,
        clips_made: 0,
    }
}

/// How the stand-in for the broker answers a connection.
#[derive(Clone, Copy, PartialEq)]
enum OnConnect {
    Accept,
    Fail,
}

struct Rig {
    m: Machine,
    now: u64,
    log: Vec<(u64, Output)>,
    queue: VecDeque<Head>,
    next_seq: u64,
    on_connect: OnConnect,
    /// The hub acknowledges every event it receives.
    hub_acks: bool,
    /// The passphrase the access point takes.
    ap_passphrase: String,
    session: Option<u64>,
    topics: DeviceTopics,
}

impl Rig {
    fn new(profile: ProfileId, seed: u64) -> Rig {
        let persisted = PersistedState {
            provisioned: true,
            setup_completed: true,
            settings: Settings::default(),
        };
        let core = Core::new(profile.profile(), persisted, 0);
        let config = MachineConfig {
            profile,
            credentials: Some(credentials()),
            hub_offset_ms: 1_700_000_000_000,
            seed,
        };
        let mut rig = Rig {
            m: Machine::new(core, config),
            now: 0,
            log: Vec::new(),
            queue: VecDeque::new(),
            next_seq: 0,
            on_connect: OnConnect::Accept,
            hub_acks: false,
            ap_passphrase: "right".into(),
            session: None,
            topics: DeviceTopics::new("h1", "cam-t1"),
        };
        rig.input(Input::PowerOn);
        rig
    }

    fn input(&mut self, input: Input) {
        self.m.handle_input(self.now, input);
        self.drain();
    }

    /// Fires every timeout up to `t`, each at its own time.
    fn step_to(&mut self, t: u64) {
        for _ in 0..1_000_000 {
            match self.m.poll_timeout() {
                Some(due) if due <= t => {
                    self.now = self.now.max(due);
                    self.m.handle_timeout(self.now);
                    self.drain();
                }
                _ => {
                    self.now = self.now.max(t);
                    return;
                }
            }
        }
        panic!("the machine's timeout never moves past {}", self.now);
    }

    fn drain(&mut self) {
        while let Some(output) = self.m.poll_output() {
            self.log.push((self.now, output.clone()));
            let now = self.now;
            match output {
                Output::JoinWifi { passphrase, .. } => {
                    let result = if passphrase == self.ap_passphrase {
                        Ok(())
                    } else {
                        Err(WifiError::Rejected)
                    };
                    let rssi_dbm = result.is_ok().then_some(-55);
                    self.m
                        .handle_input(now, Input::WifiJoined { result, rssi_dbm });
                }
                Output::ReadBattery => {
                    let reading = BatteryReading {
                        resting_mv: 3_200,
                        loaded_mv: 3_000,
                        temp_c: 20.0,
                    };
                    let input = Input::Battery {
                        reading,
                        fresh_cells: false,
                    };
                    self.m.handle_input(now, input);
                }
                Output::Connect { session, .. } => {
                    self.session = Some(session);
                    let input = match self.on_connect {
                        OnConnect::Accept => Input::Connected { session },
                        OnConnect::Fail => Input::Closed {
                            session,
                            reason: "connection refused".into(),
                        },
                    };
                    self.m.handle_input(now, input);
                }
                Output::Enqueue(event) => self.queue_item(HeadBody::Event(event)),
                Output::DeleteItem { seq } => {
                    self.queue.retain(|h| h.seq != seq);
                    self.queue_changed();
                }
                Output::PeekQueue => {
                    let head = self.queue.front().cloned();
                    self.m.handle_input(now, Input::Oldest(head));
                }
                Output::Publish {
                    topic,
                    tag: Some(seq),
                    ..
                } if self.hub_acks && topic == self.topics.topic(DeviceTopic::Event) => {
                    self.hub_message("cmd/ack", &format!(r#"{{"v":1,"ts":0,"seq":{seq}}}"#));
                }
                _ => {}
            }
        }
    }

    fn queue_item(&mut self, body: HeadBody) {
        let seq = self.next_seq;
        self.next_seq += 1;
        self.queue.push_back(Head { seq, body });
        self.queue_changed();
    }

    fn queue_changed(&mut self) {
        let items = self.queue.len();
        self.m
            .handle_input(self.now, Input::Queue { items, bytes: 100 });
    }

    /// A message from the hub on the current session (`rest` after the device's prefix).
    fn hub_message(&mut self, rest: &str, payload: &str) {
        let input = Input::Message {
            session: self.session.expect("a session"),
            topic: format!("{}/{rest}", self.topics.prefix()),
            payload: payload.as_bytes().to_vec(),
        };
        self.m.handle_input(self.now, input);
    }

    /// The link to the hub breaks under the current session.
    fn lose_link(&mut self) {
        let session = self.session.expect("a session");
        self.input(Input::Closed {
            session,
            reason: "connection reset".into(),
        });
    }

    /// Times of the connection attempts (sessions started) and of the Wi-Fi joins.
    fn connects(&self) -> Vec<u64> {
        self.times(|o| matches!(o, Output::Connect { .. }))
    }

    fn joins(&self) -> Vec<u64> {
        self.times(|o| matches!(o, Output::JoinWifi { .. }))
    }

    fn times(&self, pick: impl Fn(&Output) -> bool) -> Vec<u64> {
        self.log
            .iter()
            .filter(|(_, o)| pick(o))
            .map(|(t, _)| *t)
            .collect()
    }

    /// `(time, payload, tag)` of every publish on `topic`, with its index in the log.
    fn published(&self, topic: DeviceTopic) -> Vec<(usize, u64, Vec<u8>, Option<u64>)> {
        let want = self.topics.topic(topic);
        self.log
            .iter()
            .enumerate()
            .filter_map(|(i, (t, o))| match o {
                Output::Publish {
                    topic,
                    payload,
                    tag,
                    ..
                } if *topic == want => Some((i, *t, payload.clone(), *tag)),
                _ => None,
            })
            .collect()
    }

    /// `(time, seq)` of every event published.
    fn events_sent(&self) -> Vec<(u64, u64)> {
        self.published(DeviceTopic::Event)
            .into_iter()
            .map(|(_, t, p, _)| (t, decode::<EventMsg>(&p).unwrap().seq))
            .collect()
    }

    /// Times at which the camera said `availability`.
    fn said(&self, availability: Availability) -> Vec<u64> {
        self.published(DeviceTopic::Availability)
            .into_iter()
            .filter(|(_, _, p, _)| {
                decode::<AvailabilityMsg>(p).unwrap().availability == availability
            })
            .map(|(_, t, _, _)| t)
            .collect()
    }
}

// ----- connection attempts and backoff -------------------------------------------------

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

// ----- delivery ------------------------------------------------------------------------

#[test]
fn an_event_the_hub_does_not_acknowledge_is_published_again_and_its_ack_frees_it() {
    let mut rig = Rig::new(MAINS, 1);
    rig.step_to(BOOT_MS + HUB_ACK_WAIT_MS - 1);
    assert_eq!(
        rig.events_sent(),
        [(BOOT_MS, 0)],
        "one at a time, oldest first"
    );
    // The broker's PUBACK is not the hub's acknowledgement.
    let session = rig.session.unwrap();
    rig.input(Input::Acked { session, tag: 0 });

    let again = BOOT_MS + HUB_ACK_WAIT_MS + DELIVERY_RETRY_MS;
    rig.step_to(again);
    assert_eq!(rig.events_sent(), [(BOOT_MS, 0), (again, 0)]);
    assert_eq!(rig.queue.len(), 2, "boot and connected still queued");

    rig.hub_message("cmd/ack", r#"{"v":1,"ts":0,"seq":0}"#);
    rig.drain();
    assert!(
        rig.log
            .iter()
            .any(|(_, o)| *o == Output::DeleteItem { seq: 0 })
    );
    assert_eq!(
        rig.events_sent().last(),
        Some(&(again, 1)),
        "then the next one"
    );
}

#[test]
fn an_event_in_flight_when_the_link_drops_is_published_again_on_the_next_connection() {
    let mut rig = Rig::new(MAINS, 1);
    rig.step_to(3_000);
    assert_eq!(rig.events_sent(), [(BOOT_MS, 0)]);
    rig.lose_link();
    rig.step_to(10_000);
    let connects = rig.connects();
    assert_eq!(connects.len(), 2, "reconnected once: {connects:?}");
    let t = connects[1];
    let sent = rig.events_sent();
    assert_eq!(
        sent.iter().find(|(at, _)| *at >= t),
        Some(&(t, 0)),
        "the first event on the new connection is the one in flight: {sent:?}"
    );
}

#[test]
fn a_clip_is_uploaded_before_its_event_and_a_failed_upload_is_tried_again() {
    let mut rig = Rig::new(MAINS, 1);
    rig.hub_acks = true;
    rig.step_to(3_000);
    assert!(rig.queue.is_empty(), "boot and connected delivered");
    let mut meta = Map::new();
    meta.insert("clip_id".into(), "cam-t1-5-0".into());
    meta.insert("end_ts".into(), 123.into());
    meta.insert("_thumbnail_bytes".into(), 10.into());
    rig.queue_item(HeadBody::Clip { meta });
    rig.drain();
    let seq = rig.queue[0].seq;
    let uploads = |rig: &Rig| rig.times(|o| *o == Output::Upload { seq });
    assert_eq!(uploads(&rig), [3_000]);

    rig.input(Input::UploadDone {
        seq,
        result: Err("PUT: 503".into()),
    });
    assert!(
        rig.events_sent().iter().all(|(_, s)| *s != seq),
        "no clip_recorded before the hub has the video"
    );
    rig.step_to(3_000 + DELIVERY_RETRY_MS);
    assert_eq!(
        uploads(&rig),
        [3_000, 3_000 + DELIVERY_RETRY_MS],
        "tried again"
    );

    rig.input(Input::UploadDone {
        seq,
        result: Ok(()),
    });
    let (_, _, payload, tag) = rig.published(DeviceTopic::Event).pop().unwrap();
    let msg = decode::<EventMsg>(&payload).unwrap();
    assert_eq!(
        (msg.seq, msg.event, tag),
        (seq, EventKind::ClipRecorded, Some(seq))
    );
    assert_eq!(msg.ts, 123, "the clip's end");
    assert_eq!(
        msg.data.get("clip_id").and_then(Value::as_str),
        Some("cam-t1-5-0")
    );
    assert!(
        !msg.data.contains_key("_thumbnail_bytes"),
        "private meta stays on the camera"
    );
    assert!(rig.queue.is_empty(), "the hub's ack freed it");
}

// ----- the hub's messages ------------------------------------------------------------

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
