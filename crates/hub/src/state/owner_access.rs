//! The owner's way in: the one-time setup link and the limit on guessing the password.

use super::HubState;
use crate::secrets::{constant_time_eq, sha256_hex};
use std::net::IpAddr;
use watchlight_broker::guesses::{Limits, Verdict};

impl HubState {
    /// Opens the one-time link to create the owner until `expires_ms`; only the token's
    /// digest is kept.
    pub(crate) fn open_setup_link(&self, token: &str, expires_ms: u64) {
        *self.setup_token.lock().unwrap_or_else(|p| p.into_inner()) =
            Some((sha256_hex(token), expires_ms));
    }

    /// Whether the one-time setup link can still be used.
    pub(crate) fn setup_link_open(&self) -> bool {
        self.setup_token
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .as_ref()
            .is_some_and(|(_, expires)| self.now() < *expires)
    }

    /// Runs `create_owner` when `token` opens the setup link (`None` when it does not)
    /// and closes the link once it succeeded. The link stays locked meanwhile, so one
    /// link creates one owner.
    pub(crate) fn redeem_setup_link<E>(
        &self,
        token: &str,
        create_owner: impl FnOnce() -> Result<(), E>,
    ) -> Option<Result<(), E>> {
        let mut slot = self.setup_token.lock().unwrap_or_else(|p| p.into_inner());
        let valid = slot.as_ref().is_some_and(|(digest, expires)| {
            self.now() < *expires && constant_time_eq(&sha256_hex(token), digest)
        });
        if !valid {
            return None;
        }
        let created = create_owner();
        if created.is_ok() {
            *slot = None;
        }
        Some(created)
    }

    /// Whether an owner login from `ip` may be checked now.
    pub(crate) fn login_verdict(&self, ip: IpAddr) -> Verdict {
        self.login_guesses
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .check(ip, self.now())
    }

    /// Counts an owner login from `ip`; when a wrong one has just locked the address
    /// out, the limits it broke.
    pub(crate) fn record_login(&self, ip: IpAddr, ok: bool) -> Option<Limits> {
        let mut guesses = self.login_guesses.lock().unwrap_or_else(|p| p.into_inner());
        let now = self.now();
        guesses.record(ip, ok, now);
        if !ok && matches!(guesses.check(ip, now), Verdict::LockedOut { .. }) {
            Some(guesses.limits())
        } else {
            None
        }
    }
}
