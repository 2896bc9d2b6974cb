//! The doctor's interface ids (SPEC §8): faults, repair actions and questions.
//! Their spellings are part of the interface; they are defined here and only here.

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;
use std::str::FromStr;

/// An id that is not one of ours; names itself and what was expected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown {kind} '{value}' (known: {known})")]
pub struct UnknownId {
    pub kind: &'static str,
    pub value: String,
    pub known: String,
}

macro_rules! id_enum {
    ($(#[$doc:meta])* $name:ident, $kind:literal, { $($variant:ident => $text:literal),+ $(,)? }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum $name { $($variant),+ }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }

            /// Position in [`Self::ALL`], for dense tables.
            pub fn index(self) -> usize {
                self as usize
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl FromStr for $name {
            type Err = UnknownId;
            fn from_str(s: &str) -> Result<Self, UnknownId> {
                Self::ALL.iter().copied().find(|v| v.as_str() == s).ok_or_else(|| UnknownId {
                    kind: $kind,
                    value: s.to_string(),
                    known: Self::ALL.iter().map(|v| v.as_str()).collect::<Vec<_>>().join(", "),
                })
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let text = String::deserialize(d)?;
                text.parse().map_err(serde::de::Error::custom)
            }
        }
    };
}

id_enum!(
    /// What is wrong (SPEC §8 "Faults it knows").
    FaultId, "fault", {
    SetupInProgress => "setup_in_progress",
    WifiCredentialsRejected => "wifi_credentials_rejected",
    WifiSignalWeak => "wifi_signal_weak",
    NetworkDown => "network_down",
    HubUnreachable => "hub_unreachable",
    BatteryLow => "battery_low",
    BatteryDead => "battery_dead",
    MotionIndicator => "motion_indicator",
    NotArmed => "not_armed",
    ZonesExcludeMotion => "zones_exclude_motion",
    StorageFull => "storage_full",
    FirmwareFault => "firmware_fault",
    HardwareFault => "hardware_fault",
    NoFault => "no_fault",
});

id_enum!(
    /// What the owner can do about it (SPEC §8 "Actions").
    ActionId, "action", {
    WaitForSetup => "wait_for_setup",
    ReconnectWifi => "reconnect_wifi",
    RestartRouter => "restart_router",
    MoveCloserOrExtender => "move_closer_or_extender",
    CheckHub => "check_hub",
    ReplaceBatteries => "replace_batteries",
    DisableMotionIndicator => "disable_motion_indicator",
    ArmOrEnableMotion => "arm_or_enable_motion",
    AdjustZones => "adjust_zones",
    FreeStorage => "free_storage",
    RebootCamera => "reboot_camera",
    FactoryReset => "factory_reset",
    ContactSupport => "contact_support",
});

id_enum!(
    /// A question for the owner, named `ask_<field>` after the case field it fills.
    QuestionId, "question", {
    AskLight => "ask_light",
    AskWhen => "ask_when",
    AskSetupCompleted => "ask_setup_completed",
    AskOtherDevicesOnline => "ask_other_devices_online",
    AskWifiPasswordChanged => "ask_wifi_password_changed",
    AskRecording => "ask_recording",
    AskBatteryAgeMonths => "ask_battery_age_months",
    AskHubOnline => "ask_hub_online",
});

pub const FAULT_COUNT: usize = 14;
pub const ACTION_COUNT: usize = 13;

/// The guide's fixed troubleshooting order (SPEC §8), the baseline to beat.
pub const GUIDE_ORDER: [ActionId; 7] = [
    ActionId::RestartRouter,
    ActionId::ReconnectWifi,
    ActionId::WaitForSetup,
    ActionId::ArmOrEnableMotion,
    ActionId::ReplaceBatteries,
    ActionId::FactoryReset,
    ActionId::ContactSupport,
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_round_trip_and_counts_match() {
        assert_eq!(FaultId::ALL.len(), FAULT_COUNT);
        assert_eq!(ActionId::ALL.len(), ACTION_COUNT);
        for (i, f) in FaultId::ALL.iter().enumerate() {
            assert_eq!(f.index(), i);
            assert_eq!(f.as_str().parse::<FaultId>().unwrap(), *f);
        }
        let json = serde_json::to_string(&ActionId::MoveCloserOrExtender).unwrap();
        assert_eq!(json, "\"move_closer_or_extender\"");
    }

    #[test]
    fn unknown_id_names_itself() {
        let err = "reboot_router".parse::<ActionId>().unwrap_err();
        assert!(err.to_string().contains("unknown action 'reboot_router'"));
        assert!(err.to_string().contains("restart_router"));
    }
}
