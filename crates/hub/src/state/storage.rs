//! The hub's disk as the shared state sees it: a write refused for a full disk, told once
//! per episode; the owner's sessions kept in memory meanwhile; the free-space reserve
//! kept by deleting the oldest clips (`crate::storage` holds the rules).

use super::HubState;
use crate::storage::{StorageFull, free_bytes, to_free};
use serde_json::json;
use watchlight_care::notify::CareEvent;

impl HubState {
    /// A write failed because the disk is full: remembered in memory, told once per
    /// episode (notification, live stream, hub light).
    pub async fn storage_refused(&self, reason: &str) {
        let now = self.now();
        let first = self
            .storage
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .refused(now, reason);
        tracing::warn!("hub storage full: {reason}");
        if !first {
            return;
        }
        self.emit("storage_full", None, json!({"reason": reason}));
        self.emit(
            "hub_light",
            None,
            json!(crate::hub_light::hub_light(self.facts())),
        );
        let (used, budget) = (
            self.store.clip_usage().map(|(_, b)| b).unwrap_or(0),
            self.store
                .retention_policy()
                .map(|p| p.max_bytes)
                .unwrap_or(0),
        );
        crate::care::notify::notify(
            self,
            CareEvent::Storage {
                used_bytes: used,
                budget_bytes: budget,
                message: format!(
                    "Hub storage full: new clips and events wait on the cameras until there is room ({reason})"
                ),
            },
        )
        .await;
    }

    /// A write the full disk had refused went through again.
    pub fn storage_ok(&self) {
        let was_full = self
            .storage
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .stored();
        if was_full {
            tracing::info!("hub storage has room again");
            self.emit("storage_ok", None, json!({}));
            self.emit(
                "hub_light",
                None,
                json!(crate::hub_light::hub_light(self.facts())),
            );
        }
    }

    /// Whether the hub's storage is full now (in memory, see the module docs).
    pub fn storage_full(&self) -> Option<StorageFull> {
        self.storage
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .full()
            .cloned()
    }

    /// An owner session the full database could not take, kept in memory until it
    /// expires or the hub stops (the owner logs in again then).
    pub fn remember_session(&self, digest: watchlight_store::TokenDigest, ttl_ms: u64) {
        let expires = self.now().saturating_add(ttl_ms);
        tracing::warn!("owner session kept in memory: the disk is full");
        self.memory_sessions
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(digest.0, expires);
    }

    /// Whether `digest` is an unexpired session kept in memory.
    pub fn session_in_memory(&self, digest: &watchlight_store::TokenDigest) -> bool {
        let now = self.now();
        let mut sessions = self
            .memory_sessions
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        sessions.retain(|_, expires| *expires > now);
        sessions.contains_key(&digest.0)
    }

    /// Keeps the reserve: deletes the oldest clips while less than it is free.
    /// Returns the clips deleted.
    pub fn keep_reserve(&self) -> Vec<watchlight_store::DeletedClip> {
        let Some(free) = free_bytes(&self.data_dir) else {
            return Vec::new();
        };
        let need = to_free(free, self.storage_reserve_bytes);
        if need == 0 {
            return Vec::new();
        }
        match self.store.free_space(need, self.now()) {
            Ok(r) => {
                if !r.deleted.is_empty() {
                    tracing::info!(
                        clips = r.deleted.len(),
                        free,
                        reserve = self.storage_reserve_bytes,
                        "deleted the oldest clips to keep the free-space reserve"
                    );
                }
                r.deleted
            }
            Err(e) => {
                tracing::warn!("could not free space for the reserve: {e}");
                Vec::new()
            }
        }
    }
}
