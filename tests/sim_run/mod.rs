//! Runs `watchlight sim --json` on a scenario of `examples/sim/` for the simulator's tests.

use serde_json::Value;
use std::process::Command;

/// The report of `watchlight sim --scenario examples/sim/NAME --json`; fails the test with
/// the simulator's output if it exits non-zero (something lost silently, a bad run).
pub fn report(name: &str) -> Value {
    let scenario = format!("{}/examples/sim/{name}", env!("CARGO_MANIFEST_DIR"));
    let out = Command::new(env!("CARGO_BIN_EXE_watchlight"))
        .args(["sim", "--scenario", &scenario, "--json"])
        .output()
        .expect("watchlight sim runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "watchlight sim failed:\n{stderr}\n{stdout}"
    );
    serde_json::from_str(stdout.trim()).expect("one JSON report")
}
