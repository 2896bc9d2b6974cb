//! Who may log in at the broker: the cameras' credentials, in the embedded broker's
//! table or, with an external broker, wherever a [`CredentialSink`] puts them.

use crate::state::HubState;
use std::path::PathBuf;
use std::sync::Arc;

/// Where device credentials go when the broker is not ours (`--mqtt-url`): e.g. a
/// Mosquitto password file rewritten and reloaded
/// ([`watchlight_broker::passwd::PasswordFile`], what `--mosquitto-passwd` uses).
pub trait CredentialSink: Send + Sync {
    /// Lets `device` log in with `token` (replacing any previous one).
    fn set(&self, device: &str, token: &str) -> Result<(), String>;
    fn remove(&self, device: &str);
    /// At start: refuse every camera the hub does not know (`known` are the ones it
    /// does), so that cameras of a hub that was reset fall back to setup (SPEC §4.2).
    fn retain(&self, _known: &[String]) {}
}

/// The sink of `--mosquitto-passwd FILE [--mosquitto-pid-file FILE]`: the hub edits
/// Mosquitto's password file and sends Mosquitto `SIGHUP` to reload it.
pub fn mosquitto_password_sink(
    password_file: PathBuf,
    pid_file: Option<PathBuf>,
) -> Arc<dyn CredentialSink> {
    Arc::new(watchlight_broker::passwd::PasswordFile::new(
        password_file,
        pid_file,
    ))
}

impl CredentialSink for watchlight_broker::passwd::PasswordFile {
    fn set(&self, device: &str, token: &str) -> Result<(), String> {
        watchlight_broker::passwd::PasswordFile::set(self, device, token).map_err(|e| e.to_string())
    }

    fn remove(&self, device: &str) {
        if let Err(e) = watchlight_broker::passwd::PasswordFile::remove(self, device) {
            tracing::warn!(device, "could not remove the camera from Mosquitto: {e}");
        }
    }

    fn retain(&self, known: &[String]) {
        match self.retain_cameras(|d| known.iter().any(|k| k == d)) {
            Ok(0) => {}
            Ok(n) => tracing::info!(
                removed = n,
                "removed cameras this hub does not know from Mosquitto's password file"
            ),
            Err(e) => tracing::warn!("could not prune Mosquitto's password file: {e}"),
        }
    }
}

/// Lets a camera's token in at the broker.
pub fn register_device_credential(hub: &HubState, device: &str, token: &str) -> Result<(), String> {
    match (&hub.broker_devices, &hub.credential_sink) {
        (Some(devices), _) => devices
            .insert(device, watchlight_broker::token_sha256(token))
            .map_err(|e| e.to_string()),
        (None, Some(sink)) => sink.set(device, token),
        (None, None) => {
            tracing::warn!(
                device,
                "external broker without --mosquitto-passwd: add this camera's credential there"
            );
            Ok(())
        }
    }
}

pub fn unregister_device_credential(hub: &HubState, device: &str) {
    if let Some(devices) = &hub.broker_devices {
        devices.remove(device);
    }
    if let Some(sink) = &hub.credential_sink {
        sink.remove(device);
    }
}
