//! H.264 encoding and decoding, MP4 clips a browser plays, thumbnails, pre-roll.
//!
//! - [`Mp4FrameSource`] reads an MP4/H.264 file as a [`watchlight_hw::FrameSource`].
//! - [`H264Encoder`] wraps openh264 with settings suited to clips ([`EncoderSettings`]).
//! - [`mux_mp4`] writes fast-start MP4 (moov before mdat) that browsers play and seek.
//! - [`probe_mp4`] checks an MP4 is a playable H.264 clip from its index alone.
//! - [`thumbnail_jpeg`] turns an I420 frame into a JPEG.
//! - [`ClipRecorder`] keeps a pre-roll of encoded GOPs and turns a recording into a [`Clip`].
//!
//! Everything here is sans-IO except [`Mp4FrameSource::open`], which reads a file: the
//! recorder takes frames and times as inputs and returns bytes.
//!
//! # Driving the recorder from the camera core
//!
//! Push every captured frame with the detector's score and boxes; start and finish when
//! the camera core's record decision says so; queue the clip for upload.
//!
//! ```no_run
//! use watchlight_hw::FrameSource;
//! use watchlight_media::{ClipRecorder, ClipTrigger, MotionSample, Mp4FrameSource, RecorderConfig};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let mut camera = Mp4FrameSource::open("../shared/data/video/campus-pedestrians-480x360-10fps.mp4")?;
//! let (width, height) = camera.size();
//! // Mains camera: 2 s pre-roll (settings `pre_roll`); a battery camera passes 0.
//! let mut recorder = ClipRecorder::new(RecorderConfig::new(width, height, camera.fps(), 2_000))?;
//! let hub_now_ms = 1_700_000_000_000;
//! for i in 0..100 {
//!     let Some(frame) = camera.next_frame()? else { break };
//!     let motion = MotionSample {
//!         score: 0.0, // from the detector
//!         boxes: vec![MotionSample::normalise_box((10, 20, 30, 40), width, height)],
//!     };
//!     recorder.push_frame(&frame, &motion)?;
//!     if i == 40 {
//!         recorder.start(ClipTrigger::Pixel, hub_now_ms + frame.pts_ms)?;
//!     }
//! }
//! let clip = recorder.finish()?;
//! // PUT clip.mp4 with X-Watchlight-Sha256: clip.meta.sha256, then the thumbnail, then
//! // send `clip_recorded` with clip.meta (serde) plus the clip id.
//! println!("{}", serde_json::to_string(&clip.meta)?);
//! # Ok(())
//! # }
//! ```

mod annexb;
mod clip;
mod encode;
mod error;
mod mp4_source;
mod mux;
mod probe;
mod recorder;
mod thumbnail;
mod timecode;

pub use annexb::{NalType, annex_b_nal_units, contains_idr};
pub use clip::{Clip, ClipMeta, ClipTrigger, MotionSample, NormalisedBox};
pub use encode::{EncodedFrame, EncoderSettings, H264Encoder};
pub use error::MediaError;
pub use mp4_source::Mp4FrameSource;
pub use mux::mux_mp4;
pub use probe::{Mp4Info, probe_mp4};
pub use recorder::{ClipRecorder, RecorderConfig};
pub use thumbnail::thumbnail_jpeg;
pub use timecode::{read_capture_time, stamp_capture_time};
