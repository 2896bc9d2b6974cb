//! Simulated hardware. Each simulation implements the same trait a Linux board does,
//! and shares one [`SimClock`] so that tests and the simulated camera run on virtual
//! time.

mod battery;
mod clock;
mod io;
mod light;
mod sensor;
mod wifi;

pub use battery::{BatteryModel, Load, OCV_CURVE, SimBattery};
pub use clock::SimClock;
pub use io::{PIR_NAME, SimButton, SimPir};
pub use light::SimLight;
pub use sensor::{SENSOR_NAME, SimImageSensor};
pub use wifi::SimWifi;
