//! Shared fixtures: an in-process hub on ephemeral ports (plain TCP: TLS is covered by
//! its own test), an owner session, a stand-in for a camera's provisioning endpoint and
//! a device MQTT client.

#![allow(dead_code)]

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use rumqttc::{AsyncClient, EventLoop, LastWill, MqttOptions, QoS};
use serde_json::{Value, json};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use watchlight_hub::clock::SharedClock;
use watchlight_hub::{Hub, HubConfig, HubHandle};

pub const PASSWORD: &str = "correct horse battery";

pub struct TestHub {
    pub hub: HubHandle,
    pub dir: tempfile::TempDir,
    pub http: reqwest::Client,
    pub cookie: String,
}

impl TestHub {
    pub fn url(&self, path: &str) -> String {
        format!("{}/api/v1{path}", self.hub.http_url)
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.http
            .get(self.url(path))
            .header("cookie", &self.cookie)
            .send()
            .await
            .unwrap()
    }

    pub async fn get_json(&self, path: &str) -> Value {
        let r = self.get(path).await;
        assert!(r.status().is_success(), "GET {path}: {}", r.status());
        r.json().await.unwrap()
    }

    pub async fn post(&self, path: &str, body: Value) -> reqwest::Response {
        self.http
            .post(self.url(path))
            .header("cookie", &self.cookie)
            .json(&body)
            .send()
            .await
            .unwrap()
    }

    pub async fn availability(&self, device: &str) -> Value {
        self.get_json(&format!("/cameras/{device}")).await["availability"].clone()
    }
}

/// A test hub's configuration: insecure, on a simulated healthy home network (its
/// light and the doctor's `hub_network` must not depend on the machine the tests run on).
pub fn test_config(dir: &std::path::Path) -> HubConfig {
    let mut config = HubConfig::new(dir);
    config.insecure = true;
    config.network = std::sync::Arc::new(watchlight_hub::netwatch::SimNetwork::new(
        watchlight_hub::netwatch::home_sample(
            [std::net::IpAddr::V4(std::net::Ipv4Addr::new(
                192, 168, 1, 10,
            ))],
            Some(true),
        ),
    ));
    config
}

/// Starts a hub (insecure) with the owner logged in.
pub async fn start_hub(clock: Option<SharedClock>) -> TestHub {
    let dir = tempfile::tempdir().unwrap();
    let mut config = test_config(dir.path());
    if let Some(c) = clock {
        config.clock = c;
    }
    let hub = Hub::start(config).await.unwrap();
    TestHub::adopt(hub, dir).await
}

impl TestHub {
    /// Creates the owner of a just-started insecure hub and logs in.
    pub async fn adopt(hub: HubHandle, dir: tempfile::TempDir) -> TestHub {
        let http = reqwest::Client::new();
        let setup_url = hub.setup_url.clone().expect("a new hub has a setup link");
        let token = setup_url.split("token=").nth(1).unwrap().to_string();
        let r = http
            .post(format!("{}/api/v1/setup", hub.http_url))
            .json(&json!({"token": token, "username": "owner", "password": PASSWORD}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
        TestHub::resume(hub, dir).await
    }

    /// Logs in to a hub whose owner exists already (a hub started again on its data).
    pub async fn resume(hub: HubHandle, dir: tempfile::TempDir) -> TestHub {
        let http = reqwest::Client::new();
        let cookie = login(&http, &hub.http_url).await;
        TestHub {
            hub,
            dir,
            http,
            cookie,
        }
    }
}

pub async fn login(http: &reqwest::Client, base: &str) -> String {
    let r = http
        .post(format!("{base}/api/v1/login"))
        .json(&json!({"username": "owner", "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let set = r.headers()["set-cookie"].to_str().unwrap().to_string();
    set.split(';').next().unwrap().to_string()
}

/// What a stand-in camera's provisioning endpoint saw and will answer.
#[derive(Default)]
pub struct Provisioning {
    pub pairing_code: String,
    pub received: Option<Value>,
    pub status: Value,
}

pub type SharedProvisioning = Arc<Mutex<Provisioning>>;

/// A tiny provisioning endpoint (docs/contracts.md, pairing step 3).
pub async fn stand_in_camera(pairing_code: &str) -> (String, SharedProvisioning) {
    let shared = Arc::new(Mutex::new(Provisioning {
        pairing_code: pairing_code.into(),
        received: None,
        status: json!({"state": "setup", "last_error": null}),
    }));
    async fn provision(
        State(s): State<SharedProvisioning>,
        Json(body): Json<Value>,
    ) -> (StatusCode, Json<Value>) {
        let mut s = s.lock().unwrap();
        if body["pairing_code"] != json!(s.pairing_code) {
            return (
                StatusCode::FORBIDDEN,
                Json(json!({"error": "pairing_code"})),
            );
        }
        s.received = Some(body);
        s.status = json!({"state": "joining", "last_error": null});
        (StatusCode::ACCEPTED, Json(json!({})))
    }
    async fn status(State(s): State<SharedProvisioning>) -> Json<Value> {
        Json(s.lock().unwrap().status.clone())
    }
    let app = Router::new()
        .route("/provision", post(provision))
        .route("/provision/status", get(status))
        .with_state(shared.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (url, shared)
}

/// Pairs a camera through the API; returns its device id and token.
pub async fn pair(t: &TestHub, serial: &str, profile: &str) -> (String, String) {
    let (url, prov) = stand_in_camera("123456").await;
    let r = t
        .post(
            "/cameras",
            json!({"serial": serial, "pairing_code": "123456", "name": "Porch", "profile": profile,
                   "wifi": {"ssid": "home", "passphrase": "secret-wifi"}, "provision_url": url}),
        )
        .await;
    assert_eq!(r.status(), 202, "{}", r.text().await.unwrap());
    let got = prov.lock().unwrap().received.clone().unwrap();
    (
        got["device_id"].as_str().unwrap().to_string(),
        got["token"].as_str().unwrap().to_string(),
    )
}

pub struct Device {
    pub client: AsyncClient,
    pub messages: tokio::sync::mpsc::UnboundedReceiver<(String, Vec<u8>)>,
    pub task: tokio::task::JoinHandle<()>,
    pub id: String,
    pub home: String,
}

/// Connects as a camera (clean session false, last will `offline`), subscribed to its
/// settings and commands.
pub async fn connect_device(t: &TestHub, id: &str, token: &str) -> Device {
    let url = t.hub.mqtt_url.strip_prefix("mqtt://").unwrap().to_string();
    let (host, port) = url.rsplit_once(':').unwrap();
    let mut opts = MqttOptions::new(id, host, port.parse().unwrap());
    opts.set_credentials(id, token);
    opts.set_keep_alive(Duration::from_secs(5));
    opts.set_clean_session(false);
    opts.set_max_packet_size(1 << 20, 1 << 20);
    let topic = format!("watchlight/v1/home/{id}/availability");
    opts.set_last_will(LastWill::new(
        &topic,
        r#"{"v":1,"ts":0,"availability":"offline"}"#,
        QoS::AtLeastOnce,
        true,
    ));
    let (client, eventloop) = AsyncClient::new(opts, 64);
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    let task = tokio::spawn(drive(eventloop, tx));
    client
        .subscribe(
            format!("watchlight/v1/home/{id}/settings"),
            QoS::AtLeastOnce,
        )
        .await
        .unwrap();
    client
        .subscribe(format!("watchlight/v1/home/{id}/cmd/#"), QoS::AtLeastOnce)
        .await
        .unwrap();
    Device {
        client,
        messages: rx,
        task,
        id: id.to_string(),
        home: "home".into(),
    }
}

async fn drive(mut ev: EventLoop, tx: tokio::sync::mpsc::UnboundedSender<(String, Vec<u8>)>) {
    loop {
        match ev.poll().await {
            Ok(rumqttc::Event::Incoming(rumqttc::Packet::Publish(p))) => {
                let _ = tx.send((p.topic.clone(), p.payload.to_vec()));
            }
            Ok(_) => {}
            // The client's reconnect pace.
            Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    }
}

impl Device {
    pub fn topic(&self, leaf: &str) -> String {
        format!("watchlight/v1/{}/{}/{leaf}", self.home, self.id)
    }

    pub async fn publish(&self, leaf: &str, payload: impl Into<Vec<u8>>) {
        let retain = leaf == "availability" || leaf == "state";
        self.client
            .publish(self.topic(leaf), QoS::AtLeastOnce, retain, payload.into())
            .await
            .unwrap();
    }

    pub async fn say(&self, availability: &str) {
        self.publish(
            "availability",
            json!({"v": 1, "ts": 1, "availability": availability}).to_string(),
        )
        .await;
    }

    /// Waits for a message on a topic ending with `suffix`.
    pub async fn expect(&mut self, suffix: &str) -> Value {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            match tokio::time::timeout(left, self.messages.recv()).await {
                Ok(Some((topic, payload))) if topic.ends_with(suffix) => {
                    return serde_json::from_slice(&payload).unwrap();
                }
                Ok(Some(_)) => continue,
                _ => panic!("no message on *{suffix} within 5 s"),
            }
        }
    }
}

/// Polls `f` every 20 ms until it holds, for at most `secs`.
pub async fn eventually<F, Fut>(secs: u64, what: &str, f: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    if !holds_within(secs, f).await {
        panic!("{what}: not within {secs} s");
    }
}

/// Whether `f` comes to hold within `secs` (polled every 20 ms).
pub async fn holds_within<F, Fut>(secs: u64, mut f: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + Duration::from_secs(secs);
    while tokio::time::Instant::now() < deadline {
        if f().await {
            return true;
        }
        // The poll interval of a bounded wait.
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    false
}

pub fn shared_manual_clock(start: u64) -> (Arc<watchlight_hub::clock::ManualClock>, SharedClock) {
    let c = watchlight_hub::clock::ManualClock::new(start);
    let shared: SharedClock = c.clone();
    (c, shared)
}
