//! The camera says when one of its parts failed, end to end: real `watchlight hub` and
//! `watchlight camera --sim` processes on loopback ports, over TLS with the pinned hub
//! certificate. The simulated image sensor or PIR is broken through `POST /sim/sensor`;
//! the camera's watch (10 s of failed reads while running) reports `self_test_failed`
//! with the part, and the hub keeps it where the doctor reads events.
//!
//! Each test prints what it measured: `cargo test --test selftest_e2e -- --nocapture`.

use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use watchlight_agent::harness::{CameraProcess, HubProcess, scratch_dir, wait_until};
use watchlight_agent::harness::{TEST_SSID as SSID, TEST_WIFI_PASS as PASS};
use watchlight_camera::SENSOR_WATCH_MS;

fn bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_watchlight"))
}

fn hub(dir: &Path) -> HubProcess {
    HubProcess::start_for_test(&bin(), dir).expect("hub starts")
}

fn camera(dir: &Path, serial: &str) -> CameraProcess {
    CameraProcess::start_for_test(&bin(), dir, "mini", serial, false).expect("camera starts")
}

/// The camera's `self_test_failed` events the hub stored.
fn self_test_failures(hub: &HubProcess, cam: &CameraProcess) -> Vec<Value> {
    hub.events(&cam.device_id)
        .into_iter()
        .filter(|e| e["event"] == "self_test_failed")
        .collect()
}

fn parts_failed(cam: &CameraProcess) -> Vec<String> {
    cam.status()
        .ok()
        .and_then(|s| s["parts_failed"].as_array().cloned())
        .unwrap_or_default()
        .iter()
        .filter_map(|p| p.as_str().map(str::to_string))
        .collect()
}

/// Breaks `part` through /sim/sensor and waits for the hub's one `self_test_failed`
/// naming it, no sooner than the camera's 10 s watch and with `reason_word` in its reason.
fn break_and_wait_for_the_report(
    hub: &HubProcess,
    cam: &CameraProcess,
    part: &str,
    reason_word: &str,
) {
    let broken_at = Instant::now();
    cam.sim("sensor", json!({ part: "broken" })).unwrap();
    let events = wait_until(Duration::from_secs(25), || {
        Some(self_test_failures(hub, cam)).filter(|e| !e.is_empty())
    })
    .expect("the hub got self_test_failed");
    let latency = broken_at.elapsed();
    println!("{part} broken -> self_test_failed at the hub: {latency:?}");
    assert!(
        latency >= Duration::from_millis(SENSOR_WATCH_MS),
        "reported before the 10 s watch ran out: {latency:?}"
    );
    assert!(latency < Duration::from_secs(20), "{latency:?}");
    assert_eq!(events.len(), 1, "{events:?}");
    let data = &events[0]["data"];
    assert_eq!(data["part"], part, "{events:?}");
    assert_eq!(data["phase"], "running", "{events:?}");
    assert!(
        data["reason"].as_str().unwrap_or("").contains(reason_word),
        "{events:?}"
    );
}

#[test]
fn a_broken_image_sensor_reaches_the_hub_as_self_test_failed_naming_the_part() {
    let dir = scratch_dir("wl-selftest-e2e-").unwrap();
    let hub = hub(dir.path());
    let cam = camera(dir.path(), "ST1");
    hub.pair_and_wait(&cam, SSID, PASS);
    assert_eq!(cam.field("image_sensor").as_deref(), Some("ok"));
    assert!(self_test_failures(&hub, &cam).is_empty());

    // A bad body is refused with what is wrong, and breaks nothing.
    let refused = cam
        .sim("sensor", json!({"image_sensor": "smashed"}))
        .unwrap_err()
        .0;
    assert!(
        refused.contains("400") && refused.contains("smashed"),
        "{refused}"
    );
    assert_eq!(cam.field("image_sensor").as_deref(), Some("ok"));

    break_and_wait_for_the_report(&hub, &cam, "image_sensor", "image sensor");
    assert_eq!(parts_failed(&cam), vec!["image_sensor".to_string()]);
    // SPEC §3 has no light for a failed part: the camera stays dark and online.
    assert_eq!(cam.field("light_id").as_deref(), Some("off"));
    assert_eq!(hub.availability(&cam.device_id).as_deref(), Some("online"));

    // One event per episode: still broken a few seconds on, nothing new (the camera's
    // self-test runs on real time in its own process, and "nothing new" has no event).
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(self_test_failures(&hub, &cam).len(), 1);

    // Mended: the camera no longer counts the part as failed.
    cam.sim("sensor", json!({"image_sensor": "ok"})).unwrap();
    let mended = wait_until(Duration::from_secs(5), || {
        parts_failed(&cam).is_empty().then_some(())
    });
    assert!(mended.is_some(), "still failed: {:?}", parts_failed(&cam));
}

#[test]
fn a_broken_pir_reaches_the_hub_as_self_test_failed_naming_the_motion_sensor() {
    let dir = scratch_dir("wl-selftest-e2e-").unwrap();
    let hub = hub(dir.path());
    let cam = camera(dir.path(), "ST3");
    hub.pair_and_wait(&cam, SSID, PASS);
    assert_eq!(cam.field("motion_sensor").as_deref(), Some("ok"));

    // A bad value for the PIR is refused with what is wrong, and breaks nothing.
    let refused = cam
        .sim("sensor", json!({"motion_sensor": "gone"}))
        .unwrap_err()
        .0;
    assert!(
        refused.contains("400") && refused.contains("motion_sensor") && refused.contains("gone"),
        "{refused}"
    );

    break_and_wait_for_the_report(&hub, &cam, "motion_sensor", "PIR");
    assert_eq!(cam.field("motion_sensor").as_deref(), Some("broken"));
    // Only the PIR failed: the image sensor still gives frames, the camera stays online.
    assert_eq!(parts_failed(&cam), vec!["motion_sensor".to_string()]);
    assert_eq!(cam.field("image_sensor").as_deref(), Some("ok"));
    assert_eq!(cam.field("light_id").as_deref(), Some("off"));
    assert_eq!(hub.availability(&cam.device_id).as_deref(), Some("online"));

    // Both keys at once: the PIR mended, the image sensor left as it is.
    cam.sim(
        "sensor",
        json!({"motion_sensor": "ok", "image_sensor": "ok"}),
    )
    .unwrap();
    let mended = wait_until(Duration::from_secs(5), || {
        parts_failed(&cam).is_empty().then_some(())
    });
    assert!(mended.is_some(), "still failed: {:?}", parts_failed(&cam));
    assert_eq!(cam.field("motion_sensor").as_deref(), Some("ok"));
    assert_eq!(self_test_failures(&hub, &cam).len(), 1);
}

#[test]
fn a_sensor_that_fails_while_the_camera_is_offline_is_reported_when_it_is_back() {
    let dir = scratch_dir("wl-selftest-e2e-").unwrap();
    let hub = hub(dir.path());
    let cam = camera(dir.path(), "ST2");
    hub.pair_and_wait(&cam, SSID, PASS);

    cam.sim("link", json!({"up": false})).unwrap();
    cam.sim("sensor", json!({"image_sensor": "broken"}))
        .unwrap();
    let noticed = wait_until(Duration::from_secs(20), || {
        parts_failed(&cam)
            .contains(&"image_sensor".to_string())
            .then_some(())
    });
    assert!(
        noticed.is_some(),
        "the camera never counted its sensor failed"
    );
    assert!(
        self_test_failures(&hub, &cam).is_empty(),
        "an offline camera cannot have told the hub"
    );
    let queued = cam.status().unwrap()["queue_items"].as_u64().unwrap_or(0);
    assert!(queued >= 1, "the event waits in the offline queue");

    let back_at = Instant::now();
    cam.sim("link", json!({"up": true})).unwrap();
    let events = wait_until(Duration::from_secs(25), || {
        Some(self_test_failures(&hub, &cam)).filter(|e| !e.is_empty())
    })
    .expect("the queued self_test_failed arrived");
    println!(
        "link back -> queued self_test_failed at the hub: {:?}",
        back_at.elapsed()
    );
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(events[0]["data"]["part"], "image_sensor");
}
