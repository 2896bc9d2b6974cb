//! The guide's stories (SPEC §1) end to end: the built `watchlight camera replay` runs
//! each shipped example script and its JSON timeline is checked line by line.

use serde_json::Value;
use std::path::Path;
use std::process::Command;

fn example(name: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("examples/replay")
        .join(name);
    path.to_string_lossy().into_owned()
}

/// Runs `watchlight camera replay --script FILE --json` and parses its lines.
fn replay(script: &str) -> Vec<Value> {
    let out = Command::new(env!("CARGO_BIN_EXE_watchlight"))
        .args(["camera", "replay", "--script", script, "--json"])
        .output()
        .expect("the watchlight binary runs");
    assert!(
        out.status.success(),
        "replay failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{l}: {e}")))
        .collect()
}

/// The light lines as `(t_ms, "condition color pattern[count]")`.
fn lights(lines: &[Value]) -> Vec<(u64, String)> {
    lines
        .iter()
        .filter(|l| l["type"] == "light")
        .map(|l| {
            let mut s = format!(
                "{} {} {}",
                l["condition"].as_str().unwrap(),
                l["color"].as_str().unwrap(),
                l["pattern"].as_str().unwrap()
            );
            if let Some(n) = l.get("count") {
                s.push_str(&format!("({n})"));
            }
            if l.get("dim") == Some(&Value::Bool(true)) {
                s.push_str(" dim");
            }
            (l["t_ms"].as_u64().unwrap(), s)
        })
        .collect()
}

fn lights_from(lines: &[Value], t: u64) -> Vec<(u64, String)> {
    lights(lines)
        .into_iter()
        .filter(|(at, _)| *at >= t)
        .collect()
}

fn events(lines: &[Value]) -> Vec<(u64, String)> {
    lines
        .iter()
        .filter(|l| l["type"] == "event")
        .map(|l| {
            (
                l["t_ms"].as_u64().unwrap(),
                l["event"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

fn states(lines: &[Value]) -> Vec<(u64, String)> {
    lines
        .iter()
        .filter(|l| l["type"] == "state")
        .map(|l| {
            (
                l["t_ms"].as_u64().unwrap(),
                l["state"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

fn owned(v: &[(u64, &str)]) -> Vec<(u64, String)> {
    v.iter().map(|(t, s)| (*t, s.to_string())).collect()
}

#[test]
fn setup_red_then_green_blink_then_blue_5_s_then_off() {
    let lines = replay(&example("setup.json"));
    assert_eq!(
        lights(&lines),
        owned(&[
            (0, "booting red blink"),
            (2000, "setup red slow_blink"),
            (6000, "joining green blink"),
            (9500, "connected blue solid"),
            (14_500, "idle none off"),
        ])
    );
    assert_eq!(
        states(&lines),
        owned(&[
            (0, "booting"),
            (2000, "setup"),
            (6000, "joining"),
            (9500, "online")
        ])
    );
}

#[test]
fn wrong_wifi_password_red_solid_10_s_then_setup_again() {
    let lines = replay(&example("wifi_rejected.json"));
    assert_eq!(
        lights_from(&lines, 5001),
        owned(&[
            (15_000, "setup red slow_blink"),
            (20_000, "joining green blink"),
            (23_000, "connected blue solid"),
            (28_000, "idle none off"),
        ])
    );
    assert!(lights(&lines).contains(&(5000, "wifi_rejected red solid".to_string())));
    assert!(events(&lines).contains(&(5000, "wifi_rejected".to_string())));
}

#[test]
fn lost_connection_red_blink_then_a_flash_every_5_s_after_10_min() {
    let lines = replay(&example("lost_connection.json"));
    assert_eq!(
        lights_from(&lines, 60_000),
        owned(&[
            (60_000, "connection_lost red blink"),
            (660_000, "connection_lost red flash(1)"),
            (660_300, "idle none off"),
            (665_000, "connection_lost red flash(1)"),
            (665_300, "idle none off"),
            (670_000, "connection_lost red flash(1)"),
            (670_300, "idle none off"),
            (675_000, "connection_lost red flash(1)"),
            (675_300, "idle none off"),
            (676_000, "connected blue solid"),
            (681_000, "idle none off"),
        ])
    );
    assert!(events(&lines).contains(&(60_000, "link_lost".to_string())));
}

#[test]
fn failing_battery_red_flash_3_as_soon_as_the_blue_recording_light_goes_out() {
    let lines = replay(&example("failing_battery.json"));
    assert_eq!(
        lights_from(&lines, 20_000),
        owned(&[
            (20_000, "recording blue solid"),
            (25_000, "battery_low red flash(3)"),
            (25_900, "idle none off"),
            (81_000, "battery_low red flash(3)"),
            (81_900, "idle none off"),
        ])
    );
    assert!(events(&lines).contains(&(21_000, "battery_low".to_string())));
}

#[test]
fn motion_indicator_on_flashes_red_ahead_of_the_recording_light() {
    let lines = replay(&example("motion_indicator_on.json"));
    assert_eq!(
        lights_from(&lines, 20_000),
        owned(&[
            (20_800, "motion red flash(1)"),
            (21_100, "recording blue solid"),
            (28_000, "idle none off"),
        ])
    );
}

#[test]
fn motion_indicator_off_shows_only_the_recording_light() {
    let lines = replay(&example("motion_indicator_off.json"));
    assert_eq!(
        lights_from(&lines, 20_000),
        owned(&[(20_800, "recording blue solid"), (28_000, "idle none off")])
    );
}

#[test]
fn reset_held_5_s_goes_back_to_setup() {
    let lines = replay(&example("reset_held.json"));
    assert_eq!(
        lights_from(&lines, 20_000),
        owned(&[
            (25_000, "reset_armed red fast_blink"),
            (26_000, "booting red blink"),
            (28_000, "setup red slow_blink"),
        ])
    );
    assert!(events(&lines).contains(&(26_000, "reset".to_string())));
    assert_eq!(states(&lines).last(), Some(&(28_000, "setup".to_string())));
}

#[test]
fn reset_released_at_3_s_does_nothing() {
    let lines = replay(&example("reset_released_early.json"));
    assert!(lines.iter().all(|l| l["t_ms"].as_u64().unwrap() < 20_000));
}

#[test]
fn short_press_shows_the_status_check() {
    let lines = replay(&example("short_press.json"));
    assert_eq!(
        lights_from(&lines, 20_000),
        owned(&[
            (20_400, "status_check blue solid"),
            (25_400, "idle none off")
        ])
    );
}

#[test]
fn battery_critical_flashes_3_goes_dark_and_wakes_on_fresh_batteries() {
    let lines = replay(&example("battery_critical.json"));
    assert_eq!(
        lights_from(&lines, 20_000),
        owned(&[
            (20_500, "recording blue solid"),
            (22_000, "battery_critical red flash(3)"),
            (22_900, "battery_critical none off"),
            (120_000, "booting red blink"),
            (122_000, "joining green blink"),
            (124_000, "connected blue solid"),
            (129_000, "idle none off"),
        ])
    );
    let ev = events(&lines);
    assert!(ev.contains(&(22_000, "motion_end".to_string())));
    assert!(ev.contains(&(22_000, "battery_critical".to_string())));
    assert!(states(&lines).contains(&(22_000, "shutdown".to_string())));
    assert!(states(&lines).contains(&(120_000, "booting".to_string())));
}

#[test]
fn without_json_the_timeline_is_for_people() {
    let out = Command::new(env!("CARGO_BIN_EXE_watchlight"))
        .args([
            "camera",
            "replay",
            "--script",
            &example("failing_battery.json"),
        ])
        .output()
        .unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    let line = text
        .lines()
        .find(|l| l.contains("red flash(3)"))
        .expect("a flash line");
    assert!(line.trim_start().starts_with("25.000 s"), "{line}");
    assert!(line.contains("red_flash_after_recording"), "{line}");
    assert!(line.contains("Batteries are low"), "{line}");
}
