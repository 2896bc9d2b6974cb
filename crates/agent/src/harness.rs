//! Real processes on ephemeral ports: a `watchlight hub` and simulated
//! `watchlight camera --sim` agents, with blocking HTTP clients for the hub's API and
//! each camera's local endpoint. `watchlight demo` and the end-to-end tests both drive
//! the system through this module, so the demo shows exactly what the tests prove.
//!
//! Children are killed when their handle drops. Each child's stderr (its log) goes to
//! `<data>.log` beside its data folder.

use serde_json::{Value, json};
use std::ffi::OsStr;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdout, Command, Stdio};
use std::sync::{Arc, Mutex, mpsc};
use std::time::{Duration, Instant};

#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct HarnessError(pub String);

type Result<T> = std::result::Result<T, HarnessError>;

fn err(msg: impl Into<String>) -> HarnessError {
    HarnessError(msg.into())
}

/// Polls `f` every 50 ms until it gives `Some`, or `timeout` passes.
pub fn wait_until<T>(timeout: Duration, mut f: impl FnMut() -> Option<T>) -> Option<T> {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(v) = f() {
            return Some(v);
        }
        if Instant::now() >= deadline {
            return None;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Stdout of a child, line by line, kept for later reading.
struct Lines {
    all: Arc<Mutex<Vec<String>>>,
    rx: mpsc::Receiver<String>,
}

impl Lines {
    fn follow(stdout: ChildStdout) -> Lines {
        let all: Arc<Mutex<Vec<String>>> = Arc::default();
        let (tx, rx) = mpsc::channel();
        let keep = all.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(|l| l.ok()) {
                keep.lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .push(line.clone());
                let _ = tx.send(line);
            }
        });
        Lines { all, rx }
    }

    /// The value of the first `key=value` line, waiting up to `timeout`.
    fn value_of(&self, key: &str, timeout: Duration) -> Option<String> {
        let prefix = format!("{key}=");
        let deadline = Instant::now() + timeout;
        if let Some(v) = self.snapshot().iter().find_map(|l| l.strip_prefix(&prefix)) {
            return Some(v.to_string());
        }
        while let Ok(line) = self
            .rx
            .recv_timeout(deadline.saturating_duration_since(Instant::now()))
        {
            if let Some(v) = line.strip_prefix(&prefix) {
                return Some(v.to_string());
            }
        }
        None
    }

    fn snapshot(&self) -> Vec<String> {
        self.all.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }
}

/// A child process the harness started, with its stderr (its log) in a file. Stopped
/// when dropped: SIGTERM, then SIGKILL after 5 s.
pub struct Process {
    child: Child,
}

impl Process {
    /// Starts `program ARGS`, its stdout discarded and its stderr written to `log`.
    pub fn start(program: &Path, args: &[impl AsRef<OsStr>], log: &Path) -> Result<Process> {
        Ok(Process {
            child: spawn_child(program, args, log, Stdio::null())?,
        })
    }

    /// Starts `program ARGS` with its stdout followed line by line.
    fn start_following(
        program: &Path,
        args: &[impl AsRef<OsStr>],
        log: &Path,
    ) -> Result<(Process, Lines)> {
        let mut child = spawn_child(program, args, log, Stdio::piped())?;
        let stdout = child.stdout.take().expect("piped stdout");
        Ok((Process { child }, Lines::follow(stdout)))
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// SIGKILL: the process dies without a word.
    pub fn kill9(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// SIGTERM, then SIGKILL after 5 s.
    pub fn stop(&mut self) {
        if let Ok(Some(_)) = self.child.try_wait() {
            return;
        }
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let child = &mut self.child;
        let stopped = wait_until(Duration::from_secs(5), || {
            child.try_wait().ok().flatten().map(|_| ())
        });
        if stopped.is_none() {
            self.kill9();
        }
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        self.stop();
    }
}

fn spawn_child(
    program: &Path,
    args: &[impl AsRef<OsStr>],
    log: &Path,
    stdout: Stdio,
) -> Result<Child> {
    let log_file = std::fs::File::create(log)
        .map_err(|e| err(format!("cannot create {}: {e}", log.display())))?;
    Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .stdout(stdout)
        .stderr(log_file)
        .spawn()
        .map_err(|e| err(format!("cannot start {}: {e}", program.display())))
}

/// Runs `watchlight hub --data DATA ARGS` to its end, `stdin` (if any) written to it as
/// one line; its stderr is the error when it fails.
pub fn hub_command(
    bin: &Path,
    data: &Path,
    args: &[impl AsRef<OsStr>],
    stdin: Option<&str>,
) -> Result<()> {
    let mut command = Command::new(bin);
    command
        .arg("hub")
        .arg("--data")
        .arg(data)
        .args(args)
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    let mut child = command
        .spawn()
        .map_err(|e| err(format!("cannot start {}: {e}", bin.display())))?;
    if let (Some(line), Some(mut pipe)) = (stdin, child.stdin.take()) {
        let _ = writeln!(pipe, "{line}");
    }
    let out = child.wait_with_output().map_err(|e| err(e.to_string()))?;
    if !out.status.success() {
        return Err(err(format!(
            "watchlight hub {} failed: {}",
            args.iter()
                .map(|a| a.as_ref().to_string_lossy())
                .collect::<Vec<_>>()
                .join(" "),
            String::from_utf8_lossy(&out.stderr)
        )));
    }
    Ok(())
}

fn log_path(data: &Path) -> PathBuf {
    data.with_extension("log")
}

/// A response whose body is read as it comes ([`Api::get_response`]).
pub type Response = reqwest::blocking::Response;

/// A blocking JSON client with the hub's certificate pinned.
#[derive(Clone)]
pub struct Api {
    base: String,
    client: reqwest::blocking::Client,
    bearer: Option<String>,
}

impl Api {
    pub fn new(base: &str, cert_pem: Option<&str>) -> Result<Api> {
        crate::runtime::install_crypto_provider();
        let mut builder = reqwest::blocking::Client::builder().timeout(Duration::from_secs(30));
        if let Some(pem) = cert_pem {
            let tls = crate::session::pinned_tls(pem).map_err(|e| err(e.to_string()))?;
            builder = builder.use_preconfigured_tls((*tls).clone());
        }
        let client = builder.build().map_err(|e| err(e.to_string()))?;
        Ok(Api {
            base: base.trim_end_matches('/').to_string(),
            client,
            bearer: None,
        })
    }

    pub fn with_bearer(mut self, token: &str) -> Api {
        self.bearer = Some(token.to_string());
        self
    }

    /// Any method; returns the status and the JSON body (`null` when not JSON).
    pub fn call(&self, method: &str, path: &str, body: Option<&Value>) -> Result<(u16, Value)> {
        let url = format!("{}{path}", self.base);
        let method =
            reqwest::Method::from_bytes(method.as_bytes()).map_err(|e| err(e.to_string()))?;
        let mut req = self.client.request(method.clone(), &url);
        if let Some(t) = &self.bearer {
            req = req.bearer_auth(t);
        }
        if let Some(b) = body {
            req = req.json(b);
        }
        let resp = req
            .send()
            .map_err(|e| err(format!("{method} {url}: {e}")))?;
        let status = resp.status().as_u16();
        let text = resp.text().unwrap_or_default();
        Ok((status, serde_json::from_str(&text).unwrap_or(Value::Null)))
    }

    pub fn get(&self, path: &str) -> Result<Value> {
        match self.call("GET", path, None)? {
            (200, v) => Ok(v),
            (s, v) => Err(err(format!("GET {path}: {s} {v}"))),
        }
    }

    pub fn post(&self, path: &str, body: &Value) -> Result<(u16, Value)> {
        self.call("POST", path, Some(body))
    }

    /// A GET whose body the caller reads as it comes (live view); any status.
    pub fn get_response(&self, path: &str) -> Result<Response> {
        let url = format!("{}{path}", self.base);
        let mut req = self.client.get(&url);
        if let Some(t) = &self.bearer {
            req = req.bearer_auth(t);
        }
        req.send().map_err(|e| err(format!("GET {url}: {e}")))
    }

    /// Raw bytes of a GET (clip downloads).
    pub fn get_bytes(&self, path: &str) -> Result<Vec<u8>> {
        let url = format!("{}{path}", self.base);
        let mut req = self.client.get(&url);
        if let Some(t) = &self.bearer {
            req = req.bearer_auth(t);
        }
        let resp = req.send().map_err(|e| err(format!("GET {url}: {e}")))?;
        if !resp.status().is_success() {
            return Err(err(format!("GET {url}: {}", resp.status())));
        }
        resp.bytes()
            .map(|b| b.to_vec())
            .map_err(|e| err(format!("GET {url}: {e}")))
    }
}

/// How to start a hub beyond the defaults (free loopback ports, embedded broker).
#[derive(Debug, Clone, Default)]
pub struct HubOptions {
    pub insecure: bool,
    /// `--http`; `None`: 127.0.0.1:0. A restart that cameras must find again needs a
    /// fixed address (see [`free_port`]).
    pub http: Option<String>,
    /// `--mqtt`; `None`: 127.0.0.1:0.
    pub mqtt: Option<String>,
    /// Anything else, e.g. `--mqtt-url` and `--mosquitto-passwd`.
    pub extra: Vec<String>,
}

/// A loopback port that was free a moment ago, for a process that must keep its
/// address across restarts.
pub fn free_port() -> Result<u16> {
    let l = std::net::TcpListener::bind(("127.0.0.1", 0)).map_err(|e| err(e.to_string()))?;
    l.local_addr()
        .map(|a| a.port())
        .map_err(|e| err(e.to_string()))
}

/// A running `watchlight hub` with an owner and an API token.
pub struct HubProcess {
    process: Process,
    _lines: Lines,
    pub http_url: String,
    pub mqtt_url: String,
    pub data: PathBuf,
    pub cert_pem: Option<String>,
    pub api: Api,
}

/// The owner [`HubProcess::start_for_test`] creates.
pub const TEST_OWNER: &str = "owner";
/// Their password (long enough for the hub's rule).
pub const TEST_PASSWORD: &str = "a long test password";
/// The access point a test's simulated cameras are given and paired with.
pub const TEST_SSID: &str = "test-ap";
pub const TEST_WIFI_PASS: &str = "correct horse";

impl HubProcess {
    /// Creates the owner `username` with `password` in `data`, starts the hub on free
    /// loopback ports (TLS unless `insecure`) and logs in.
    pub fn start(
        bin: &Path,
        data: &Path,
        insecure: bool,
        username: &str,
        password: &str,
    ) -> Result<HubProcess> {
        let options = HubOptions {
            insecure,
            ..HubOptions::default()
        };
        HubProcess::start_with(bin, data, &options, username, password)
    }

    /// The hub a test usually wants: TLS, in `dir/hub`, with a test owner.
    pub fn start_for_test(bin: &Path, dir: &Path) -> Result<HubProcess> {
        HubProcess::start(bin, &dir.join("hub"), false, TEST_OWNER, TEST_PASSWORD)
    }

    /// [`HubProcess::start`] with more options.
    pub fn start_with(
        bin: &Path,
        data: &Path,
        options: &HubOptions,
        username: &str,
        password: &str,
    ) -> Result<HubProcess> {
        std::fs::create_dir_all(data).map_err(|e| err(format!("{}: {e}", data.display())))?;
        owner_command(bin, data, &["create", "--username", username], password)?;
        HubProcess::restart_with(bin, data, options, username, password)
    }

    /// Gives the owner of the (stopped) hub in `data` a new password.
    pub fn reset_owner_password(bin: &Path, data: &Path, password: &str) -> Result<()> {
        owner_command(bin, data, &["reset-password"], password)
    }

    /// Starts the hub on an existing data folder (owner already there).
    pub fn restart(
        bin: &Path,
        data: &Path,
        insecure: bool,
        username: &str,
        password: &str,
    ) -> Result<HubProcess> {
        let options = HubOptions {
            insecure,
            ..HubOptions::default()
        };
        HubProcess::restart_with(bin, data, &options, username, password)
    }

    /// [`HubProcess::restart`] with more options.
    pub fn restart_with(
        bin: &Path,
        data: &Path,
        options: &HubOptions,
        username: &str,
        password: &str,
    ) -> Result<HubProcess> {
        let insecure = options.insecure;
        let mut args: Vec<String> = vec![
            "hub".into(),
            "--data".into(),
            data.display().to_string(),
            "--http".into(),
            options.http.clone().unwrap_or_else(|| "127.0.0.1:0".into()),
            "--mqtt".into(),
            options.mqtt.clone().unwrap_or_else(|| "127.0.0.1:0".into()),
        ];
        if insecure {
            args.push("--insecure".into());
        }
        args.extend(options.extra.iter().cloned());
        let (mut process, lines) = Process::start_following(bin, &args, &log_path(data))?;
        let wait = Duration::from_secs(60);
        let (Some(http_url), Some(mqtt_url)) = (
            lines.value_of("http_url", wait),
            lines.value_of("mqtt_url", wait),
        ) else {
            process.kill9();
            return Err(err(format!(
                "the hub printed no http_url/mqtt_url; see {}",
                log_path(data).display()
            )));
        };
        let cert_pem = if insecure {
            None
        } else {
            Some(
                std::fs::read_to_string(data.join("hub-cert.pem"))
                    .map_err(|e| err(format!("hub certificate: {e}")))?,
            )
        };
        let anonymous = Api::new(&http_url, cert_pem.as_deref())?;
        let token = api_token(&anonymous, username, password)?;
        let api = anonymous.with_bearer(&token);
        Ok(HubProcess {
            process,
            _lines: lines,
            http_url,
            mqtt_url,
            data: data.to_path_buf(),
            cert_pem,
            api,
        })
    }

    /// Pairs a camera through the API (docs/contracts.md, "Pairing").
    pub fn pair(
        &self,
        camera: &CameraProcess,
        name: &str,
        ssid: &str,
        pass: &str,
    ) -> Result<(u16, Value)> {
        self.api.post(
            "/api/v1/cameras",
            &json!({
                "serial": camera.serial,
                "pairing_code": camera.pairing_code,
                "name": name,
                "profile": camera.profile,
                "wifi": {"ssid": ssid, "passphrase": pass},
                "provision_url": camera.local_url,
            }),
        )
    }

    /// The hub's computed availability of a camera (`online`, `offline`, ...).
    pub fn availability(&self, device_id: &str) -> Option<String> {
        let v = self.api.get(&format!("/api/v1/cameras/{device_id}")).ok()?;
        v.get("availability")
            .and_then(Value::as_str)
            .map(str::to_string)
    }

    /// Waits until the hub shows `want` for the camera (panics naming what it shows
    /// after `secs`); returns how long that took.
    pub fn wait_availability(&self, cam: &CameraProcess, want: &str, secs: u64) -> Duration {
        let start = Instant::now();
        let seen = wait_until(Duration::from_secs(secs), || {
            (self.availability(&cam.device_id).as_deref() == Some(want)).then_some(())
        });
        assert!(
            seen.is_some(),
            "the hub never saw {} {want} (it says {:?})",
            cam.device_id,
            self.availability(&cam.device_id)
        );
        start.elapsed()
    }

    /// Pairs `cam` over the API and waits until it is online at the hub and dark.
    pub fn pair_and_wait(&self, cam: &CameraProcess, ssid: &str, pass: &str) {
        cam.wait_light("red_slow_blink", 30);
        let (status, body) = self
            .pair(cam, &cam.serial, ssid, pass)
            .expect("pairing call");
        assert_eq!(status, 202, "{body}");
        self.wait_availability(cam, "online", 30);
        cam.wait_light("off", 20);
    }

    pub fn clips(&self, device_id: &str) -> Vec<Value> {
        self.api
            .get(&format!("/api/v1/cameras/{device_id}/clips"))
            .ok()
            .and_then(|v| v.get("clips").and_then(Value::as_array).cloned())
            .unwrap_or_default()
    }

    pub fn events(&self, device_id: &str) -> Vec<Value> {
        let v = self
            .api
            .get(&format!("/api/v1/cameras/{device_id}/events"))
            .unwrap_or(Value::Null);
        v.get("events")
            .and_then(Value::as_array)
            .cloned()
            .or_else(|| v.as_array().cloned())
            .unwrap_or_default()
    }

    pub fn pid(&self) -> u32 {
        self.process.pid()
    }

    /// SIGKILL.
    pub fn kill9(&mut self) {
        self.process.kill9();
    }

    /// SIGTERM, then SIGKILL after 5 s.
    pub fn stop(&mut self) {
        self.process.stop();
    }
}

/// `watchlight hub --data DATA owner ARGS`, the password on standard input.
fn owner_command(bin: &Path, data: &Path, args: &[&str], password: &str) -> Result<()> {
    let args: Vec<&str> = std::iter::once("owner")
        .chain(args.iter().copied())
        .collect();
    hub_command(bin, data, &args, Some(password))
}

/// Logs in and makes an API token (sessions are cookies; scripts use tokens).
fn api_token(api: &Api, username: &str, password: &str) -> Result<String> {
    let url = format!("{}/api/v1/login", api.base);
    let resp = api
        .client
        .post(&url)
        .json(&json!({"username": username, "password": password}))
        .send()
        .map_err(|e| err(format!("POST {url}: {e}")))?;
    if !resp.status().is_success() {
        return Err(err(format!("login refused: {}", resp.status())));
    }
    let cookie = resp
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|h| h.to_str().ok())
        .filter_map(|c| c.split(';').next())
        .collect::<Vec<_>>()
        .join("; ");
    let url = format!("{}/api/v1/tokens", api.base);
    let resp = api
        .client
        .post(&url)
        .header("cookie", cookie)
        .json(&json!({"name": "harness"}))
        .send()
        .map_err(|e| err(format!("POST {url}: {e}")))?;
    let v: Value = resp.json().map_err(|e| err(format!("POST {url}: {e}")))?;
    v.get("token")
        .and_then(Value::as_str)
        .map(str::to_string)
        .ok_or_else(|| err(format!("no API token in {v}")))
}

/// A running `watchlight camera --sim`.
pub struct CameraProcess {
    process: Process,
    lines: Lines,
    pub serial: String,
    pub profile: String,
    pub device_id: String,
    pub local_url: String,
    pub pairing_code: String,
    pub data: PathBuf,
    local: Api,
}

impl CameraProcess {
    /// The camera a test usually wants: data in `dir/serial`, the test access point
    /// ([`TEST_SSID`]); `insecure` for a hub started with `--insecure`.
    pub fn start_for_test(
        bin: &Path,
        dir: &Path,
        profile: &str,
        serial: &str,
        insecure: bool,
    ) -> Result<CameraProcess> {
        let ap = (TEST_SSID, TEST_WIFI_PASS);
        CameraProcess::start(bin, profile, serial, &dir.join(serial), ap, insecure)
    }

    /// Starts a simulated camera whose access point is `ssid`/`pass`.
    pub fn start(
        bin: &Path,
        profile: &str,
        serial: &str,
        data: &Path,
        ap: (&str, &str),
        insecure: bool,
    ) -> Result<CameraProcess> {
        let mut args: Vec<String> = [
            "camera",
            "--sim",
            "--profile",
            profile,
            "--serial",
            serial,
            "--data",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        args.push(data.display().to_string());
        args.extend([
            "--wifi-ssid".into(),
            ap.0.into(),
            "--wifi-pass".into(),
            ap.1.into(),
        ]);
        if insecure {
            args.push("--insecure".into());
        }
        std::fs::create_dir_all(data).map_err(|e| err(format!("{}: {e}", data.display())))?;
        let (mut process, lines) = Process::start_following(bin, &args, &log_path(data))?;
        let wait = Duration::from_secs(60);
        let (Some(local_url), Some(pairing_code), Some(device_id)) = (
            lines.value_of("provision_url", wait),
            lines.value_of("pairing_code", wait),
            lines.value_of("device_id", wait),
        ) else {
            process.kill9();
            return Err(err(format!(
                "camera {serial} printed no provision_url; see {}",
                log_path(data).display()
            )));
        };
        let local = Api::new(&local_url, None)?;
        Ok(CameraProcess {
            process,
            lines,
            serial: serial.into(),
            profile: profile.into(),
            device_id,
            local_url,
            pairing_code,
            data: data.to_path_buf(),
            local,
        })
    }

    /// `GET /sim/status`.
    pub fn status(&self) -> Result<Value> {
        self.local.get("/sim/status")
    }

    pub fn field(&self, name: &str) -> Option<String> {
        self.status()
            .ok()?
            .get(name)
            .and_then(Value::as_str)
            .map(str::to_string)
    }

    /// `POST /sim/<what>`.
    pub fn sim(&self, what: &str, body: Value) -> Result<()> {
        match self.local.post(&format!("/sim/{what}"), &body)? {
            (200, _) => Ok(()),
            (s, v) => Err(err(format!("POST /sim/{what}: {s} {v}"))),
        }
    }

    /// Every stdout line so far (light changes, clips).
    pub fn lines(&self) -> Vec<String> {
        self.lines.snapshot()
    }

    /// Waits until the camera shows light `want` (panics with the lights it showed
    /// after `secs`).
    pub fn wait_light(&self, want: &str, secs: u64) {
        let seen = wait_until(Duration::from_secs(secs), || {
            (self.field("light_id").as_deref() == Some(want)).then_some(())
        });
        assert!(
            seen.is_some(),
            "{} never showed {want}; lights so far: {:?}",
            self.serial,
            self.light_history()
        );
    }

    /// The light ids the camera showed, in order, without repeats.
    pub fn light_history(&self) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for line in self.lines() {
            if let Some(id) = line
                .split_whitespace()
                .find_map(|w| w.strip_prefix("light="))
                && out.last().map(String::as_str) != Some(id)
            {
                out.push(id.to_string());
            }
        }
        out
    }

    pub fn pid(&self) -> u32 {
        self.process.pid()
    }

    /// SIGKILL: the process dies without a word, as a camera whose power is cut.
    pub fn kill9(&mut self) {
        self.process.kill9();
    }

    pub fn stop(&mut self) {
        self.process.stop();
    }
}

/// A temporary folder for one test or demo run, removed when dropped.
pub fn scratch_dir(prefix: &str) -> Result<tempfile::TempDir> {
    tempfile::Builder::new()
        .prefix(prefix)
        .tempdir()
        .map_err(|e| err(format!("cannot make a temporary folder: {e}")))
}
