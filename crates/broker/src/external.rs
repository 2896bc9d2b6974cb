//! External-broker mode (`watchlight hub --mqtt-url`): the same permissions as the embedded
//! broker, written as a Mosquitto configuration — a password file, an ACL file of per-user
//! patterns (`%u` is the MQTT user name, which is the device id) and a `mosquitto.conf`.
//!
//! Mosquitto differs from the embedded broker in two ways worth knowing: it grants a
//! subscription to `#` but then delivers only what the ACL lets the user read (the effect
//! is the same: nothing foreign arrives), and it does not tie a device's client id to its
//! user name. It does refuse a CONNECT whose last will the ACL forbids.

use std::fmt::Write as _;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use rand::RngCore;
use sha2::Sha512;
use watchlight_protocol::topics::{DeviceTopic, DeviceTopics, is_valid_id};

use crate::BrokerError;
use crate::acl::{HOME_ASSISTANT_ROOT, HUB_USER};
use crate::tls::write_atomically;

/// Mosquitto 2's password hash parameters (`$7$`: PBKDF2-SHA512, as `mosquitto_passwd`).
const PBKDF2_ITERATIONS: u32 = 101;
const SALT_BYTES: usize = 12;

pub const CONFIG_FILE: &str = "mosquitto.conf";
pub const PASSWORD_FILE: &str = "mosquitto.passwd";
pub const ACL_FILE: &str = "mosquitto.acl";
/// Where Mosquitto writes its process id: the hub reads it to send `SIGHUP` after it
/// changes the password file ([`crate::passwd::PasswordFile`]).
pub const PID_FILE: &str = "mosquitto.pid";

/// A line's worth of Mosquitto password hash for `token`, salted afresh:
/// `$7$101$<salt>$<hash>`. The hub computes it when it issues a token (it keeps only
/// hashes afterwards) and stores it beside the token's SHA-256.
pub fn mosquitto_password_hash(token: &str) -> String {
    let mut salt = [0u8; SALT_BYTES];
    rand::thread_rng().fill_bytes(&mut salt);
    password_hash_with_salt(token, &salt)
}

fn password_hash_with_salt(token: &str, salt: &[u8]) -> String {
    let mut hash = [0u8; 64];
    pbkdf2::pbkdf2_hmac::<Sha512>(token.as_bytes(), salt, PBKDF2_ITERATIONS, &mut hash);
    format!(
        "$7${PBKDF2_ITERATIONS}${}${}",
        BASE64.encode(salt),
        BASE64.encode(hash)
    )
}

/// A Mosquitto user: its name and a hash from [`mosquitto_password_hash`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MosquittoUser {
    pub name: String,
    pub password_hash: String,
}

impl MosquittoUser {
    /// A user with a fresh hash of `token`.
    pub fn new(name: impl Into<String>, token: &str) -> Self {
        MosquittoUser {
            name: name.into(),
            password_hash: mosquitto_password_hash(token),
        }
    }
}

/// Certificate and key files for a TLS listener.
#[derive(Debug, Clone)]
pub struct TlsFiles {
    pub cert: PathBuf,
    pub key: PathBuf,
}

/// Everything a Mosquitto for one home needs.
#[derive(Debug, Clone)]
pub struct MosquittoSetup {
    pub home: String,
    /// The listener. Mosquitto cannot take port 0; [`crate::testing`] picks a free port.
    pub listen: SocketAddr,
    pub tls: Option<TlsFiles>,
    /// The hub (user `hub`) and every paired device.
    pub users: Vec<MosquittoUser>,
    /// Where Mosquitto keeps retained messages and sessions; `None`: memory only.
    pub persistence_dir: Option<PathBuf>,
}

/// The files [`MosquittoSetup::write`] produced.
#[derive(Debug, Clone)]
pub struct MosquittoFiles {
    pub config: PathBuf,
    pub password_file: PathBuf,
    pub acl_file: PathBuf,
    /// Written by Mosquitto itself once it runs.
    pub pid_file: PathBuf,
}

impl MosquittoSetup {
    /// Writes `mosquitto.conf`, `mosquitto.passwd` (mode 0600) and `mosquitto.acl` into
    /// `dir`, each atomically. Rewriting them and sending Mosquitto `SIGHUP` applies new
    /// users without a restart.
    pub fn write(&self, dir: &Path) -> Result<MosquittoFiles, BrokerError> {
        if !is_valid_id(&self.home) {
            return Err(BrokerError::InvalidHomeId(self.home.clone()));
        }
        if !self.users.iter().any(|u| u.name == HUB_USER) {
            return Err(BrokerError::Mosquitto(
                "the Mosquitto users must include the hub (user 'hub')".into(),
            ));
        }
        for user in &self.users {
            if user.name != HUB_USER && !is_valid_id(&user.name) {
                return Err(BrokerError::InvalidDeviceId(user.name.clone()));
            }
            if user.password_hash.contains(['\n', ':']) {
                return Err(BrokerError::Mosquitto(format!(
                    "the password hash of {:?} is not one line of $7$ format",
                    user.name
                )));
            }
        }
        std::fs::create_dir_all(dir).map_err(|source| BrokerError::Io {
            what: "creating",
            path: dir.to_path_buf(),
            source,
        })?;
        let files = MosquittoFiles {
            config: dir.join(CONFIG_FILE),
            password_file: dir.join(PASSWORD_FILE),
            acl_file: dir.join(ACL_FILE),
            pid_file: dir.join(PID_FILE),
        };
        write_atomically(&files.password_file, &self.password_file_text(), 0o600)?;
        write_atomically(&files.acl_file, &acl_text(&self.home), 0o644)?;
        write_atomically(&files.config, &self.config_text(&files), 0o644)?;
        Ok(files)
    }

    fn password_file_text(&self) -> String {
        self.users
            .iter()
            .map(|u| format!("{}:{}\n", u.name, u.password_hash))
            .collect()
    }

    fn config_text(&self, files: &MosquittoFiles) -> String {
        let mut conf = String::from("# Generated by watchlight; rewritten on every change.\n");
        let _ = writeln!(conf, "per_listener_settings false");
        let _ = writeln!(conf, "allow_anonymous false");
        let _ = writeln!(conf, "password_file {}", files.password_file.display());
        let _ = writeln!(conf, "acl_file {}", files.acl_file.display());
        let _ = writeln!(conf, "pid_file {}", files.pid_file.display());
        if running_as_root() {
            // Mosquitto started as root drops to user `mosquitto`, who could not read
            // these files; a private instance stays with its caller.
            let _ = writeln!(conf, "user root");
        }
        match &self.persistence_dir {
            Some(dir) => {
                let _ = writeln!(conf, "persistence true");
                let _ = writeln!(conf, "persistence_location {}/", dir.display());
            }
            None => {
                let _ = writeln!(conf, "persistence false");
            }
        }
        // The hub reads every camera's messages through one session. Mosquitto's default
        // queue of 1,000 messages per client is gone in a moment when thousands of
        // cameras reconnect at once (each says `online`, its state and telemetry), and
        // past it Mosquitto drops what the hub should hear, last wills included. A
        // message is a few hundred bytes: 200,000 of them are tens of MiB.
        let _ = writeln!(conf, "max_queued_messages 200000");
        let _ = writeln!(conf, "log_dest stderr");
        let _ = writeln!(conf, "log_type error");
        let _ = writeln!(conf, "log_type warning");
        let _ = writeln!(conf, "log_type notice");
        let _ = writeln!(conf, "listener {} {}", self.listen.port(), self.listen.ip());
        if let Some(tls) = &self.tls {
            let _ = writeln!(conf, "certfile {}", tls.cert.display());
            let _ = writeln!(conf, "keyfile {}", tls.key.display());
        }
        conf
    }
}

/// The ACL: the hub may read and write everything under `watchlight/v1/#` and
/// `homeassistant/#`; every other user (`%u`, its device id) may write only its own
/// reports and read only its own `settings` and `cmd/#`.
pub fn acl_text(home: &str) -> String {
    let mut acl = String::from("# Generated by watchlight (SPEC §5).\n");
    let root_all = format!("{}/#", watchlight_protocol::topics::ROOT);
    let _ = writeln!(acl, "user {HUB_USER}");
    let _ = writeln!(acl, "topic readwrite {root_all}");
    let _ = writeln!(acl, "topic readwrite {HOME_ASSISTANT_ROOT}/#");
    let _ = writeln!(acl);
    let _ = writeln!(acl, "# Devices: %u is the device id.");
    let device = DeviceTopics::new(home, "%u");
    for topic in DeviceTopic::ALL {
        let _ = writeln!(acl, "pattern write {}", device.topic(topic));
    }
    let _ = writeln!(acl, "pattern read {}", device.settings());
    let _ = writeln!(acl, "pattern read {}", device.cmd_filter());
    acl
}

fn running_as_root() -> bool {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata("/proc/self").is_ok_and(|m| m.uid() == 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn our_hash_is_mosquitto_passwd_s_hash() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("pw");
        std::fs::write(&file, "").unwrap();
        let status = std::process::Command::new("/usr/bin/mosquitto_passwd")
            .args(["-b", file.to_str().unwrap(), "hub", "s3cret-token"])
            .status()
            .expect("mosquitto_passwd is installed (apt-get install mosquitto)");
        assert!(status.success());
        let line = std::fs::read_to_string(&file).unwrap();
        let theirs = line.trim().strip_prefix("hub:").unwrap();
        let salt_b64 = theirs.split('$').nth(3).unwrap();
        let salt = BASE64.decode(salt_b64).unwrap();
        assert_eq!(password_hash_with_salt("s3cret-token", &salt), theirs);
        assert_ne!(password_hash_with_salt("other", &salt), theirs);
    }

    #[test]
    fn fresh_salt_each_time() {
        assert_ne!(mosquitto_password_hash("t"), mosquitto_password_hash("t"));
    }

    #[test]
    fn acl_names_every_device_topic_and_nothing_broader() {
        let acl = acl_text("home1");
        for leaf in ["availability", "state", "telemetry", "event", "cmd_result"] {
            assert!(
                acl.contains(&format!("pattern write watchlight/v1/home1/%u/{leaf}\n")),
                "{leaf}"
            );
        }
        assert!(acl.contains("pattern read watchlight/v1/home1/%u/settings\n"));
        assert!(acl.contains("pattern read watchlight/v1/home1/%u/cmd/#\n"));
        let device_lines: Vec<&str> = acl.lines().filter(|l| l.starts_with("pattern")).collect();
        assert_eq!(device_lines.len(), 7, "{acl}");
        assert!(!acl.contains("readwrite watchlight/v1/home1/%u"));
    }

    #[test]
    fn writes_files_with_a_private_password_file() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let setup = MosquittoSetup {
            home: "home1".into(),
            listen: "127.0.0.1:18830".parse().unwrap(),
            tls: None,
            users: vec![
                MosquittoUser::new("hub", "h"),
                MosquittoUser::new("cam-1", "c"),
            ],
            persistence_dir: None,
        };
        let files = setup.write(dir.path()).unwrap();
        let mode = std::fs::metadata(&files.password_file)
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
        let conf = std::fs::read_to_string(&files.config).unwrap();
        assert!(conf.contains("allow_anonymous false\n"));
        assert!(conf.contains("listener 18830 127.0.0.1\n"));
        // The hub hears thousands of cameras through one session.
        assert!(conf.contains("max_queued_messages 200000\n"));
        let pw = std::fs::read_to_string(&files.password_file).unwrap();
        assert!(pw.starts_with("hub:$7$101$"), "{pw}");
        assert_eq!(pw.lines().count(), 2);
    }

    #[test]
    fn bad_setups_are_named() {
        let dir = tempfile::tempdir().unwrap();
        let mut setup = MosquittoSetup {
            home: "home1".into(),
            listen: "127.0.0.1:18830".parse().unwrap(),
            tls: None,
            users: vec![MosquittoUser::new("cam-1", "c")],
            persistence_dir: None,
        };
        let err = setup.write(dir.path()).unwrap_err();
        assert!(err.to_string().contains("must include the hub"), "{err}");
        setup.users.push(MosquittoUser::new("hub", "h"));
        setup.users.push(MosquittoUser::new("cam/#", "x"));
        let err = setup.write(dir.path()).unwrap_err();
        assert!(matches!(err, BrokerError::InvalidDeviceId(_)), "{err}");
        assert!(!dir.path().join(CONFIG_FILE).exists(), "no partial write");
    }
}
