//! `watchlight demo --data DIR`, run twice on the same folder as a newcomer would: the
//! story, then the same home resumed. At the end of each, the light the hub reports for
//! every camera is the light the camera shows (the battery ones asleep included).

use std::path::Path;
use std::process::Command;
use watchlight_agent::harness::scratch_dir;

const BIN: &str = env!("CARGO_BIN_EXE_watchlight");

fn demo(data: &Path) -> String {
    let out = Command::new(BIN)
        .arg("demo")
        .arg("--once")
        .arg("--data")
        .arg(data)
        .output()
        .expect("watchlight runs");
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        out.status.success(),
        "the demo failed\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
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
    assert_eq!(cams.len(), 3, "{stdout}");
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
    for battery in ["garden", "garage"] {
        let (_, cam, _, _) = cams.iter().find(|c| c.0 == battery).unwrap();
        assert_eq!(cam, "off", "{battery} asleep is dark\n{stdout}");
    }
}

#[test]
fn the_demo_tells_its_story_then_resumes_its_home() {
    let dir = scratch_dir("wl-demo-").unwrap();
    let data = dir.path().join("home");

    let first = demo(&data);
    assert_hub_shows_what_cameras_show(&first, "== The end ==");

    let second = demo(&data);
    assert!(!second.contains("already has an owner"), "{second}");
    assert!(second.contains("== The hub, resumed =="), "{second}");
    assert!(!second.contains("== Setup"), "set up again\n{second}");
    assert_hub_shows_what_cameras_show(&second, "== The home, resumed ==");
}
