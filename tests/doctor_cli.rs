//! `watchlight doctor` through the binary: the SPEC §1 stories and every fault's case
//! answered offline, bad case files (exit 2, naming the field or value), and live mode
//! against a small local HTTP server standing in for the hub.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Command, Output};

/// A scratch folder removed at the end (the root crate has no tempfile dependency).
struct TempDir(PathBuf);

impl TempDir {
    fn new() -> TempDir {
        static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = N.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let dir = std::env::temp_dir().join(format!("wl-doctor-cli-{}-{n}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }

    fn path(&self) -> &std::path::Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_watchlight"))
}

fn cases() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/examples/cases"))
}

fn diagnose(file: &std::path::Path) -> Output {
    bin()
        .args(["doctor", "diagnose", "--json", "--case"])
        .arg(file)
        .output()
        .unwrap()
}

fn json(out: &Output) -> serde_json::Value {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// Each story of SPEC §1: the cause the doctor should name and the step it should
/// propose first.
const STORIES: &[(&str, &str, &str)] = &[
    ("story_not_connected.json", "network_down", "restart_router"),
    (
        "story_setup_sequence.json",
        "setup_in_progress",
        "wait_for_setup",
    ),
    (
        "story_batteries_fail.json",
        "battery_dead",
        "replace_batteries",
    ),
    (
        "story_motion_flash.json",
        "motion_indicator",
        "disable_motion_indicator",
    ),
    (
        "story_not_recording.json",
        "not_armed",
        "arm_or_enable_motion",
    ),
    (
        "story_reconnect_wifi.json",
        "wifi_credentials_rejected",
        "reconnect_wifi",
    ),
    ("story_hard_reset.json", "firmware_fault", "reboot_camera"),
    (
        "story_contact_support.json",
        "hardware_fault",
        "contact_support",
    ),
    (
        "story_monthly_maintenance.json",
        "battery_low",
        "replace_batteries",
    ),
];

#[test]
fn every_story_gets_the_right_cause_and_first_step() {
    for (file, cause, step) in STORIES {
        let v = json(&diagnose(&cases().join(file)));
        assert_eq!(v["causes"][0]["id"], *cause, "{file}: {v:#}");
        if *file == "story_contact_support.json" {
            // A 2-minute reboot with a small chance outranks a 60-minute support call by
            // P/C; support must come right after it.
            let first_two = [&v["plan"][0]["action"], &v["plan"][1]["action"]];
            assert!(
                first_two.contains(&&serde_json::json!(step)),
                "{file}: {v:#}"
            );
            continue;
        }
        assert_eq!(v["plan"][0]["action"], *step, "{file}: {v:#}");
        assert_eq!(v["plan"][0]["kind"], "repair", "{file}");
    }
}

#[test]
fn every_fault_case_is_diagnosed_right_through_the_binary() {
    for entry in std::fs::read_dir(cases()).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        let Some(fault) = name
            .strip_prefix("fault_")
            .and_then(|n| n.strip_suffix(".json"))
        else {
            continue;
        };
        let v = json(&diagnose(&path));
        assert_eq!(v["causes"][0]["id"], fault, "{name}");
        let sum: f64 = v["causes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["p"].as_f64().unwrap())
            .sum();
        assert!((sum - 1.0).abs() < 1e-6, "{name}: {sum}");
    }
}

#[test]
fn bad_case_files_exit_2_naming_the_problem() {
    let dir = TempDir::new();
    let bad = [
        (r#"{"observations":{"light":"purple_glow"}}"#, "purple_glow"),
        (r#"{"observations":{"lihgt":"red_blink"}}"#, "lihgt"),
        (r#"{"profile":"xt9"}"#, "xt9"),
        (
            r#"{"telemetry":{"fleet_offline_fraction":3}}"#,
            "telemetry.fleet_offline_fraction",
        ),
        (r#"{"observations":"#, "line 1"),
    ];
    for (i, (text, named)) in bad.iter().enumerate() {
        let path = dir.path().join(format!("bad{i}.json"));
        std::fs::write(&path, text).unwrap();
        let out = diagnose(&path);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{text}: {stderr}");
        assert!(stderr.contains(named), "{text}: {stderr}");
        assert!(out.stdout.is_empty());
    }
    let out = diagnose(&dir.path().join("missing.json"));
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("missing.json"));
}

#[test]
fn learned_priors_change_the_answer_and_bad_priors_are_refused() {
    let dir = TempDir::new();
    let priors = dir.path().join("priors.json");
    // This home's outdoor cameras turned out to have a weak signal again and again.
    std::fs::write(
        &priors,
        r#"{"v":1,"counts":{"outdoor":{"network_down":400}}}"#,
    )
    .unwrap();
    let case = dir.path().join("case.json");
    std::fs::write(
        &case,
        r#"{"profile":"outdoor","observations":{"light":"red_blink"}}"#,
    )
    .unwrap();
    let plain = json(&diagnose(&case));
    let learned = json(
        &bin()
            .args(["doctor", "diagnose", "--json", "--case"])
            .arg(&case)
            .arg("--priors")
            .arg(&priors)
            .output()
            .unwrap(),
    );
    assert_ne!(plain["causes"][0]["id"], "network_down");
    assert_eq!(learned["causes"][0]["id"], "network_down");
    std::fs::write(
        &priors,
        r#"{"v":1,"counts":{"outdoor":{"network_down":-1}}}"#,
    )
    .unwrap();
    let out = bin()
        .args(["doctor", "diagnose", "--json", "--case"])
        .arg(&case)
        .arg("--priors")
        .arg(&priors)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
}

/// A one-request HTTP server standing in for the hub's `GET /api/v1/cameras/{id}/case`.
fn fake_hub(status: &'static str, body: String) -> (String, std::thread::JoinHandle<String>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let handle = std::thread::spawn(move || {
        let (mut stream, _) = listener.accept().unwrap();
        let mut reader = BufReader::new(stream.try_clone().unwrap());
        let mut head = String::new();
        loop {
            let mut line = String::new();
            reader.read_line(&mut line).unwrap();
            if line == "\r\n" || line.is_empty() {
                break;
            }
            head.push_str(&line);
        }
        write!(
            stream,
            "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        )
        .unwrap();
        head
    });
    (url, handle)
}

#[test]
fn live_mode_fetches_the_case_from_the_hub_with_the_owner_token() {
    let body = std::fs::read_to_string(cases().join("story_batteries_fail.json")).unwrap();
    let (url, hub) = fake_hub("200 OK", body);
    let out = bin()
        .args(["doctor", "--hub", &url, "--camera", "cam-A1", "--json"])
        .env("WATCHLIGHT_TOKEN", "s3cret-token")
        .output()
        .unwrap();
    let v = json(&out);
    assert_eq!(v["causes"][0]["id"], "battery_dead");
    let request = hub.join().unwrap();
    assert!(
        request.starts_with("GET /api/v1/cameras/cam-A1/case HTTP/1.1"),
        "{request}"
    );
    // Header names are case-insensitive (ureq sends them in lower case).
    let authorization = request.lines().find_map(|line| {
        let (name, value) = line.split_once(':')?;
        name.eq_ignore_ascii_case("authorization")
            .then_some(value.trim())
    });
    assert_eq!(authorization, Some("Bearer s3cret-token"), "{request}");
    // The token never appears in what we print.
    assert!(!String::from_utf8_lossy(&out.stderr).contains("s3cret"));
}

#[test]
fn live_mode_reports_a_refusal_by_the_hub() {
    let (url, hub) = fake_hub("401 Unauthorized", r#"{"error":"login"}"#.to_string());
    let out = bin()
        .args([
            "doctor", "--hub", &url, "--camera", "cam-A1", "--json", "--token", "wrong",
        ])
        .output()
        .unwrap();
    hub.join().unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("401"), "{stderr}");
}

#[test]
fn eval_prints_its_figures_as_json() {
    let out = bin()
        .args(["doctor", "eval", "--json", "--cases", "100", "--seed", "5"])
        .output()
        .unwrap();
    let v = json(&out);
    assert_eq!(v["cases"], 100);
    assert_eq!(v["seed"], 5);
    assert!(v["top1_accuracy"].as_f64().unwrap() > 0.5);
    assert!(
        v["mean_cost_guide_min"].as_f64().unwrap() > v["mean_cost_doctor_min"].as_f64().unwrap()
    );
}
