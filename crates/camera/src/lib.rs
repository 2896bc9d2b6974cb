//! The camera's brain, sans-IO: lifecycle, status light, battery monitor, recording
//! decision ([`Core`]); the on-disk offline queue ([`queue`]); and the replay runner
//! that drives the core from a script on a virtual clock ([`replay`]).
//!
//! The core reads no clock and touches no hardware: time and the world come in as
//! [`Input`]s, decisions go out as [`Output`]s. The camera agent drives it with real or
//! simulated hardware, MQTT and HTTP; the replay runner drives it from a script; the
//! doctor may drive it to learn which light a faulty camera shows.

pub mod battery;
mod core;
pub mod io;
pub mod lights;
pub mod queue;
pub mod replay;

pub use crate::core::Core;
pub use crate::core::{
    BACKOFF_CAP_BATTERY_MS, BACKOFF_CAP_MAINS_MS, BACKOFF_FIRST_MS, CONNECTED_MS,
    HUB_REFUSALS_BEFORE_SETUP, JOIN_TIMEOUT_MS, LONG_OFFLINE_FLASH_EVERY_MS, LONG_OFFLINE_MS,
    LOW_BATTERY_FLASH_EVERY_MS, SHORT_PRESS_MS, STATUS_CHECK_MS, WIFI_REJECTED_MS,
};
pub use battery::BatteryLevel;
pub use io::{
    BatteryReading, Command, Input, Output, PersistedState, RecordTrigger, StopReason, Timed,
};
