//! The owner services wired into a running hub, end to end: real HTTP on
//! ephemeral ports, the embedded broker, SQLite, webhook receivers and MQTT clients; a
//! manual clock wherever time matters.
//!
//! `cargo test -p watchlight-hub --test care -- --nocapture` prints a sample report, a
//! bundle listing and the discovery topics Home Assistant sees for one camera.

mod common;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use bytes::Bytes;
use common::*;
use rumqttc::{AsyncClient, MqttOptions, QoS};
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet};
use std::io::Read;
use std::sync::atomic::{AtomicU16, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use watchlight_care::notify::verify;
use watchlight_hub::clock::Clock;

/// Monday 2026-11-23 00:00 UTC.
const MONDAY: u64 = 1_795_392_000_000;
const MIN: u64 = 60_000;
const HOUR: u64 = 3_600_000;
const DAY: u64 = 86_400_000;

// ---------------------------------------------------------------------------------------
// Fixtures

/// One POST a webhook receiver got.
#[derive(Debug, Clone)]
struct Received {
    signature: String,
    delivery: String,
    body: Vec<u8>,
    json: Value,
}

/// A local webhook receiver answering `status`.
struct Receiver {
    url: String,
    got: Arc<Mutex<Vec<Received>>>,
}

type ReceiverState = (Arc<Mutex<Vec<Received>>>, Arc<AtomicU16>);

async fn receiver(status: u16) -> Receiver {
    async fn hook(
        State((got, status)): State<ReceiverState>,
        headers: HeaderMap,
        body: Bytes,
    ) -> StatusCode {
        let header = |name: &str| {
            headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("")
                .to_string()
        };
        got.lock().unwrap().push(Received {
            signature: header("x-watchlight-signature"),
            delivery: header("x-watchlight-delivery"),
            json: serde_json::from_slice(&body).unwrap_or(Value::Null),
            body: body.to_vec(),
        });
        StatusCode::from_u16(status.load(Ordering::SeqCst)).unwrap()
    }
    let got = Arc::new(Mutex::new(Vec::new()));
    let status = Arc::new(AtomicU16::new(status));
    let app = axum::Router::new()
        .route("/hook", axum::routing::post(hook))
        .with_state((got.clone(), status.clone()));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    Receiver { url, got }
}

impl Receiver {
    fn kinds(&self) -> Vec<String> {
        self.got
            .lock()
            .unwrap()
            .iter()
            .map(|r| r.json["kind"].as_str().unwrap_or("?").to_string())
            .collect()
    }

    fn count(&self, kind: &str) -> usize {
        self.kinds().iter().filter(|k| *k == kind).count()
    }

    async fn wait_for(&self, kind: &str) -> Received {
        eventually(10, &format!("webhook {kind}"), || async {
            self.count(kind) > 0
        })
        .await;
        self.got
            .lock()
            .unwrap()
            .iter()
            .find(|r| r.json["kind"] == kind)
            .cloned()
            .unwrap()
    }
}

/// Adds a webhook through the API; returns its secret.
async fn add_webhook(t: &TestHub, url: &str, kinds: Value) -> String {
    let r = t
        .post("/webhooks", json!({"url": url, "kinds": kinds}))
        .await;
    assert_eq!(r.status(), 201);
    let v: Value = r.json().await.unwrap();
    let secret = v["secret"].as_str().unwrap().to_string();
    assert_eq!(secret.len(), 64);
    secret
}

/// Pairs a camera and connects it as a device.
async fn camera(t: &TestHub, serial: &str, profile: &str) -> (Device, String) {
    let (id, token) = pair(t, serial, profile).await;
    let dev = connect_device(t, &id, &token).await;
    dev.say("online").await;
    eventually(5, "camera online", || async {
        t.availability(&id).await == "online"
    })
    .await;
    (dev, token)
}

/// An MQTT client logged in with the hub's identity (what Home Assistant uses with the
/// embedded broker), subscribed to `filters`; yields (topic, payload, retained).
async fn hub_identity_client(
    t: &TestHub,
    client_id: &str,
    filters: &[&str],
) -> (
    AsyncClient,
    tokio::sync::mpsc::UnboundedReceiver<(String, Vec<u8>, bool)>,
) {
    let token = std::fs::read_to_string(t.dir.path().join(watchlight_hub::HUB_TOKEN_FILE))
        .unwrap()
        .trim()
        .to_string();
    let url = t.hub.mqtt_url.strip_prefix("mqtt://").unwrap().to_string();
    let (host, port) = url.rsplit_once(':').unwrap();
    let mut opts = MqttOptions::new(client_id, host, port.parse().unwrap());
    opts.set_credentials("hub", token);
    opts.set_max_packet_size(1 << 20, 1 << 20);
    let (client, mut ev) = AsyncClient::new(opts, 64);
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    let (subacks, mut subscribed) = tokio::sync::mpsc::unbounded_channel();
    tokio::spawn(async move {
        loop {
            match ev.poll().await {
                Ok(rumqttc::Event::Incoming(rumqttc::Packet::Publish(p))) => {
                    let _ = tx.send((p.topic.clone(), p.payload.to_vec(), p.retain));
                }
                Ok(rumqttc::Event::Incoming(rumqttc::Packet::SubAck(_))) => {
                    let _ = subacks.send(());
                }
                Ok(_) => {}
                // The client's reconnect pace.
                Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
            }
        }
    });
    for f in filters {
        client.subscribe(*f, QoS::AtLeastOnce).await.unwrap();
    }
    // Subscribed once the broker said so: nothing published after is missed.
    for f in filters {
        tokio::time::timeout(Duration::from_secs(10), subscribed.recv())
            .await
            .unwrap_or_else(|_| panic!("no SUBACK for {f} within 10 s"));
    }
    (client, rx)
}

/// Everything that arrives within `quiet` of the previous message (at most 10 s).
async fn drain(
    rx: &mut tokio::sync::mpsc::UnboundedReceiver<(String, Vec<u8>, bool)>,
    quiet: Duration,
) -> Vec<(String, Vec<u8>, bool)> {
    let mut out = Vec::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while tokio::time::Instant::now() < deadline {
        match tokio::time::timeout(quiet, rx.recv()).await {
            Ok(Some(m)) => out.push(m),
            _ => break,
        }
    }
    out
}

fn event(seq: u64, ts: u64, kind: &str, data: Value) -> String {
    json!({"v": 1, "ts": ts, "seq": seq, "event": kind, "data": data}).to_string()
}

fn telemetry(ts: u64, resting: u32, loaded: u32, temp: f32, rssi: i32) -> String {
    json!({"v": 1, "ts": ts, "battery_resting_mv": resting, "battery_loaded_mv": loaded,
           "temperature_c": temp, "rssi_dbm": rssi, "uptime_s": 100, "queue_bytes": 0,
           "reconnects": 0})
    .to_string()
}

/// Waits (at most 10 s) until the hub's care task has looked at the hub's time now and
/// every webhook delivery it started has ended: what care does at this time is then all
/// there is to see.
async fn care_settled(hub: &watchlight_hub::HubHandle) {
    let now = hub.state.now();
    tokio::time::timeout(Duration::from_secs(10), hub.state.care().settled(now))
        .await
        .expect("the care task looks at the hub's time");
}

fn sha(data: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(data))
}

// ---------------------------------------------------------------------------------------
// Notifications

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_notification_type_reaches_a_webhook_once() {
    let start = 1_794_312_000_000; // 2026-11-10 12:00 UTC: no month boundary near
    let (clock, shared) = shared_manual_clock(start);
    let t = start_hub(Some(shared)).await;
    let hook = receiver(204).await;
    let secret = add_webhook(&t, &hook.url, json!([])).await;
    // Three mains cameras and a battery one: one camera down is not an outage (3 of 4).
    let (a, _) = camera(&t, "A1", "mini").await;
    pair(&t, "B1", "mini").await;
    pair(&t, "C1", "mini").await;
    let (d, _) = camera(&t, "D1", "outdoor").await;
    let mut feed_before = t.get_json("/notifications").await["notifications"]
        .as_array()
        .unwrap()
        .len();
    // The live stream, opened before anything happens.
    let mut sse = t.get("/events/stream").await;

    // Motion: a clip's metadata names the thumbnail.
    let clip = format!("{}-1000-1", a.id);
    a.publish(
        "event",
        event(
            1,
            start,
            "clip_recorded",
            json!({"clip_id": clip, "start_ts": start - 12_000, "end_ts": start}),
        ),
    )
    .await;
    let motion = hook.wait_for("motion").await;
    assert_eq!(motion.json["camera"], json!(a.id));
    assert!(
        motion.json["thumbnail_url"]
            .as_str()
            .unwrap()
            .ends_with(&format!("/api/v1/clips/{clip}/thumbnail")),
        "{}",
        motion.json
    );

    // Offline after the hold (60 s of hub time), then back.
    a.say("offline").await;
    eventually(5, "A offline", || async {
        t.availability(&a.id).await == "offline"
    })
    .await;
    care_settled(&t.hub).await;
    assert_eq!(hook.count("camera_offline"), 0, "held for 60 s");
    clock.advance(61_000);
    hook.wait_for("camera_offline").await;
    a.say("online").await;
    hook.wait_for("camera_online").await;

    // Battery low (the camera's event) and the forecast crossing 14 days (three days of
    // telemetry falling fast on the plateau's end).
    d.publish("event", event(1, clock.now_ms(), "battery_low", json!({})))
        .await;
    hook.wait_for("battery_low").await;
    for (day, mv) in [(0u64, 3000u32), (1, 2960), (2, 2920)] {
        if day > 0 {
            clock.advance(DAY);
        }
        d.publish(
            "telemetry",
            telemetry(clock.now_ms(), mv, mv - 100, 15.0, -60),
        )
        .await;
        // (A day without check-ins: the hub saw it offline, the telemetry brings it back
        // within the hold, which is no news.)
        eventually(5, "D checked in", || async {
            t.availability(&d.id).await == "online"
        })
        .await;
        eventually(5, "D's reading taken", || async {
            t.get_json(&format!("/cameras/{}/battery", d.id)).await["resting_mv"] == mv
        })
        .await;
    }
    let forecast = hook.wait_for("battery_forecast").await;
    let days = forecast.json["data"]["days_left"].as_f64().unwrap();
    assert!(days < 14.0, "{}", forecast.json);
    let battery = t.get_json(&format!("/cameras/{}/battery", d.id)).await;
    assert_eq!(battery["replace_soon"], true, "{battery}");
    assert!(battery["percent"].as_f64().unwrap() < 20.0, "{battery}");
    let shown = t.get_json(&format!("/cameras/{}", d.id)).await;
    assert_eq!(shown["battery"]["days_left"], battery["days_left"]);

    // Storage: a notice the store writes; the doctor: the function its module calls.
    t.hub
        .state
        .store()
        .add_notice("storage_full", None, "Hub storage is full", &json!({}))
        .unwrap();
    hook.wait_for("storage").await;
    watchlight_hub::care::doctor_finding(
        &t.hub.state,
        &a.id,
        "wifi_weak",
        "The Wi-Fi signal is weak (-82 dBm)",
    )
    .await;
    hook.wait_for("doctor_finding").await;

    // Each kind exactly once, signed with the secret, its id in the delivery header.
    care_settled(&t.hub).await;
    let kinds = [
        "motion",
        "camera_offline",
        "camera_online",
        "battery_low",
        "battery_forecast",
        "storage",
        "doctor_finding",
    ];
    let got = hook.got.lock().unwrap().clone();
    for kind in kinds {
        assert_eq!(hook.count(kind), 1, "{kind}: {:?}", hook.kinds());
    }
    assert_eq!(got.len(), kinds.len(), "{:?}", hook.kinds());
    for r in &got {
        assert!(
            verify(secret.as_bytes(), &r.body, &r.signature),
            "{}",
            r.json
        );
        assert_eq!(r.delivery, r.json["id"].to_string());
    }
    let ids: BTreeSet<String> = got.iter().map(|r| r.delivery.clone()).collect();
    assert_eq!(ids.len(), got.len(), "unique ids");

    // The feed has them, newest first; the live stream carried them.
    let feed = t.get_json("/notifications").await;
    let feed = feed["notifications"].as_array().unwrap();
    assert_eq!(feed.len() - feed_before, kinds.len());
    assert_eq!(feed[0]["kind"], "doctor_finding");
    let mut seen = String::new();
    while !seen.contains("event: notification") {
        let chunk = tokio::time::timeout(Duration::from_secs(5), sse.chunk())
            .await
            .expect("the stream carries notifications")
            .unwrap()
            .unwrap();
        seen.push_str(&String::from_utf8_lossy(&chunk));
    }

    // Switched off: motion stops; back on: it flows again.
    let r = t
        .http
        .patch(t.url("/notifications/settings"))
        .header("cookie", &t.cookie)
        .json(&json!({"motion": false}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.json::<Value>().await.unwrap()["motion"], false);
    let r = t
        .http
        .patch(t.url("/notifications/settings"))
        .header("cookie", &t.cookie)
        .json(&json!({"earthquake": false}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    assert!(r.text().await.unwrap().contains("earthquake"));
    a.publish(
        "event",
        event(
            2,
            clock.now_ms(),
            "clip_recorded",
            json!({"clip_id": format!("{}-2000-2", a.id), "start_ts": 1, "end_ts": 2}),
        ),
    )
    .await;
    // A switched-off kind leaves no trace to await: give a wrong delivery time to come.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(hook.count("motion"), 1, "switched off");
    feed_before = t.get_json("/notifications").await["notifications"]
        .as_array()
        .unwrap()
        .len();
    assert_eq!(
        feed_before,
        feed.len(),
        "a switched-off kind is not in the feed"
    );

    // Webhooks list without secrets; delete.
    let list = t.get_json("/webhooks").await;
    assert!(list["webhooks"][0].get("secret").is_none(), "{list}");
    let id = list["webhooks"][0]["id"].as_i64().unwrap();
    let r = t
        .http
        .delete(t.url(&format!("/webhooks/{id}")))
        .header("cookie", &t.cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    let r = t.post("/webhooks", json!({"url": "ftp://x"})).await;
    assert_eq!(r.status(), 400);
    t.hub.shutdown().await;
}

/// The demo's failing battery, as the hub hears it from a battery camera that slept
/// through it: a low notice names the owner's name and the charge the camera judged low
/// at; critical is told; and what the queue delivers after fresh batteries went in does
/// not say "low" at 100 %.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn battery_notices_say_what_the_owner_needs_and_nothing_stale() {
    let (clock, shared) = shared_manual_clock(1_794_312_000_000);
    let t = start_hub(Some(shared)).await;
    let hook = receiver(204).await;
    add_webhook(&t, &hook.url, json!(["battery_low", "battery_critical"])).await;
    let (d, _) = camera(&t, "G1", "outdoor").await;
    let title = |r: &Received| r.json["title"].as_str().unwrap_or("").to_string();

    // Low at 2.85 V at rest: told with that charge, by the owner's name ("Porch").
    d.publish(
        "telemetry",
        telemetry(clock.now_ms(), 3300, 3200, 20.0, -60),
    )
    .await;
    let volts = json!({"resting_mv": 2850, "loaded_mv": 2700});
    d.publish("event", event(1, clock.now_ms(), "battery_low", volts))
        .await;
    let low = hook.wait_for("battery_low").await;
    let low_title = title(&low);
    assert!(
        low_title.starts_with("Battery low on Porch ("),
        "{low_title}"
    );
    let percent = low.json["data"]["percent"].as_f64().unwrap();
    assert!(
        percent <= watchlight_care::battery::charge_percent(2900),
        "{low_title}"
    );
    assert_eq!(low.json["camera"], json!(d.id));

    // Critical, told at once.
    clock.advance(HOUR);
    d.publish(
        "telemetry",
        telemetry(clock.now_ms(), 2550, 2300, 20.0, -60),
    )
    .await;
    let volts = json!({"resting_mv": 2550, "loaded_mv": 2300});
    d.publish("event", event(2, clock.now_ms(), "battery_critical", volts))
        .await;
    let critical = hook.wait_for("battery_critical").await;
    assert_eq!(
        title(&critical),
        "Battery critical on Porch: it shut down; replace the batteries"
    );

    // Fresh batteries; the camera wakes and reports them, then its queue delivers a low
    // from before the change: no notice.
    clock.advance(HOUR);
    let stale_ts = clock.now_ms() - MIN;
    // (One client's messages are handled in order: the reading before the events.)
    d.publish(
        "telemetry",
        telemetry(clock.now_ms(), 3550, 3450, 20.0, -60),
    )
    .await;
    let volts = json!({"resting_mv": 2840, "loaded_mv": 2600});
    d.publish("event", event(3, stale_ts, "battery_low", volts))
        .await;
    // The critical that followed it, also from before: told (fresh batteries made it
    // news again), saying the camera is awake again; and after the low, so the low was
    // handled by then.
    d.publish(
        "event",
        event(4, stale_ts + 1, "battery_critical", json!({})),
    )
    .await;
    eventually(10, "the second critical", || async {
        hook.count("battery_critical") == 2
    })
    .await;
    let titles: Vec<String> = hook.got.lock().unwrap().iter().map(title).collect();
    assert!(
        titles.contains(&"Porch shut down on a critical battery; fresh batteries woke it".into()),
        "{titles:?}"
    );
    assert_eq!(hook.count("battery_low"), 1, "{:?}", hook.kinds());
    assert!(titles.iter().all(|t| !t.contains("100 %")), "{titles:?}");
    t.hub.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_home_wide_outage_gives_one_notice() {
    let (clock, shared) = shared_manual_clock(1_794_312_000_000);
    let t = start_hub(Some(shared)).await;
    let hook = receiver(204).await;
    add_webhook(&t, &hook.url, json!([])).await;
    let mut cams = Vec::new();
    for s in ["H1", "H2", "H3", "H4"] {
        cams.push(camera(&t, s, "mini").await.0);
    }
    // The MQTT side of notifications: the same JSON on the hub's notification topic.
    let (_c, mut mqtt) =
        hub_identity_client(&t, "notif-test", &["watchlight/v1/home/hub/notification"]).await;

    for c in &cams {
        c.say("offline").await;
    }
    eventually(5, "all offline", || async {
        let mut all = true;
        for c in &cams {
            all &= t.availability(&c.id).await == "offline";
        }
        all
    })
    .await;
    clock.advance(5 * MIN);
    hook.wait_for("network_down").await;
    for c in &cams {
        c.say("online").await;
    }
    hook.wait_for("network_back").await;
    eventually(5, "all online", || async {
        let mut all = true;
        for c in &cams {
            all &= t.availability(&c.id).await == "online";
        }
        all
    })
    .await;
    clock.advance(5 * MIN);
    care_settled(&t.hub).await;
    // (Deliveries run concurrently: a receiver orders them by id.)
    let mut by_id = hook.got.lock().unwrap().clone();
    by_id.sort_by_key(|r| r.json["id"].as_u64());
    let kinds: Vec<&str> = by_id
        .iter()
        .map(|r| r.json["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["network_down", "network_back"]);
    let down = hook.wait_for("network_down").await;
    assert_eq!(
        down.json["data"]["cameras"].as_array().unwrap().len(),
        3,
        "{}",
        down.json
    );

    let on_mqtt: Vec<String> = drain(&mut mqtt, Duration::from_millis(300))
        .await
        .iter()
        .map(|(_, p, _)| {
            serde_json::from_slice::<Value>(p).unwrap()["kind"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    assert_eq!(on_mqtt, ["network_down", "network_back"]);
    t.hub.shutdown().await;
}

// ---------------------------------------------------------------------------------------
// The doctor, unasked

/// The `doctor_finding` notices a receiver got, as (camera, condition, summary).
fn doctor_findings(hook: &Receiver) -> Vec<(String, String, String)> {
    hook.got
        .lock()
        .unwrap()
        .iter()
        .filter(|r| r.json["kind"] == "doctor_finding")
        .map(|r| {
            let s = |v: &Value| v.as_str().unwrap_or("?").to_string();
            (
                s(&r.json["camera"]),
                s(&r.json["data"]["condition"]),
                s(&r.json["title"]),
            )
        })
        .collect()
}

/// Waits (5 s) for a `doctor_finding`; without one, fails with what the doctor says about
/// `id` now, so a change of the knowledge base that moves a case under the bar is plain.
async fn told_or_why(t: &TestHub, hook: &Receiver, id: &str) {
    if holds_within(5, || async { hook.count("doctor_finding") > 0 }).await {
        return;
    }
    let d = t.get_json(&format!("/cameras/{id}/diagnosis")).await;
    let top: Vec<String> = d["causes"].as_array().unwrap()[..3]
        .iter()
        .map(|c| format!("{} {:.3}: {}", c["id"], c["p"], c["why"]))
        .collect();
    panic!(
        "no doctor_finding within 5 s; the doctor says:\n{}",
        top.join("\n")
    );
}

/// Waits until the hub's case for `id` carries a battery reading under load.
async fn readings_stored(t: &TestHub, id: &str) {
    eventually(5, "telemetry stored", || async {
        let case = t.get_json(&format!("/cameras/{id}/case")).await;
        case["telemetry"]["battery_loaded_mv"]
            .as_array()
            .is_some_and(|a| !a.is_empty())
    })
    .await;
}

/// Takes a camera offline and waits for the owner's `camera_offline` notice (after the
/// router's 60 s hold of hub time); `told` is how many such notices there are then.
async fn goes_offline(
    t: &TestHub,
    clock: &watchlight_hub::clock::ManualClock,
    dev: &Device,
    hook: &Receiver,
    told: usize,
) {
    dev.say("offline").await;
    eventually(5, "camera offline", || async {
        t.availability(&dev.id).await == "offline"
    })
    .await;
    clock.advance(61_000);
    eventually(5, "camera_offline notice", || async {
        hook.count("camera_offline") == told
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_doctor_tells_a_dead_battery_once_without_being_asked() {
    let (clock, shared) = shared_manual_clock(1_794_312_000_000);
    let t = start_hub(Some(shared)).await;
    let hook = receiver(204).await;
    add_webhook(&t, &hook.url, json!([])).await;
    let (d, _) = camera(&t, "BD1", "outdoor").await;
    // Its last reading: 2.30 V under load, under the 2.4 V where a camera goes critical.
    d.publish(
        "telemetry",
        telemetry(clock.now_ms(), 2650, 2300, 15.0, -60),
    )
    .await;
    readings_stored(&t, &d.id).await;
    d.publish(
        "event",
        event(1, clock.now_ms(), "battery_critical", json!({})),
    )
    .await;
    // The event and the reading together settle it (98 %): the owner is told at once,
    // before the camera has even dropped.
    told_or_why(&t, &hook, &d.id).await;
    assert_eq!(hook.count("camera_offline"), 0);
    // It drops: the doctor is as sure, and the owner, told already, hears only that.
    goes_offline(&t, &clock, &d, &hook, 1).await;
    care_settled(&t.hub).await;
    let found = doctor_findings(&hook);
    assert_eq!(found.len(), 1, "{found:?}");
    let (camera, condition, summary) = &found[0];
    assert_eq!(
        (camera.as_str(), condition.as_str()),
        (d.id.as_str(), "battery_dead")
    );
    println!("doctor_finding, unasked: {summary}");
    assert!(
        summary.starts_with("Porch: The batteries are exhausted (")
            && summary.contains("% sure")
            && summary.contains("Replace the batteries"),
        "{summary}"
    );

    // Back, and down again within the day: the owner hears that the camera dropped, not
    // the same cause again; the report keeps one finding, not one per drop.
    d.say("online").await;
    hook.wait_for("camera_online").await;
    goes_offline(&t, &clock, &d, &hook, 2).await;
    care_settled(&t.hub).await;
    assert_eq!(doctor_findings(&hook).len(), 1, "{:?}", hook.kinds());
    let feed = t.get_json("/notifications").await;
    let in_feed = feed["notifications"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|n| n["kind"] == "doctor_finding")
        .count();
    assert_eq!(in_feed, 1, "{feed}");
    let stored = t
        .hub
        .state
        .store()
        .findings(Some(&d.id), 0, u64::MAX / 2)
        .unwrap();
    assert_eq!(stored.len(), 1, "{stored:?}");
    t.hub.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_critical_battery_without_readings_is_told_once_the_camera_drops() {
    let (clock, shared) = shared_manual_clock(1_794_312_000_000);
    let t = start_hub(Some(shared)).await;
    let hook = receiver(204).await;
    add_webhook(&t, &hook.url, json!(["doctor_finding", "camera_offline"])).await;
    let (d, _) = camera(&t, "BD2", "indoor").await;
    // The event alone, no voltage behind it, from a camera the hub still hears: the
    // doctor leans to the batteries without being sure (57 %), so the owner is not told.
    d.publish(
        "event",
        event(1, clock.now_ms(), "battery_critical", json!({})),
    )
    .await;
    eventually(5, "event stored", || async {
        let case = t.get_json(&format!("/cameras/{}/case", d.id)).await;
        case["telemetry"]["recent_events"] == json!(["battery_critical"])
    })
    .await;
    // The doctor looks after the event is stored, and a finding it keeps to itself leaves
    // no trace to await: give a wrong notice time to come.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        doctor_findings(&hook).is_empty(),
        "{:?}",
        doctor_findings(&hook)
    );
    // A flap: offline and back within the care router's hold. No "offline" goes out,
    // and the doctor is not asked (it would be sure, and wrong).
    d.say("offline").await;
    eventually(5, "camera offline", || async {
        t.availability(&d.id).await == "offline"
    })
    .await;
    clock.advance(20_000);
    d.say("online").await;
    eventually(5, "camera back", || async {
        t.availability(&d.id).await != "offline"
    })
    .await;
    clock.advance(61_000);
    care_settled(&t.hub).await;
    assert_eq!(hook.count("camera_offline"), 0, "{:?}", hook.kinds());
    assert!(
        doctor_findings(&hook).is_empty(),
        "{:?}",
        doctor_findings(&hook)
    );
    // It shuts down as it said it would: now the doctor is sure.
    goes_offline(&t, &clock, &d, &hook, 1).await;
    told_or_why(&t, &hook, &d.id).await;
    let found = doctor_findings(&hook);
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0].1, "battery_dead", "{found:?}");
    assert!(found[0].2.contains("Replace the batteries"), "{found:?}");
    t.hub.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_self_test_is_told_when_the_doctor_is_sure() {
    let (clock, shared) = shared_manual_clock(1_794_312_000_000);
    let t = start_hub(Some(shared)).await;
    let hook = receiver(204).await;
    add_webhook(&t, &hook.url, json!(["doctor_finding"])).await;
    let (a, _) = camera(&t, "ST1", "mini").await;
    let (b, _) = camera(&t, "ST2", "mini").await;
    let failed = |seq| {
        event(
            seq,
            clock.now_ms(),
            "self_test_failed",
            json!({"part": "image_sensor", "phase": "running", "failing_ms": 10_000,
                   "reason": "frame read failed"}),
        )
    };

    // Disarmed (a new hub's mode): "the system is disarmed" also speaks for `not_armed`,
    // so the doctor leans to the hardware without being sure: no push; the owner who asks
    // gets the ranking.
    a.publish("event", failed(1)).await;
    eventually(5, "event stored", || async {
        let case = t.get_json(&format!("/cameras/{}/case", a.id)).await;
        case["telemetry"]["recent_events"] == json!(["self_test_failed"])
    })
    .await;
    // The doctor looks after the event is stored, and a finding it keeps to itself leaves
    // no trace to await: give a wrong notice time to come.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(
        doctor_findings(&hook).is_empty(),
        "{:?}",
        doctor_findings(&hook)
    );
    let d = t.get_json(&format!("/cameras/{}/diagnosis", a.id)).await;
    assert_eq!(d["causes"][0]["id"], "hardware_fault", "{d}");
    assert!(d["causes"][0]["p"].as_f64().unwrap() < 0.8, "{d}");

    // Armed: nothing else explains the case, and the owner is told.
    let r = t.post("/arm", json!({"mode": "away"})).await;
    assert_eq!(r.status(), 200);
    eventually(5, "armed", || async {
        t.get_json(&format!("/cameras/{}/settings", b.id)).await["armed"] == true
    })
    .await;
    b.publish("event", failed(1)).await;
    told_or_why(&t, &hook, &b.id).await;
    let found = doctor_findings(&hook);
    assert_eq!(found.len(), 1, "{found:?}");
    let (camera, condition, summary) = &found[0];
    assert_eq!(
        (camera.as_str(), condition.as_str()),
        (b.id.as_str(), "hardware_fault")
    );
    assert!(summary.contains("self-test"), "{summary}");
    t.hub.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_healthy_camera_that_drops_once_is_no_finding() {
    // Disarmed (a new hub) and armed (nothing left to explain the drop but the camera).
    for arm in [false, true] {
        let (clock, shared) = shared_manual_clock(1_794_312_000_000);
        let t = start_hub(Some(shared)).await;
        let hook = receiver(204).await;
        add_webhook(&t, &hook.url, json!(["doctor_finding", "camera_offline"])).await;
        let (a, _) = camera(&t, "HC1", "mini").await;
        camera(&t, "HC2", "mini").await;
        camera(&t, "HC3", "mini").await;
        if arm {
            let r = t.post("/arm", json!({"mode": "away"})).await;
            assert_eq!(r.status(), 200);
        }
        a.publish(
            "telemetry",
            telemetry(clock.now_ms(), 3000, 2900, 20.0, -55),
        )
        .await;
        eventually(5, "settings and telemetry", || async {
            let case = t.get_json(&format!("/cameras/{}/case", a.id)).await;
            case["telemetry"]["settings"]["armed"] == arm
                && case["telemetry"]["rssi_dbm"] == json!([-55.0])
        })
        .await;
        goes_offline(&t, &clock, &a, &hook, 1).await;
        care_settled(&t.hub).await;
        let found = doctor_findings(&hook);
        assert!(found.is_empty(), "armed {arm}: {found:?}");
        let d = t.get_json(&format!("/cameras/{}/diagnosis", a.id)).await;
        assert!(
            d["causes"][0]["p"].as_f64().unwrap() < 0.8,
            "armed {arm}: {d}"
        );
        println!("a healthy drop, armed {arm}: {}", d["causes"][0]["why"]);
        t.hub.shutdown().await;
    }
}

// ---------------------------------------------------------------------------------------
// Arming

async fn armed(t: &TestHub, id: &str) -> bool {
    t.get_json(&format!("/cameras/{id}/settings")).await["armed"]
        .as_bool()
        .unwrap()
}

async fn wait_armed(t: &TestHub, id: &str, want: bool, when: &str) {
    eventually(5, &format!("{id} armed={want} at {when}"), || async {
        armed(t, id).await == want
    })
    .await;
}

/// Is as it was once the schedule was looked at the hub's time now (the switch must not
/// come early).
async fn stays_armed(t: &TestHub, id: &str, want: bool, when: &str) {
    care_settled(&t.hub).await;
    assert_eq!(armed(t, id).await, want, "{id} at {when}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn schedules_arm_and_disarm_at_the_right_minute() {
    // Local time is UTC+1: local hh:mm on Monday 2026-11-23 is MONDAY + (hh-1):mm.
    let local = |h: u64, m: u64| MONDAY + (h * 60 + m) * MIN - HOUR;
    let (clock, shared) = shared_manual_clock(local(7, 0));
    let t = start_hub(Some(shared)).await;
    let (mut a, _) = camera(&t, "S1", "mini").await;
    let (b, _) = camera(&t, "S2", "mini").await;
    // Home mode arms A only.
    let r = t
        .post("/arm", json!({"mode": "home", "cameras": [a.id]}))
        .await;
    assert_eq!(r.status(), 200);
    assert!(armed(&t, &a.id).await && !armed(&t, &b.id).await);
    assert_eq!(t.post("/disarm", json!({})).await.status(), 200);

    let weekdays = json!(["mon", "tue", "wed", "thu", "fri"]);
    let schedule = json!({"utc_offset_minutes": 60, "entries": [
        {"days": weekdays, "at": "08:30", "mode": "away"},
        {"days": weekdays, "at": "17:45", "mode": "disarmed"},
        {"days": ["mon","tue","wed","thu","fri","sat","sun"], "at": "22:00", "mode": "home"},
    ]});
    let r = t
        .http
        .put(t.url("/arming/schedule"))
        .header("cookie", &t.cookie)
        .json(&schedule)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
    let arming: Value = t.get_json("/arming").await;
    assert_eq!(arming["next_switch"]["at_ms"], json!(local(8, 30)));
    // A bad time is named and nothing changes.
    let r = t
        .http
        .put(t.url("/arming/schedule"))
        .header("cookie", &t.cookie)
        .json(&json!({"utc_offset_minutes": 60, "entries": [{"days": ["mon"], "at": "25:99", "mode": "away"}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    assert!(r.text().await.unwrap().contains("25:99"));

    clock.set(local(8, 30) - 1);
    stays_armed(&t, &a.id, false, "08:29:59.999").await;
    clock.set(local(8, 30));
    wait_armed(&t, &a.id, true, "08:30").await;
    wait_armed(&t, &b.id, true, "08:30 (away arms all)").await;
    // The camera received its settings with armed = true.
    let mut got = a.expect("/settings").await;
    while got["settings"]["armed"] != true {
        got = a.expect("/settings").await;
    }
    assert_eq!(t.get_json("/arm").await["mode"], "away");

    // By hand at 12:00: holds until the next switch.
    clock.set(local(12, 0));
    assert_eq!(t.post("/disarm", json!({})).await.status(), 200);
    clock.set(local(17, 0));
    stays_armed(&t, &a.id, false, "17:00 (disarmed by hand)").await;
    assert_eq!(t.post("/arm", json!({"mode": "away"})).await.status(), 200);
    clock.set(local(17, 45) - 1);
    stays_armed(&t, &a.id, true, "17:44:59.999").await;
    clock.set(local(17, 45));
    wait_armed(&t, &a.id, false, "17:45").await;
    wait_armed(&t, &b.id, false, "17:45").await;

    clock.set(local(21, 59) + 59_999);
    stays_armed(&t, &a.id, false, "21:59:59.999").await;
    clock.set(local(22, 0));
    wait_armed(&t, &a.id, true, "22:00 (home)").await;
    stays_armed(&t, &b.id, false, "22:00 (home: not chosen)").await;
    assert_eq!(t.get_json("/arm").await["mode"], "home");
    t.hub.shutdown().await;
}

// ---------------------------------------------------------------------------------------
// Reports

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_report_across_a_month_boundary_is_stored_and_served() {
    // 2026-10-31 22:50 UTC = 23:50 in UTC+1; the local month turns at 23:00 UTC.
    let start = 1_793_487_000_000;
    let boundary = start + 10 * MIN;
    let (clock, shared) = shared_manual_clock(start);
    let t = start_hub(Some(shared)).await;
    let r = t
        .http
        .put(t.url("/arming/schedule"))
        .header("cookie", &t.cookie)
        .json(&json!({"utc_offset_minutes": 60, "entries": []}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let (d, _) = camera(&t, "R1", "outdoor").await;
    // A week of October: the pack slowly falling, the signal around -64 dBm.
    for (i, (mv, rssi)) in [
        (3090, -66),
        (3088, -63),
        (3086, -70),
        (3084, -58),
        (3082, -64),
        (3080, -65),
        (3078, -61),
    ]
    .into_iter()
    .enumerate()
    {
        let ts = start - (6 - i as u64) * DAY;
        d.publish("telemetry", telemetry(ts, mv, mv - 60, 6.0, rssi))
            .await;
    }
    for seq in 1..=3u64 {
        let clip = format!("{}-{seq}000-{seq}", d.id);
        d.publish(
            "event",
            event(seq, start - seq * HOUR, "clip_recorded", json!({"clip_id": clip, "start_ts": start - seq * HOUR, "end_ts": start - seq * HOUR + 15_000})),
        )
        .await;
    }
    // One client's messages are handled in order: the last event stored, all are.
    eventually(5, "the week stored", || async {
        t.get_json(&format!("/cameras/{}/events", d.id)).await["events"]
            .as_array()
            .is_some_and(|e| e.len() == 3)
    })
    .await;
    watchlight_hub::care::doctor_finding(
        &t.hub.state,
        &d.id,
        "wifi_lost",
        "The camera lost Wi-Fi for 6 minutes (router restarted?)",
    )
    .await;
    // A missed check-in: silent for 3 minutes (battery check-ins every 60 s).
    clock.advance(3 * MIN);
    eventually(5, "missed check-in", || async {
        t.availability(&d.id).await == "offline"
    })
    .await;
    clock.advance(2 * MIN); // offline for 2 of the camera's 10 minutes in October
    d.publish("telemetry", telemetry(clock.now_ms(), 3078, 3018, 6.0, -62))
        .await;
    eventually(5, "back", || async {
        t.availability(&d.id).await == "online"
    })
    .await;
    // Then checking in every minute up to the boundary.
    let readings = || {
        t.hub
            .state
            .store()
            .telemetry(&d.id, 0, u64::MAX)
            .unwrap()
            .len()
    };
    for _ in 0..4 {
        clock.advance(MIN);
        let before = readings();
        d.publish("telemetry", telemetry(clock.now_ms(), 3078, 3018, 6.0, -62))
            .await;
        eventually(5, "check-in stored", || async { readings() > before }).await;
    }

    clock.set(boundary - 1);
    care_settled(&t.hub).await;
    assert!(
        t.get_json("/reports").await["reports"]
            .as_array()
            .unwrap()
            .is_empty()
    );
    clock.set(boundary);
    eventually(5, "monthly report", || async {
        !t.get_json("/reports").await["reports"]
            .as_array()
            .unwrap()
            .is_empty()
    })
    .await;
    let list = t.get_json("/reports").await;
    let first = &list["reports"][0];
    assert_eq!(first["month"], "2026-10");
    assert_eq!(first["trigger"], "monthly");
    assert_eq!(first["to_ms"], json!(boundary));
    let id = first["id"].as_i64().unwrap();
    let full = t.get_json(&format!("/reports/{id}")).await;
    let cam = &full["report"]["cameras"][0];
    assert_eq!(cam["camera"], json!(d.id));
    assert_eq!(cam["clips"], 3);
    assert_eq!(cam["missed_checkins"], 1);
    assert_eq!(cam["signal"]["samples"], 12);
    // Counted from the pairing (10 minutes before the boundary), 2 minutes offline.
    assert_eq!(cam["uptime_percent"], 80.0, "{cam}");
    assert_eq!(cam["findings"][0]["condition"], "wifi_lost");
    assert!(
        cam["battery"]["days_left"].as_f64().unwrap() > 14.0,
        "{cam}"
    );
    let r = t.get(&format!("/reports/{id}?format=text")).await;
    assert_eq!(r.status(), 200);
    assert!(
        r.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain")
    );
    let text = r.text().await.unwrap();
    println!("--- sample report (GET /api/v1/reports/{id}?format=text) ---\n{text}");
    assert!(
        text.starts_with("Watchlight health report for 2026-10"),
        "{text}"
    );
    assert!(
        text.contains("1 missed check-ins") && text.contains("wifi_lost"),
        "{text}"
    );

    // Only once per month; on demand: the month so far.
    clock.advance(2 * HOUR);
    care_settled(&t.hub).await;
    assert_eq!(
        t.get_json("/reports").await["reports"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    let r = t.post("/reports", json!({})).await;
    assert_eq!(r.status(), 201);
    let made: Value = r.json().await.unwrap();
    assert_eq!(made["month"], "2026-11");
    assert_eq!(made["trigger"], "on_demand");
    assert_eq!(
        t.get_json("/reports").await["reports"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
    assert_eq!(
        t.get(&format!("/reports/{id}?format=pdf")).await.status(),
        400
    );
    assert_eq!(t.get("/reports/999").await.status(), 404);

    // A restarted hub does not make October's report again.
    let dir = t.dir;
    t.hub.shutdown().await;
    let mut config = watchlight_hub::HubConfig::new(dir.path());
    config.insecure = true;
    let shared: watchlight_hub::clock::SharedClock = clock.clone();
    config.clock = shared;
    let hub = watchlight_hub::Hub::start(config).await.unwrap();
    care_settled(&hub).await;
    let reports = hub.state.store().reports().unwrap();
    assert_eq!(reports.iter().filter(|r| r.trigger == "monthly").count(), 1);
    // And knows the battery from the store before the camera's next telemetry.
    let battery = watchlight_hub::care::battery::json(&hub.state, &d.id).unwrap();
    assert_eq!(battery["resting_mv"], 3078, "{battery}");
    assert!(battery["days_left"].as_f64().unwrap() > 14.0, "{battery}");
    hub.shutdown().await;
}

// ---------------------------------------------------------------------------------------
// Support bundle

fn unpack(gz: &[u8]) -> BTreeMap<String, Vec<u8>> {
    let mut tar = tar::Archive::new(flate2::read::GzDecoder::new(gz));
    let mut files = BTreeMap::new();
    for entry in tar.entries().unwrap() {
        let mut entry = entry.unwrap();
        let path = entry.path().unwrap().to_string_lossy().to_string();
        let mut bytes = Vec::new();
        entry.read_to_end(&mut bytes).unwrap();
        files.insert(path.split_once('/').unwrap().1.to_string(), bytes);
    }
    files
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_bundle_has_what_it_should_and_no_secret() {
    let t = start_hub(None).await;
    let now = t.hub.state.now();
    let hook = receiver(204).await;
    let webhook_secret = add_webhook(&t, &hook.url, json!(["motion"])).await;
    // Pairing sent the Wi-Fi passphrase "secret-wifi" (common::pair).
    let (a, token) = camera(&t, "BU1", "mini").await;
    let (b, _) = camera(&t, "BU2", "outdoor").await;
    let wifi_pass = "hunter2-wifi-passphrase";
    let r = t
        .post(
            &format!("/cameras/{}/wifi", a.id),
            json!({"ssid": "attic", "passphrase": wifi_pass}),
        )
        .await;
    assert_eq!(r.status(), 202);
    a.publish("telemetry", telemetry(now, 0, 0, 21.5, -61))
        .await;
    b.publish("telemetry", telemetry(now, 3050, 2990, 9.0, -70))
        .await;
    a.publish("event", event(1, now, "boot", json!({"firmware": "1.2.3"})))
        .await;
    // Secrets a camera (or a bug) could echo: in secret-named fields, a token in free
    // text, a login body quoted in a message.
    let quoted = json!({"username": "owner", "password": PASSWORD}).to_string();
    a.publish(
        "event",
        event(2, now + 1, "button", json!({"token": token, "note": format!("key {token}; request {quoted}"), "password": PASSWORD})),
    )
    .await;
    watchlight_hub::care::doctor_finding(&t.hub.state, &a.id, "wifi_weak", "Weak signal").await;
    eventually(5, "events stored", || async {
        t.get_json(&format!("/cameras/{}/events", a.id)).await["events"]
            .as_array()
            .unwrap()
            .len()
            == 2
    })
    .await;

    for c in [&a.id, &b.id] {
        eventually(5, "telemetry stored", || async {
            !t.get_json(&format!("/cameras/{c}")).await["telemetry"].is_null()
        })
        .await;
    }
    let r = t.get("/bundle").await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "application/gzip");
    let disposition = r.headers()["content-disposition"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(disposition.contains("watchlight-hub-") && disposition.ends_with(".tar.gz\""));
    let gz = r.bytes().await.unwrap();
    let files = unpack(&gz);
    println!("--- support bundle (GET /api/v1/bundle): {disposition} ---");
    for (path, bytes) in &files {
        println!("{:>7}  {path}", bytes.len());
    }
    for want in [
        "manifest.json",
        "versions.json",
        "hub/config.json",
        &format!("devices/{}.json", a.id),
        &format!("devices/{}.json", b.id),
        "availability.jsonl",
        "telemetry.jsonl",
        "events.jsonl",
        "doctor.jsonl",
        "logs/hub.log",
    ] {
        assert!(
            files.contains_key(want),
            "{want} missing: {:?}",
            files.keys()
        );
    }
    let text = |p: &str| String::from_utf8(files[p].clone()).unwrap();
    assert!(text(&format!("devices/{}.json", a.id)).contains("\"Porch\""));
    assert!(text("telemetry.jsonl").contains("-61") && text("telemetry.jsonl").contains("3050"));
    assert!(text("events.jsonl").contains("boot") && text("events.jsonl").contains("1.2.3"));
    assert!(text("availability.jsonl").contains("online"));
    assert!(text("doctor.jsonl").contains("wifi_weak"));
    assert!(text("hub/config.json").contains(&hook.url));
    assert!(text("logs/hub.log").contains("command") && text("logs/hub.log").contains("attic"));
    assert!(text("versions.json").contains("hub"));

    let hub_token =
        std::fs::read_to_string(t.dir.path().join(watchlight_hub::HUB_TOKEN_FILE)).unwrap();
    let secrets = [
        ("device token", token.as_str()),
        ("Wi-Fi passphrase at pairing", "secret-wifi"),
        ("Wi-Fi passphrase sent later", wifi_pass),
        ("webhook secret", webhook_secret.as_str()),
        ("owner password", PASSWORD),
        ("hub MQTT token", hub_token.trim()),
    ];
    let mut raw = Vec::new();
    flate2::read::GzDecoder::new(&gz[..])
        .read_to_end(&mut raw)
        .unwrap();
    for (what, secret) in secrets {
        for (path, bytes) in &files {
            assert!(
                !String::from_utf8_lossy(bytes).contains(secret),
                "{what} in {path}"
            );
        }
        assert!(
            !String::from_utf8_lossy(&raw).contains(secret),
            "{what} in the archive"
        );
    }

    // One camera's bundle: its own files only.
    let r = t.get(&format!("/cameras/{}/bundle", b.id)).await;
    assert_eq!(r.status(), 200);
    let files = unpack(&r.bytes().await.unwrap());
    assert!(files.contains_key(&format!("devices/{}.json", b.id)));
    assert!(!files.contains_key(&format!("devices/{}.json", a.id)));
    assert!(!files.contains_key("hub/config.json"));
    assert!(!String::from_utf8_lossy(&files["events.jsonl"]).contains(&a.id));
    assert_eq!(t.get("/cameras/nope/bundle").await.status(), 404);
    t.hub.shutdown().await;
}

// ---------------------------------------------------------------------------------------
// Home Assistant

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn home_assistant_sees_discovery_retained_and_loses_it_on_forget() {
    let t = start_hub(None).await;
    let (a, _) = camera(&t, "HA1", "mini").await;
    let (d, _) = camera(&t, "HA2", "outdoor").await;
    d.publish("telemetry", telemetry(1, 3050, 2990, 9.5, -67))
        .await;
    eventually(5, "telemetry taken in", || async {
        t.get_json(&format!("/cameras/{}/battery", d.id)).await["resting_mv"] == 3050
    })
    .await;

    let (ha, mut rx) = hub_identity_client(
        &t,
        "home-assistant",
        &["homeassistant/#", "watchlight/v1/home/hub/ha/#"],
    )
    .await;
    let got = drain(&mut rx, Duration::from_millis(700)).await;
    let retained: BTreeMap<String, Vec<u8>> = got
        .iter()
        .filter(|(_, _, r)| *r)
        .map(|(t, p, _)| (t.clone(), p.clone()))
        .collect();
    let node = format!("watchlight_home_{}", d.id);
    let mut topics: Vec<&String> = retained
        .keys()
        .filter(|k| {
            k.starts_with("homeassistant/")
                && (k.contains(&node) || k.contains("alarm_control_panel"))
        })
        .collect();
    topics.sort();
    println!(
        "--- discovery topics Home Assistant sees for camera {} (retained) ---",
        d.id
    );
    for t in &topics {
        println!("{t}");
    }
    assert_eq!(topics.len(), 11, "{topics:?}");
    for object in [
        "connectivity",
        "motion",
        "battery",
        "battery_voltage",
        "battery_days_left",
        "signal",
        "temperature",
        "motion_detection",
        "motion_indicator",
        "snapshot",
    ] {
        assert!(
            topics
                .iter()
                .any(|t| t.ends_with(&format!("/{node}/{object}/config"))),
            "{object}"
        );
    }
    let mains_node = format!("watchlight_home_{}", a.id);
    assert_eq!(
        retained
            .keys()
            .filter(|k| k.contains(&format!("/{mains_node}/")))
            .count(),
        7,
        "a mains camera has no battery entities"
    );
    let doc: Value =
        serde_json::from_slice(&retained[&format!("homeassistant/sensor/{node}/battery/config")])
            .unwrap();
    assert_eq!(doc["unit_of_measurement"], "%");
    // (The state may still have been on its way when the client subscribed: the latest.)
    let latest: BTreeMap<String, Vec<u8>> =
        got.iter().map(|(t, p, _)| (t.clone(), p.clone())).collect();
    let state: Value =
        serde_json::from_slice(&latest[&format!("watchlight/v1/home/hub/ha/{}", d.id)]).unwrap();
    assert_eq!(state["rssi_dbm"], -67, "{state}");
    // 3.05 V resting: 65 % into the discharge curve.
    assert_eq!(state["battery_percent"], 35.0, "{state}");
    assert_eq!(state["battery_voltage"], 3.05, "{state}");
    assert_eq!(latest["watchlight/v1/home/hub/ha/arming"], b"disarmed");

    // Commands from Home Assistant: a switch and the alarm panel.
    ha.publish(
        format!("watchlight/v1/home/hub/ha/{}/set/motion_detection", a.id),
        QoS::AtLeastOnce,
        false,
        "OFF",
    )
    .await
    .unwrap();
    eventually(5, "switch applied", || async {
        t.get_json(&format!("/cameras/{}/settings", a.id)).await["motion_detection"] == false
    })
    .await;
    ha.publish(
        "watchlight/v1/home/hub/ha/arming/set",
        QoS::AtLeastOnce,
        false,
        "ARM_AWAY",
    )
    .await
    .unwrap();
    eventually(5, "armed away", || async {
        t.get_json("/arm").await["mode"] == "away"
    })
    .await;
    let after = drain(&mut rx, Duration::from_millis(500)).await;
    assert!(
        after
            .iter()
            .any(|(t, p, _)| t == "watchlight/v1/home/hub/ha/arming" && p == b"armed_away")
    );
    assert!(after.iter().any(
        |(tp, p, _)| *tp == format!("watchlight/v1/home/hub/ha/{}", a.id)
            && serde_json::from_slice::<Value>(p).unwrap()["motion_detection"] == "OFF"
    ));
    // A bad command is refused and counted.
    ha.publish(
        "watchlight/v1/home/hub/ha/arming/set",
        QoS::AtLeastOnce,
        false,
        "PANIC",
    )
    .await
    .unwrap();
    eventually(5, "bad command counted", || async {
        t.get_json("/hub").await.to_string().contains("bad_command")
    })
    .await;

    // Forget: empty retained payloads clear every entity of the camera.
    let r = t
        .http
        .delete(t.url(&format!("/cameras/{}", d.id)))
        .header("cookie", &t.cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    let cleared = drain(&mut rx, Duration::from_millis(500)).await;
    for topic in topics.iter().filter(|t| t.contains(&node)) {
        assert!(
            cleared.iter().any(|(t, p, _)| t == *topic && p.is_empty()),
            "{topic} not cleared"
        );
    }
    let (_fresh, mut rx2) = hub_identity_client(&t, "home-assistant-2", &["homeassistant/#"]).await;
    let still: Vec<String> = drain(&mut rx2, Duration::from_millis(700))
        .await
        .into_iter()
        .map(|(t, _, _)| t)
        .collect();
    assert!(!still.iter().any(|t| t.contains(&node)), "{still:?}");
    assert!(still.iter().any(|t| t.contains(&mains_node)));
    t.hub.shutdown().await;
}

// ---------------------------------------------------------------------------------------
// Metrics

/// The value of the sample `series` (name with labels) in a Prometheus text.
fn sample(text: &str, series: &str) -> f64 {
    text.lines()
        .find_map(|l| {
            l.strip_prefix(series)
                .and_then(|rest| rest.strip_prefix(' '))
        })
        .map(|v| v.trim().parse().unwrap())
        .unwrap_or(0.0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_move_when_things_happen() {
    let t = start_hub(None).await;
    let base = t.hub.http_url.clone();
    let r = t.http.get(format!("{base}/metrics")).send().await.unwrap();
    assert_eq!(r.status(), 401, "the owner's token is needed");
    let api_token = t
        .post("/tokens", json!({}))
        .await
        .json::<Value>()
        .await
        .unwrap()["token"]
        .as_str()
        .unwrap()
        .to_string();
    let scrape = || async {
        let r = t
            .http
            .get(format!("{base}/metrics"))
            .bearer_auth(&api_token)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        assert!(
            r.headers()["content-type"]
                .to_str()
                .unwrap()
                .starts_with("text/plain; version=0.0.4")
        );
        r.text().await.unwrap()
    };
    let before = scrape().await;
    assert_eq!(sample(&before, "watchlight_devices{state=\"online\"}"), 0.0);

    let good = receiver(204).await;
    let refusing = receiver(400).await;
    add_webhook(&t, &good.url, json!(["motion"])).await;
    add_webhook(&t, &refusing.url, json!(["motion"])).await;
    let (a, token) = camera(&t, "M1", "mini").await;
    a.publish("telemetry", telemetry(1, 0, 0, 20.0, -60)).await;
    a.publish("telemetry", "{not json").await;
    // A clip: metadata first (its end time gives the ingest latency), then the video.
    let clip = format!("{}-5000-1", a.id);
    let now = t.hub.state.now();
    a.publish(
        "event",
        event(
            1,
            now,
            "clip_recorded",
            json!({"clip_id": clip, "start_ts": now - 10_000, "end_ts": now - 1_000}),
        ),
    )
    .await;
    good.wait_for("motion").await;
    refusing.wait_for("motion").await;
    let video = vec![7u8; 4096];
    let r = t
        .http
        .put(t.url(&format!("/devices/{}/clips/{clip}", a.id)))
        .bearer_auth(&token)
        .header("x-watchlight-sha256", sha(&video))
        .body(video.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);

    eventually(5, "metrics moved", || async {
        let text = scrape().await;
        sample(
            &text,
            "watchlight_notification_failures_total{kind=\"motion\"}",
        ) >= 1.0
            && sample(&text, "watchlight_clips_total") >= 1.0
    })
    .await;
    let after = scrape().await;
    println!("--- /metrics ---\n{after}");
    assert_eq!(sample(&after, "watchlight_devices{state=\"online\"}"), 1.0);
    assert!(
        sample(
            &after,
            "watchlight_mqtt_messages_received_total{topic=\"telemetry\"}"
        ) >= 2.0
    );
    assert!(
        sample(
            &after,
            "watchlight_mqtt_messages_received_total{topic=\"event\"}"
        ) >= 1.0
    );
    assert!(
        sample(
            &after,
            "watchlight_mqtt_messages_sent_total{topic=\"settings\"}"
        ) >= 1.0
    );
    assert!(
        sample(
            &after,
            "watchlight_mqtt_messages_sent_total{topic=\"notification\"}"
        ) >= 1.0
    );
    assert!(
        after.contains("watchlight_payloads_dropped_total{reason="),
        "{after}"
    );
    assert_eq!(sample(&after, "watchlight_clip_bytes_total"), 4096.0);
    assert_eq!(sample(&after, "watchlight_clips_total"), 1.0);
    assert_eq!(
        sample(&after, "watchlight_clip_ingest_latency_seconds_count"),
        1.0
    );
    assert_eq!(
        sample(
            &after,
            "watchlight_notifications_delivered_total{kind=\"motion\"}"
        ),
        1.0
    );
    assert_eq!(
        sample(
            &after,
            "watchlight_notification_failures_total{kind=\"motion\"}"
        ),
        1.0
    );
    a.say("offline").await;
    eventually(5, "offline counted", || async {
        sample(&scrape().await, "watchlight_devices{state=\"offline\"}") == 1.0
    })
    .await;
    t.hub.shutdown().await;
}
