//! What a camera keeps in its data folder: the credentials received at provisioning
//! (mode 0600: they hold the device token and the Wi-Fi passphrase) and the core's
//! persisted state. Every write goes through a temporary file, fsync and rename, so a
//! kill -9 leaves the old file or the new one, never half of one.

use serde::{Deserialize, Serialize};
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::path::{Path, PathBuf};
use watchlight_camera::PersistedState;

pub const CREDENTIALS_FILE: &str = "credentials.json";
pub const CORE_FILE: &str = "core.json";
pub const QUEUE_DIR: &str = "queue";
pub const PROVISION_URL_FILE: &str = "provision.url";

#[derive(Debug, thiserror::Error)]
pub enum PersistError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path} is not valid: {reason}")]
    Corrupt { path: PathBuf, reason: String },
}

/// What the hub sent at provisioning (docs/contracts.md, "Pairing").
#[derive(Clone, PartialEq, Serialize, Deserialize)]
pub struct Credentials {
    pub wifi_ssid: String,
    pub wifi_passphrase: String,
    pub home: String,
    pub device_id: String,
    pub token: String,
    pub mqtt_url: String,
    pub http_url: String,
    /// The hub certificate to pin; `None` for an insecure hub.
    pub cert_pem: Option<String>,
    /// Clip counter, for clip ids that are unique per camera across restarts.
    #[serde(default)]
    pub clips_made: u64,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Secrets never in logs.
        f.debug_struct("Credentials")
            .field("wifi_ssid", &self.wifi_ssid)
            .field("home", &self.home)
            .field("device_id", &self.device_id)
            .field("mqtt_url", &self.mqtt_url)
            .field("http_url", &self.http_url)
            .finish_non_exhaustive()
    }
}

/// The data folder of one camera.
#[derive(Debug, Clone)]
pub struct DataDir {
    root: PathBuf,
}

impl DataDir {
    pub fn open(root: impl Into<PathBuf>) -> Result<DataDir, PersistError> {
        let root = root.into();
        // The camera's credentials and queue live here: its user's alone.
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&root)
            .and_then(|()| std::fs::set_permissions(&root, std::fs::Permissions::from_mode(0o700)))
            .map_err(|source| PersistError::Io {
                path: root.clone(),
                source,
            })?;
        Ok(DataDir { root })
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.root.join(name)
    }

    pub fn load_credentials(&self) -> Result<Option<Credentials>, PersistError> {
        load_json(&self.path(CREDENTIALS_FILE))
    }

    pub fn save_credentials(&self, creds: &Credentials) -> Result<(), PersistError> {
        let text = serde_json::to_string_pretty(creds).expect("credentials serialize");
        write_atomically(&self.path(CREDENTIALS_FILE), text.as_bytes(), 0o600)
    }

    pub fn forget_credentials(&self) -> Result<(), PersistError> {
        remove_if_exists(&self.path(CREDENTIALS_FILE))
    }

    pub fn load_core(&self) -> Result<Option<PersistedState>, PersistError> {
        load_json(&self.path(CORE_FILE))
    }

    pub fn save_core(&self, state: &PersistedState) -> Result<(), PersistError> {
        let text = serde_json::to_string_pretty(state).expect("core state serializes");
        write_atomically(&self.path(CORE_FILE), text.as_bytes(), 0o600)
    }

    pub fn write_text(&self, name: &str, text: &str) -> Result<(), PersistError> {
        write_atomically(&self.path(name), text.as_bytes(), 0o600)
    }
}

fn load_json<T: for<'de> Deserialize<'de>>(path: &Path) -> Result<Option<T>, PersistError> {
    let bytes = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(source) => {
            return Err(PersistError::Io {
                path: path.to_path_buf(),
                source,
            });
        }
    };
    serde_json::from_slice(&bytes)
        .map(Some)
        .map_err(|e| PersistError::Corrupt {
            path: path.to_path_buf(),
            reason: e.to_string(),
        })
}

fn remove_if_exists(path: &Path) -> Result<(), PersistError> {
    match std::fs::remove_file(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(source) => Err(PersistError::Io {
            path: path.to_path_buf(),
            source,
        }),
    }
}

/// Temporary file (created with `mode`), fsync, rename, fsync of the folder.
pub fn write_atomically(path: &Path, bytes: &[u8], mode: u32) -> Result<(), PersistError> {
    use std::os::unix::fs::OpenOptionsExt;
    let io = |source| PersistError::Io {
        path: path.to_path_buf(),
        source,
    };
    let dir = path.parent().unwrap_or(Path::new("."));
    let tmp = dir.join(format!(
        ".{}.tmp",
        path.file_name().and_then(|n| n.to_str()).unwrap_or("file")
    ));
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(mode)
        .open(&tmp)
        .map_err(io)?;
    file.write_all(bytes).map_err(io)?;
    file.sync_all().map_err(io)?;
    drop(file);
    std::fs::rename(&tmp, path).map_err(io)?;
    if let Ok(d) = std::fs::File::open(dir) {
        let _ = d.sync_all();
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn creds() -> Credentials {
        Credentials {
            wifi_ssid: "home".into(),
            wifi_passphrase: "secret-pass".into(),
            home: "home".into(),
            device_id: "cam-A1".into(),
            token: "t0ken".into(),
            mqtt_url: "mqtt://127.0.0.1:1".into(),
            http_url: "http://127.0.0.1:2".into(),
            cert_pem: None,
            clips_made: 3,
        }
    }

    #[test]
    fn credentials_round_trip_private_and_are_forgotten() {
        let dir = tempfile::tempdir().unwrap();
        let data = DataDir::open(dir.path()).unwrap();
        assert_eq!(data.load_credentials().unwrap(), None);
        data.save_credentials(&creds()).unwrap();
        assert_eq!(data.load_credentials().unwrap(), Some(creds()));
        let mode = std::fs::metadata(data.path(CREDENTIALS_FILE))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
        data.forget_credentials().unwrap();
        data.forget_credentials().unwrap();
        assert_eq!(data.load_credentials().unwrap(), None);
    }

    #[test]
    fn debug_output_hides_the_secrets() {
        let text = format!("{:?}", creds());
        assert!(
            !text.contains("t0ken") && !text.contains("secret-pass"),
            "{text}"
        );
    }

    #[test]
    fn a_corrupt_file_is_an_error_that_names_it() {
        let dir = tempfile::tempdir().unwrap();
        let data = DataDir::open(dir.path()).unwrap();
        std::fs::write(data.path(CORE_FILE), b"{not json").unwrap();
        let err = data.load_core().unwrap_err().to_string();
        assert!(err.contains(CORE_FILE), "{err}");
    }
}
