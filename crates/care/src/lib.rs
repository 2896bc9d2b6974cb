//! What the hub does for the owner (SPEC §5–§7), as a library the hub calls.
//!
//! Every module is sans-IO: pure state machines and functions of their inputs and the
//! hub's clock. The hub performs what they decide (webhook POSTs, MQTT, files).
pub mod arming;
pub mod battery;
pub mod bundle;
pub mod homeassistant;
pub mod metrics;
pub mod notify;
pub mod report;
