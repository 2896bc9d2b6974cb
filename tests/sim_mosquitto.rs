//! The fleet simulator with the hub on a Mosquitto of its own
//! (`examples/sim/mosquitto.toml`): cameras paired through the hub get into Mosquitto
//! with their own credentials, a cut link is seen through it within its SPEC §10 bar and
//! a silent one within the bar and Mosquitto's rounding, and neither a restart of Mosquitto under the fleet nor a kill -9 of the
//! hub loses an event.

mod sim_run;

/// Mosquitto 2.0 checks keepalives once a second on whole seconds and truncates 1.5 × a
/// 5 s keepalive to 7 s before its `>`: a silent link is closed 8 to 9.x s after the
/// camera's last packet, up to about 1.2 s past the SPEC §10 bar (1.5 × keepalive + 1 s)
/// that the embedded broker holds (tests/sim_small.rs). Measured, not hidden: the report
/// says `within_bar: false`; this test holds the silent link to the bar plus that.
const MOSQUITTO_KEEPALIVE_ROUNDING_MS: u64 = 2_000;

#[test]
fn a_hub_on_mosquitto_detects_faults_and_loses_nothing_when_the_broker_restarts() {
    let report = sim_run::report("mosquitto.toml");
    let ev = &report["events"];
    assert_eq!(report["lost_silently"], false, "{ev}");
    assert_eq!(ev["lost"], 0, "{ev}");
    assert_eq!(ev["duplicated"], 0, "{ev}");
    assert!(ev["recorded"].as_u64().unwrap() > 30, "{ev}");
    assert_eq!(ev["recorded"], ev["delivered"], "{ev}");
    assert!(
        report["broker"]["cpu_s"].as_f64().unwrap() > 0.0,
        "the broker's cost is measured: {}",
        report["broker"]
    );

    let faults = report["faults"].as_array().expect("faults");
    let by_kind = |kind: &str| {
        faults
            .iter()
            .find(|f| f["kind"] == kind)
            .unwrap_or_else(|| panic!("no {kind} fault in {faults:?}"))
    };
    let cut = by_kind("link_cut");
    assert_eq!(
        cut["detected"], cut["detectable"],
        "link_cut not seen: {cut}"
    );
    assert_eq!(cut["within_bar"], true, "link_cut detected too late: {cut}");
    let silent = by_kind("link_silent");
    assert_eq!(
        silent["detected"], silent["detectable"],
        "link_silent not seen: {silent}"
    );
    let bar = silent["bar_ms"].as_u64().unwrap() + MOSQUITTO_KEEPALIVE_ROUNDING_MS;
    assert!(
        silent["detection_ms"]["max"].as_u64().unwrap() <= bar,
        "link_silent detected later than {bar} ms: {silent}"
    );
    for kind in ["broker_restart", "hub_kill"] {
        let f = by_kind(kind);
        assert!(f["recovery_s"].as_f64().is_some(), "no recovery: {f}");
        assert!(f["drained_s"].as_f64().is_some(), "queues not emptied: {f}");
    }
}
