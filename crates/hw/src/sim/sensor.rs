//! A simulated image sensor that can break: it wraps any frame source (a synthetic
//! scene, a video file) and, once broken, answers every read with an error, as a
//! sensor whose ribbon cable came loose or whose chip died would.

use crate::{Frame, FrameError, FrameSource, SensorError};

/// The name a broken sensor's errors carry.
pub const SENSOR_NAME: &str = "image sensor";

/// A frame source with a fault switch. While broken the world it films goes on (the
/// wrapped source is still read and its frame thrown away), so a scene's ground truth,
/// and a PIR that follows it, stay in step with time.
#[derive(Debug)]
pub struct SimImageSensor<S> {
    inner: S,
    broken: bool,
}

impl<S: FrameSource> SimImageSensor<S> {
    pub fn new(inner: S) -> SimImageSensor<S> {
        SimImageSensor {
            inner,
            broken: false,
        }
    }

    /// Breaks the sensor (`true`) or mends it (`false`).
    pub fn set_broken(&mut self, broken: bool) {
        self.broken = broken;
    }

    pub fn is_broken(&self) -> bool {
        self.broken
    }

    /// The source being filmed (for a scene's ground truth).
    pub fn inner(&self) -> &S {
        &self.inner
    }

    pub fn inner_mut(&mut self) -> &mut S {
        &mut self.inner
    }
}

impl<S: FrameSource> FrameSource for SimImageSensor<S> {
    fn size(&self) -> (u32, u32) {
        self.inner.size()
    }

    fn fps(&self) -> f32 {
        self.inner.fps()
    }

    fn next_frame(&mut self) -> Result<Option<Frame>, FrameError> {
        let frame = self.inner.next_frame();
        if self.broken {
            return Err(SensorError::NoAnswer {
                part: SENSOR_NAME,
                detail: "no ACK on the sensor bus (simulated fault)".into(),
            }
            .into());
        }
        frame
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Grey frames numbered by their pts, forever.
    struct Counter(u64);

    impl FrameSource for Counter {
        fn size(&self) -> (u32, u32) {
            (4, 4)
        }
        fn fps(&self) -> f32 {
            10.0
        }
        fn next_frame(&mut self) -> Result<Option<Frame>, FrameError> {
            self.0 += 1;
            Ok(Some(Frame::grey(4, 4, self.0)))
        }
    }

    #[test]
    fn a_broken_sensor_errs_on_every_read_while_the_world_goes_on() {
        let mut s = SimImageSensor::new(Counter(0));
        assert_eq!(s.next_frame().unwrap().unwrap().pts_ms, 1);
        s.set_broken(true);
        assert!(s.is_broken());
        for _ in 0..3 {
            let err = s.next_frame().unwrap_err();
            assert!(
                matches!(&err, FrameError::Sensor(SensorError::NoAnswer { part, .. }) if *part == SENSOR_NAME),
                "{err:?}"
            );
            assert!(err.to_string().contains("image sensor"), "{err}");
        }
        s.set_broken(false);
        // Three frames went by unseen.
        assert_eq!(s.next_frame().unwrap().unwrap().pts_ms, 5);
        assert_eq!((s.size(), s.fps()), ((4, 4), 10.0));
    }
}
