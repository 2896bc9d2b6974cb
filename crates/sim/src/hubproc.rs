//! The hub under test: a `watchlight hub` child process on fixed loopback ports (so
//! cameras find it again after a restart), its owner and API token, `kill -9` and
//! SIGTERM, and what it costs (CPU seconds and peak RSS from `/proc`).

use serde_json::{Value, json};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

#[derive(Debug, thiserror::Error)]
#[error("hub: {0}")]
pub struct HubError(pub String);

pub(crate) fn err(msg: impl Into<String>) -> HubError {
    HubError(msg.into())
}

/// A loopback port free now.
pub(crate) fn free_port() -> Result<u16, HubError> {
    let l = std::net::TcpListener::bind(("127.0.0.1", 0)).map_err(|e| err(e.to_string()))?;
    l.local_addr()
        .map(|a| a.port())
        .map_err(|e| err(e.to_string()))
}

/// A child process the simulator started (the hub, Mosquitto): stopped when dropped.
pub struct Process {
    child: Child,
}

impl Process {
    pub(crate) fn new(child: Child) -> Process {
        Process { child }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Whether it has exited (and how).
    pub(crate) fn exited(&mut self) -> Option<std::process::ExitStatus> {
        self.child.try_wait().ok().flatten()
    }

    /// SIGKILL: it dies mid-write, as on a power cut.
    pub fn kill9(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// SIGTERM (the hub closes its database, Mosquitto saves its persistence file), then
    /// SIGKILL after 10 s.
    pub fn stop(&mut self) {
        if self.exited().is_some() {
            return;
        }
        let _ = rustix::process::kill_process(
            rustix::process::Pid::from_raw(self.child.id() as i32).expect("a child has a pid"),
            rustix::process::Signal::TERM,
        );
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if self.exited().is_some() {
                return;
            }
            // A child's exit cannot be awaited with a timeout in std; poll it.
            std::thread::sleep(Duration::from_millis(20));
        }
        self.kill9();
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        self.stop();
    }
}

const OWNER: &str = "sim";
/// The simulator's owner password: a throwaway hub in a temporary folder, on loopback.
const PASSWORD: &str = "the fleet simulator's owner";

/// What it takes to start the same hub again.
#[derive(Debug, Clone)]
pub struct HubSpec {
    pub bin: PathBuf,
    pub data: PathBuf,
    pub http: String,
    pub mqtt: String,
    pub insecure: bool,
    /// Arguments that put the hub on an external broker (`--mqtt-url` and what goes
    /// with it); none: the hub's embedded broker on `mqtt`.
    pub broker_args: Vec<String>,
}

/// A running hub.
pub struct Hub {
    process: Process,
    pub http_url: String,
    pub mqtt_url: String,
    pub cert_pem: Option<String>,
}

impl HubSpec {
    /// A hub in `data` on two loopback ports free now.
    pub fn new(bin: &Path, data: &Path, insecure: bool) -> Result<HubSpec, HubError> {
        Ok(HubSpec {
            bin: bin.to_path_buf(),
            data: data.to_path_buf(),
            http: format!("127.0.0.1:{}", free_port()?),
            mqtt: format!("127.0.0.1:{}", free_port()?),
            insecure,
            broker_args: Vec::new(),
        })
    }

    pub fn log_path(&self) -> PathBuf {
        self.data.with_extension("log")
    }

    /// Creates the owner (once, before the first start).
    pub fn create_owner(&self) -> Result<(), HubError> {
        std::fs::create_dir_all(&self.data)
            .map_err(|e| err(format!("{}: {e}", self.data.display())))?;
        let mut owner = Command::new(&self.bin)
            .arg("hub")
            .arg("--data")
            .arg(&self.data)
            .args(["owner", "create", "--username", OWNER])
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| err(format!("cannot start {}: {e}", self.bin.display())))?;
        if let Some(mut stdin) = owner.stdin.take() {
            let _ = writeln!(stdin, "{PASSWORD}");
        }
        let out = owner.wait_with_output().map_err(|e| err(e.to_string()))?;
        if !out.status.success() {
            return Err(err(format!(
                "watchlight hub owner create: {}",
                String::from_utf8_lossy(&out.stderr)
            )));
        }
        Ok(())
    }

    /// Starts the hub and waits until it prints its addresses.
    pub fn start(&self) -> Result<Hub, HubError> {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.log_path())
            .map_err(|e| err(format!("{}: {e}", self.log_path().display())))?;
        let mut args: Vec<String> = vec![
            "hub".into(),
            "--data".into(),
            self.data.display().to_string(),
            "--http".into(),
            self.http.clone(),
        ];
        if self.broker_args.is_empty() {
            args.extend(["--mqtt".into(), self.mqtt.clone()]);
        } else {
            args.extend(self.broker_args.iter().cloned());
        }
        if self.insecure {
            args.push("--insecure".into());
        }
        let mut child = Command::new(&self.bin)
            .args(&args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(log)
            .spawn()
            .map_err(|e| err(format!("cannot start {}: {e}", self.bin.display())))?;
        let stdout = child.stdout.take().expect("piped stdout");
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            // Read to the end so the hub never blocks on a full pipe.
            for line in BufReader::new(stdout).lines().map_while(|l| l.ok()) {
                let _ = tx.send(line);
            }
        });
        let deadline = Instant::now() + Duration::from_secs(60);
        let (mut http_url, mut mqtt_url) = (None, None);
        while http_url.is_none() || mqtt_url.is_none() {
            let left = deadline.saturating_duration_since(Instant::now());
            match rx.recv_timeout(left) {
                Ok(line) => {
                    if let Some(v) = line.strip_prefix("http_url=") {
                        http_url = Some(v.to_string());
                    }
                    if let Some(v) = line.strip_prefix("mqtt_url=") {
                        mqtt_url = Some(v.to_string());
                    }
                }
                Err(_) => {
                    let _ = child.kill();
                    let _ = child.wait();
                    return Err(err(format!(
                        "the hub printed no http_url/mqtt_url; see {}",
                        self.log_path().display()
                    )));
                }
            }
        }
        let cert_pem = if self.insecure {
            None
        } else {
            Some(
                std::fs::read_to_string(self.data.join("hub-cert.pem"))
                    .map_err(|e| err(format!("hub certificate: {e}")))?,
            )
        };
        Ok(Hub {
            process: Process::new(child),
            http_url: http_url.unwrap_or_default(),
            mqtt_url: mqtt_url.unwrap_or_default(),
            cert_pem,
        })
    }
}

impl std::ops::Deref for Hub {
    type Target = Process;
    fn deref(&self) -> &Process {
        &self.process
    }
}

impl std::ops::DerefMut for Hub {
    fn deref_mut(&mut self) -> &mut Process {
        &mut self.process
    }
}

/// CPU time (user + system) and peak resident memory of a process now.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct ProcSample {
    pub cpu_s: f64,
    pub peak_rss_kib: u64,
    pub rss_kib: u64,
}

/// Reads `/proc/PID/stat` (fields 14 and 15, in clock ticks) and `/proc/PID/status`
/// (`VmHWM`, `VmRSS`); `None` once the process is gone.
pub fn sample(pid: u32) -> Option<ProcSample> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    parse_proc(&stat, &status)
}

fn parse_proc(stat: &str, status: &str) -> Option<ProcSample> {
    // The command name (field 2) is in parentheses and may hold spaces.
    let after = &stat[stat.rfind(')')? + 1..];
    let fields: Vec<&str> = after.split_whitespace().collect();
    // `after` starts at field 3, so field N is fields[N - 3].
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    let kib = |key: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(key))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse::<u64>().ok())
    };
    // Linux reports these in USER_HZ, 100 on every architecture it runs on.
    Some(ProcSample {
        cpu_s: (utime + stime) as f64 / 100.0,
        peak_rss_kib: kib("VmHWM:")?,
        rss_kib: kib("VmRSS:").unwrap_or(0),
    })
}

/// The hub's HTTP API with the owner's token and the pinned certificate.
#[derive(Clone)]
pub struct Api {
    pub base: String,
    pub client: reqwest::Client,
    /// A client for the live stream (no overall timeout).
    pub stream_client: reqwest::Client,
    token: Arc<String>,
}

pub fn tls_config(cert_pem: &str) -> Result<Arc<rustls::ClientConfig>, HubError> {
    use rustls::pki_types::CertificateDer;
    use rustls::pki_types::pem::PemObject;
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(cert_pem.as_bytes()) {
        let cert = cert.map_err(|e| err(format!("hub certificate: {e}")))?;
        roots
            .add(cert)
            .map_err(|e| err(format!("hub certificate: {e}")))?;
    }
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .map_err(|e| err(e.to_string()))?
    .with_root_certificates(roots)
    .with_no_client_auth();
    Ok(Arc::new(config))
}

fn client(cert_pem: Option<&str>, timeout: Option<Duration>) -> Result<reqwest::Client, HubError> {
    let mut b = reqwest::Client::builder().connect_timeout(Duration::from_secs(5));
    if let Some(t) = timeout {
        b = b.timeout(t);
    }
    if let Some(pem) = cert_pem {
        b = b.use_preconfigured_tls((*tls_config(pem)?).clone());
    }
    b.build().map_err(|e| err(e.to_string()))
}

impl Api {
    /// Logs in as the simulator's owner and makes an API token.
    pub async fn login(http_url: &str, cert_pem: Option<&str>) -> Result<Api, HubError> {
        let pem = cert_pem;
        let http = client(pem, Some(Duration::from_secs(30)))?;
        let base = http_url.trim_end_matches('/').to_string();
        let resp = http
            .post(format!("{base}/api/v1/login"))
            .json(&json!({"username": OWNER, "password": PASSWORD}))
            .send()
            .await
            .map_err(|e| err(format!("login: {e}")))?;
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
        let v: Value = http
            .post(format!("{base}/api/v1/tokens"))
            .header("cookie", cookie)
            .json(&json!({"name": "sim"}))
            .send()
            .await
            .map_err(|e| err(format!("token: {e}")))?
            .json()
            .await
            .map_err(|e| err(format!("token: {e}")))?;
        let token = v
            .get("token")
            .and_then(Value::as_str)
            .ok_or_else(|| err(format!("no API token in {v}")))?;
        Ok(Api {
            base,
            client: http,
            stream_client: client(pem, None)?,
            token: Arc::new(token.to_string()),
        })
    }

    pub fn token(&self) -> &str {
        &self.token
    }

    pub async fn get(&self, path: &str) -> Result<Value, HubError> {
        let resp = self
            .client
            .get(format!("{}{path}", self.base))
            .bearer_auth(self.token.as_str())
            .send()
            .await
            .map_err(|e| err(format!("GET {path}: {e}")))?;
        let status = resp.status();
        let v: Value = resp.json().await.unwrap_or(Value::Null);
        if status.is_success() {
            Ok(v)
        } else {
            Err(err(format!("GET {path}: {status} {v}")))
        }
    }

    pub async fn post(&self, path: &str, body: &Value) -> Result<(u16, Value), HubError> {
        self.send(reqwest::Method::POST, path, body).await
    }

    pub async fn patch(&self, path: &str, body: &Value) -> Result<(u16, Value), HubError> {
        self.send(reqwest::Method::PATCH, path, body).await
    }

    async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        body: &Value,
    ) -> Result<(u16, Value), HubError> {
        let resp = self
            .client
            .request(method.clone(), format!("{}{path}", self.base))
            .bearer_auth(self.token.as_str())
            .json(body)
            .send()
            .await
            .map_err(|e| err(format!("{method} {path}: {e}")))?;
        let status = resp.status().as_u16();
        Ok((status, resp.json().await.unwrap_or(Value::Null)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proc_files_give_cpu_seconds_and_peak_rss() {
        let stat = "1234 (watch light) S 1 1234 1234 0 -1 4194304 500 0 0 0 250 75 0 0 20 0 9 0 100 1000 200";
        let status = "Name:\twatchlight\nVmHWM:\t  51200 kB\nVmRSS:\t  40960 kB\n";
        let s = parse_proc(stat, status).unwrap();
        assert_eq!(s.cpu_s, 3.25);
        assert_eq!(s.peak_rss_kib, 51200);
        assert_eq!(s.rss_kib, 40960);
        assert_eq!(parse_proc("garbage", status), None);
    }

    #[test]
    fn this_process_can_be_sampled() {
        let s = sample(std::process::id()).unwrap();
        assert!(s.peak_rss_kib > 0);
    }
}
