//! An MP4/H.264 file as a frame source: demux with `re_mp4`, decode with openh264.

use std::collections::VecDeque;
use std::ops::Range;
use std::path::Path;

use openh264::OpenH264API;
use openh264::decoder::{DecodedYUV, Decoder, DecoderConfig};
use openh264::formats::YUVSource;
use re_mp4::{Mp4, StsdBoxContent, TrackKind};
use watchlight_hw::{Frame, FrameError, FrameSource};

use crate::annexb::{length_prefixed_to_annex_b, push_annex_b};

/// Where one coded picture lives in the file, and when it is shown.
#[derive(Debug, Clone)]
struct SampleRef {
    bytes: Range<usize>,
    is_sync: bool,
    pts_ms: u64,
}

/// Frames of the first H.264 video track of an MP4 file (plain or fragmented), decoded to
/// I420 one sample at a time. The whole file is held in memory: files here are clips and
/// test footage, and holding it keeps sample reads free of I/O errors mid-stream.
pub struct Mp4FrameSource {
    name: String,
    data: Vec<u8>,
    samples: Vec<SampleRef>,
    next_sample: usize,
    length_size: usize,
    /// SPS and PPS from `avcC`, Annex B, put in front of every keyframe: openh264 refuses
    /// a keyframe without them (error 16), and MP4 keeps them out of band.
    parameter_sets: Vec<u8>,
    width: u32,
    height: u32,
    fps: f32,
    decoder: Decoder,
    /// Presentation times of samples sent to the decoder whose pictures have not come out.
    pending_pts: VecDeque<u64>,
    /// Pictures decoded but not yet returned (only after the final flush).
    ready: VecDeque<Frame>,
    packet: Vec<u8>,
    flushed: bool,
    /// Start again at the end, as a simulated camera that never stops would.
    looping: bool,
    /// Length of one pass, added to presentation times on every wrap.
    pass_duration_ms: u64,
    pts_offset_ms: u64,
    frames_this_pass: u64,
}

impl std::fmt::Debug for Mp4FrameSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Mp4FrameSource")
            .field("name", &self.name)
            .field("samples", &self.samples.len())
            .field("next_sample", &self.next_sample)
            .field("size", &(self.width, self.height))
            .field("fps", &self.fps)
            .finish()
    }
}

fn read_error(name: &str, reason: impl Into<String>) -> FrameError {
    FrameError::Read {
        source_name: name.to_string(),
        reason: reason.into(),
    }
}

impl Mp4FrameSource {
    /// Opens and indexes an MP4 file; no frame is decoded yet.
    pub fn open(path: impl AsRef<Path>) -> Result<Self, FrameError> {
        let path = path.as_ref();
        let name = path.display().to_string();
        let data = std::fs::read(path).map_err(|e| read_error(&name, e.to_string()))?;
        Self::from_bytes(name, data)
    }

    /// Indexes MP4 bytes already in memory; `name` appears in errors.
    pub fn from_bytes(name: impl Into<String>, data: Vec<u8>) -> Result<Self, FrameError> {
        let name = name.into();
        // The parser indexes into the data with lengths the file claims; a malformed file
        // must be an error, never a crash of the camera agent.
        let parsed = std::panic::catch_unwind(|| Mp4::read_bytes(&data))
            .map_err(|_| read_error(&name, "malformed MP4: the box structure is inconsistent"))?
            .map_err(|e| read_error(&name, format!("not a readable MP4: {e}")))?;

        let track = parsed
            .tracks()
            .values()
            .find(|t| t.kind == Some(TrackKind::Video))
            .ok_or_else(|| read_error(&name, "no video track"))?;
        let StsdBoxContent::Avc1(avc1) = &track.trak(&parsed).mdia.minf.stbl.stsd.contents else {
            return Err(read_error(&name, "the video track is not H.264 (avc1)"));
        };
        let avcc = &avc1.avcc.contents;
        let length_size = usize::from(avcc.length_size_minus_one & 0x3) + 1;
        let mut parameter_sets = Vec::new();
        for nal in avcc
            .sequence_parameter_sets
            .iter()
            .chain(&avcc.picture_parameter_sets)
        {
            push_annex_b(&mut parameter_sets, &nal.bytes);
        }
        if avcc.sequence_parameter_sets.is_empty() || avcc.picture_parameter_sets.is_empty() {
            return Err(read_error(&name, "avcC holds no SPS or no PPS"));
        }

        let (width, height) = (u32::from(track.width), u32::from(track.height));
        if width == 0 || height == 0 || !width.is_multiple_of(2) || !height.is_multiple_of(2) {
            return Err(read_error(
                &name,
                format!("frame size {width}x{height} is not even and non-zero (I420 needs it)"),
            ));
        }
        let timescale = track.timescale.max(1);
        let mut samples = Vec::with_capacity(track.samples.len());
        let mut total_duration = 0u64;
        for (index, s) in track.samples.iter().enumerate() {
            let end = s
                .offset
                .checked_add(s.size)
                .filter(|&e| e <= data.len() as u64);
            let Some(end) = end else {
                return Err(FrameError::Corrupt {
                    source_name: name,
                    index: index as u64,
                    reason: format!(
                        "sample of {} bytes at offset {} lies past the end of the {}-byte file \
                         (truncated?)",
                        s.size,
                        s.offset,
                        data.len()
                    ),
                });
            };
            total_duration += s.duration;
            samples.push(SampleRef {
                bytes: s.offset as usize..end as usize,
                is_sync: s.is_sync,
                pts_ms: (s.composition_timestamp.max(0) as u64).saturating_mul(1000) / timescale,
            });
        }
        if samples.is_empty() {
            return Err(read_error(&name, "the video track has no samples"));
        }
        let fps = if total_duration > 0 {
            (samples.len() as f64 * timescale as f64 / total_duration as f64) as f32
        } else {
            0.0
        };
        let decoder = Decoder::with_api_config(OpenH264API::from_source(), DecoderConfig::new())
            .map_err(|e| read_error(&name, format!("cannot start the H.264 decoder: {e}")))?;
        Ok(Mp4FrameSource {
            name,
            data,
            samples,
            next_sample: 0,
            length_size,
            parameter_sets,
            width,
            height,
            fps,
            decoder,
            pending_pts: VecDeque::new(),
            ready: VecDeque::new(),
            packet: Vec::new(),
            flushed: false,
            looping: false,
            pass_duration_ms: total_duration.saturating_mul(1000) / timescale,
            pts_offset_ms: 0,
            frames_this_pass: 0,
        })
    }

    /// Makes the source start again from the first frame when it reaches the end, with
    /// presentation times running on (frame `n` of the second pass comes one file
    /// duration after frame `n` of the first), so it never returns `None`.
    pub fn looping(mut self, looping: bool) -> Self {
        self.looping = looping;
        self
    }

    /// Number of coded pictures (samples) in the video track: one frame comes out per sample.
    pub fn sample_count(&self) -> usize {
        self.samples.len()
    }

    fn corrupt(&self, index: usize, reason: impl Into<String>) -> FrameError {
        FrameError::Corrupt {
            source_name: self.name.clone(),
            index: index as u64,
            reason: reason.into(),
        }
    }

    /// Copies a decoded picture (rows padded to a stride) into a tightly packed frame.
    fn to_frame(yuv: &DecodedYUV<'_>, want: (u32, u32), pts_ms: u64) -> Result<Frame, (u32, u32)> {
        let (w, h) = yuv.dimensions();
        if (w as u32, h as u32) != want {
            return Err((w as u32, h as u32));
        }
        let (sy, su, sv) = yuv.strides();
        let copy = |plane: &[u8], stride: usize, pw: usize, ph: usize| {
            let mut out = Vec::with_capacity(pw * ph);
            for row in plane.chunks(stride).take(ph) {
                out.extend_from_slice(&row[..pw]);
            }
            out
        };
        Ok(Frame {
            width: want.0,
            height: want.1,
            pts_ms,
            y: copy(yuv.y(), sy, w, h),
            u: copy(yuv.u(), su, w / 2, h / 2),
            v: copy(yuv.v(), sv, w / 2, h / 2),
        })
    }
}

impl FrameSource for Mp4FrameSource {
    fn size(&self) -> (u32, u32) {
        (self.width, self.height)
    }

    fn fps(&self) -> f32 {
        self.fps
    }

    fn next_frame(&mut self) -> Result<Option<Frame>, FrameError> {
        loop {
            if let Some(frame) = self.next_in_pass()? {
                self.frames_this_pass += 1;
                return Ok(Some(frame));
            }
            if !self.looping {
                return Ok(None);
            }
            if self.frames_this_pass == 0 {
                return Err(self.corrupt(0, "cannot loop: a whole pass gave no frame"));
            }
            // The first sample is a keyframe with SPS/PPS put in front: the decoder
            // restarts cleanly on it without being rebuilt.
            self.next_sample = 0;
            self.flushed = false;
            self.frames_this_pass = 0;
            self.pending_pts.clear();
            self.pts_offset_ms += self.pass_duration_ms;
        }
    }
}

impl Mp4FrameSource {
    /// The next frame of the current pass through the file.
    fn next_in_pass(&mut self) -> Result<Option<Frame>, FrameError> {
        if let Some(frame) = self.ready.pop_front() {
            return Ok(Some(frame));
        }
        let size = (self.width, self.height);
        while self.next_sample < self.samples.len() {
            let index = self.next_sample;
            self.next_sample += 1;
            let sample = self.samples[index].clone();
            self.packet.clear();
            if sample.is_sync {
                self.packet.extend_from_slice(&self.parameter_sets);
            }
            let bytes = &self.data[sample.bytes.clone()];
            if let Err(reason) =
                length_prefixed_to_annex_b(bytes, self.length_size, &mut self.packet)
            {
                return Err(self.corrupt(index, reason));
            }
            self.pending_pts.push_back(sample.pts_ms);
            let decoded = match self.decoder.decode(&self.packet) {
                Ok(decoded) => decoded,
                Err(e) => {
                    let reason = format!("H.264 decoder refused the sample: {e}");
                    return Err(FrameError::Corrupt {
                        source_name: self.name.clone(),
                        index: index as u64,
                        reason,
                    });
                }
            };
            if let Some(yuv) = decoded {
                let pts =
                    self.pending_pts.pop_front().unwrap_or(sample.pts_ms) + self.pts_offset_ms;
                return match Self::to_frame(&yuv, size, pts) {
                    Ok(frame) => Ok(Some(frame)),
                    Err(got) => Err(FrameError::Corrupt {
                        source_name: self.name.clone(),
                        index: index as u64,
                        reason: format!(
                            "decoded picture is {}x{}, the track says {}x{}",
                            got.0, got.1, size.0, size.1
                        ),
                    }),
                };
            }
        }
        if !self.flushed {
            self.flushed = true;
            let remaining = self
                .decoder
                .flush_remaining()
                .map_err(|e| FrameError::Corrupt {
                    source_name: self.name.clone(),
                    index: self.samples.len() as u64,
                    reason: format!("H.264 decoder failed to flush: {e}"),
                })?;
            for yuv in remaining {
                let pts = self.pending_pts.pop_front().unwrap_or_default() + self.pts_offset_ms;
                if let Ok(frame) = Self::to_frame(&yuv, size, pts) {
                    self.ready.push_back(frame);
                }
            }
        }
        Ok(self.ready.pop_front())
    }
}
