//! A Mosquitto beside the hub (`broker = "mosquitto"`): configured the way an owner does
//! it (`watchlight hub mosquitto-config`), started before the hub and kept across the
//! hub's restarts, so `broker_restart` can stop the broker alone. The hub runs with
//! `--mqtt-url` and installs each camera's credential in Mosquitto's password file.

use crate::hubproc::{HubError, HubSpec, Process, err, free_port};
use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Where Debian installs it.
const MOSQUITTO: &str = "/usr/sbin/mosquitto";
/// How long Mosquitto may take to listen after it starts.
const START_TIMEOUT: Duration = Duration::from_secs(10);

/// What it takes to start the same Mosquitto again.
#[derive(Debug, Clone)]
pub struct MosquittoSpec {
    pub dir: PathBuf,
    pub listen: SocketAddr,
    pub insecure: bool,
}

/// A running Mosquitto.
pub type Mosquitto = Process;

impl MosquittoSpec {
    /// Writes the configuration for `hub` (its user, the ACL, TLS with the hub's
    /// certificate unless the hub is insecure) into `<hub data>-mosquitto/`, on a
    /// loopback port free now.
    pub fn configure(hub: &HubSpec) -> Result<MosquittoSpec, HubError> {
        let dir = hub.data.with_extension("mosquitto");
        let listen = SocketAddr::from(([127, 0, 0, 1], free_port()?));
        let mut args = vec!["hub".to_string(), "--data".into()];
        args.push(hub.data.display().to_string());
        if hub.insecure {
            args.push("--insecure".into());
        }
        args.extend(["mosquitto-config".into(), "--out".into()]);
        args.push(dir.display().to_string());
        args.extend(["--listen".into(), listen.to_string()]);
        let out = Command::new(&hub.bin)
            .args(&args)
            .stdin(Stdio::null())
            .output()
            .map_err(|e| err(format!("cannot start {}: {e}", hub.bin.display())))?;
        if !out.status.success() {
            return Err(err(format!(
                "watchlight hub mosquitto-config: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            )));
        }
        Ok(MosquittoSpec {
            dir,
            listen,
            insecure: hub.insecure,
        })
    }

    /// The address cameras and the hub use.
    pub fn url(&self) -> String {
        let scheme = if self.insecure { "mqtt" } else { "mqtts" };
        format!("{scheme}://{}", self.listen)
    }

    /// The hub's arguments for this broker: where it is, the password file it adds
    /// cameras to and the pid file of the process it tells to reload.
    pub fn hub_args(&self) -> Vec<String> {
        vec![
            "--mqtt-url".into(),
            self.url(),
            "--mosquitto-passwd".into(),
            self.dir.join("mosquitto.passwd").display().to_string(),
            "--mosquitto-pid-file".into(),
            self.dir.join("mosquitto.pid").display().to_string(),
        ]
    }

    pub fn log_path(&self) -> PathBuf {
        self.dir.join("mosquitto.log")
    }

    /// Starts Mosquitto and waits until it listens.
    pub fn start(&self) -> Result<Mosquitto, HubError> {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.log_path())
            .map_err(|e| err(format!("{}: {e}", self.log_path().display())))?;
        let child = Command::new(MOSQUITTO)
            .arg("-c")
            .arg(self.dir.join("mosquitto.conf"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .map_err(|e| {
                err(format!(
                    "cannot run {MOSQUITTO} (apt-get install mosquitto): {e}"
                ))
            })?;
        let mut broker = Process::new(child);
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            if let Some(status) = broker.exited() {
                return Err(err(format!(
                    "mosquitto exited with {status}; see {}",
                    self.log_path().display()
                )));
            }
            if TcpStream::connect_timeout(&self.listen, Duration::from_millis(200)).is_ok() {
                return Ok(broker);
            }
            if Instant::now() > deadline {
                return Err(err(format!(
                    "mosquitto is not listening on {} after {START_TIMEOUT:?}; see {}",
                    self.listen,
                    self.log_path().display()
                )));
            }
            // Polling a port that opens within milliseconds; nothing to wait on instead.
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}
