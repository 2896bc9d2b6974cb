//! The clip recorder: a pre-roll of encoded frames, then the recording, then a [`Clip`].
//!
//! Sans-IO: the camera agent feeds it frames, motion and times, and gets bytes back.
//!
//! **Why the pre-roll keeps encoded GOPs, not raw frames.** A raw 720p I420 frame is
//! 1.4 MB, so 2 s at 15 fps would hold 41 MB — too much for a camera board. Encoded at
//! ≈ 2.8 Mbps the same 2 s is ≈ 0.7 MB. The price is that the encoder runs all the time
//! on a camera with a pre-roll (mains cameras, which have the power), and that a clip can
//! only start at a keyframe: the ring keeps whole GOPs, so it covers at least the pre-roll
//! and at most the pre-roll plus one keyframe interval. With no pre-roll (battery cameras)
//! nothing is encoded until the recording starts, which then begins with a forced keyframe.
//! Only one raw frame is kept: the latest, a candidate thumbnail if the trigger came from it.
//!
//! **Frame times strictly increase by construction.** An MP4 needs every frame after the
//! previous one; a camera's clock can stall (two frames read in the same millisecond
//! after a lag). The recorder stamps each frame with its own time, or 1 ms after the
//! previous frame's when that is not later, so the muxer never sees a repeated or
//! backward time whatever the caller's clock does.

use std::collections::VecDeque;

use sha2::{Digest, Sha256};
use watchlight_hw::Frame;

use crate::clip::{Clip, ClipMeta, ClipTrigger, MotionSample};
use crate::mux::{clip_duration_ms, mux_mp4};
use crate::{EncodedFrame, EncoderSettings, H264Encoder, MediaError, thumbnail_jpeg};

/// How the recorder encodes and how much it keeps before a trigger.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RecorderConfig {
    pub encoder: EncoderSettings,
    /// Milliseconds of video kept before the trigger (settings `pre_roll`, 0 for battery).
    pub pre_roll_ms: u64,
    /// JPEG quality of the thumbnail, 1–100.
    pub thumbnail_quality: u8,
}

impl RecorderConfig {
    /// Clip settings for this size and rate, with this pre-roll and an 80 % thumbnail.
    pub fn new(width: u32, height: u32, fps: f32, pre_roll_ms: u64) -> RecorderConfig {
        RecorderConfig {
            encoder: EncoderSettings::for_clip(width, height, fps),
            pre_roll_ms,
            thumbnail_quality: 80,
        }
    }
}

/// A raw frame with the motion measured on it.
#[derive(Debug, Clone)]
struct ScoredFrame {
    frame: Frame,
    motion: MotionSample,
}

impl ScoredFrame {
    /// Overwrites `slot` with this frame stamped `pts_ms`, reusing its buffers (no
    /// allocation once warm).
    fn store(slot: &mut Option<ScoredFrame>, frame: &Frame, pts_ms: u64, motion: &MotionSample) {
        match slot {
            Some(s) => {
                s.frame.clone_from(frame);
                s.motion.clone_from(motion);
            }
            None => {
                *slot = Some(ScoredFrame {
                    frame: frame.clone(),
                    motion: motion.clone(),
                })
            }
        }
        if let Some(s) = slot {
            s.frame.pts_ms = pts_ms;
        }
    }
}

#[derive(Debug)]
struct Recording {
    trigger: ClipTrigger,
    started_at_ms: u64,
    /// Presentation time of the newest pre-roll frame when the trigger came.
    trigger_pts_ms: Option<u64>,
    frames: Vec<EncodedFrame>,
    peak: Option<ScoredFrame>,
}

/// Records clips from a stream of frames. Call [`push_frame`](Self::push_frame) for every
/// frame the camera captures, idle or not; [`start`](Self::start) when the camera core
/// says record; [`finish`](Self::finish) when it says stop.
#[derive(Debug)]
pub struct ClipRecorder {
    config: RecorderConfig,
    encoder: H264Encoder,
    pre_roll: VecDeque<EncodedFrame>,
    pre_roll_bytes: usize,
    latest: Option<ScoredFrame>,
    recording: Option<Recording>,
    /// The time given to the previous frame (see the module docs).
    last_pts_ms: Option<u64>,
}

impl ClipRecorder {
    pub fn new(config: RecorderConfig) -> Result<ClipRecorder, MediaError> {
        Ok(ClipRecorder {
            encoder: H264Encoder::new(config.encoder)?,
            config,
            pre_roll: VecDeque::new(),
            pre_roll_bytes: 0,
            latest: None,
            recording: None,
            last_pts_ms: None,
        })
    }

    pub fn config(&self) -> &RecorderConfig {
        &self.config
    }

    pub fn is_recording(&self) -> bool {
        self.recording.is_some()
    }

    /// Bytes of encoded video held for the pre-roll now.
    pub fn pre_roll_bytes(&self) -> usize {
        self.pre_roll_bytes
    }

    /// Milliseconds from the oldest to the newest pre-roll frame.
    pub fn pre_roll_span_ms(&self) -> u64 {
        match (self.pre_roll.front(), self.pre_roll.back()) {
            (Some(first), Some(last)) => last.pts_ms - first.pts_ms,
            _ => 0,
        }
    }

    /// Takes one captured frame and the motion measured on it. A frame whose time is not
    /// after the previous frame's is kept 1 ms after it (see the module docs).
    pub fn push_frame(&mut self, frame: &Frame, motion: &MotionSample) -> Result<(), MediaError> {
        let pts_ms = match self.last_pts_ms {
            Some(last) if frame.pts_ms <= last => last + 1,
            _ => frame.pts_ms,
        };
        self.last_pts_ms = Some(pts_ms);
        if let Some(rec) = &mut self.recording {
            if rec.frames.is_empty() {
                self.encoder.force_keyframe();
            }
            let mut encoded = self.encoder.encode(frame)?;
            encoded.pts_ms = pts_ms;
            rec.frames.push(encoded);
            let better = rec
                .peak
                .as_ref()
                .is_none_or(|p| motion.score > p.motion.score);
            if better {
                ScoredFrame::store(&mut rec.peak, frame, pts_ms, motion);
            }
            return Ok(());
        }
        if self.config.pre_roll_ms == 0 {
            return Ok(());
        }
        if self.pre_roll.is_empty() {
            self.encoder.force_keyframe();
        }
        let mut encoded = self.encoder.encode(frame)?;
        encoded.pts_ms = pts_ms;
        self.pre_roll_bytes += encoded.data.len();
        self.pre_roll.push_back(encoded);
        self.trim_pre_roll();
        ScoredFrame::store(&mut self.latest, frame, pts_ms, motion);
        Ok(())
    }

    /// Drops whole GOPs from the front while the rest still covers the pre-roll.
    fn trim_pre_roll(&mut self) {
        let Some(newest) = self.pre_roll.back().map(|f| f.pts_ms) else {
            return;
        };
        // The newest keyframe that still leaves the whole pre-roll after it.
        let pre_roll_ms = self.config.pre_roll_ms;
        let cut = (1..self.pre_roll.len()).rev().find(|&i| {
            let f = &self.pre_roll[i];
            f.keyframe && newest.saturating_sub(f.pts_ms) >= pre_roll_ms
        });
        if let Some(cut) = cut {
            for dropped in self.pre_roll.drain(..cut) {
                self.pre_roll_bytes -= dropped.data.len();
            }
        }
    }

    /// Starts a clip at `now_ms` (the clock the metadata should use, the hub's), taking
    /// the pre-roll as its beginning.
    pub fn start(&mut self, trigger: ClipTrigger, now_ms: u64) -> Result<(), MediaError> {
        if self.recording.is_some() {
            return Err(MediaError::AlreadyRecording);
        }
        let frames: Vec<EncodedFrame> = self.pre_roll.drain(..).collect();
        self.pre_roll_bytes = 0;
        let trigger_pts_ms = frames.last().map(|f| f.pts_ms);
        // The latest raw frame is in the clip only if it is the newest pre-roll frame.
        let peak = match (&self.latest, trigger_pts_ms) {
            (Some(latest), Some(pts)) if latest.frame.pts_ms == pts => self.latest.take(),
            _ => None,
        };
        self.recording = Some(Recording {
            trigger,
            started_at_ms: now_ms,
            trigger_pts_ms,
            frames,
            peak,
        });
        Ok(())
    }

    /// Ends the clip: muxes the MP4, encodes the thumbnail, fills in the metadata. The
    /// recorder is idle afterwards (its pre-roll starts afresh), even if this fails.
    pub fn finish(&mut self) -> Result<Clip, MediaError> {
        let rec = self.recording.take().ok_or(MediaError::NotRecording)?;
        let settings = *self.encoder.settings();
        if rec.frames.len() < 2 {
            return Err(MediaError::TooFewFrames(rec.frames.len()));
        }
        let mp4 = mux_mp4(settings.width, settings.height, settings.fps, &rec.frames)?;
        let peak = rec.peak.ok_or(MediaError::TooFewFrames(0))?;
        let thumbnail_jpeg = thumbnail_jpeg(&peak.frame, self.config.thumbnail_quality)?;
        let first_pts = rec.frames[0].pts_ms;
        let pre_roll_ms = rec.trigger_pts_ms.map_or(0, |t| t - first_pts);
        let start_ts = rec.started_at_ms.saturating_sub(pre_roll_ms);
        let duration_ms = clip_duration_ms(&rec.frames);
        let sha256 = Sha256::digest(&mp4)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        let meta = ClipMeta {
            start_ts,
            end_ts: start_ts + duration_ms,
            trigger: rec.trigger,
            peak_score: peak.motion.score,
            boxes: peak.motion.boxes,
            duration_ms,
            frame_count: rec.frames.len() as u32,
            width: settings.width,
            height: settings.height,
            bytes: mp4.len() as u64,
            sha256,
        };
        Ok(Clip {
            mp4,
            thumbnail_jpeg,
            meta,
        })
    }
}
