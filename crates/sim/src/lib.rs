//! The fleet simulator behind `watchlight sim`: many simulated cameras in one process
//! against a real hub started as a child process (so it can be killed with -9), with
//! timed faults, and a report of what the hub detected, what the doctor said and what
//! happened to every event (`docs/sim.md`).
//!
//! - [`scenario`]: the TOML scenario (fleet and faults) and the seeded plan of a run.
//! - [`hubproc`]: the hub child process, its owner and API, and its cost from `/proc`.
//! - [`broker`]: a Mosquitto beside the hub (`broker = "mosquitto"`), restartable alone.
//! - [`camera`]: one simulated camera: its own MQTT connection and credential, the
//!   camera's side of the protocol, a queue of events and clips emptied only by the
//!   hub's acknowledgements, clip uploads over HTTP, and the faults it takes.
//! - [`clip`]: the real clip every camera uploads (made once per run with the clip
//!   recorder), and the owner's API's list of clips at the end.
//! - [`body`]: what a simulated camera is made of: the camera core and the simulated
//!   battery pack (sans-IO); its light, lifecycle and events are a real camera's.
//! - [`shared`]: what the cameras share with the run (gate, event ledger, status).
//! - [`provision`]: the cameras' provisioning endpoints, so pairing is real pairing.
//! - [`observe`]: the hub's live stream, API probes, CPU and memory samples.
//! - `owner`: the simulated owner asking the doctor (opening words, answers).
//! - [`run`]: a whole run; `faults`: the hub's faults carried out, every fault
//!   judged; [`report`]: what it prints.

pub mod body;
pub mod broker;
pub mod camera;
pub mod clip;
mod faults;
pub mod hubproc;
pub mod observe;
mod owner;
pub mod provision;
pub mod report;
pub mod run;
pub mod scenario;
pub mod shared;

pub use report::Report;
pub use run::{Options, SimError, run, run_blocking};
pub use scenario::{Scenario, ScenarioError};
