//! `watchlight camera replay` refuses bad scripts with exit status 2 and a message
//! that names the step and the field.

use std::process::{Command, Output};

fn replay_text(script: &str) -> Output {
    let dir = tempfile_dir();
    let path = dir.join("script.json");
    std::fs::write(&path, script).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_watchlight"))
        .args(["camera", "replay", "--json", "--script"])
        .arg(&path)
        .output()
        .unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    out
}

/// A fresh folder under the system's temporary folder (no extra dev-dependency).
fn tempfile_dir() -> std::path::PathBuf {
    use std::sync::atomic::{AtomicU32, Ordering};
    static N: AtomicU32 = AtomicU32::new(0);
    let dir = std::env::temp_dir().join(format!(
        "watchlight-replay-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::SeqCst)
    ));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn assert_usage_error(out: &Output, needles: &[&str]) {
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    let err = String::from_utf8_lossy(&out.stderr);
    for needle in needles {
        assert!(err.contains(needle), "stderr lacks {needle:?}: {err}");
    }
    assert!(out.stdout.is_empty(), "nothing printed on a bad script");
}

#[test]
fn unknown_input_names_the_step_and_field() {
    let out = replay_text(
        r#"{"v":1,"profile":"outdoor","steps":[{"t_ms":0,"input":"power_on"},{"t_ms":5,"input":"teleport"}]}"#,
    );
    assert_usage_error(&out, &["step 1", "'input'", "teleport"]);
}

#[test]
fn pir_on_a_profile_without_pir_is_an_error() {
    let out = replay_text(r#"{"v":1,"profile":"mini","steps":[{"t_ms":0,"input":"pir"}]}"#);
    assert_usage_error(&out, &["step 0", "pir", "mini"]);
}

#[test]
fn a_bad_battery_field_is_named() {
    let out = replay_text(
        r#"{"v":1,"profile":"xt","steps":[{"t_ms":0,"input":"battery","resting_mv":"lots","loaded_mv":2000}]}"#,
    );
    assert_usage_error(&out, &["step 0", "resting_mv"]);
}

#[test]
fn a_bad_settings_patch_is_named() {
    let out = replay_text(r#"{"v":1,"profile":"xt","settings":{"sensitivity":42},"steps":[]}"#);
    assert_usage_error(&out, &["'settings'", "sensitivity"]);
}

#[test]
fn a_missing_file_is_a_usage_error() {
    let out = Command::new(env!("CARGO_BIN_EXE_watchlight"))
        .args(["camera", "replay", "--script", "/nonexistent/script.json"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("/nonexistent/script.json"));
}
