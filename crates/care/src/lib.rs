//! What the hub does for the owner (SPEC §5–§7, issue 4), as a library the hub calls.
//!
//! Every module is sans-IO — pure state machines and functions of their inputs and the
//! hub's clock — except [`notify::WebhookSender`], which performs the HTTP POSTs that
//! [`notify::Delivery`] decides on.
pub mod arming;
pub mod battery;
pub mod bundle;
pub mod homeassistant;
pub mod metrics;
pub mod notify;
pub mod report;
