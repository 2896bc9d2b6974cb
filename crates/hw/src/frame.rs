//! Frames from an image sensor, a file or a synthetic scene.

/// One I420 (YUV 4:2:0 planar) frame. Motion detection reads only `y` (luma); the
/// encoder takes all three planes. Width and height are even.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    pub width: u32,
    pub height: u32,
    /// Presentation time from the source's start, milliseconds.
    pub pts_ms: u64,
    /// `width * height` bytes.
    pub y: Vec<u8>,
    /// `(width / 2) * (height / 2)` bytes each.
    pub u: Vec<u8>,
    pub v: Vec<u8>,
}

impl Frame {
    /// A mid-grey frame of the given size.
    pub fn grey(width: u32, height: u32, pts_ms: u64) -> Frame {
        let (w, h) = (width as usize, height as usize);
        Frame {
            width,
            height,
            pts_ms,
            y: vec![128; w * h],
            u: vec![128; (w / 2) * (h / 2)],
            v: vec![128; (w / 2) * (h / 2)],
        }
    }

    /// A frame with this luma and neutral chroma.
    pub fn from_luma(width: u32, height: u32, pts_ms: u64, y: Vec<u8>) -> Frame {
        let (w, h) = (width as usize, height as usize);
        assert_eq!(y.len(), w * h, "luma plane size");
        Frame {
            width,
            height,
            pts_ms,
            y,
            u: vec![128; (w / 2) * (h / 2)],
            v: vec![128; (w / 2) * (h / 2)],
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum FrameError {
    #[error("cannot read frame source {source_name}: {reason}")]
    Read { source_name: String, reason: String },
    #[error("frame source {source_name} is corrupt at frame {index}: {reason}")]
    Corrupt {
        source_name: String,
        index: u64,
        reason: String,
    },
    /// The image sensor itself did not answer (hardware, as opposed to a file).
    #[error(transparent)]
    Sensor(#[from] crate::SensorError),
}

/// The image sensor, or anything that stands in for it.
pub trait FrameSource {
    /// Frame size; constant for the life of the source.
    fn size(&self) -> (u32, u32);
    /// Nominal frames per second.
    fn fps(&self) -> f32;
    /// The next frame, or `None` at the end of a finite source.
    fn next_frame(&mut self) -> Result<Option<Frame>, FrameError>;
}
