//! The image sensor and PIR of a simulated camera: a synthetic scene (with a PIR signal
//! from its ground truth) or an MP4 file (no PIR: battery profiles then record only on
//! what `POST /sim/motion` asks for). Either is filmed through a [`SimImageSensor`], and
//! the PIR signal goes through a [`SimPir`]: `POST /sim/sensor` can break each.

use watchlight_hw::sim::{SimImageSensor, SimPir};
use watchlight_hw::{Frame, FrameError, FrameSource, MotionSensor, SensorError};
use watchlight_media::Mp4FrameSource;
use watchlight_motion::{SceneConfig, SceneEvent, SyntheticScene};
use watchlight_protocol::Part;

use crate::config::SceneChoice;

/// How many frames a person takes to cross the synthetic scene.
pub const WALK_FRAMES: u64 = 40;
/// Frames of an empty synthetic scene before it is restarted (it is finite).
const QUIET_FRAMES: u64 = 100_000;

pub struct CameraScene {
    source: Source,
    /// The PIR, fired by the scene's truth (or a walk on a file source).
    pir: SimPir,
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
            pir: SimPir::default(),
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

    /// Breaks `part` (`true`) or mends it (`false`); the other part goes on.
    pub fn set_broken(&mut self, part: Part, broken: bool) {
        match (part, &mut self.source) {
            (Part::ImageSensor, Source::Synthetic(s)) => s.set_broken(broken),
            (Part::ImageSensor, Source::File(f)) => f.set_broken(broken),
            (Part::MotionSensor, _) => self.pir.set_broken(broken),
        }
    }

    pub fn is_broken(&self, part: Part) -> bool {
        match (part, &self.source) {
            (Part::ImageSensor, Source::Synthetic(s)) => s.is_broken(),
            (Part::ImageSensor, Source::File(f)) => f.is_broken(),
            (Part::MotionSensor, _) => self.pir.is_broken(),
        }
    }

    /// One read of both parts: the next frame, stamped `pts_ms` (the camera's clock),
    /// or why the image sensor gave none; and whether the PIR fired, or why it could not
    /// be read. Each part fails on its own.
    pub fn next(&mut self, pts_ms: u64) -> (Result<Frame, FrameError>, Result<bool, SensorError>) {
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
        if pir {
            self.pir.fire();
        }
        let frame = frame.map(|mut f| {
            f.pts_ms = pts_ms;
            f
        });
        (frame, self.pir.take_trigger())
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
        let quiet: Vec<bool> = (0..10).map(|i| scene.next(i * 100).1.unwrap()).collect();
        assert!(quiet.iter().all(|p| !p));
        scene.walk();
        let walk: Vec<bool> = (0..60).map(|i| scene.next(i * 100).1.unwrap()).collect();
        let fired = walk.iter().filter(|p| **p).count() as u64;
        assert!(fired >= WALK_FRAMES / 2, "PIR fired on {fired} frames");
        assert!(!walk[59], "the walk is over by then");
        let (frame, _) = scene.next(12_345);
        assert_eq!(frame.unwrap().pts_ms, 12_345);
    }

    #[test]
    fn a_broken_sensor_gives_errors_but_the_pir_still_sees_the_walk() {
        let mut scene = CameraScene::open(&SceneChoice::Synthetic, 7).unwrap();
        assert!(!scene.is_broken(Part::ImageSensor));
        scene.set_broken(Part::ImageSensor, true);
        assert!(scene.is_broken(Part::ImageSensor));
        assert!(!scene.is_broken(Part::MotionSensor));
        scene.walk();
        let reads: Vec<_> = (0..60).map(|i| scene.next(i * 100)).collect();
        assert!(reads.iter().all(|(f, _)| f.is_err()));
        let fired = reads.iter().filter(|(_, p)| *p == Ok(true)).count() as u64;
        assert!(fired >= WALK_FRAMES / 2, "PIR fired on {fired} frames");
        scene.set_broken(Part::ImageSensor, false);
        assert!(scene.next(6_000).0.is_ok());
    }

    #[test]
    fn a_broken_pir_gives_errors_but_the_frames_still_show_the_walk() {
        let mut scene = CameraScene::open(&SceneChoice::Synthetic, 7).unwrap();
        scene.set_broken(Part::MotionSensor, true);
        assert!(scene.is_broken(Part::MotionSensor));
        assert!(!scene.is_broken(Part::ImageSensor));
        scene.walk();
        for i in 0..60 {
            let (frame, pir) = scene.next(i * 100);
            assert_eq!(frame.unwrap().pts_ms, i * 100, "frames go on");
            let err = pir.unwrap_err();
            assert!(err.to_string().contains("PIR"), "{err}");
        }
        // Mended after the walk: no stale trigger, and it answers again.
        scene.set_broken(Part::MotionSensor, false);
        assert_eq!(scene.next(6_000).1, Ok(false));
    }
}
