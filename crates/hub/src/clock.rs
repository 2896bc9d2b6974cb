//! The hub's clock: wall-clock milliseconds since the Unix epoch (the hub is the home's
//! source of time), injected so every deadline (battery check-ins, command expiry,
//! setup links, sessions) is tested exactly without sleeping. The same clock drives
//! the store, so rows and decisions agree.

pub use watchlight_store::{Clock, ManualClock, SystemClock};

pub type SharedClock = std::sync::Arc<dyn Clock>;
