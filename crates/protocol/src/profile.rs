//! Camera profiles (SPEC §2), loaded from the embedded `data/profiles.toml`.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;
use std::sync::OnceLock;

const PROFILES_TOML: &str = include_str!("../data/profiles.toml");

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ProfileId {
    Mini,
    Indoor,
    Outdoor,
    Xt,
    Xt2,
}

impl ProfileId {
    pub const ALL: [ProfileId; 5] = [
        ProfileId::Mini,
        ProfileId::Indoor,
        ProfileId::Outdoor,
        ProfileId::Xt,
        ProfileId::Xt2,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ProfileId::Mini => "mini",
            ProfileId::Indoor => "indoor",
            ProfileId::Outdoor => "outdoor",
            ProfileId::Xt => "xt",
            ProfileId::Xt2 => "xt2",
        }
    }

    /// The profile's data.
    pub fn profile(self) -> &'static Profile {
        Profile::all()
            .iter()
            .find(|p| p.id == self)
            .expect("profiles.toml lists every ProfileId (checked by a test)")
    }
}

impl fmt::Display for ProfileId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown profile '{0}' (known: mini, indoor, outdoor, xt, xt2)")]
pub struct UnknownProfile(pub String);

impl FromStr for ProfileId {
    type Err = UnknownProfile;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        ProfileId::ALL
            .into_iter()
            .find(|p| p.as_str() == s)
            .ok_or_else(|| UnknownProfile(s.to_string()))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Power {
    Mains,
    Battery,
}

/// What starts a recording.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Trigger {
    /// Pixel motion alone (mains cameras, always watching).
    Pixel,
    /// The PIR sensor alone.
    Pir,
    /// The PIR wakes the camera; pixel motion must confirm within `confirm_ms`.
    PirConfirmed,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Night {
    Ir,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Profile {
    pub id: ProfileId,
    pub power: Power,
    pub trigger: Trigger,
    /// Only for [`Trigger::PirConfirmed`].
    #[serde(default)]
    pub confirm_ms: Option<u64>,
    pub night: Night,
    pub reset_hold_ms: u64,
    pub boot_ms: u64,
    pub pre_roll_ms: u64,
}

#[derive(Deserialize)]
struct ProfilesFile {
    profile: Vec<Profile>,
}

impl Profile {
    /// Every shipped profile.
    pub fn all() -> &'static [Profile] {
        static PROFILES: OnceLock<Vec<Profile>> = OnceLock::new();
        PROFILES.get_or_init(|| {
            toml::from_str::<ProfilesFile>(PROFILES_TOML)
                .expect("embedded profiles.toml parses (checked by a test)")
                .profile
        })
    }

    pub fn has_pir(&self) -> bool {
        matches!(self.trigger, Trigger::Pir | Trigger::PirConfirmed)
    }

    pub fn on_battery(&self) -> bool {
        self.power == Power::Battery
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_profile_id_has_data() {
        for id in ProfileId::ALL {
            assert_eq!(id.profile().id, id);
            assert_eq!(id.as_str().parse::<ProfileId>(), Ok(id));
        }
        assert_eq!(Profile::all().len(), ProfileId::ALL.len());
    }

    #[test]
    fn confirming_profiles_say_how_long_to_wait() {
        for p in Profile::all() {
            assert_eq!(
                p.trigger == Trigger::PirConfirmed,
                p.confirm_ms.is_some(),
                "{}",
                p.id
            );
        }
        assert_eq!(ProfileId::Outdoor.profile().confirm_ms, Some(2000));
        assert!(!ProfileId::Mini.profile().has_pir());
    }

    #[test]
    fn unknown_profile_names_itself() {
        let err = "xt3".parse::<ProfileId>().unwrap_err();
        assert!(err.to_string().contains("xt3"));
    }
}
