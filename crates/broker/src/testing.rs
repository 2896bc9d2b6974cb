//! A private Mosquitto for tests of the external-broker mode: started from a generated
//! configuration on a free loopback port, killed when dropped. It never touches the
//! machine's own Mosquitto (port 1883, `/etc/mosquitto`).

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::BrokerError;
use crate::external::{MosquittoFiles, MosquittoSetup};

/// Where CI and Debian install it.
pub const MOSQUITTO: &str = "/usr/sbin/mosquitto";

const START_ATTEMPTS: usize = 5;
const START_TIMEOUT: Duration = Duration::from_secs(5);

/// A running private Mosquitto.
#[derive(Debug)]
pub struct MosquittoProcess {
    child: Child,
    setup: MosquittoSetup,
    dir: PathBuf,
    files: MosquittoFiles,
    log: PathBuf,
}

impl MosquittoProcess {
    /// Writes `setup`'s files into `dir` with a free port on 127.0.0.1 (the port of
    /// `setup.listen` is ignored) and starts Mosquitto on them. A port taken between
    /// choosing and binding is retried with another. Returns the process and its port.
    pub fn start(
        dir: &Path,
        setup: &MosquittoSetup,
    ) -> Result<(MosquittoProcess, u16), BrokerError> {
        let mut last_error = String::new();
        for _ in 0..START_ATTEMPTS {
            let port = free_port()?;
            let mut setup = setup.clone();
            setup.listen = SocketAddr::from(([127, 0, 0, 1], port));
            let files = setup.write(dir)?;
            let log = dir.join("mosquitto.log");
            let log_file = std::fs::File::create(&log).map_err(|source| BrokerError::Io {
                what: "creating",
                path: log.clone(),
                source,
            })?;
            let child = Command::new(MOSQUITTO)
                .arg("-c")
                .arg(&files.config)
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(log_file)
                .spawn()
                .map_err(|e| {
                    BrokerError::Mosquitto(format!(
                        "cannot run {MOSQUITTO} (apt-get install mosquitto): {e}"
                    ))
                })?;
            let mut process = MosquittoProcess {
                child,
                setup,
                dir: dir.to_path_buf(),
                files,
                log,
            };
            match process.wait_until_listening(port) {
                Ok(()) => return Ok((process, port)),
                Err(e) => last_error = e,
            }
        }
        Err(BrokerError::Mosquitto(format!(
            "mosquitto did not start after {START_ATTEMPTS} attempts: {last_error}"
        )))
    }

    pub fn files(&self) -> &MosquittoFiles {
        &self.files
    }

    pub fn port(&self) -> u16 {
        self.setup.listen.port()
    }

    /// Mosquitto's log so far (stderr).
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Rewrites the files with `users` (e.g. a newly paired device) and makes Mosquitto
    /// reload them (SIGHUP), as the hub does in external mode.
    pub fn set_users(
        &mut self,
        users: Vec<crate::external::MosquittoUser>,
    ) -> Result<(), BrokerError> {
        self.setup.users = users;
        self.files = self.setup.write(&self.dir)?;
        let status = Command::new("kill")
            .arg("-HUP")
            .arg(self.child.id().to_string())
            .status()
            .map_err(|e| BrokerError::Mosquitto(format!("cannot signal mosquitto: {e}")))?;
        if !status.success() {
            return Err(BrokerError::Mosquitto(
                "mosquitto is no longer running".into(),
            ));
        }
        // Mosquitto reloads on its next loop turn; give it that turn.
        std::thread::sleep(Duration::from_millis(300));
        Ok(())
    }

    fn wait_until_listening(&mut self, port: u16) -> Result<(), String> {
        let deadline = Instant::now() + START_TIMEOUT;
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Err(format!("exited with {status}: {}", self.log().trim()));
            }
            if TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        Err(format!("not listening on {addr} within {START_TIMEOUT:?}"))
    }
}

impl Drop for MosquittoProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> Result<u16, BrokerError> {
    let listener = TcpListener::bind(("127.0.0.1", 0)).map_err(|source| BrokerError::Io {
        what: "binding a probe socket on",
        path: PathBuf::from("127.0.0.1:0"),
        source,
    })?;
    listener
        .local_addr()
        .map(|a| a.port())
        .map_err(|source| BrokerError::Io {
            what: "reading the probe socket's address on",
            path: PathBuf::from("127.0.0.1:0"),
            source,
        })
}
