//! `watchlight demo --data DIR`, run twice on the same folder as a newcomer would: the
//! story headless with its one line of JSON, then the same home resumed. At the end of
//! each, the light the hub reports for every camera is the light the camera shows (the
//! battery ones asleep included); the JSON says what the hub's API counts: cameras of
//! several profiles, clips, nothing lost, every fault of the story seen by the hub.

use serde_json::Value;
use std::path::Path;
use std::process::{Command, Output};
use watchlight_agent::harness::scratch_dir;

const BIN: &str = env!("CARGO_BIN_EXE_watchlight");

/// The story's time limit: about a minute and a half here, on a slow 2-core machine
/// shared with other work several times that.
const STORY_LIMIT: &str = "5m";

/// The cameras of the story, and which of them run on batteries.
const CAMERAS: usize = 4;
const BATTERY: [&str; 3] = ["garden", "garage", "hallway"];

fn watchlight(args: &[&str], data: &Path) -> Output {
    Command::new(BIN)
        .arg("demo")
        .args(args)
        .arg("--data")
        .arg(data)
        .output()
        .expect("watchlight runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).to_string()
}

fn demo(data: &Path) -> String {
    let out = watchlight(&["--once"], data);
    let stdout = text(&out.stdout);
    assert!(
        out.status.success(),
        "the demo failed\n{stdout}\n{}",
        text(&out.stderr)
    );
    stdout
}

/// `--headless --for LIMIT --json`: the story on standard error, the JSON line on
/// standard output.
fn headless_json(data: &Path) -> (Value, String) {
    let out = watchlight(&["--headless", "--for", STORY_LIMIT, "--json"], data);
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert!(out.status.success(), "the demo failed\n{stdout}\n{stderr}");
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 1, "one line of JSON:\n{stdout}");
    let json: Value = serde_json::from_str(lines[0])
        .unwrap_or_else(|e| panic!("not JSON ({e}): {stdout}\n{stderr}"));
    (json, stderr)
}

/// The closing lines after `heading`: (camera, its light, the hub's light, availability).
fn closing(stdout: &str, heading: &str) -> Vec<(String, String, String, String)> {
    let start = stdout
        .find(heading)
        .unwrap_or_else(|| panic!("no {heading:?} in\n{stdout}"));
    stdout[start..]
        .lines()
        .filter_map(|l| {
            let w: Vec<&str> = l.split_whitespace().collect();
            match w.as_slice() {
                [
                    name,
                    "light",
                    cam,
                    "hub",
                    "shows",
                    hub,
                    "hub",
                    "says",
                    avail,
                ] => Some((
                    name.to_string(),
                    cam.to_string(),
                    hub.to_string(),
                    avail.to_string(),
                )),
                _ => None,
            }
        })
        .collect()
}

fn assert_hub_shows_what_cameras_show(stdout: &str, heading: &str) {
    let cams = closing(stdout, heading);
    assert_eq!(cams.len(), CAMERAS, "{stdout}");
    for (name, cam, hub, avail) in &cams {
        assert_eq!(
            cam, hub,
            "{name}: the hub's light is not the camera's\n{stdout}"
        );
        assert!(
            ["online", "sleeping"].contains(&avail.as_str()),
            "{name} is {avail}\n{stdout}"
        );
    }
    for battery in BATTERY {
        let (_, cam, _, _) = cams.iter().find(|c| c.0 == battery).unwrap();
        assert_eq!(cam, "off", "{battery} asleep is dark\n{stdout}");
    }
}

#[test]
fn a_time_limit_that_cannot_be_read_is_named() {
    let dir = scratch_dir("wl-demo-").unwrap();
    let out = watchlight(
        &["--headless", "--for", "3 minutes", "--json"],
        &dir.path().join("home"),
    );
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    assert!(out.stdout.is_empty(), "{out:?}");
    assert!(text(&out.stderr).contains("'3 minutes'"), "{out:?}");
}

#[test]
fn a_story_longer_than_its_time_limit_says_so_and_fails() {
    let dir = scratch_dir("wl-demo-").unwrap();
    let out = watchlight(
        &["--headless", "--for", "5s", "--json"],
        &dir.path().join("home"),
    );
    let stderr = text(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    assert!(
        out.stdout.is_empty(),
        "no JSON for a story not told: {out:?}"
    );
    assert!(stderr.contains("needs longer than --for 5s"), "{stderr}");
}

#[test]
fn the_demo_tells_its_story_then_resumes_its_home() {
    let dir = scratch_dir("wl-demo-").unwrap();
    let data = dir.path().join("home");

    let (json, first) = headless_json(&data);
    assert_hub_shows_what_cameras_show(&first, "== The end ==");
    let count = |key: &str| {
        json[key]
            .as_u64()
            .unwrap_or_else(|| panic!("no {key} in {json}"))
    };
    assert!(count("cameras") >= CAMERAS as u64, "{json}");
    let profiles = json["profiles"].as_array().expect("profiles");
    assert!(profiles.len() >= 2, "cameras of several profiles: {json}");
    assert!(count("clips") >= 1, "{json}");
    assert!(count("events") >= 1, "{json}");
    assert_eq!(count("lost"), 0, "{json}\n{first}");
    assert!(count("recorded") >= count("clips"), "{json}");
    for fault in ["wifi_password_mistyped", "wifi_outage", "battery_failing"] {
        let seen = json["faults"]
            .as_array()
            .expect("faults")
            .iter()
            .find(|f| f["fault"] == fault)
            .unwrap_or_else(|| panic!("the story did not play {fault}: {json}"));
        assert_eq!(
            seen["detected"], true,
            "{fault} not seen by the hub: {json}"
        );
    }
    assert_eq!(count("faults_detected"), 3, "{json}");
    assert_eq!(count("faults_detected"), count("faults_played"), "{json}");
    assert_eq!(json["motion_indicator_flash_seen"], true, "{json}\n{first}");
    assert_eq!(json["motion_indicator_off_again"], true, "{json}");
    assert!(count("live_frames") >= 1, "{json}");
    assert_eq!(json["live_stopped"], true, "{json}\n{first}");
    assert_eq!(json["resumed"], false, "{json}");
    for chapter in [
        "Setup",
        "Motion",
        "outage",
        "motion indicator",
        "Live view",
        "battery",
    ] {
        assert!(
            first.contains(chapter),
            "no {chapter:?} in the story\n{first}"
        );
    }

    let second = demo(&data);
    assert!(!second.contains("already has an owner"), "{second}");
    assert!(second.contains("== The hub, resumed =="), "{second}");
    assert!(!second.contains("== Setup"), "set up again\n{second}");
    assert_hub_shows_what_cameras_show(&second, "== The home, resumed ==");
}
