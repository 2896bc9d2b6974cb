//! Pixel motion detection on luma (SPEC §7), the frame sources it is judged on, and the
//! CDnet evaluation that compares it with OpenCV.
//!
//! - [`detector`]: the detector itself, a sans-IO state machine: luma in, verdict, boxes
//!   and mask out; no allocation per frame once built.
//! - [`blobs`]: connected blobs on a coarse grid of cells, for boxes and minimum areas.
//! - [`cdnet`]: CDnet image sequences as a [`watchlight_hw::FrameSource`] and the scoring protocol.
//! - [`synthetic`]: a seeded synthetic scene with ground truth (people, cars, light changes,
//!   foliage, rain, an IR switch, a burned-in clock, and a PIR signal).

pub mod blobs;
pub mod cdnet;
pub mod detector;
pub mod synthetic;

pub use blobs::BoundingBox;
pub use cdnet::{CdnetError, CdnetSource, EvalReport, evaluate_cdnet};
pub use detector::{Detector, DetectorConfig, MotionError, Tuning, Verdict};
pub use synthetic::{SceneConfig, SceneEvent, SyntheticScene, Truth};
