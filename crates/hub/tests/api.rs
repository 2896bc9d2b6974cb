//! The hub's API and MQTT side end to end: real TCP on ephemeral ports, the embedded
//! broker, the SQLite store, device clients speaking MQTT.

mod common;

use common::*;
use serde_json::{Value, json};
use std::time::Duration;
use watchlight_hub::clock::Clock;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_login_the_api_answers_only_login_and_setup() {
    let dir = tempfile::tempdir().unwrap();
    let hub = watchlight_hub::Hub::start(test_config(dir.path()))
        .await
        .unwrap();
    let http = reqwest::Client::new();
    let base = format!("{}/api/v1", hub.http_url);
    for (method, path) in [
        ("GET", "/hub"),
        ("GET", "/cameras"),
        ("POST", "/cameras"),
        ("GET", "/cameras/cam-1"),
        ("GET", "/openapi.json"),
        ("GET", "/events/stream"),
        ("POST", "/arm"),
        ("POST", "/tokens"),
        ("GET", "/clips/cam-1-1-1/video"),
        ("PUT", "/devices/cam-1/clips/cam-1-1-1"),
    ] {
        let r = http
            .request(method.parse().unwrap(), format!("{base}{path}"))
            .json(&json!({}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 401, "{method} {path}");
    }
    // Login without an owner, setup with a wrong token: refused.
    let r = http
        .post(format!("{base}/login"))
        .json(&json!({"username": "owner", "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let r = http
        .post(format!("{base}/setup"))
        .json(&json!({"token": "0".repeat(64), "username": "owner", "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    let r = http
        .post(format!("{base}/setup"))
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    assert!(r.text().await.unwrap().contains("invalid JSON"));

    // The one-time link works once.
    let token = hub.setup_url.clone().unwrap();
    let token = token.split("token=").nth(1).unwrap();
    let setup = json!({"token": token, "username": "owner", "password": PASSWORD});
    let r = http
        .post(format!("{base}/setup"))
        .json(&setup)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let r = http
        .post(format!("{base}/setup"))
        .json(&setup)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 409, "used up");

    // A wrong password and an unknown name get the same plain answer.
    for (user, pass) in [("owner", "wrong password"), ("stranger", PASSWORD)] {
        let r = http
            .post(format!("{base}/login"))
            .json(&json!({"username": user, "password": pass}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 401, "{user}");
        let body: Value = r.json().await.unwrap();
        assert_eq!(body["error"], "wrong name or password", "{user}");
    }
    // A plain HTML form logs in too.
    let r = http
        .post(format!("{base}/login"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!(
            "username=owner&password={}",
            PASSWORD.replace(" ", "+")
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
    let r = http
        .post(format!("{base}/login"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body("username=owner&password=nope")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let r = http
        .post(format!("{base}/login"))
        .json(&json!({"username": "owner", "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let set_cookie = r.headers()["set-cookie"].to_str().unwrap().to_string();
    assert!(set_cookie.contains("HttpOnly") && set_cookie.contains("SameSite=Strict"));
    assert!(!set_cookie.contains("Secure"), "plain HTTP: {set_cookie}");
    let cookie = set_cookie.split(';').next().unwrap();
    let r = http
        .get(format!("{base}/hub"))
        .header("cookie", cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let status: Value = r.json().await.unwrap();
    assert_eq!(status["light"]["id"], "blue_solid_green_solid");

    // An API token works as a bearer; a made-up one does not.
    let r = http
        .post(format!("{base}/tokens"))
        .header("cookie", cookie)
        .send()
        .await
        .unwrap();
    let api_token = r.json::<Value>().await.unwrap()["token"]
        .as_str()
        .unwrap()
        .to_string();
    let r = http
        .get(format!("{base}/cameras"))
        .bearer_auth(&api_token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let r = http
        .get(format!("{base}/cameras"))
        .bearer_auth("f".repeat(64))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let doc: Value = http
        .get(format!("{base}/openapi.json"))
        .bearer_auth(&api_token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(doc["openapi"], "3.0.3");
    assert!(doc["paths"]["/clips/{clip_id}/video"]["get"].is_object());

    // Logout ends the session.
    http.post(format!("{base}/logout"))
        .header("cookie", cookie)
        .send()
        .await
        .unwrap();
    let r = http
        .get(format!("{base}/hub"))
        .header("cookie", cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    hub.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pairing_flow_reports_progress_and_uses_the_code_up_at_first_connection() {
    let t = start_hub(None).await;
    let (url, prov) = stand_in_camera("424242").await;
    let body = |code: &str| {
        json!({"serial": "SN1", "pairing_code": code, "name": "Porch", "profile": "mini",
               "wifi": {"ssid": "home", "passphrase": "secret-wifi"}, "provision_url": url})
    };
    let r = t.post("/cameras", body("000000")).await;
    assert_eq!(r.status(), 403, "wrong pairing code");
    let r = t.post("/cameras", body("424242")).await;
    assert_eq!(r.status(), 202);
    let sent = prov.lock().unwrap().received.clone().unwrap();
    assert_eq!(sent["v"], 1);
    assert_eq!(sent["device_id"], "cam-SN1");
    assert_eq!(sent["home"], "home");
    assert_eq!(sent["wifi"]["passphrase"], "secret-wifi");
    assert_eq!(sent["token"].as_str().unwrap().len(), 64);
    assert_eq!(sent["hub"]["mqtt_url"], json!(t.hub.mqtt_url));
    assert!(sent["hub"]["cert_pem"].is_null(), "insecure hub");

    let cam = t.get_json("/cameras/cam-SN1").await;
    assert_eq!(cam["paired"], false);
    assert_eq!(cam["pairing"]["state"], "joining");
    let hub_status = t.get_json("/hub").await;
    assert_eq!(
        hub_status["light"]["id"], "blue_blink_green_solid",
        "pairing window open"
    );

    // The camera reports that the Wi-Fi refused the password: the owner is told.
    prov.lock().unwrap().status = json!({"state": "setup", "last_error": "wifi_rejected"});
    eventually(5, "wifi_rejected shown", || async {
        t.get_json("/cameras/cam-SN1").await["pairing"]["state"] == "wifi_rejected"
    })
    .await;
    let cam = t.get_json("/cameras/cam-SN1").await;
    assert_eq!(cam["pairing"]["message"], "The Wi-Fi refused the password");

    // Retry with the same code (allowed until first connection), then connect.
    let r = t.post("/cameras", body("424242")).await;
    assert_eq!(r.status(), 202);
    let token = prov.lock().unwrap().received.clone().unwrap()["token"]
        .as_str()
        .unwrap()
        .to_string();
    prov.lock().unwrap().status = json!({"state": "online", "last_error": null});
    let mut dev = connect_device(&t, "cam-SN1", &token).await;
    let settings = dev.expect("/settings").await;
    assert_eq!(settings["settings"]["name"], "Porch");
    dev.say("online").await;
    let time = dev.expect("/cmd/time").await;
    assert!(time["args"]["now_ms"].as_u64().unwrap() > 1_600_000_000_000);
    eventually(5, "paired and online", || async {
        let cam = t.get_json("/cameras/cam-SN1").await;
        cam["paired"] == true && cam["availability"] == "online"
    })
    .await;
    let r = t.post("/cameras", body("424242")).await;
    assert_eq!(
        r.status(),
        409,
        "the code is used up once the camera connected"
    );

    // Five tries a minute per serial: 4 made so far for SN1 (one refused as paired).
    let r = t.post("/cameras", body("424242")).await;
    assert_eq!(r.status(), 409);
    let r = t.post("/cameras", body("424242")).await;
    assert_eq!(r.status(), 429);
    assert!(r.headers().contains_key("retry-after"));
    t.hub.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_payloads_are_counted_by_reason_and_nothing_crashes() {
    let t = start_hub(None).await;
    let (id, token) = pair(&t, "SN2", "mini").await;
    let dev = connect_device(&t, &id, &token).await;
    dev.say("online").await;
    dev.publish("state", "{nope").await;
    dev.publish("telemetry", r#"{"v":2,"ts":1}"#).await;
    dev.publish("telemetry", r#"{"ts":1}"#).await;
    dev.publish("event", vec![b' '; 70 * 1024]).await;
    dev.publish("event", r#"{"v":1,"ts":1}"#).await; // no seq: malformed
    eventually(5, "all five counted", || async {
        let d = t.get_json("/hub").await["dropped_messages"].clone();
        d["malformed"] == 2
            && d["wrong_version"] == 1
            && d["missing_version"] == 1
            && d["too_large"] == 1
    })
    .await;
    // Still alive and still ingesting.
    dev.publish(
        "event",
        json!({"v":1,"ts":5,"seq":1,"event":"button","data":{"held_ms":300}}).to_string(),
    )
    .await;
    eventually(5, "the good event stored", || async {
        t.get_json(&format!("/cameras/{id}/events")).await["events"]
            .as_array()
            .is_some_and(|e| e.len() == 1)
    })
    .await;
    t.hub.shutdown().await;
}

/// An id in an event reaches notices, URLs and file names: one that could climb out of
/// the clip folder (or name another camera's clip) is refused and counted, never stored
/// or announced.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ids_in_events_are_checked_before_a_notice_url_or_file_name() {
    let t = start_hub(None).await;
    let (id, token) = pair(&t, "SN9", "mini").await;
    let dev = connect_device(&t, &id, &token).await;
    dev.say("online").await;
    t.post("/arm", json!({"mode": "away"})).await;
    for (seq, clip_id) in [
        (1, "../../../etc/passwd".to_string()),
        (2, format!("{id}-1/../../x")),
        (3, "cam-other-1700000000000-1".to_string()),
    ] {
        dev.publish(
            "event",
            json!({"v":1,"ts":5,"seq":seq,"event":"clip_recorded","data":{"clip_id":clip_id}})
                .to_string(),
        )
        .await;
    }
    eventually(5, "three bad ids counted", || async {
        t.get_json("/hub").await["dropped_messages"]["bad_id"] == 3
    })
    .await;
    let good = format!("{id}-1700000000000-4");
    dev.publish(
        "event",
        json!({"v":1,"ts":6,"seq":4,"event":"clip_recorded","data":{"clip_id":good}}).to_string(),
    )
    .await;
    eventually(5, "the good event stored", || async {
        t.get_json(&format!("/cameras/{id}/events")).await["events"]
            .as_array()
            .is_some_and(|e| e.len() == 1)
    })
    .await;
    let everything = format!(
        "{} {} {}",
        t.get_json(&format!("/cameras/{id}/events")).await,
        t.get_json("/notifications").await,
        t.get_json(&format!("/cameras/{id}/clips")).await,
    );
    for bad in ["passwd", "..", "cam-other"] {
        assert!(!everything.contains(bad), "{bad} got through: {everything}");
    }
    t.hub.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_are_stored_once_per_seq_and_commands_get_results() {
    let t = start_hub(None).await;
    let (id, token) = pair(&t, "SN3", "mini").await;
    let mut dev = connect_device(&t, &id, &token).await;
    dev.say("online").await;
    dev.expect("/cmd/time").await;
    for seq in [1, 2, 2, 1, 3] {
        dev.publish(
            "event",
            json!({"v":1,"ts":seq,"seq":seq,"event":"motion_start"}).to_string(),
        )
        .await;
    }
    eventually(5, "three events", || async {
        t.get_json(&format!("/cameras/{id}/events")).await["events"]
            .as_array()
            .is_some_and(|e| e.len() == 3)
    })
    .await;
    // One client's messages are handled in order: with seq 3 (the last) stored, every
    // duplicate before it was handled too.
    let events = t.get_json(&format!("/cameras/{id}/events")).await;
    assert_eq!(events["events"].as_array().unwrap().len(), 3);

    let r = t
        .post(&format!("/cameras/{id}/commands/identify"), json!({}))
        .await;
    assert_eq!(r.status(), 202);
    let cmd: Value = r.json().await.unwrap();
    let cmd_id = cmd["id"].as_str().unwrap().to_string();
    let got = dev.expect("/cmd/identify").await;
    assert_eq!(got["id"], json!(cmd_id));
    assert!(got["expires_ts"].as_u64().is_some());
    dev.publish(
        "cmd_result",
        json!({"v":1,"ts":1,"id":cmd_id,"ok":true}).to_string(),
    )
    .await;
    eventually(5, "result recorded", || async {
        t.get_json(&format!("/commands/{cmd_id}")).await["status"] == "ok"
    })
    .await;
    let r = t
        .post(&format!("/cameras/{id}/commands/selfdestruct"), json!({}))
        .await;
    assert_eq!(r.status(), 404);

    // Reconnect Wi-Fi sends cmd/wifi; the API never echoes the passphrase.
    let r = t
        .post(
            &format!("/cameras/{id}/wifi"),
            json!({"ssid":"new","passphrase":"pw-123456"}),
        )
        .await;
    assert_eq!(r.status(), 202);
    let shown: Value = r.json().await.unwrap();
    assert_eq!(shown["args"]["passphrase"], "[hidden]");
    let wifi = dev.expect("/cmd/wifi").await;
    assert_eq!(wifi["args"]["ssid"], "new");
    assert_eq!(wifi["args"]["passphrase"], "pw-123456");

    // Settings: versioned and published retained; bad ones named.
    let r = t
        .http
        .patch(t.url(&format!("/cameras/{id}/settings")))
        .header("cookie", &t.cookie)
        .json(&json!({"sensitivity": 8}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let s = dev.expect("/settings").await;
    assert_eq!(s["settings"]["sensitivity"], 8);
    let r = t
        .http
        .patch(t.url(&format!("/cameras/{id}/settings")))
        .header("cookie", &t.cookie)
        .json(&json!({"sensitivity": 11}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    assert!(r.text().await.unwrap().contains("sensitivity"));

    // Arming sets `armed`; disarming clears it.
    let r = t.post("/arm", json!({"mode": "away"})).await;
    assert_eq!(r.status(), 200);
    assert_eq!(dev.expect("/settings").await["settings"]["armed"], true);
    let r = t.post("/arm", json!({"mode": "home", "cameras": []})).await;
    assert_eq!(r.status(), 200);
    assert_eq!(dev.expect("/settings").await["settings"]["armed"], false);
    let r = t
        .post("/arm", json!({"mode": "home", "cameras": [id]}))
        .await;
    assert_eq!(r.status(), 200);
    assert_eq!(dev.expect("/settings").await["settings"]["armed"], true);
    t.post("/disarm", json!({})).await;
    assert_eq!(dev.expect("/settings").await["settings"]["armed"], false);
    t.hub.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_mains_camera_whose_socket_dies_is_offline_at_once() {
    let t = start_hub(None).await;
    let (id, token) = pair(&t, "SN4", "mini").await;
    let dev = connect_device(&t, &id, &token).await;
    dev.say("online").await;
    eventually(5, "online", || async {
        t.availability(&id).await == "online"
    })
    .await;
    // Drop the connection without DISCONNECT: the broker publishes the last will.
    dev.task.abort();
    drop(dev);
    let start = std::time::Instant::now();
    eventually(5, "offline", || async {
        t.availability(&id).await == "offline"
    })
    .await;
    assert!(
        start.elapsed() < Duration::from_secs(2),
        "{:?}",
        start.elapsed()
    );
    let hist = t.get_json(&format!("/cameras/{id}/availability")).await;
    let last = hist["history"]
        .as_array()
        .unwrap()
        .iter()
        .find(|h| h["availability"] == "offline")
        .cloned()
        .unwrap();
    assert_eq!(last["reason"], "last_will");
    t.hub.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_battery_camera_is_offline_exactly_two_checkins_plus_ten_seconds_after_its_last() {
    let (clock, shared) = shared_manual_clock(1_800_000_000_000);
    let t = start_hub(Some(shared)).await;
    let (id, token) = pair(&t, "SN5", "xt").await;
    let dev = connect_device(&t, &id, &token).await;
    dev.say("online").await;
    eventually(5, "online", || async {
        t.availability(&id).await == "online"
    })
    .await;
    dev.say("sleeping").await;
    eventually(5, "sleeping", || async {
        t.availability(&id).await == "sleeping"
    })
    .await;
    let last_checkin = clock.now_ms();
    // Default check-in interval: 60 s.
    clock.set(last_checkin + 2 * 60_000 + 10_000 - 1);
    tokio::time::timeout(
        Duration::from_secs(5),
        t.hub.state.deadlines_applied(clock.now_ms()),
    )
    .await
    .expect("the deadlines are looked at on the hub's clock");
    assert_eq!(t.availability(&id).await, "sleeping", "not a ms early");
    clock.set(last_checkin + 2 * 60_000 + 10_000);
    eventually(2, "offline at the deadline", || async {
        t.availability(&id).await == "offline"
    })
    .await;
    let hist = t.get_json(&format!("/cameras/{id}/availability")).await;
    let off = hist["history"]
        .as_array()
        .unwrap()
        .iter()
        .rev()
        .find(|h| h["availability"] == "offline")
        .cloned()
        .unwrap();
    assert_eq!(off["reason"], "checkin_missed");
    assert_eq!(off["ts"], json!(last_checkin + 130_000));
    t.hub.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_live_stream_carries_availability_and_events() {
    let t = start_hub(None).await;
    let (id, token) = pair(&t, "SN6", "mini").await;
    let mut stream = t.get("/events/stream").await;
    assert_eq!(stream.status(), 200);
    assert!(
        stream.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/event-stream")
    );
    let dev = connect_device(&t, &id, &token).await;
    dev.say("online").await;
    dev.publish(
        "event",
        json!({"v":1,"ts":9,"seq":7,"event":"motion_start"}).to_string(),
    )
    .await;
    let mut seen = String::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while !(seen.contains("event: availability") && seen.contains("\"seq\":7")) {
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        let chunk = tokio::time::timeout(left, stream.chunk())
            .await
            .expect("stream in time")
            .unwrap()
            .unwrap();
        seen.push_str(&String::from_utf8_lossy(&chunk));
    }
    assert!(seen.contains(&format!("\"device\":\"{id}\"")));
    t.hub.shutdown().await;
}

/// A battery camera reports its `connected` blue, says when it ends and what follows,
/// and goes to sleep: the hub shows the blue for its 5 s, then the dark light the camera
/// shows, without hearing from it again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sleeping_camera_shows_at_the_hub_the_light_it_shows_itself() {
    let (clock, shared) = shared_manual_clock(1_800_000_000_000);
    let t = start_hub(Some(shared)).await;
    let (id, token) = pair(&t, "SN9", "xt").await;
    let dev = connect_device(&t, &id, &token).await;
    dev.say("online").await;
    let now = clock.now_ms();
    let state = json!({
        "v": 1, "ts": now, "state": "online", "profile": "xt", "firmware": "t",
        "settings_version": 1,
        "light": {"color": "blue", "pattern": "solid", "condition": "connected",
                  "light_id": "blue_solid", "until": now + 5_000,
                  "then": {"color": "none", "pattern": "off", "condition": "idle",
                           "light_id": "off"}},
    });
    dev.publish("state", state.to_string()).await;
    dev.say("sleeping").await;
    let light = |v: Value| v["state"]["light"]["light_id"].as_str().map(str::to_string);
    eventually(5, "the blue reported", || async {
        light(t.get_json(&format!("/cameras/{id}")).await).as_deref() == Some("blue_solid")
    })
    .await;
    clock.advance(4_999);
    let shown = t.get_json(&format!("/cameras/{id}")).await;
    assert_eq!(
        light(shown).as_deref(),
        Some("blue_solid"),
        "still within 5 s"
    );
    clock.advance(1);
    let shown = t.get_json(&format!("/cameras/{id}")).await;
    assert_eq!(shown["availability"], "sleeping");
    assert_eq!(light(shown.clone()).as_deref(), Some("off"), "{shown}");
    assert_eq!(shown["state"]["light"]["condition"], "idle");
    t.hub.shutdown().await;
}
