//! The camera agent runtime: the sans-IO camera core ([`watchlight_camera::Core`])
//! driven by real time, with simulated hardware ([`watchlight_hw::sim`]), a synthetic
//! scene or an MP4 file as its image sensor, and MQTT and HTTP at its edges.
//!
//! - [`config`]: what `watchlight camera --sim ...` is given.
//! - [`persist`]: credentials and core state in the data folder, written atomically.
//! - [`disk_queue`]: the folder the offline queue keeps its items in.
//! - [`local`]: the camera's own HTTP endpoint: provisioning in setup mode
//!   (`POST /provision`, `GET /provision/status`, docs/contracts.md) and the simulator's
//!   controls (`/sim/...`) that tests and the demo use to cut the Wi-Fi, walk a person
//!   past the camera or drain the battery.
//! - [`scene`]: the image sensor and PIR of a simulated camera.
//! - [`live`]: snapshots and live view: frames encoded as JPEG and uploaded to the hub.
//! - [`session`]: one MQTT connection to the hub, with publish acknowledgements mapped
//!   back to what was published.
//! - [`radio`]: the simulated radio every MQTT byte passes through, which the simulator
//!   can make go silent (packets dropped, sockets left open).
//! - [`machine`]: the agent's decisions without I/O (connecting and backoff jitter, a
//!   battery camera's check-in and sleep, delivery of the offline queue with the hub's
//!   acknowledgements, the hub's messages and commands, Wi-Fi change, snapshots and live
//!   view, when to read the sensors and the battery), with the camera core inside;
//!   tested on a virtual clock.
//! - [`runtime`]: the driver that runs the machine on real time and carries out its
//!   outputs with the session, uploads, the disk queue, the recorder and the hardware.

pub mod config;
pub mod demo;
pub mod disk_queue;
pub mod harness;
pub mod live;
pub mod local;
pub mod machine;
pub mod mjpeg;
pub mod persist;
pub mod radio;
pub mod runtime;
pub mod scene;
pub mod session;

pub use config::{AgentConfig, SceneChoice, pairing_code_for};
pub use runtime::{Agent, AgentError, Ready, run_until_signal};
