//! The machine on a virtual clock: a small driver ([`Rig`]) answers its questions at once
//! (Wi-Fi, battery, the oldest queued item) and plays the hub as each test needs.

mod connection;
mod delivery;
mod hub_messages;

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
/// 15 frames a second.
const FRAME_MS: u64 = 66;
const FRESH: BatteryReading = BatteryReading {
    resting_mv: 3_200,
    loaded_mv: 3_000,
    temp_c: 20.0,
};

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
    /// The broker refuses the device credential.
    Refuse,
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
    /// What the battery gauge reads.
    battery: BatteryReading,
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
            frame_every_ms: FRAME_MS,
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
            battery: FRESH,
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
                    let input = Input::Battery {
                        reading: self.battery,
                        fresh_cells: false,
                    };
                    self.m.handle_input(now, input);
                }
                Output::ReadSensors => {
                    let input = Input::SensorsRead {
                        pir: Ok(false),
                        image: Ok(()),
                    };
                    self.m.handle_input(now, input);
                    self.m.handle_input(now, Input::PixelMotion(false));
                }
                Output::Connect { session, .. } => {
                    self.session = Some(session);
                    let input = match self.on_connect {
                        OnConnect::Accept => Input::Connected { session },
                        OnConnect::Fail => Input::Closed {
                            session,
                            reason: "connection refused".into(),
                        },
                        OnConnect::Refuse => Input::Refused {
                            session,
                            reason: "NotAuthorized".into(),
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

    /// `(id, ok, error)` of every command result published.
    fn results(&self) -> Vec<(String, bool, Option<String>)> {
        self.published(DeviceTopic::CmdResult)
            .into_iter()
            .map(|(_, _, p, _)| decode::<CmdResultMsg>(&p).unwrap())
            .map(|r| (r.id, r.ok, r.error))
            .collect()
    }

    /// Index in the log of the first output `pick` matches.
    fn first(&self, pick: impl Fn(&Output) -> bool) -> Option<usize> {
        self.log.iter().position(|(_, o)| pick(o))
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
