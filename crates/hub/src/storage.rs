//! The hub's disk. Two jobs:
//!
//! - a free-space reserve: before the disk is full, the oldest clips are deleted until
//!   the reserve is free again (as Frigate keeps headroom), so that events, sessions
//!   and the database itself always have room;
//! - when the disk fills anyway (something else filled it, or clips arrive faster than
//!   they can be freed), the hub knows it **in memory**: the database may be the very
//!   thing that cannot be written. The hub light shows it, a `storage` notification goes
//!   out (live stream, MQTT, webhooks: none needs a database write), uploads get 507 and
//!   events are not acknowledged, so cameras keep them and send them again.
//!
//! [`StorageWatch`] is sans-IO: the hub tells it what happened, with the time.

use serde::Serialize;
use std::path::Path;

/// Free space the hub keeps by default: room for the database, notices and clips that
/// are on their way while the oldest are deleted.
pub const DEFAULT_RESERVE_BYTES: u64 = 512 * 1024 * 1024;

/// What the hub knows about its storage being full.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StorageFull {
    pub since_ms: u64,
    /// The last refusal, in words.
    pub reason: String,
    /// Writes refused since `since_ms` (uploads, events).
    pub refused: u64,
}

#[derive(Debug, Default)]
pub struct StorageWatch {
    full: Option<StorageFull>,
}

impl StorageWatch {
    /// A write was refused for lack of space. True when this starts an episode (the
    /// owner is told once per episode).
    pub fn refused(&mut self, now_ms: u64, reason: &str) -> bool {
        match &mut self.full {
            Some(f) => {
                f.refused += 1;
                f.reason = reason.to_string();
                false
            }
            None => {
                self.full = Some(StorageFull {
                    since_ms: now_ms,
                    reason: reason.to_string(),
                    refused: 1,
                });
                true
            }
        }
    }

    /// A write of the kind that was refused went through: the episode is over. True
    /// when one was under way.
    pub fn stored(&mut self) -> bool {
        self.full.take().is_some()
    }

    pub fn full(&self) -> Option<&StorageFull> {
        self.full.as_ref()
    }
}

/// Free bytes for the hub's (unprivileged) writes on the filesystem holding `dir`.
pub fn free_bytes(dir: &Path) -> Option<u64> {
    let s = rustix::fs::statvfs(dir).ok()?;
    Some(s.f_bavail.saturating_mul(s.f_frsize))
}

/// Bytes to free now so that `reserve` bytes are free again.
pub fn to_free(free: u64, reserve: u64) -> u64 {
    reserve.saturating_sub(free)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_notice_per_episode_and_the_count_of_refusals() {
        let mut w = StorageWatch::default();
        assert!(w.full().is_none());
        assert!(w.refused(10, "event cam-1#6"));
        assert!(!w.refused(20, "event cam-1#7"));
        let f = w.full().unwrap();
        assert_eq!((f.since_ms, f.refused), (10, 2));
        assert_eq!(f.reason, "event cam-1#7");
        assert!(w.stored());
        assert!(!w.stored());
        assert!(w.refused(30, "clip"), "a new episode is told again");
    }

    #[test]
    fn the_reserve_asks_only_for_what_is_missing() {
        assert_eq!(to_free(100, 512), 412);
        assert_eq!(to_free(600, 512), 0);
    }

    #[test]
    fn a_real_folder_has_free_bytes() {
        let dir = tempfile::tempdir().unwrap();
        assert!(free_bytes(dir.path()).unwrap() > 0);
        assert_eq!(free_bytes(&dir.path().join("missing")), None);
    }
}
