//! Key-value configuration, the hub's arming state, and the retention policy.

use crate::devices::parse_json;
use crate::error::{Result, SqlContext, StoreError};
use crate::{Store, ms};
use rusqlite::{OptionalExtension, params};
use serde::{Deserialize, Serialize};

pub use watchlight_protocol::ArmMode;

/// The home's arming: its mode and which cameras `home` arms.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Arming {
    pub mode: ArmMode,
    /// Cameras armed in `home` mode.
    pub home_cameras: Vec<String>,
    pub updated_ms: u64,
}

impl Arming {
    /// Whether `device` should be armed now.
    pub fn arms(&self, device: &str) -> bool {
        match self.mode {
            ArmMode::Disarmed => false,
            ArmMode::Away => true,
            ArmMode::Home => self.home_cameras.iter().any(|d| d == device),
        }
    }
}

/// Clip retention (SPEC §7): oldest first, by a byte budget and a maximum age.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct RetentionPolicy {
    /// Clips (videos + thumbnails) may take at most this many bytes.
    pub max_bytes: u64,
    /// Clips older than this are deleted; `None`: kept until space is needed.
    pub max_age_ms: Option<u64>,
}

impl Default for RetentionPolicy {
    fn default() -> Self {
        RetentionPolicy {
            max_bytes: 10 * 1024 * 1024 * 1024,
            max_age_ms: Some(30 * 24 * 3600 * 1000),
        }
    }
}

const RETENTION_KEY: &str = "retention_policy";

impl Store {
    pub fn config_get(&self, key: &str) -> Result<Option<String>> {
        self.conn()
            .query_row(
                "SELECT value FROM config WHERE key = ?1",
                params![key],
                |r| r.get(0),
            )
            .optional()
            .ctx(|| format!("read config {key}"))
    }

    pub fn config_set(&self, key: &str, value: &str) -> Result<()> {
        self.check_room(|| format!("write config {key}"))?;
        self.conn()
            .execute(
                "INSERT INTO config (key, value, updated_ms) VALUES (?1, ?2, ?3)
                 ON CONFLICT (key) DO UPDATE SET value = ?2, updated_ms = ?3",
                params![key, value, ms(self.now_ms())],
            )
            .ctx(|| format!("write config {key}"))?;
        Ok(())
    }

    /// Returns whether the key existed.
    pub fn config_delete(&self, key: &str) -> Result<bool> {
        let n = self
            .conn()
            .execute("DELETE FROM config WHERE key = ?1", params![key])
            .ctx(|| format!("delete config {key}"))?;
        Ok(n > 0)
    }

    /// The arming state; disarmed until the owner arms (SPEC §7).
    pub fn arming(&self) -> Result<Arming> {
        let row: Option<(String, String, i64)> = self
            .conn()
            .query_row(
                "SELECT mode, home_cameras, updated_ms FROM hub_state WHERE id = 1",
                [],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .optional()
            .ctx(|| "read the hub state".into())?;
        match row {
            None => Ok(Arming::default()),
            Some((mode, cams, updated)) => Ok(Arming {
                mode: mode.parse().map_err(|_| StoreError::CorruptValue {
                    what: "arm mode".into(),
                    value: mode.clone(),
                })?,
                home_cameras: parse_json(&cams, || "home cameras".into())?,
                updated_ms: updated as u64,
            }),
        }
    }

    pub fn set_arm_mode(&self, mode: ArmMode) -> Result<Arming> {
        let mut state = self.arming()?;
        state.mode = mode;
        self.write_arming(state)
    }

    /// Chooses the cameras that `home` mode arms.
    pub fn set_home_cameras(&self, devices: &[String]) -> Result<Arming> {
        let mut state = self.arming()?;
        state.home_cameras = devices.to_vec();
        state.home_cameras.sort();
        state.home_cameras.dedup();
        self.write_arming(state)
    }

    fn write_arming(&self, mut state: Arming) -> Result<Arming> {
        state.updated_ms = self.now_ms();
        let cams = serde_json::to_string(&state.home_cameras).expect("strings serialize");
        self.conn()
            .execute(
                "INSERT INTO hub_state (id, mode, home_cameras, updated_ms) VALUES (1, ?1, ?2, ?3)
                 ON CONFLICT (id) DO UPDATE SET mode = ?1, home_cameras = ?2, updated_ms = ?3",
                params![state.mode.as_str(), cams, ms(state.updated_ms)],
            )
            .ctx(|| "write the hub state".into())?;
        Ok(state)
    }

    pub fn retention_policy(&self) -> Result<RetentionPolicy> {
        match self.config_get(RETENTION_KEY)? {
            None => Ok(RetentionPolicy::default()),
            Some(doc) => parse_json(&doc, || "retention policy".into()),
        }
    }

    pub fn set_retention_policy(&self, policy: &RetentionPolicy) -> Result<()> {
        self.config_set(
            RETENTION_KEY,
            &serde_json::to_string(policy).expect("policy serializes"),
        )
    }
}
