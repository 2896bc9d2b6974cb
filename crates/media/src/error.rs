//! One error type for the crate: every variant names what was wrong.

/// What went wrong while encoding, muxing or recording.
#[derive(Debug, thiserror::Error)]
pub enum MediaError {
    #[error("invalid encoder settings: {0}")]
    InvalidSettings(String),
    #[error(
        "frame {index} is {got_width}x{got_height} but the encoder was set up for \
         {want_width}x{want_height}"
    )]
    FrameSize {
        index: u64,
        got_width: u32,
        got_height: u32,
        want_width: u32,
        want_height: u32,
    },
    #[error("frame {index} has planes of the wrong length for {width}x{height} I420")]
    FramePlanes { index: u64, width: u32, height: u32 },
    #[error("H.264 encoder failed at frame {index}: {reason}")]
    Encode { index: u64, reason: String },
    #[error("cannot write MP4: {0}")]
    Mux(String),
    #[error("a clip needs at least 2 frames to have a duration, got {0}")]
    TooFewFrames(usize),
    #[error("not a playable H.264 MP4: {0}")]
    NotPlayable(String),
    #[error("cannot encode JPEG thumbnail: {0}")]
    Thumbnail(String),
    #[error("the recorder is already recording")]
    AlreadyRecording,
    #[error("the recorder is not recording")]
    NotRecording,
}
