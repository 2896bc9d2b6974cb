//! The image sensor and PIR of a simulated camera: a synthetic scene (with a PIR signal
//! from its ground truth) or an MP4 file (no PIR: battery profiles then record only on
//! what `POST /sim/motion` asks for).

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
}

enum Source {
    Synthetic(Box<SyntheticScene>),
    File(Box<Mp4FrameSource>),
}

impl CameraScene {
    pub fn open(choice: &SceneChoice, seed: u64) -> Result<CameraScene, FrameError> {
        let source = match choice {
            SceneChoice::Synthetic => Source::Synthetic(Box::new(quiet_scene(seed, Vec::new()))),
            SceneChoice::File(path) => {
                Source::File(Box::new(Mp4FrameSource::open(path)?.looping(true)))
            }
        };
        Ok(CameraScene {
            source,
            seed,
            pir_frames_left: 0,
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
                **s = quiet_scene(self.seed, vec![person]);
            }
            Source::File(_) => self.pir_frames_left = WALK_FRAMES,
        }
    }

    /// The next frame, stamped `pts_ms` (the camera's clock), and whether the PIR fires.
    pub fn next(&mut self, pts_ms: u64) -> Result<(Frame, bool), FrameError> {
        let (mut frame, pir) = match &mut self.source {
            Source::Synthetic(s) => {
                let frame = match s.next_frame()? {
                    Some(f) => f,
                    None => {
                        **s = quiet_scene(self.seed, Vec::new());
                        s.next_frame()?.ok_or_else(|| FrameError::Read {
                            source_name: "synthetic scene".into(),
                            reason: "a fresh scene gave no frame".into(),
                        })?
                    }
                };
                (frame, s.truth().pir)
            }
            Source::File(f) => {
                let frame = f.next_frame()?.ok_or_else(|| FrameError::Read {
                    source_name: "video file".into(),
                    reason: "the looping source ended".into(),
                })?;
                let pir = self.pir_frames_left > 0;
                self.pir_frames_left = self.pir_frames_left.saturating_sub(1);
                (frame, pir)
            }
        };
        frame.pts_ms = pts_ms;
        Ok((frame, pir))
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
        let quiet: Vec<bool> = (0..10).map(|i| scene.next(i * 100).unwrap().1).collect();
        assert!(quiet.iter().all(|p| !p));
        scene.walk();
        let walk: Vec<bool> = (0..60).map(|i| scene.next(i * 100).unwrap().1).collect();
        let fired = walk.iter().filter(|p| **p).count() as u64;
        assert!(fired >= WALK_FRAMES / 2, "PIR fired on {fired} frames");
        assert!(!walk[59], "the walk is over by then");
        let (frame, _) = scene.next(12_345).unwrap();
        assert_eq!(frame.pts_ms, 12_345);
    }
}
