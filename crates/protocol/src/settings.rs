//! The per-camera settings document (SPEC §3, §7). The hub owns it, versions it and
//! publishes it retained on the camera's `settings` topic; the camera applies it whole.

use serde::{Deserialize, Serialize};

/// How the system is armed (SPEC §7): `home` arms the cameras chosen for it, `away`
/// all of them; disarmed until the owner arms it. The hub turns this into each camera's
/// `armed` setting.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ArmMode {
    #[default]
    Disarmed,
    Home,
    Away,
}

impl ArmMode {
    pub fn as_str(self) -> &'static str {
        match self {
            ArmMode::Disarmed => "disarmed",
            ArmMode::Home => "home",
            ArmMode::Away => "away",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown arm mode '{0}' (known: disarmed, home, away)")]
pub struct UnknownArmMode(pub String);

impl std::str::FromStr for ArmMode {
    type Err = UnknownArmMode;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        [ArmMode::Disarmed, ArmMode::Home, ArmMode::Away]
            .into_iter()
            .find(|m| m.as_str() == s)
            .ok_or_else(|| UnknownArmMode(s.to_string()))
    }
}

/// Activity zones: a grid over the image; a cell that is `false` is ignored by motion
/// detection. Row-major, `cols * rows` cells.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ZoneGrid {
    pub cols: u8,
    pub rows: u8,
    pub enabled: Vec<bool>,
}

impl ZoneGrid {
    pub const DEFAULT_COLS: u8 = 8;
    pub const DEFAULT_ROWS: u8 = 6;

    /// Every cell watched.
    pub fn all_on(cols: u8, rows: u8) -> ZoneGrid {
        ZoneGrid {
            cols,
            rows,
            enabled: vec![true; usize::from(cols) * usize::from(rows)],
        }
    }

    pub fn is_valid(&self) -> bool {
        self.cols > 0
            && self.rows > 0
            && self.enabled.len() == usize::from(self.cols) * usize::from(self.rows)
    }

    /// Whether the cell holding the normalised point (`x`, `y` in 0..1) is watched.
    pub fn watches(&self, x: f32, y: f32) -> bool {
        let col = ((x.clamp(0.0, 0.9999) * f32::from(self.cols)) as usize)
            .min(usize::from(self.cols) - 1);
        let row = ((y.clamp(0.0, 0.9999) * f32::from(self.rows)) as usize)
            .min(usize::from(self.rows) - 1);
        self.enabled
            .get(row * usize::from(self.cols) + col)
            .copied()
            .unwrap_or(true)
    }
}

impl Default for ZoneGrid {
    fn default() -> Self {
        ZoneGrid::all_on(Self::DEFAULT_COLS, Self::DEFAULT_ROWS)
    }
}

/// The camera's whole settings document. Durations are whole seconds, as the owner sets them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Settings {
    /// Increases by one each time the hub changes the document.
    pub version: u64,
    pub name: String,
    /// Whether the system arms this camera now (the hub derives it from the mode,
    /// the schedule and the camera's membership; the camera only obeys it).
    pub armed: bool,
    pub motion_detection: bool,
    pub motion_indicator: bool,
    pub recording_light: bool,
    pub status_light_always_on: bool,
    /// 1 (least sensitive) to 10.
    pub sensitivity: u8,
    pub zones: ZoneGrid,
    /// Seconds of recording kept before the trigger (mains cameras).
    pub pre_roll: u32,
    /// Seconds without motion that end a clip.
    pub post_roll: u32,
    /// Longest clip in seconds, pre-roll not counted.
    pub max_clip: u32,
    /// Seconds after a clip ends before motion may start another.
    pub retrigger: u32,
    /// Battery cameras: seconds between check-ins.
    pub checkin_interval: u32,
    /// Mains cameras: MQTT keepalive in seconds.
    pub keepalive: u32,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            version: 0,
            name: String::new(),
            armed: false,
            motion_detection: true,
            motion_indicator: false,
            recording_light: true,
            status_light_always_on: false,
            sensitivity: 5,
            zones: ZoneGrid::default(),
            pre_roll: 2,
            post_roll: 5,
            max_clip: 30,
            retrigger: 10,
            checkin_interval: 60,
            keepalive: 5,
        }
    }
}

/// Why a settings document was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SettingsError {
    #[error("settings.sensitivity must be 1 to 10, got {0}")]
    Sensitivity(u8),
    #[error("settings.zones must have cols*rows cells, got {cells} for {cols}x{rows}")]
    Zones { cols: u8, rows: u8, cells: usize },
    #[error("settings.{field} must be at least {min} s, got {value}")]
    TooShort {
        field: &'static str,
        min: u32,
        value: u32,
    },
}

impl Settings {
    pub fn validate(&self) -> Result<(), SettingsError> {
        if !(1..=10).contains(&self.sensitivity) {
            return Err(SettingsError::Sensitivity(self.sensitivity));
        }
        if !self.zones.is_valid() {
            return Err(SettingsError::Zones {
                cols: self.zones.cols,
                rows: self.zones.rows,
                cells: self.zones.enabled.len(),
            });
        }
        for (field, value, min) in [
            ("max_clip", self.max_clip, 1),
            ("checkin_interval", self.checkin_interval, 1),
            ("keepalive", self.keepalive, 1),
        ] {
            if value < min {
                return Err(SettingsError::TooShort { field, min, value });
            }
        }
        Ok(())
    }

    /// This document with `patch` applied; the version is not changed here (the hub bumps it).
    pub fn patched(&self, patch: &SettingsPatch) -> Result<Settings, SettingsError> {
        let mut s = self.clone();
        macro_rules! take {
            ($($f:ident),*) => { $( if let Some(v) = &patch.$f { s.$f = v.clone(); } )* };
        }
        take!(
            name,
            armed,
            motion_detection,
            motion_indicator,
            recording_light,
            status_light_always_on,
            sensitivity,
            zones,
            pre_roll,
            post_roll,
            max_clip,
            retrigger,
            checkin_interval,
            keepalive
        );
        s.validate()?;
        Ok(s)
    }
}

/// A partial settings document: what the owner (or a replay script) changes.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SettingsPatch {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub armed: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub motion_detection: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub motion_indicator: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub recording_light: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status_light_always_on: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sensitivity: Option<u8>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub zones: Option<ZoneGrid>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pre_roll: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub post_roll: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_clip: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retrigger: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub checkin_interval: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub keepalive: Option<u32>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_match_the_spec() {
        let s = Settings::default();
        assert!(s.motion_detection && !s.motion_indicator && s.recording_light);
        assert_eq!(
            (s.sensitivity, s.post_roll, s.max_clip, s.retrigger),
            (5, 5, 30, 10)
        );
        s.validate().unwrap();
    }

    #[test]
    fn patch_changes_only_what_it_names() {
        let patch: SettingsPatch = serde_json::from_str(r#"{"motion_indicator":true}"#).unwrap();
        let s = Settings::default().patched(&patch).unwrap();
        assert!(s.motion_indicator);
        assert_eq!(s.sensitivity, 5);
    }

    #[test]
    fn bad_patches_name_the_field() {
        let err = serde_json::from_str::<SettingsPatch>(r#"{"sensitivty":3}"#).unwrap_err();
        assert!(err.to_string().contains("sensitivty"), "{err}");
        let patch = SettingsPatch {
            sensitivity: Some(11),
            ..Default::default()
        };
        let err = Settings::default().patched(&patch).unwrap_err();
        assert!(err.to_string().contains("sensitivity"));
    }

    #[test]
    fn zones_map_points_to_cells() {
        let mut z = ZoneGrid::all_on(2, 1);
        z.enabled[1] = false;
        assert!(z.watches(0.2, 0.5));
        assert!(!z.watches(0.8, 0.5));
        assert!(!z.watches(1.0, 1.0));
    }
}
