//! The fleet simulator's small scenario (`examples/sim/small.toml`: 30 cameras, link
//! cuts and silent links, motion, a hub killed with -9 and a hub restarted) against a
//! real hub: nothing is lost silently, every link fault is detected within its SPEC §10
//! bar, the doctor names the link faults, and the fleet comes back after each hub fault.

use serde_json::Value;
use std::process::Command;

#[test]
fn small_fleet_loses_nothing_detects_faults_in_time_and_the_doctor_names_them() {
    let scenario = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/sim/small.toml");
    let out = Command::new(env!("CARGO_BIN_EXE_watchlight"))
        .args(["sim", "--scenario", scenario, "--json"])
        .output()
        .expect("watchlight sim runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "watchlight sim failed:\n{stderr}\n{stdout}"
    );
    let report: Value = serde_json::from_str(stdout.trim()).expect("one JSON report");
    let ev = &report["events"];
    assert_eq!(report["lost_silently"], false, "{ev}");
    assert_eq!(ev["lost"], 0, "{ev}");
    assert_eq!(ev["duplicated"], 0, "{ev}");
    assert!(ev["recorded"].as_u64().unwrap() > 20, "{ev}");
    assert_eq!(ev["recorded"], ev["delivered"], "{ev}");

    let faults = report["faults"].as_array().expect("faults");
    assert_eq!(faults.len(), 5, "{report}");
    for f in faults {
        let kind = f["kind"].as_str().unwrap();
        match kind {
            "link_cut" | "link_silent" => {
                assert_eq!(f["detected"], f["cameras"], "{f}");
                assert_eq!(f["within_bar"], true, "{kind} detected too late: {f}");
                let doctor = f["doctor"].as_array().unwrap();
                assert!(!doctor.is_empty(), "{f}");
                assert_eq!(
                    f["doctor_right"].as_u64(),
                    Some(doctor.len() as u64),
                    "the doctor misnamed {kind}: {f}"
                );
            }
            "hub_kill" | "hub_restart" => {
                assert!(f["recovery_s"].as_f64().is_some(), "no recovery: {f}");
            }
            "motion" => assert!(!f["doctor"].as_array().unwrap().is_empty(), "{f}"),
            other => panic!("unexpected fault kind {other}"),
        }
    }
}
