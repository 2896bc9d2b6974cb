//! The doctor through the hub: the case the hub builds from what cameras
//! sent, the diagnosis with the learned priors, the owner's answers and confirmations.
//! A real hub in-process on ephemeral ports, devices speaking MQTT, a manual clock.

mod common;

use common::*;
use serde_json::{Value, json};
use watchlight_hub::clock::Clock;
use watchlight_hub::netwatch::{SimNetwork, home_sample};

const T0: u64 = 1_800_000_000_000;
const MIN: u64 = 60_000;

async fn telemetry(dev: &Device, ts: u64, resting: u32, loaded: u32, rssi: i32) {
    dev.publish(
        "telemetry",
        json!({"v": 1, "ts": ts, "battery_resting_mv": resting, "battery_loaded_mv": loaded,
               "temperature_c": 4.0, "rssi_dbm": rssi, "uptime_s": 100, "queue_bytes": 0,
               "reconnects": 0})
        .to_string(),
    )
    .await;
}

async fn case(t: &TestHub, id: &str) -> Value {
    t.get_json(&format!("/cameras/{id}/case")).await
}

async fn diagnosis(t: &TestHub, id: &str) -> Value {
    t.get_json(&format!("/cameras/{id}/diagnosis")).await
}

fn first_repair(d: &Value) -> String {
    d["plan"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["kind"] == "repair")
        .map(|s| s["action"].as_str().unwrap().to_string())
        .unwrap_or_default()
}

fn p_of(d: &Value, fault: &str) -> f64 {
    d["causes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == fault)
        .unwrap()["p"]
        .as_f64()
        .unwrap()
}

async fn online(t: &TestHub, id: &str, token: &str, want: &str) -> Device {
    let dev = connect_device(t, id, token).await;
    dev.say("online").await;
    if want == "sleeping" {
        dev.say("sleeping").await;
    }
    eventually(5, want, || async { t.availability(id).await == want }).await;
    dev
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_battery_camera_that_sagged_then_went_dark_gets_new_batteries_first() {
    let (clock, shared) = shared_manual_clock(T0);
    let t = start_hub_on(tempfile::tempdir().unwrap(), shared, home_network(), true).await;
    let (garden, token) = pair(&t, "SN1", "outdoor").await;
    let (porch, porch_token) = pair(&t, "SN2", "mini").await;
    let _porch = online(&t, &porch, &porch_token, "online").await;
    let cam = online(&t, &garden, &token, "sleeping").await;

    // Check-ins a minute apart: the loaded voltage sags as the cells give out.
    let loaded = [2750, 2700, 2620, 2510, 2380];
    let resting = [3000, 2960, 2920, 2870, 2800];
    for (k, (l, r)) in loaded.iter().zip(resting).enumerate() {
        clock.set(T0 + k as u64 * MIN);
        cam.say("online").await;
        telemetry(&cam, clock.now_ms(), r, *l, -61).await;
        // What the camera's battery monitor says at SPEC §6's thresholds.
        let event = match *l {
            l if l < 2400 => Some("battery_critical"),
            l if l < 2600 => Some("battery_low"),
            _ => None,
        };
        if let Some(event) = event {
            let ev = json!({"v": 1, "ts": clock.now_ms(), "seq": k, "event": event});
            cam.publish("event", ev.to_string()).await;
        }
        cam.say("sleeping").await;
        eventually(5, "reading stored", || async {
            case(&t, &garden).await["telemetry"]["battery_loaded_mv"]
                .as_array()
                .is_some_and(|v| v.len() == k + 1)
        })
        .await;
        // Asleep again before the clock moves on (messages are handled in order).
        eventually(5, "asleep", || async {
            t.availability(&garden).await == "sleeping"
        })
        .await;
    }
    let last_checkin = clock.now_ms();
    // Then nothing: two missed check-ins and 10 s later the hub counts it offline.
    clock.set(last_checkin + 2 * MIN + 10_000);
    eventually(5, "offline", || async {
        t.availability(&garden).await == "offline"
    })
    .await;
    clock.set(last_checkin + 12 * MIN);

    let c = case(&t, &garden).await;
    let tel = &c["telemetry"];
    assert_eq!(c["profile"], "outdoor");
    assert_eq!(
        c["observations"],
        json!({}),
        "the owner has not said anything"
    );
    assert_eq!(tel["availability"], "offline");
    assert_eq!(tel["minutes_since_seen"], json!(12.0));
    assert_eq!(tel["battery_loaded_mv"], json!(loaded.map(f64::from)));
    assert_eq!(tel["battery_resting_mv"], json!(resting.map(f64::from)));
    assert_eq!(tel["rssi_dbm"].as_array().unwrap().len(), 5);
    assert_eq!(tel["temperature_c"], json!(4.0));
    assert_eq!(
        tel["fleet_offline_fraction"],
        json!(0.0),
        "the porch camera is fine"
    );
    assert_eq!(
        tel["settings"],
        json!({"armed": false, "motion_detection": true, "motion_indicator": false})
    );
    assert!(tel["hub_storage_free_pct"].as_f64().is_some());
    assert_eq!(
        tel["recent_events"],
        json!(["battery_low", "battery_critical"])
    );
    assert_eq!(tel["hub_answered"], json!(true));
    // What the hub sends is a valid case file.
    watchlight_doctor::Case::from_json(&c.to_string()).unwrap();

    let d = diagnosis(&t, &garden).await;
    let top = d["causes"][0]["id"].as_str().unwrap();
    assert!(matches!(top, "battery_dead" | "battery_low"), "{d:#}");
    assert_eq!(d["plan"][0]["action"], "replace_batteries", "{d:#}");
    assert!(d["expected_cost_min"].as_f64().unwrap() > 0.0);
    println!(
        "diagnosis through the hub: {}",
        serde_json::to_string_pretty(&d).unwrap()
    );
    t.hub.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_whole_home_offline_is_the_network() {
    let (clock, shared) = shared_manual_clock(T0);
    let network = home_network();
    let t = start_hub_on(tempfile::tempdir().unwrap(), shared, network.clone(), true).await;
    let mut devs = Vec::new();
    for serial in ["SN1", "SN2", "SN3"] {
        let (id, token) = pair(&t, serial, "mini").await;
        let dev = online(&t, &id, &token, "online").await;
        telemetry(&dev, T0, 0, 0, -58).await;
        devs.push((id, dev));
    }
    // The router dies: every camera's link goes within seconds of each other, and the
    // hub's gateway stops answering (its cable still plugged in).
    network.set(at([192, 168, 1, 10], Some(false)));
    for (k, (id, dev)) in devs.iter().enumerate() {
        clock.set(T0 + 5 * MIN + k as u64 * 4_000);
        dev.say("offline").await;
        eventually(5, "offline", || async {
            t.availability(id).await == "offline"
        })
        .await;
    }
    clock.set(T0 + 45 * MIN);
    let id = &devs[0].0;
    let c = case(&t, id).await;
    assert_eq!(c["telemetry"]["fleet_offline_fraction"], json!(1.0));
    assert_eq!(c["telemetry"]["hub_network"], "upstream_lost");
    assert!(
        c["telemetry"].get("battery_loaded_mv").is_none(),
        "mains: no battery"
    );
    let d = diagnosis(&t, id).await;
    assert_eq!(d["causes"][0]["id"], "network_down", "{d:#}");
    // A changed router password also drops every camera at once: the doctor asks the
    // one question that tells them apart, then restarts the router.
    assert!(
        ["restart_router", "ask_other_devices_online"]
            .contains(&d["plan"][0]["action"].as_str().unwrap()),
        "{d:#}"
    );
    let r = t
        .post(
            &format!("/cameras/{id}/diagnosis"),
            json!({"observations": {"other_devices_online": false}}),
        )
        .await;
    let d: Value = r.json().await.unwrap();
    assert_eq!(d["causes"][0]["id"], "network_down", "{d:#}");
    assert_eq!(d["plan"][0]["action"], "restart_router", "{d:#}");
    t.hub.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn owner_answers_merge_into_the_case_and_bad_ones_are_named() {
    let (_clock, shared) = shared_manual_clock(T0);
    let t = start_hub_on(tempfile::tempdir().unwrap(), shared, home_network(), true).await;
    let (id, token) = pair(&t, "SN1", "mini").await;
    let _dev = online(&t, &id, &token, "online").await;

    // SPEC §1: "some cameras flash red when they detect motion; a setting turns it off".
    let r = t
        .http
        .patch(t.url(&format!("/cameras/{id}/settings")))
        .header("cookie", &t.cookie)
        .json(&json!({"motion_indicator": true}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let r = t
        .post(
            &format!("/cameras/{id}/diagnosis"),
            json!({"observations": {"light": "red_flash_on_motion", "when": "on_motion"}}),
        )
        .await;
    assert_eq!(r.status(), 200);
    let d: Value = r.json().await.unwrap();
    assert_eq!(d["causes"][0]["id"], "motion_indicator", "{d:#}");
    assert_eq!(d["plan"][0]["action"], "disable_motion_indicator", "{d:#}");

    // SPEC §1: "the camera is not recording" — the system was never armed.
    let r = t
        .post(
            &format!("/cameras/{id}/diagnosis"),
            json!({"observations": {"light": "off", "recording": false}}),
        )
        .await;
    let d: Value = r.json().await.unwrap();
    assert_eq!(d["causes"][0]["id"], "not_armed", "{d:#}");
    assert_eq!(first_repair(&d), "arm_or_enable_motion", "{d:#}");
    // A step that did not help is not proposed again.
    let r = t
        .post(
            &format!("/cameras/{id}/diagnosis"),
            json!({"observations": {"light": "off", "recording": false},
                   "failed": ["arm_or_enable_motion"]}),
        )
        .await;
    let d: Value = r.json().await.unwrap();
    assert!(
        d["plan"]
            .as_array()
            .unwrap()
            .iter()
            .all(|s| s["action"] != "arm_or_enable_motion"),
        "{d:#}"
    );

    for (body, names) in [
        (
            json!({"observations": {"light": "purple_glow"}}),
            vec!["observations.light", "purple_glow"],
        ),
        (json!({"observations": {"lihgt": "off"}}), vec!["lihgt"]),
        (json!({"failed": ["reboot_router"]}), vec!["reboot_router"]),
        (json!({"symptoms": []}), vec!["symptoms"]),
    ] {
        let r = t
            .post(&format!("/cameras/{id}/diagnosis"), body.clone())
            .await;
        assert_eq!(r.status(), 400, "{body}");
        let text = r.text().await.unwrap();
        for n in names {
            assert!(text.contains(n), "{body} -> {text}");
        }
    }
    let r = t.get("/cameras/cam-nobody/diagnosis").await;
    assert_eq!(r.status(), 404);
    t.hub.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn confirmations_move_the_priors_and_survive_a_restart() {
    let (_clock, shared) = shared_manual_clock(T0);
    let t = start_hub_on(
        tempfile::tempdir().unwrap(),
        shared.clone(),
        home_network(),
        true,
    )
    .await;
    let (id, token) = pair(&t, "SN1", "outdoor").await;
    let _dev = online(&t, &id, &token, "sleeping").await;
    let before = p_of(&diagnosis(&t, &id).await, "firmware_fault");

    for _ in 0..3 {
        let r = t
            .post(
                &format!("/cameras/{id}/diagnosis/confirm"),
                json!({"fault": "firmware_fault", "action": "reboot_camera"}),
            )
            .await;
        assert_eq!(r.status(), 200);
        let v: Value = r.json().await.unwrap();
        assert_eq!(v["fault"], "firmware_fault");
    }
    let priors = t.get_json("/doctor/priors").await;
    assert_eq!(
        priors,
        json!({"v": 1, "counts": {"outdoor": {"firmware_fault": 3.0}}})
    );
    let after = p_of(&diagnosis(&t, &id).await, "firmware_fault");
    assert!(after > before, "{before} -> {after}");

    // Unknown ids: 400 naming each; nothing learned.
    let r = t
        .post(
            &format!("/cameras/{id}/diagnosis/confirm"),
            json!({"fault": "gremlins", "action": "reboot_router"}),
        )
        .await;
    assert_eq!(r.status(), 400);
    let text = r.text().await.unwrap();
    assert!(
        text.contains("gremlins") && text.contains("reboot_router"),
        "{text}"
    );
    let r = t
        .post(
            &format!("/cameras/{id}/diagnosis/confirm"),
            json!({"fault": "firmware_fault"}),
        )
        .await;
    assert_eq!(r.status(), 400);
    assert!(r.text().await.unwrap().contains("action"));
    assert_eq!(t.get_json("/doctor/priors").await, priors);

    // A restart keeps what was learned.
    let TestHub { hub, dir, .. } = t;
    hub.shutdown().await;
    let mut config = watchlight_hub::HubConfig::new(dir.path());
    config.insecure = true;
    config.clock = shared;
    let hub = watchlight_hub::Hub::start(config).await.unwrap();
    let t = TestHub::resume(hub, dir).await;
    assert_eq!(t.get_json("/doctor/priors").await, priors);
    let restarted = p_of(&diagnosis(&t, &id).await, "firmware_fault");
    assert!(restarted > before, "{before} -> {restarted}");
    t.hub.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_doctor_needs_the_owner() {
    let t = start_hub(None).await;
    let (id, _) = pair(&t, "SN1", "xt").await;
    for (method, path) in [
        ("GET", format!("/cameras/{id}/case")),
        ("GET", format!("/cameras/{id}/diagnosis")),
        ("POST", format!("/cameras/{id}/diagnosis")),
        ("POST", format!("/cameras/{id}/diagnosis/confirm")),
        ("GET", "/doctor/priors".to_string()),
    ] {
        let r = t
            .http
            .request(method.parse().unwrap(), t.url(&path))
            .json(&json!({"fault": "battery_dead", "action": "replace_batteries"}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 401, "{method} {path}");
    }
    // A camera that never reached the hub: the doctor hears "never seen".
    let c = case(&t, &id).await;
    assert_eq!(c["telemetry"]["availability"], "never_seen");
    assert!(c["telemetry"].get("minutes_since_seen").is_none());
    let ops = t.get_json("/openapi.json").await;
    assert!(ops["paths"]["/cameras/{id}/diagnosis/confirm"]["post"].is_object());
    t.hub.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_live_client_pins_the_hub_certificate() {
    use watchlight_doctor::live::{HubClient, LiveError};
    let dir = tempfile::tempdir().unwrap();
    let hub = watchlight_hub::Hub::start(watchlight_hub::HubConfig::new(dir.path()))
        .await
        .unwrap();
    assert!(hub.http_url.starts_with("https://"));
    let pem = std::fs::read_to_string(dir.path().join("hub-cert.pem")).unwrap();
    let other = tempfile::tempdir().unwrap();
    let stranger = watchlight_broker::tls::HubCertificate::load_or_create(other.path())
        .unwrap()
        .cert_pem;
    let url = hub.http_url.clone();
    let (pinned, wrong) = tokio::task::spawn_blocking(move || {
        let pinned = HubClient::new(&url, Some(&pem), Some("no-such-token".into()))
            .unwrap()
            .priors();
        let wrong = HubClient::new(&url, Some(&stranger), None)
            .unwrap()
            .priors();
        (pinned, wrong)
    })
    .await
    .unwrap();
    // Through TLS to the hub, which refuses the made-up token.
    assert!(
        matches!(pinned, Err(LiveError::Status { status: 401, .. })),
        "{pinned:?}"
    );
    // Another certificate: the handshake fails, nothing is sent.
    assert!(matches!(wrong, Err(LiveError::Connect { .. })), "{wrong:?}");
    hub.shutdown().await;
}

/// A hub on a simulated network that samples every 20 ms of the manual clock.
async fn start_hub_on(
    dir: tempfile::TempDir,
    clock: watchlight_hub::clock::SharedClock,
    network: std::sync::Arc<SimNetwork>,
    fresh: bool,
) -> TestHub {
    let mut config = watchlight_hub::HubConfig::new(dir.path());
    config.insecure = true;
    config.clock = clock;
    config.network = network;
    config.network_every = std::time::Duration::from_millis(20);
    let hub = watchlight_hub::Hub::start(config).await.unwrap();
    if fresh {
        TestHub::adopt(hub, dir).await
    } else {
        TestHub::resume(hub, dir).await
    }
}

fn at(addr: [u8; 4], gateway_answered: Option<bool>) -> watchlight_hub::netwatch::Sample {
    home_sample([std::net::IpAddr::from(addr)], gateway_answered)
}

/// A home network that works, so that a story does not depend on the machine's.
fn home_network() -> std::sync::Arc<SimNetwork> {
    std::sync::Arc::new(SimNetwork::new(at([192, 168, 1, 10], Some(true))))
}

/// Waits until the doctor's case says `hub_network` and (if given) the hub light is
/// `light`.
async fn network_is(t: &TestHub, id: &str, hub_network: &str, light: Option<&str>) {
    eventually(5, &format!("{hub_network} / {light:?}"), || async {
        let status = t.get_json("/hub").await;
        case(t, id).await["telemetry"]["hub_network"] == hub_network
            && light.is_none_or(|l| status["light"]["id"] == l)
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_hub_watches_its_own_network_for_its_light_and_the_doctor() {
    let (clock, shared) = shared_manual_clock(T0);
    let network = std::sync::Arc::new(SimNetwork::new(at([192, 168, 1, 10], Some(true))));
    let dir = tempfile::tempdir().unwrap();
    let t = start_hub_on(dir, shared.clone(), network.clone(), true).await;
    let (id, token) = pair(&t, "SN1", "mini").await;
    let dev = online(&t, &id, &token, "online").await;
    network_is(&t, &id, "ok", Some("blue_solid_green_solid")).await;
    assert_eq!(t.get_json("/hub").await["network"], "ok");
    // The camera drops out; the hub's network is fine.
    clock.set(T0 + 5 * MIN);
    dev.say("offline").await;
    eventually(5, "offline", || async {
        t.availability(&id).await == "offline"
    })
    .await;
    let p_hub_fine = p_of(&diagnosis(&t, &id).await, "hub_unreachable");

    // The hub samples its network on its own clock: each change below is followed by a
    // step of the clock.
    // The router hands the hub a new address: cameras look for it at the old one.
    network.set(at([192, 168, 1, 23], Some(true)));
    clock.set(T0 + 10 * MIN);
    network_is(&t, &id, "address_changed", Some("blue_solid_green_solid")).await;
    assert_eq!(t.get_json("/hub").await["network"], "address_changed");
    let p_hub_moved = p_of(&diagnosis(&t, &id).await, "hub_unreachable");
    assert!(p_hub_moved > p_hub_fine, "{p_hub_fine} -> {p_hub_moved}");
    let notices = t.hub.state.store().notices(10, true).unwrap();
    let n = notices.iter().find(|n| n.kind == "hub_network").unwrap();
    assert!(
        n.message.contains("192.168.1.10") && n.message.contains("192.168.1.23"),
        "{}",
        n.message
    );

    // The router goes silent, then away altogether: the light says so.
    network.set(at([192, 168, 1, 23], Some(false)));
    clock.set(T0 + 15 * MIN);
    network_is(&t, &id, "upstream_lost", None).await;
    network.set(at([127, 0, 0, 1], None));
    clock.set(T0 + 20 * MIN);
    network_is(&t, &id, "no_network", Some("red_solid")).await;
    assert_eq!(t.get_json("/hub").await["network"], "no_network");
    // Back: the light is fine again, the doctor still hears of the day's outage.
    network.set(at([192, 168, 1, 23], Some(true)));
    clock.set(T0 + 30 * MIN);
    eventually(5, "back", || async {
        t.get_json("/hub").await["network"] == "address_changed"
    })
    .await;
    network_is(&t, &id, "no_network", Some("blue_solid_green_solid")).await;
    // A day after the outage the network counts as fine.
    clock.set(T0 + 20 * MIN + 24 * 60 * MIN + 1);
    network_is(&t, &id, "ok", Some("blue_solid_green_solid")).await;
    // The owner was told of each change (newest first); the start on a fine network
    // was only logged.
    let told = || {
        t.hub
            .state
            .store()
            .notices(20, false)
            .unwrap()
            .into_iter()
            .filter(|n| n.kind == "hub_network")
            .map(|n| n.data["hub_network"].as_str().unwrap().to_string())
            .collect::<Vec<_>>()
    };
    let want = [
        "ok",
        "address_changed",
        "no_network",
        "upstream_lost",
        "address_changed",
    ];
    eventually(5, "notices", || async { told() == want }).await;

    // The hub is off while the router gives it yet another address: it tells at start.
    let TestHub { hub, dir, .. } = t;
    hub.shutdown().await;
    drop(dev);
    clock.advance(60 * MIN);
    network.set(at([192, 168, 1, 42], Some(true)));
    let t = start_hub_on(dir, shared, network, false).await;
    network_is(&t, &id, "address_changed", Some("blue_solid_green_solid")).await;
    t.hub.shutdown().await;
}
