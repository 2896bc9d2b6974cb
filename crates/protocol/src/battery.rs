//! The battery thresholds of SPEC §6, which the camera judges its pack by and the hub
//! words its notices by.

/// Resting voltage under which the pack is low.
pub const LOW_RESTING_MV: u32 = 2900;
/// Loaded voltage under which the pack is low.
pub const LOW_LOADED_MV: u32 = 2600;
/// Loaded voltage under which the pack is critical.
pub const CRITICAL_LOADED_MV: u32 = 2400;
/// Resting voltage under which the pack is critical.
pub const CRITICAL_RESTING_MV: u32 = 2600;
/// A low pack is ok again only this far above both low thresholds; a shut-down camera
/// wakes only when its resting voltage is this far above the low threshold.
pub const HYSTERESIS_MV: u32 = 50;
