//! The camera's brain, sans-IO: lifecycle, status light, battery monitor, recording
//! decision ([`Core`]); the offline queue's rules on a store
//! the agent keeps on disk ([`queue`]); and the replay runner
//! that drives the core from a script on a virtual clock ([`replay`]).
//!
//! The core reads no clock and touches no hardware: time and the world come in as
//! [`Input`]s, decisions go out as [`Output`]s. The camera agent drives it with real or
//! simulated hardware, MQTT and HTTP; the replay runner drives it from a script; the
//! doctor may drive it to learn which light a faulty camera shows.
//!
//! # Decisions worth knowing
//!
//! - **Quiet conditions.** A condition may hold without showing: a low battery shows
//!   its flash(3) only when a recording ends and once a minute, a camera offline for
//!   more than 10 minutes its flash(1) once every 5 s. Between flashes the next
//!   condition down shows (usually `idle` off; the dim idle light shows only when
//!   nothing is wrong). A status check replays the most important condition that
//!   holds, quiet or not: red blink for a lost connection, flash(3) for a low battery,
//!   else blue solid. See [`Core::showing`] and [`Core::holds`].
//! - **Flashes get a line each.** Each flash start is an [`Output::Light`], and so is
//!   the light that follows it; a restarted flash is a new output even if it looks
//!   the same.
//! - **Connection inputs.** [`Input::HubConnected`] and [`Input::LinkRestored`] both
//!   mean "the hub accepts us now". A set-up camera ([`PersistedState::setup_completed`])
//!   never goes back to setup because of Wi-Fi: a refused password or a join timeout
//!   leaves it `offline`, retrying; only ten hub refusals in a row or a factory reset
//!   send it to setup.
//! - **Sleeping** (battery cameras between check-ins) is the agent's business: the core
//!   stays `online` and asks for a [`Output::CheckIn`] every `checkin_interval`.
//! - **Without power** (`off`, `factory`) the light is dark; **shut down** only the
//!   battery-critical farewell shows, and only a fresh battery reading wakes it.
//! - **Battery readings** are ignored on mains profiles.
//! - **Parts under watch.** The driver reports after each read whether the image sensor
//!   (or the PIR) answered; failures lasting 3 s from power-on or 10 s while running
//!   become one `self_test_failed` event per episode, naming the part. No light: SPEC §3
//!   has none for a failed part.

pub mod battery;
mod core;
pub mod io;
pub mod jitter;
pub mod lights;
pub mod queue;
pub mod replay;

pub use crate::core::Core;
pub use crate::core::{
    BACKOFF_CAP_BATTERY_MS, BACKOFF_CAP_MAINS_MS, BACKOFF_FIRST_MS, CONNECTED_MS,
    HUB_REFUSALS_BEFORE_SETUP, JOIN_TIMEOUT_MS, LONG_OFFLINE_FLASH_EVERY_MS, LONG_OFFLINE_MS,
    LOW_BATTERY_FLASH_EVERY_MS, SELF_TEST_BOOT_MS, SENSOR_WATCH_MS, SHORT_PRESS_MS,
    STATUS_CHECK_MS, WIFI_REJECTED_MS,
};
pub use battery::BatteryLevel;
pub use io::{
    BatteryReading, Command, Input, Output, PersistedState, RecordTrigger, StopReason, Timed,
};
