//! The device credentials the broker accepts, changed by the hub at runtime.
//!
//! Device tokens are 32 random bytes issued by the hub (docs/contracts.md), so they carry
//! 256 bits of entropy: nobody can guess one, and a slow password hash (argon2) would buy
//! nothing against brute force while costing tens of milliseconds and megabytes per login —
//! too much for 10,000 cameras reconnecting after a hub restart. One SHA-256 is enough to
//! keep the tokens themselves out of memory dumps and the hub's database, and costs about a
//! microsecond. The comparison is constant-time (`subtle`) so timing reveals no prefix.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use watchlight_protocol::topics::is_valid_id;

use crate::BrokerError;

/// SHA-256 of a token as sent in the MQTT password field (the token's text, e.g. 64 hex
/// characters). This is what the hub stores and passes to [`DeviceRegistry::insert`].
pub fn token_sha256(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

/// Compares a presented password with a stored digest in constant time.
pub(crate) fn token_matches(presented: &[u8], stored: &[u8; 32]) -> bool {
    let digest: [u8; 32] = Sha256::digest(presented).into();
    digest.ct_eq(stored).into()
}

/// Device id → SHA-256 of its token. Cheap to clone; all clones share one table.
#[derive(Clone, Default)]
pub struct DeviceRegistry {
    inner: Arc<RwLock<HashMap<String, [u8; 32]>>>,
}

impl std::fmt::Debug for DeviceRegistry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DeviceRegistry")
            .field("devices", &self.len())
            .finish()
    }
}

/// A digest that matches no token, so an unknown user costs the same hash and compare.
const NO_TOKEN: [u8; 32] = [0xff; 32];

impl DeviceRegistry {
    pub fn new() -> Self {
        Self::default()
    }

    /// Lets `device_id` log in with the token whose SHA-256 is `token_sha256`, replacing any
    /// previous token of that device. Refuses ids that could smuggle MQTT wildcards or
    /// separators, and `hub`.
    pub fn insert(
        &self,
        device_id: impl Into<String>,
        token_sha256: [u8; 32],
    ) -> Result<(), BrokerError> {
        let device_id = device_id.into();
        if !is_valid_id(&device_id) {
            return Err(BrokerError::InvalidDeviceId(device_id));
        }
        self.write().insert(device_id, token_sha256);
        Ok(())
    }

    /// Forgets a device: it can no longer log in, and a session still open can no longer
    /// publish or subscribe. Returns whether it was known.
    pub fn remove(&self, device_id: &str) -> bool {
        self.write().remove(device_id).is_some()
    }

    pub fn contains(&self, device_id: &str) -> bool {
        self.read().contains_key(device_id)
    }

    pub fn len(&self) -> usize {
        self.read().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether `password` is the token of `device_id`. An unknown device is checked against
    /// a digest no token has, so it takes as long as a wrong token.
    pub fn verify(&self, device_id: &str, password: &[u8]) -> bool {
        let stored = self.read().get(device_id).copied();
        let matches = token_matches(password, stored.as_ref().unwrap_or(&NO_TOKEN));
        matches && stored.is_some()
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, HashMap<String, [u8; 32]>> {
        // A panic while holding the lock cannot leave the map half-written (single
        // insert/remove calls), so a poisoned lock is still a consistent table.
        self.inner.read().unwrap_or_else(|e| e.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, HashMap<String, [u8; 32]>> {
        self.inner.write().unwrap_or_else(|e| e.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn right_token_passes_wrong_or_unknown_fails() {
        let reg = DeviceRegistry::new();
        reg.insert("cam-1", token_sha256("secret-1")).unwrap();
        assert!(reg.verify("cam-1", b"secret-1"));
        assert!(!reg.verify("cam-1", b"secret-2"));
        assert!(!reg.verify("cam-1", b""));
        assert!(!reg.verify("cam-2", b"secret-1"));
    }

    #[test]
    fn insert_replaces_and_remove_forgets() {
        let reg = DeviceRegistry::new();
        reg.insert("cam-1", token_sha256("old")).unwrap();
        reg.insert("cam-1", token_sha256("new")).unwrap();
        assert!(!reg.verify("cam-1", b"old"));
        assert!(reg.verify("cam-1", b"new"));
        assert_eq!(reg.len(), 1);
        assert!(reg.remove("cam-1"));
        assert!(!reg.remove("cam-1"));
        assert!(!reg.verify("cam-1", b"new"));
        assert!(reg.is_empty());
    }

    #[test]
    fn ids_that_are_not_topic_levels_are_refused() {
        let reg = DeviceRegistry::new();
        for bad in ["", "hub", "a/b", "+", "#", "cam 1"] {
            let err = reg.insert(bad, token_sha256("t")).unwrap_err();
            assert!(matches!(err, BrokerError::InvalidDeviceId(ref id) if id == bad));
        }
        assert!(reg.is_empty());
    }

    #[test]
    fn a_stored_digest_that_happens_to_be_the_sentinel_still_needs_the_token() {
        let reg = DeviceRegistry::new();
        reg.insert("cam-1", NO_TOKEN).unwrap();
        assert!(!reg.verify("cam-1", b"anything"));
    }
}
