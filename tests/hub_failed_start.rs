//! A hub that cannot start: the real binary on a port another process holds. The cause
//! is said once and plainly, the data folder stays empty, and logs written to a pipe
//! carry no colour escapes.

use std::net::TcpListener;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use watchlight_agent::harness::scratch_dir;

const BIN: &str = env!("CARGO_BIN_EXE_watchlight");

/// Runs `watchlight hub` (with TLS, the default) on `http` and `mqtt`, stderr a pipe.
fn start(data: &Path, http: &str, mqtt: &str) -> Output {
    Command::new(BIN)
        .args(["hub", "--http", http, "--mqtt", mqtt, "--data"])
        .arg(data)
        .env_remove("NO_COLOR")
        .output()
        .expect("watchlight runs")
}

fn assert_failed_plainly(out: &Output, data: &Path, what: &str) {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{what}: the hub started\n{stderr}");
    let error = stderr
        .lines()
        .find(|l| l.starts_with("error: "))
        .unwrap_or_else(|| panic!("{what}: no error line\n{stderr}"));
    assert_eq!(
        error.matches("Address already in use").count(),
        1,
        "{what}: the cause once: {error}"
    );
    assert!(!error.contains("no listeners"), "{what}: {error}");
    assert!(
        !stderr.contains('\u{1b}'),
        "{what}: colour in a pipe\n{stderr:?}"
    );
    let left: Vec<_> = std::fs::read_dir(data)
        .map(|d| d.filter_map(Result::ok).map(|e| e.file_name()).collect())
        .unwrap_or_default();
    assert!(left.is_empty(), "{what}: the failed start left {left:?}");
}

#[test]
fn an_mqtt_port_in_use_is_said_plainly_and_leaves_nothing() {
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let dir = scratch_dir("wl-start-").unwrap();
    let data = dir.path().join("hub");
    let out = start(
        &data,
        "127.0.0.1:0",
        &taken.local_addr().unwrap().to_string(),
    );
    assert_failed_plainly(&out, &data, "--mqtt in use");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("MQTT broker cannot listen on"), "{stderr}");
}

#[test]
fn an_http_port_in_use_is_said_once_and_leaves_nothing() {
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let dir = scratch_dir("wl-start-").unwrap();
    let data = dir.path().join("hub");
    let out = start(
        &data,
        &taken.local_addr().unwrap().to_string(),
        "127.0.0.1:0",
    );
    assert_failed_plainly(&out, &data, "--http in use");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("cannot listen for HTTP on"), "{stderr}");
}

#[test]
fn logs_to_a_pipe_have_no_colour() {
    use std::io::{BufRead, BufReader, Read};
    let dir = scratch_dir("wl-start-").unwrap();
    let mut child = Command::new(BIN)
        .args([
            "hub",
            "--insecure",
            "--http",
            "127.0.0.1:0",
            "--mqtt",
            "127.0.0.1:0",
        ])
        .arg("--data")
        .arg(dir.path())
        .env_remove("NO_COLOR")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("watchlight runs");
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    // The URLs are printed once the hub runs, after its first log lines.
    while let Some(Ok(line)) = lines.next() {
        if line.starts_with("http_url=") {
            break;
        }
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    assert!(stderr.contains("hub running"), "no log line: {stderr}");
    assert!(!stderr.contains('\u{1b}'), "colour in a pipe: {stderr:?}");
}
