//! H.264 encoding and decoding, MP4 clips a browser plays, thumbnails, pre-roll.
//!
//! - [`Mp4FrameSource`] reads an MP4/H.264 file as a [`watchlight_hw::FrameSource`].
//! - [`H264Encoder`] wraps openh264 with settings suited to clips ([`EncoderSettings`]).
//! - [`mux_mp4`] writes fast-start MP4 (moov before mdat) that browsers play and seek.
//! - [`thumbnail_jpeg`] turns an I420 frame into a JPEG.
//! - [`ClipRecorder`] keeps a pre-roll of encoded GOPs and turns a recording into a [`Clip`].
//!
//! Everything here is sans-IO except [`Mp4FrameSource::open`], which reads a file: the
//! recorder takes frames and times as inputs and returns bytes.

mod annexb;
mod clip;
mod encode;
mod error;
mod mp4_source;
mod mux;
mod recorder;
mod thumbnail;

pub use annexb::{NalType, annex_b_nal_units, contains_idr};
pub use clip::{Clip, ClipMeta, ClipTrigger, MotionSample, NormalisedBox};
pub use encode::{EncodedFrame, EncoderSettings, H264Encoder};
pub use error::MediaError;
pub use mp4_source::Mp4FrameSource;
pub use mux::mux_mp4;
pub use recorder::{ClipRecorder, RecorderConfig};
pub use thumbnail::thumbnail_jpeg;
