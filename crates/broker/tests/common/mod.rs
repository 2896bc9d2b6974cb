//! Test harness: the embedded broker or a private Mosquitto with the same users, and
//! rumqttc clients (MQTT 3.1.1, as the cameras speak) over real TCP.
#![allow(dead_code)]

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use rumqttc::{
    AsyncClient, ConnectionError, Event, LastWill, MqttOptions, Packet, QoS, SubscribeReasonCode,
    TlsConfiguration, Transport,
};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use watchlight_broker::external::{MosquittoSetup, MosquittoUser};
use watchlight_broker::testing::MosquittoProcess;
use watchlight_broker::{Broker, BrokerConfig, token_sha256};
use watchlight_protocol::topics::DeviceTopics;

pub const HOME: &str = "home1";
pub const HUB_TOKEN: &str = "hub-token-0123456789abcdef0123456789abcdef0123456789abcdef012345";
pub const A: &str = "cam-a";
pub const B: &str = "cam-b";

/// Each device's token: 64 hex characters, as the hub issues them.
pub fn token(device: &str) -> String {
    let digest = token_sha256(&format!("seed-{device}"));
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

pub fn topics(device: &str) -> DeviceTopics {
    DeviceTopics::new(HOME, device)
}

pub enum Server {
    Embedded(Broker),
    Mosquitto {
        process: Box<MosquittoProcess>,
        _dir: tempfile::TempDir,
    },
    /// A Mosquitto the test holds itself (to reconfigure it).
    MosquittoHeldByTest,
}

/// A broker under test, with `cam-a` and `cam-b` registered.
pub struct TestBroker {
    pub server: Server,
    pub port: u16,
    /// The client TLS config, when the broker speaks TLS.
    pub tls: Option<Arc<rustls::ClientConfig>>,
    /// Whether a forbidden SUBSCRIBE is answered with a failure code. Mosquitto grants it
    /// and then delivers nothing the ACL forbids; the embedded broker refuses it outright.
    pub refuses_forbidden_subscriptions: bool,
    /// Whether a CONNECT with a forbidden last will is refused. Mosquitto 2.0 accepts it
    /// and drops the will when it would fire; the embedded broker refuses the login.
    pub refuses_forbidden_wills: bool,
}

impl TestBroker {
    pub fn name(&self) -> &'static str {
        match self.server {
            Server::Embedded(_) => "embedded",
            Server::Mosquitto { .. } | Server::MosquittoHeldByTest => "mosquitto",
        }
    }
}

pub async fn embedded() -> TestBroker {
    let broker = Broker::start(BrokerConfig {
        listen: "127.0.0.1:0".parse().unwrap(),
        tls: None,
        home: HOME.into(),
        hub_token: HUB_TOKEN.into(),
        persist_dir: None,
    })
    .await
    .expect("embedded broker starts");
    for device in [A, B] {
        broker
            .devices()
            .insert(device, token_sha256(&token(device)))
            .unwrap();
    }
    TestBroker {
        port: broker.local_addr().port(),
        server: Server::Embedded(broker),
        tls: None,
        refuses_forbidden_subscriptions: true,
        refuses_forbidden_wills: true,
    }
}

pub fn mosquitto_users(devices: &[&str]) -> Vec<MosquittoUser> {
    let mut users = vec![MosquittoUser::new("hub", HUB_TOKEN)];
    users.extend(devices.iter().map(|d| MosquittoUser::new(*d, &token(d))));
    users
}

pub fn mosquitto() -> TestBroker {
    let dir = tempfile::tempdir().unwrap();
    let setup = MosquittoSetup {
        home: HOME.into(),
        listen: "127.0.0.1:0".parse().unwrap(),
        tls: None,
        users: mosquitto_users(&[A, B]),
        persistence_dir: None,
    };
    let (process, port) = MosquittoProcess::start(dir.path(), &setup).expect("mosquitto starts");
    TestBroker {
        server: Server::Mosquitto {
            process: Box::new(process),
            _dir: dir,
        },
        port,
        tls: None,
        refuses_forbidden_subscriptions: false,
        refuses_forbidden_wills: false,
    }
}

/// How a test client connects.
#[derive(Clone)]
pub struct Login {
    pub client_id: String,
    pub user: Option<String>,
    pub password: Option<String>,
    pub will: Option<LastWill>,
    pub keep_alive: Duration,
    pub clean_session: bool,
    /// Connect here instead of the broker's port (e.g. through a proxy).
    pub port: Option<u16>,
    pub host: String,
}

impl Login {
    pub fn device(device: &str) -> Login {
        Login {
            client_id: device.into(),
            user: Some(device.into()),
            password: Some(token(device)),
            will: None,
            keep_alive: Duration::from_secs(30),
            clean_session: true,
            port: None,
            host: "127.0.0.1".into(),
        }
    }

    pub fn hub(client_id: &str) -> Login {
        Login {
            client_id: client_id.into(),
            user: Some("hub".into()),
            password: Some(HUB_TOKEN.into()),
            ..Login::device("unused")
        }
    }

    pub fn anonymous(client_id: &str) -> Login {
        Login {
            client_id: client_id.into(),
            user: None,
            password: None,
            ..Login::device("unused")
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Received {
    pub topic: String,
    pub payload: Vec<u8>,
    pub retain: bool,
}

enum Incoming {
    Publish(Received),
    SubAck(Vec<SubscribeReasonCode>),
    Closed(String),
}

/// A connected rumqttc client whose event loop runs in a task and never reconnects.
pub struct Client {
    pub client: AsyncClient,
    events: mpsc::UnboundedReceiver<Incoming>,
    pending: VecDeque<Received>,
    task: JoinHandle<()>,
}

impl Drop for Client {
    fn drop(&mut self) {
        self.task.abort();
    }
}

const WAIT: Duration = Duration::from_secs(5);

impl Client {
    /// Connects and waits for the broker's answer: `Err` names why it refused.
    pub async fn connect(broker: &TestBroker, login: Login) -> Result<Client, String> {
        let port = login.port.unwrap_or(broker.port);
        let mut options = MqttOptions::new(login.client_id.clone(), login.host.clone(), port);
        options.set_keep_alive(login.keep_alive);
        options.set_clean_session(login.clean_session);
        if let (Some(user), Some(password)) = (&login.user, &login.password) {
            options.set_credentials(user.clone(), password.clone());
        }
        if let Some(will) = login.will {
            options.set_last_will(will);
        }
        if let Some(tls) = &broker.tls {
            options.set_transport(Transport::Tls(TlsConfiguration::Rustls(tls.clone())));
        }
        let (client, mut eventloop) = AsyncClient::new(options, 64);
        let (tx, events) = mpsc::unbounded_channel();
        let (connack_tx, connack_rx) = tokio::sync::oneshot::channel::<Result<(), String>>();
        let task = tokio::spawn(async move {
            let mut connack_tx = Some(connack_tx);
            loop {
                match eventloop.poll().await {
                    Ok(Event::Incoming(Packet::ConnAck(_))) => {
                        if let Some(tx) = connack_tx.take() {
                            let _ = tx.send(Ok(()));
                        }
                    }
                    Ok(Event::Incoming(Packet::Publish(p))) => {
                        let _ = tx.send(Incoming::Publish(Received {
                            topic: p.topic.clone(),
                            payload: p.payload.to_vec(),
                            retain: p.retain,
                        }));
                    }
                    Ok(Event::Incoming(Packet::SubAck(s))) => {
                        let _ = tx.send(Incoming::SubAck(s.return_codes));
                    }
                    Ok(_) => {}
                    Err(e) => {
                        let why = describe(&e);
                        match connack_tx.take() {
                            Some(c) => {
                                let _ = c.send(Err(why));
                            }
                            None => {
                                let _ = tx.send(Incoming::Closed(why));
                            }
                        }
                        return;
                    }
                }
            }
        });
        match tokio::time::timeout(WAIT, connack_rx).await {
            Ok(Ok(Ok(()))) => Ok(Client {
                client,
                events,
                pending: VecDeque::new(),
                task,
            }),
            Ok(Ok(Err(why))) => Err(why),
            Ok(Err(_)) => Err("event loop ended".into()),
            Err(_) => {
                task.abort();
                Err("no CONNACK within 5 s".into())
            }
        }
    }

    /// Subscribes at QoS 1 and returns whether the broker granted it.
    pub async fn subscribe(&mut self, filter: &str) -> bool {
        self.client
            .subscribe(filter, QoS::AtLeastOnce)
            .await
            .unwrap();
        loop {
            match tokio::time::timeout(WAIT, self.events.recv()).await {
                Ok(Some(Incoming::SubAck(codes))) => {
                    return codes
                        .iter()
                        .all(|c| matches!(c, SubscribeReasonCode::Success(_)));
                }
                Ok(Some(Incoming::Publish(p))) => self.pending.push_back(p),
                Ok(Some(Incoming::Closed(why))) => panic!("closed while subscribing: {why}"),
                Ok(None) | Err(_) => panic!("no SUBACK for {filter}"),
            }
        }
    }

    pub async fn publish(&self, topic: &str, payload: &[u8], retain: bool) {
        self.client
            .publish(topic, QoS::AtLeastOnce, retain, payload.to_vec())
            .await
            .unwrap();
    }

    /// The next message, if one arrives within `within`.
    pub async fn next(&mut self, within: Duration) -> Option<Received> {
        if let Some(p) = self.pending.pop_front() {
            return Some(p);
        }
        loop {
            match tokio::time::timeout(within, self.events.recv()).await {
                Ok(Some(Incoming::Publish(p))) => return Some(p),
                Ok(Some(Incoming::SubAck(_))) => {}
                Ok(Some(Incoming::Closed(_))) | Ok(None) | Err(_) => return None,
            }
        }
    }

    /// Every message up to and including the first on `marker` (which must arrive within
    /// 5 s). Messages from one publisher arrive in order, so anything that publisher sent
    /// before the marker and that the broker let through is in the result.
    pub async fn until(&mut self, marker: &str) -> Vec<Received> {
        let mut seen = Vec::new();
        while let Some(p) = self.next(WAIT).await {
            let done = p.topic == marker;
            seen.push(p);
            if done {
                return seen;
            }
        }
        panic!("marker {marker} never arrived; saw {seen:?}");
    }

    /// Waits until the connection ends; returns why.
    pub async fn closed(&mut self, within: Duration) -> Option<String> {
        loop {
            match tokio::time::timeout(within, self.events.recv()).await {
                Ok(Some(Incoming::Closed(why))) => return Some(why),
                Ok(Some(_)) => {}
                Ok(None) => return Some("event loop ended".into()),
                Err(_) => return None,
            }
        }
    }
}

fn describe(e: &ConnectionError) -> String {
    match e {
        ConnectionError::ConnectionRefused(code) => format!("refused: {code:?}"),
        other => other.to_string(),
    }
}
