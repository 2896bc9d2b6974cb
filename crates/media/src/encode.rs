//! H.264 encoding with settings suited to clips.

use openh264::OpenH264API;
use openh264::Timestamp;
use openh264::encoder::{
    BitRate, Encoder, EncoderConfig, FrameRate, FrameType, IntraFramePeriod, Profile,
    RateControlMode, UsageType,
};
use openh264::formats::YUVSlices;
use serde::{Deserialize, Serialize};
use watchlight_hw::Frame;

use crate::MediaError;

/// How clips are encoded. openh264's defaults do not suit clips (120 kbps, frames skipped
/// under rate pressure so some inputs give no output, frame rate 0 so rate control has no
/// time base, keyframes only when it likes), so every one of these is set explicitly.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct EncoderSettings {
    pub width: u32,
    pub height: u32,
    /// The real frame rate of the input; rate control spends the bitrate per frame by it.
    pub fps: f32,
    pub bitrate_bps: u32,
    /// A keyframe (IDR with SPS/PPS) every this many frames. It bounds how far a clip's
    /// start may reach back into the pre-roll and how finely a browser can seek.
    pub keyframe_interval: u32,
}

impl EncoderSettings {
    /// Settings for a clip of this size and frame rate: about 0.1 bit per pixel per frame
    /// (≈ 2.8 Mbps at 720p30, ≈ 170 kbps at 480x360 10 fps), clamped to 150 kbps..8 Mbps,
    /// and a keyframe every second.
    pub fn for_clip(width: u32, height: u32, fps: f32) -> EncoderSettings {
        let bits = f64::from(width) * f64::from(height) * f64::from(fps) * 0.1;
        EncoderSettings {
            width,
            height,
            fps,
            bitrate_bps: bits.clamp(150_000.0, 8_000_000.0) as u32,
            keyframe_interval: (fps.round() as u32).max(1),
        }
    }

    /// Checks the settings openh264 would otherwise reject late or obscurely.
    pub fn validate(&self) -> Result<(), MediaError> {
        let bad = |why: String| Err(MediaError::InvalidSettings(why));
        if self.width == 0
            || self.height == 0
            || !self.width.is_multiple_of(2)
            || !self.height.is_multiple_of(2)
        {
            return bad(format!(
                "size {}x{} must be even and non-zero",
                self.width, self.height
            ));
        }
        if self.width.max(self.height) > 3840 || self.width.min(self.height) > 2160 {
            return bad(format!(
                "size {}x{} is larger than H.264 level 5.2 allows (3840x2160)",
                self.width, self.height
            ));
        }
        if !(self.fps.is_finite() && self.fps > 0.0 && self.fps <= 120.0) {
            return bad(format!("frame rate {} must be in (0, 120]", self.fps));
        }
        if self.bitrate_bps < 10_000 || self.bitrate_bps > 50_000_000 {
            return bad(format!(
                "bitrate {} bps must be within 10 kbps..50 Mbps",
                self.bitrate_bps
            ));
        }
        if self.keyframe_interval == 0 {
            return bad("keyframe interval must be at least 1 frame".to_string());
        }
        Ok(())
    }
}

/// One encoded picture: an Annex B access unit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EncodedFrame {
    /// The input frame's presentation time, milliseconds.
    pub pts_ms: u64,
    /// An IDR picture, preceded by SPS and PPS: decoding (and a clip) can start here.
    pub keyframe: bool,
    pub data: Vec<u8>,
}

/// An openh264 encoder producing Constrained Baseline (no B-frames: decode order is
/// presentation order, which the MP4 writer and the browser both rely on), one thread.
///
/// openh264 prints "bitrate can't be controlled ... without enabling skip frame" when it
/// starts: it means it will not drop frames to meet the rate, only raise the quantiser.
/// Measured (`cargo bench -p watchlight-media`), the output lands on the target rate
/// for camera footage; a clip with holes in it would be worse than a few extra bytes.
pub struct H264Encoder {
    encoder: Encoder,
    settings: EncoderSettings,
    frames_in: u64,
}

impl std::fmt::Debug for H264Encoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("H264Encoder")
            .field("settings", &self.settings)
            .field("frames_in", &self.frames_in)
            .finish()
    }
}

impl H264Encoder {
    pub fn new(settings: EncoderSettings) -> Result<H264Encoder, MediaError> {
        settings.validate()?;
        let config = EncoderConfig::new()
            .usage_type(UsageType::CameraVideoRealTime)
            .profile(Profile::Baseline)
            .rate_control_mode(RateControlMode::Bitrate)
            .bitrate(BitRate::from_bps(settings.bitrate_bps))
            .max_frame_rate(FrameRate::from_hz(settings.fps))
            .skip_frames(false)
            .intra_frame_period(IntraFramePeriod::from_num_frames(
                settings.keyframe_interval,
            ))
            .scene_change_detect(false)
            .num_threads(1);
        let encoder = Encoder::with_api_config(OpenH264API::from_source(), config)
            .map_err(|e| MediaError::InvalidSettings(format!("openh264 refused them: {e}")))?;
        Ok(H264Encoder {
            encoder,
            settings,
            frames_in: 0,
        })
    }

    pub fn settings(&self) -> &EncoderSettings {
        &self.settings
    }

    /// Makes the next encoded frame a keyframe (used when a clip starts with no pre-roll).
    pub fn force_keyframe(&mut self) {
        self.encoder.force_intra_frame();
    }

    /// Encodes one frame. Every input gives exactly one output (frame skipping is off).
    pub fn encode(&mut self, frame: &Frame) -> Result<EncodedFrame, MediaError> {
        let index = self.frames_in;
        let s = &self.settings;
        if (frame.width, frame.height) != (s.width, s.height) {
            return Err(MediaError::FrameSize {
                index,
                got_width: frame.width,
                got_height: frame.height,
                want_width: s.width,
                want_height: s.height,
            });
        }
        let (w, h) = (frame.width as usize, frame.height as usize);
        if frame.y.len() != w * h
            || frame.u.len() != (w / 2) * (h / 2)
            || frame.v.len() != frame.u.len()
        {
            return Err(MediaError::FramePlanes {
                index,
                width: frame.width,
                height: frame.height,
            });
        }
        let yuv = YUVSlices::new((&frame.y, &frame.u, &frame.v), (w, h), (w, w / 2, w / 2));
        let encode_error = |reason: String| MediaError::Encode { index, reason };
        let bitstream = self
            .encoder
            .encode_at(&yuv, Timestamp::from_millis(frame.pts_ms))
            .map_err(|e| encode_error(e.to_string()))?;
        let frame_type = bitstream.frame_type();
        let data = bitstream.to_vec();
        self.frames_in += 1;
        if data.is_empty() || matches!(frame_type, FrameType::Skip | FrameType::Invalid) {
            return Err(encode_error(format!(
                "no picture came out (frame type {frame_type:?})"
            )));
        }
        Ok(EncodedFrame {
            pts_ms: frame.pts_ms,
            keyframe: frame_type == FrameType::IDR,
            data,
        })
    }
}
