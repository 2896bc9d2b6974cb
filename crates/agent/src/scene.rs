//! The image sensor and PIR of a simulated camera: a synthetic scene (with a PIR signal
//! from its ground truth) or an MP4 file (no PIR: battery profiles then record only on
//! what `POST /sim/motion` asks for). Either is filmed through a [`SimImageSensor`] that
//! `POST /sim/sensor` can break.

use watchlight_hw::sim::SimImageSensor;
use watchlight_hw::{Frame, FrameError, FrameSource};
use watchlight_media::Mp4FrameSource;
use watchlight_motion::{SceneConfig, SceneEvent, SyntheticScene};

use crate::config::SceneChoice;

/// How many frames a person takes to cross the synthetic scene.
pub const WALK_FRAMES: u64 = 40;
/// Frames of an empty synthetic scene before it is restarted (it is finite).
const QUIET_FRAMES: u64 = 100_000;

pub struct CameraScene {
    source: Source,
    seed: u64,
    /// A walk was asked for on a file source: report PIR for this many frames.
    pir_frames_left: u64,
    /// Frames read from the current synthetic scene (seen or not: a broken sensor
    /// hides them), to start a fresh one at its end.
    scene_frames: u64,
}

enum Source {
    Synthetic(Box<SimImageSensor<SyntheticScene>>),
    File(Box<SimImageSensor<Mp4FrameSource>>),
}

impl CameraScene {
    pub fn open(choice: &SceneChoice, seed: u64) -> Result<CameraScene, FrameError> {
        let source = match choice {
            SceneChoice::Synthetic => {
                Source::Synthetic(Box::new(SimImageSensor::new(quiet_scene(seed, Vec::new()))))
            }
            SceneChoice::File(path) => Source::File(Box::new(SimImageSensor::new(
                Mp4FrameSource::open(path)?.looping(true),
            ))),
        };
        Ok(CameraScene {
            source,
            seed,
            pir_frames_left: 0,
            scene_frames: 0,
        })
    }

    pub fn size(&self) -> (u32, u32) {
        match &self.source {
            Source::Synthetic(s) => s.size(),
            Source::File(f) => f.size(),
        }
    }

    pub fn fps(&self) -> f32 {
        match &self.source {
            Source::Synthetic(s) => s.fps(),
            Source::File(f) => f.fps(),
        }
    }

    /// Someone walks through the scene, starting within a few frames.
    pub fn walk(&mut self) {
        match &mut self.source {
            Source::Synthetic(s) => {
                let person = SceneEvent::Person {
                    start: 3,
                    end: 3 + WALK_FRAMES,
                    from: (0.1, 0.6),
                    to: (0.9, 0.55),
                };
                *s.inner_mut() = quiet_scene(self.seed, vec![person]);
                self.scene_frames = 0;
            }
            Source::File(_) => self.pir_frames_left = WALK_FRAMES,
        }
    }

    /// Breaks the image sensor (`true`) or mends it (`false`); the PIR is another part
    /// and goes on.
    pub fn set_sensor_broken(&mut self, broken: bool) {
        match &mut self.source {
            Source::Synthetic(s) => s.set_broken(broken),
            Source::File(f) => f.set_broken(broken),
        }
    }

    pub fn sensor_broken(&self) -> bool {
        match &self.source {
            Source::Synthetic(s) => s.is_broken(),
            Source::File(f) => f.is_broken(),
        }
    }

    /// The next frame, stamped `pts_ms` (the camera's clock), or why the image sensor
    /// gave none; and whether the PIR fires (it does whatever the image sensor does).
    pub fn next(&mut self, pts_ms: u64) -> (Result<Frame, FrameError>, bool) {
        let (frame, pir) = match &mut self.source {
            Source::Synthetic(s) => {
                if self.scene_frames >= s.inner().config().frames {
                    // The scene is finite: start a fresh quiet one.
                    *s.inner_mut() = quiet_scene(self.seed, Vec::new());
                    self.scene_frames = 0;
                }
                self.scene_frames += 1;
                let frame = s.next_frame().and_then(|f| {
                    f.ok_or_else(|| FrameError::Read {
                        source_name: "synthetic scene".into(),
                        reason: "a fresh scene gave no frame".into(),
                    })
                });
                (frame, s.inner().truth().pir)
            }
            Source::File(f) => {
                let frame = f.next_frame().and_then(|f| {
                    f.ok_or_else(|| FrameError::Read {
                        source_name: "video file".into(),
                        reason: "the looping source ended".into(),
                    })
                });
                let pir = self.pir_frames_left > 0;
                self.pir_frames_left = self.pir_frames_left.saturating_sub(1);
                (frame, pir)
            }
        };
        let frame = frame.map(|mut f| {
            f.pts_ms = pts_ms;
            f
        });
        (frame, pir)
    }
}

fn quiet_scene(seed: u64, events: Vec<SceneEvent>) -> SyntheticScene {
    let mut config = SceneConfig::quiet(QUIET_FRAMES, seed);
    config.events = events;
    SyntheticScene::new(config)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_walk_makes_the_pir_fire_then_stop() {
        let mut scene = CameraScene::open(&SceneChoice::Synthetic, 7).unwrap();
        let quiet: Vec<bool> = (0..10).map(|i| scene.next(i * 100).1).collect();
        assert!(quiet.iter().all(|p| !p));
        scene.walk();
        let walk: Vec<bool> = (0..60).map(|i| scene.next(i * 100).1).collect();
        let fired = walk.iter().filter(|p| **p).count() as u64;
        assert!(fired >= WALK_FRAMES / 2, "PIR fired on {fired} frames");
        assert!(!walk[59], "the walk is over by then");
        let (frame, _) = scene.next(12_345);
        assert_eq!(frame.unwrap().pts_ms, 12_345);
    }

    #[test]
    fn a_broken_sensor_gives_errors_but_the_pir_still_sees_the_walk() {
        let mut scene = CameraScene::open(&SceneChoice::Synthetic, 7).unwrap();
        assert!(!scene.sensor_broken());
        scene.set_sensor_broken(true);
        assert!(scene.sensor_broken());
        scene.walk();
        let reads: Vec<_> = (0..60).map(|i| scene.next(i * 100)).collect();
        assert!(reads.iter().all(|(f, _)| f.is_err()));
        let fired = reads.iter().filter(|(_, p)| *p).count() as u64;
        assert!(fired >= WALK_FRAMES / 2, "PIR fired on {fired} frames");
        scene.set_sensor_broken(false);
        assert!(scene.next(6_000).0.is_ok());
    }
}
