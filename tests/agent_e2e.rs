//! The camera agent end to end: real `watchlight hub` and `watchlight camera --sim`
//! processes on ephemeral loopback ports, over TLS with the pinned hub certificate.
//!
//! Each test prints what it measured (run with `--nocapture` to see the figures).

use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use watchlight_agent::harness::{CameraProcess, HubProcess, scratch_dir, wait_until};
use watchlight_agent::harness::{TEST_SSID as SSID, TEST_WIFI_PASS as PASS};

/// The default mains keepalive (SPEC §4.2).
const KEEPALIVE_S: f64 = 5.0;

fn bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_watchlight"))
}

fn hub(dir: &Path) -> HubProcess {
    HubProcess::start_for_test(&bin(), dir).expect("hub starts")
}

fn camera(dir: &Path, profile: &str, serial: &str) -> CameraProcess {
    CameraProcess::start_for_test(&bin(), dir, profile, serial, false).expect("camera starts")
}

fn sorted_events(hub: &HubProcess, cam: &CameraProcess) -> Vec<Value> {
    let mut events = hub.events(&cam.device_id);
    events.sort_by_key(|e| e["seq"].as_u64());
    events
}

#[test]
fn pairing_over_tls_goes_green_blink_blue_then_off_and_the_hub_shows_it_online() {
    let dir = scratch_dir("wl-agent-e2e-").unwrap();
    let hub = hub(dir.path());
    assert!(hub.http_url.starts_with("https://"), "{}", hub.http_url);
    assert!(hub.mqtt_url.starts_with("mqtts://"), "{}", hub.mqtt_url);
    let cam = camera(dir.path(), "mini", "E2E1");

    // A wrong pairing code is refused by the camera and reported by the hub.
    cam.wait_light("red_slow_blink", 30);
    let (status, body) = hub
        .api
        .post(
            "/api/v1/cameras",
            &json!({"serial": cam.serial, "pairing_code": "000000x", "name": "x",
                    "profile": "mini", "wifi": {"ssid": SSID, "passphrase": PASS},
                    "provision_url": cam.local_url}),
        )
        .unwrap();
    assert_eq!(status, 403, "{body}");
    assert_eq!(cam.field("light_id").as_deref(), Some("red_slow_blink"));

    hub.pair_and_wait(&cam, SSID, PASS);
    let history = cam.light_history();
    let pos = |id: &str| history.iter().rposition(|l| l == id);
    let (green, blue, off) = (pos("green_blink"), pos("blue_solid"), pos("off"));
    assert!(
        green.is_some() && green < blue && blue < off,
        "expected green_blink, blue_solid, off in that order: {history:?}"
    );
    assert_eq!(
        history.first().map(String::as_str),
        Some("red_blink"),
        "boots red: {history:?}"
    );

    let shown = hub
        .api
        .get(&format!("/api/v1/cameras/{}", cam.device_id))
        .unwrap();
    assert_eq!(shown["availability"], "online", "{shown}");
    assert_eq!(shown["paired"], true, "{shown}");
    // The camera reported its state with the light it shows.
    let state_seen = wait_until(Duration::from_secs(10), || {
        let v = hub
            .api
            .get(&format!("/api/v1/cameras/{}", cam.device_id))
            .ok()?;
        (!v["state"].is_null()).then_some(())
    });
    assert!(state_seen.is_some());
    // The credentials the camera keeps are private to it.
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(cam.data.join("credentials.json"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o077, 0, "credentials readable by others: {mode:o}");
}

#[test]
fn a_wrong_wifi_password_shows_red_solid_and_the_same_code_works_again() {
    let dir = scratch_dir("wl-agent-e2e-").unwrap();
    let hub = hub(dir.path());
    let cam = camera(dir.path(), "mini", "E2E2");
    cam.wait_light("red_slow_blink", 30);
    let (status, _) = hub.pair(&cam, "garage", SSID, "not the password").unwrap();
    assert_eq!(status, 202);
    cam.wait_light("red_solid", 15);
    let said = wait_until(Duration::from_secs(10), || {
        let v = hub
            .api
            .get(&format!("/api/v1/cameras/{}", cam.device_id))
            .ok()?;
        (v["pairing"]["state"] == "wifi_rejected").then_some(())
    });
    assert!(
        said.is_some(),
        "the hub never told the owner the Wi-Fi refused the password"
    );
    hub.pair_and_wait(&cam, SSID, PASS);
}

#[test]
fn kill_9_of_a_mains_camera_is_offline_at_the_hub_within_one_and_a_half_keepalives_plus_1s() {
    let dir = scratch_dir("wl-agent-e2e-").unwrap();
    let hub = hub(dir.path());
    let mut cam = camera(dir.path(), "mini", "E2E3");
    hub.pair_and_wait(&cam, SSID, PASS);
    let killed = Instant::now();
    cam.kill9();
    let bar = Duration::from_secs_f64(1.5 * KEEPALIVE_S + 1.0);
    hub.wait_availability(&cam, "offline", 30);
    let latency = killed.elapsed();
    println!(
        "kill -9 of a mains camera -> offline at the hub after {} ms (bar {} ms)",
        latency.as_millis(),
        bar.as_millis()
    );
    assert!(latency <= bar, "offline after {latency:?}, bar {bar:?}");
}

#[test]
fn a_cut_link_blinks_red_keeps_recording_and_delivers_everything_once_in_order() {
    let dir = scratch_dir("wl-agent-e2e-").unwrap();
    let hub = hub(dir.path());
    let cam = camera(dir.path(), "mini", "E2E4");
    hub.pair_and_wait(&cam, SSID, PASS);
    let (status, body) = hub
        .api
        .post("/api/v1/arm", &json!({"mode": "away"}))
        .unwrap();
    assert_eq!(status, 200, "{body}");
    // Armed once the camera reports the settings version that armed it.
    wait_until(Duration::from_secs(10), || {
        let c = hub
            .api
            .get(&format!("/api/v1/cameras/{}", cam.device_id))
            .ok()?;
        (c["state"]["settings_version"] == c["settings"]["version"]).then_some(())
    })
    .expect("the camera reports the armed settings");

    // Cut: red blink at the camera, offline at the hub.
    cam.sim("link", json!({"up": false})).unwrap();
    cam.wait_light("red_blink", 10);
    let latency = hub.wait_availability(&cam, "offline", 15);
    println!(
        "link cut -> offline at the hub after {} ms",
        latency.as_millis()
    );
    let before: Vec<u64> = sorted_events(&hub, &cam)
        .iter()
        .filter_map(|e| e["seq"].as_u64())
        .collect();

    // Someone walks by while it is offline: it records (blue), then blinks red again.
    cam.sim("motion", json!({})).unwrap();
    cam.wait_light("blue_solid", 20);
    cam.wait_light("red_blink", 60);
    let queued = wait_until(Duration::from_secs(10), || {
        let s = cam.status().ok()?;
        (s["clips_recorded"].as_u64() >= Some(1)).then_some(s)
    })
    .expect("a clip was recorded offline");
    assert!(queued["queue_items"].as_u64().unwrap() >= 3, "{queued}");
    assert!(
        hub.clips(&cam.device_id).is_empty(),
        "nothing reached the hub yet"
    );

    // Restore: everything arrives, once, in order.
    cam.sim("link", json!({"up": true})).unwrap();
    hub.wait_availability(&cam, "online", 90);
    let drained = wait_until(Duration::from_secs(60), || {
        let s = cam.status().ok()?;
        (s["queue_items"].as_u64() == Some(0)).then_some(())
    });
    assert!(
        drained.is_some(),
        "the queue never drained: {:?}",
        cam.status()
    );
    let clips = hub.clips(&cam.device_id);
    assert_eq!(clips.len(), 1, "exactly one clip: {clips:?}");
    let clip = &clips[0];
    assert!(clip["video"]["bytes"].as_u64().unwrap() > 1000, "{clip}");
    assert!(clip["thumbnail"]["bytes"].as_u64().unwrap() > 100, "{clip}");

    let events = sorted_events(&hub, &cam);
    let seqs: Vec<u64> = events.iter().filter_map(|e| e["seq"].as_u64()).collect();
    let mut unique = seqs.clone();
    unique.dedup();
    assert_eq!(seqs, unique, "each event once");
    let after: Vec<&Value> = events
        .iter()
        .filter(|e| !before.contains(&e["seq"].as_u64().unwrap_or(0)))
        .collect();
    let kinds: Vec<&str> = after.iter().filter_map(|e| e["event"].as_str()).collect();
    let at = |k: &str| kinds.iter().position(|x| *x == k);
    assert!(
        at("motion_start") < at("motion_end") && at("motion_end") < at("clip_recorded"),
        "in order: {kinds:?}"
    );
    assert_eq!(
        kinds.iter().filter(|k| **k == "clip_recorded").count(),
        1,
        "{kinds:?}"
    );
    let recorded = after
        .iter()
        .find(|e| e["event"] == "clip_recorded")
        .unwrap();
    assert_eq!(recorded["data"]["clip_id"], clip["clip_id"]);
    assert_eq!(
        recorded["data"]["sha256"].as_str(),
        clip["video"]["sha256"].as_str(),
        "the event names the digest of the stored video"
    );
    // The stored video is the one the camera made: its digest matches what it sent.
    let video = hub
        .api
        .get_bytes(&format!(
            "/api/v1/clips/{}/video",
            clip["clip_id"].as_str().unwrap()
        ))
        .unwrap();
    assert_eq!(video.len() as u64, clip["video"]["bytes"].as_u64().unwrap());
}
