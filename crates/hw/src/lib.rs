//! Hardware behind small traits, in the embedded-hal spirit: one job each, so that a
//! Linux board implements them one by one and the camera's logic never knows which
//! it runs on. [`sim`] holds the simulated implementations.

pub mod frame;
pub mod sim;

pub use frame::{Frame, FrameError, FrameSource};
use watchlight_protocol::Light;

/// Monotonic milliseconds since an arbitrary start. Wall-clock time comes from the hub.
pub trait Clock {
    fn now_ms(&self) -> u64;
}

/// The RGB status light.
pub trait StatusLight {
    /// Starts showing `light` (its pattern's timing starts now).
    fn show(&mut self, light: Light);
}

/// The reset / status button.
pub trait Button {
    fn is_pressed(&self) -> bool;
}

/// One reading of the battery pack.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BatteryReading {
    /// Open-circuit voltage while idle, millivolts.
    pub resting_mv: u32,
    /// Voltage under the last heavy load (recording or transmitting), millivolts.
    pub loaded_mv: u32,
    pub temp_c: f32,
}

/// The battery gauge (absent on mains cameras).
pub trait BatteryGauge {
    fn read(&mut self) -> BatteryReading;
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WifiCredentials {
    pub ssid: String,
    pub passphrase: String,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WifiError {
    #[error("the access point refused the passphrase")]
    Rejected,
    #[error("no access point named '{0}' in range")]
    NotFound(String),
    #[error("the link is down")]
    Down,
}

/// The Wi-Fi link.
pub trait WifiLink {
    fn join(&mut self, creds: &WifiCredentials) -> Result<(), WifiError>;
    fn is_up(&self) -> bool;
    /// Signal strength while joined.
    fn rssi_dbm(&self) -> Option<i32>;
}

/// Why a sensing part gave no reading, in the embedded-hal spirit: a small typed error
/// the driver returns instead of a made-up reading. One type for every part (the image
/// sensor's [`FrameError::Sensor`] carries it too), so the camera's self-test hears the
/// same thing from each: the part did not answer, and the driver's words for why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SensorError {
    /// The part did not answer at all: no ACK on its bus, no interrupt, a dead chip.
    #[error("{part} does not answer: {detail}")]
    NoAnswer { part: &'static str, detail: String },
    /// The part answers, but its signal cannot be right: a line stuck high or low for
    /// longer than any real event lasts.
    #[error("{part} is stuck: {detail}")]
    Stuck { part: &'static str, detail: String },
}

/// The passive-infrared motion sensor.
pub trait MotionSensor {
    /// Whether the PIR has fired since the last call, or why it could not be read. A
    /// failed read says nothing about motion: the caller sees none from this part.
    fn take_trigger(&mut self) -> Result<bool, SensorError>;
}
