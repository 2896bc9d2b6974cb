//! Secret command arguments (a Reconnect Wi-Fi passphrase), held in the hub's memory
//! only until they are handed to the camera.
//!
//! A secret must never sit in a file someone else could read, nor outlive its use: the
//! database keeps the command with `"[hidden]"` in the secret's place, and the command is
//! published only while its camera is online, so the broker delivers it at once instead of
//! writing it to a sleeping camera's queue files. The hub forgets the secret once it is
//! published or the command expires. A hub restarted in between has lost it: the command
//! then fails, asking the owner to send it again.

use serde_json::{Map, Value, json};
use std::collections::HashMap;
use std::sync::Mutex;

/// Command arguments that are secrets.
pub const SECRET_ARGS: [&str; 1] = ["passphrase"];
/// What stands in a secret's place in the database and the API.
pub const HIDDEN: &str = "[hidden]";

/// A command's secret arguments and the command's expiry.
type Secrets = (Map<String, Value>, Option<u64>);

/// The secrets of commands not yet delivered, by command id, with their expiry.
#[derive(Debug, Default)]
pub struct Held {
    secrets: Mutex<HashMap<String, Secrets>>,
}

/// Whether a stored command's arguments stand in for a secret.
pub fn has_secret(args: &Map<String, Value>) -> bool {
    SECRET_ARGS
        .iter()
        .any(|k| args.get(*k) == Some(&json!(HIDDEN)))
}

/// Splits a command's arguments into what may be stored and the secrets.
pub fn split(mut args: Map<String, Value>) -> (Map<String, Value>, Map<String, Value>) {
    let mut secrets = Map::new();
    for key in SECRET_ARGS {
        if let Some(value) = args.remove(key) {
            secrets.insert(key.into(), value);
            args.insert(key.into(), json!(HIDDEN));
        }
    }
    (args, secrets)
}

impl Held {
    /// Keeps a command's secrets until [`Held::take`] or `expires_ms`; forgets expired ones.
    pub fn hold(
        &self,
        cmd_id: &str,
        secrets: Map<String, Value>,
        expires_ms: Option<u64>,
        now_ms: u64,
    ) {
        let mut held = self.lock();
        held.retain(|_, (_, exp)| exp.is_none_or(|e| e > now_ms));
        if !secrets.is_empty() {
            held.insert(cmd_id.into(), (secrets, expires_ms));
        }
    }

    /// The full arguments to publish, or `None` if the secrets are gone (expired, or the
    /// hub restarted). The secrets stay held until [`Held::forget`].
    pub fn args(&self, cmd_id: &str, stored: &Map<String, Value>) -> Option<Map<String, Value>> {
        let held = self.lock();
        let (secrets, _) = held.get(cmd_id)?;
        let mut args = stored.clone();
        args.extend(secrets.clone());
        Some(args)
    }

    /// Forgets a command's secrets (published, answered or void).
    pub fn forget(&self, cmd_id: &str) {
        self.lock().remove(cmd_id);
    }

    /// How many commands' secrets are held.
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Secrets>> {
        self.secrets.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wifi() -> Map<String, Value> {
        json!({"ssid": "home", "passphrase": "pw-secret"})
            .as_object()
            .unwrap()
            .clone()
    }

    #[test]
    fn the_secret_is_split_off_held_and_forgotten() {
        let (stored, secrets) = split(wifi());
        assert_eq!(stored["passphrase"], HIDDEN);
        assert_eq!(stored["ssid"], "home");
        assert!(has_secret(&stored));
        assert!(!has_secret(&wifi()));
        let held = Held::default();
        held.hold("c1", secrets, Some(1_000), 0);
        assert_eq!(held.args("c1", &stored).unwrap(), wifi());
        held.forget("c1");
        assert!(held.args("c1", &stored).is_none());
    }

    #[test]
    fn expired_secrets_are_forgotten() {
        let held = Held::default();
        held.hold("old", split(wifi()).1, Some(1_000), 0);
        held.hold("new", split(wifi()).1, Some(5_000), 2_000);
        assert_eq!(held.len(), 1);
        held.hold("nothing secret", Map::new(), Some(9_000), 2_000);
        assert_eq!(held.len(), 1);
    }
}
