//! The hub's hand on an external Mosquitto's password file (`watchlight hub --mqtt-url
//! ... --mosquitto-passwd FILE --mosquitto-pid-file FILE`).
//!
//! With the embedded broker the hub lets a camera in by adding its token's SHA-256 to
//! an in-memory table. Mosquitto reads users from a file instead, so the hub edits that
//! file — one `user:$7$...` line per paired camera, in `mosquitto_passwd`'s own hash
//! format — and makes Mosquitto reload it with `SIGHUP`, the documented way to change
//! users without dropping connections. Lines of users the hub did not write (its own
//! `hub` user, an operator's other clients) are kept as they are.
//!
//! Every rewrite goes through a temporary file and a rename (mode 0600), so Mosquitto
//! never reads half a file and a crash never loses the other users.

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use watchlight_protocol::topics::is_valid_id;

use crate::BrokerError;
use crate::acl::HUB_USER;
use crate::external::mosquitto_password_hash;
use crate::tls::write_atomically;

/// A Mosquitto password file the hub manages, and how to make Mosquitto reload it.
#[derive(Debug)]
pub struct PasswordFile {
    path: PathBuf,
    /// Mosquitto's `pid_file`; `None`: the operator reloads Mosquitto by other means.
    pid_file: Option<PathBuf>,
    /// One edit at a time: two pairings at once must not lose each other's line.
    edit: Mutex<()>,
}

impl PasswordFile {
    pub fn new(path: impl Into<PathBuf>, pid_file: Option<PathBuf>) -> PasswordFile {
        PasswordFile {
            path: path.into(),
            pid_file,
            edit: Mutex::new(()),
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Lets `device` log in with `token` (a fresh salted hash replaces any older line)
    /// and reloads Mosquitto.
    pub fn set(&self, device: &str, token: &str) -> Result<(), BrokerError> {
        check_device(device)?;
        let line = format!("{device}:{}", mosquitto_password_hash(token));
        self.edit_lines(|lines| {
            lines.retain(|l| user_of(l) != Some(device));
            lines.push(line);
        })?;
        self.reload()
    }

    /// Removes `device`'s line (if any) and reloads Mosquitto; its next login is refused.
    /// Connections already open stay until they drop (Mosquitto's behaviour on reload).
    pub fn remove(&self, device: &str) -> Result<(), BrokerError> {
        check_device(device)?;
        let mut removed = false;
        self.edit_lines(|lines| {
            let before = lines.len();
            lines.retain(|l| user_of(l) != Some(device));
            removed = lines.len() != before;
        })?;
        if removed { self.reload() } else { Ok(()) }
    }

    /// Removes the line of every camera (`cam-...` user) that `keep` rejects: after a
    /// hub reset the cameras the hub forgot must be refused, so that they fall back to
    /// setup (SPEC §4.2). Returns how many were removed.
    pub fn retain_cameras(&self, keep: impl Fn(&str) -> bool) -> Result<usize, BrokerError> {
        let mut removed = 0;
        self.edit_lines(|lines| {
            let before = lines.len();
            lines.retain(|l| match user_of(l) {
                Some(u) if u.starts_with("cam-") => keep(u),
                _ => true,
            });
            removed = before - lines.len();
        })?;
        if removed > 0 {
            self.reload()?;
        }
        Ok(removed)
    }

    /// The user names in the file, in order.
    pub fn users(&self) -> Result<Vec<String>, BrokerError> {
        Ok(self
            .read_lines()?
            .iter()
            .filter_map(|l| user_of(l).map(str::to_string))
            .collect())
    }

    fn read_lines(&self) -> Result<Vec<String>, BrokerError> {
        match std::fs::read_to_string(&self.path) {
            Ok(text) => Ok(text
                .lines()
                .filter(|l| !l.trim().is_empty())
                .map(str::to_string)
                .collect()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                Err(BrokerError::Mosquitto(format!(
                    "the Mosquitto password file {} does not exist (make it with 'watchlight hub mosquitto-config')",
                    self.path.display()
                )))
            }
            Err(source) => Err(BrokerError::Io {
                what: "reading",
                path: self.path.clone(),
                source,
            }),
        }
    }

    fn edit_lines(&self, f: impl FnOnce(&mut Vec<String>)) -> Result<(), BrokerError> {
        let _one_at_a_time = self.edit.lock().unwrap_or_else(|p| p.into_inner());
        let mut lines = self.read_lines()?;
        f(&mut lines);
        let mut text = lines.join("\n");
        text.push('\n');
        write_atomically(&self.path, &text, 0o600)
    }

    /// `SIGHUP` to the Mosquitto named by the pid file.
    fn reload(&self) -> Result<(), BrokerError> {
        let Some(pid_file) = &self.pid_file else {
            return Ok(());
        };
        let text = std::fs::read_to_string(pid_file).map_err(|source| BrokerError::Io {
            what: "reading Mosquitto's pid file",
            path: pid_file.clone(),
            source,
        })?;
        let pid: u32 = text.trim().parse().map_err(|_| {
            BrokerError::Mosquitto(format!(
                "Mosquitto's pid file {} holds {:?}, not a process id",
                pid_file.display(),
                text.trim()
            ))
        })?;
        // The `kill` utility rather than a libc binding: no unsafe code for one signal.
        let status = std::process::Command::new("kill")
            .args(["-HUP", &pid.to_string()])
            .stderr(std::process::Stdio::null())
            .status()
            .map_err(|e| BrokerError::Mosquitto(format!("cannot signal Mosquitto: {e}")))?;
        if !status.success() {
            return Err(BrokerError::Mosquitto(format!(
                "Mosquitto (pid {pid} from {}) is not running: the new credentials are written but not loaded",
                pid_file.display()
            )));
        }
        Ok(())
    }
}

fn check_device(device: &str) -> Result<(), BrokerError> {
    if device == HUB_USER || !is_valid_id(device) {
        return Err(BrokerError::InvalidDeviceId(device.to_string()));
    }
    Ok(())
}

fn user_of(line: &str) -> Option<&str> {
    line.split_once(':').map(|(u, _)| u)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file_with(dir: &Path, text: &str) -> PasswordFile {
        let path = dir.join("mosquitto.passwd");
        std::fs::write(&path, text).unwrap();
        PasswordFile::new(path, None)
    }

    #[test]
    fn set_replaces_the_device_line_and_keeps_everyone_else() {
        let dir = tempfile::tempdir().unwrap();
        let f = file_with(dir.path(), "hub:$7$101$a$b\nops:$7$101$c$d\n");
        f.set("cam-1", "token-one").unwrap();
        f.set("cam-2", "token-two").unwrap();
        f.set("cam-1", "token-three").unwrap();
        assert_eq!(f.users().unwrap(), ["hub", "ops", "cam-2", "cam-1"]);
        let text = std::fs::read_to_string(f.path()).unwrap();
        assert!(
            text.starts_with("hub:$7$101$a$b\nops:$7$101$c$d\n"),
            "{text}"
        );
        assert!(!text.contains("token"), "only hashes are written: {text}");
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(f.path()).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }

    #[test]
    fn remove_and_retain_touch_only_cameras() {
        let dir = tempfile::tempdir().unwrap();
        let f = file_with(dir.path(), "hub:$7$101$a$b\n");
        for d in ["cam-1", "cam-2", "cam-3"] {
            f.set(d, "t").unwrap();
        }
        f.remove("cam-2").unwrap();
        f.remove("cam-9").unwrap();
        assert_eq!(f.retain_cameras(|d| d == "cam-3").unwrap(), 1);
        assert_eq!(f.users().unwrap(), ["hub", "cam-3"]);
    }

    #[test]
    fn bad_names_and_a_missing_file_are_named_errors() {
        let dir = tempfile::tempdir().unwrap();
        let f = file_with(dir.path(), "hub:x\n");
        assert!(matches!(
            f.set("hub", "t"),
            Err(BrokerError::InvalidDeviceId(_))
        ));
        assert!(matches!(
            f.set("cam/#", "t"),
            Err(BrokerError::InvalidDeviceId(_))
        ));
        let missing = PasswordFile::new(dir.path().join("nope"), None);
        let err = missing.set("cam-1", "t").unwrap_err().to_string();
        assert!(err.contains("does not exist"), "{err}");
    }

    #[test]
    fn a_dead_mosquitto_is_reported_after_the_file_is_written() {
        let dir = tempfile::tempdir().unwrap();
        let pid_file = dir.path().join("mosquitto.pid");
        // A pid that cannot be running: above the kernel's pid_max ceiling.
        std::fs::write(&pid_file, "4194304999\n").unwrap();
        let path = dir.path().join("mosquitto.passwd");
        std::fs::write(&path, "hub:x\n").unwrap();
        let f = PasswordFile::new(&path, Some(pid_file));
        let err = f.set("cam-1", "t").unwrap_err().to_string();
        assert!(err.contains("not running"), "{err}");
        assert_eq!(f.users().unwrap(), ["hub", "cam-1"]);
    }
}
