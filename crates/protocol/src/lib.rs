//! Watchlight's shared vocabulary.
//!
//! Everything that two parts of the system must agree on lives here and only here:
//! the status-light language of SPEC §3 ([`light`]), camera profiles ([`profile`]),
//! the settings document ([`settings`]), lifecycle states and events ([`lifecycle`],
//! [`event`]), and the MQTT wire format ([`topics`], [`messages`]).
//!
//! This crate does no I/O and depends on nothing of ours.

pub mod battery;
pub mod event;
pub mod lifecycle;
pub mod light;
pub mod light_table;
pub mod messages;
pub mod mqtt_url;
pub mod profile;
pub mod settings;
pub mod topics;

pub use event::{EventKind, Part};
pub use lifecycle::LifecycleState;
pub use light::{Color, ConditionId, Light, LightId, Pattern};
pub use profile::{Power, Profile, ProfileId, Trigger};
pub use settings::{ArmMode, Settings, SettingsPatch, ZoneGrid};
