//! What an MP4 holds, read from its index alone (no decoding): for the hub to check an
//! upload is a clip it can serve, and for the web app's codec string.

use re_mp4::{Mp4, StsdBoxContent, TrackKind};
use serde::{Deserialize, Serialize};

use crate::MediaError;

/// The video track of an MP4, as its boxes describe it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Mp4Info {
    pub width: u32,
    pub height: u32,
    pub frame_count: u32,
    /// Sum of the samples' durations.
    pub duration_ms: u64,
    /// RFC 6381 codec string, e.g. `avc1.42C01E` (Constrained Baseline, level 3.0).
    pub codec: String,
    /// `moov` comes before `mdat`: a browser can start playing from the first bytes.
    pub fast_start: bool,
    /// The file is fragmented (`moof` boxes).
    pub fragmented: bool,
}

/// Reads an MP4's index and checks it describes an H.264 video whose samples all lie
/// inside the file. Errors name what is wrong.
pub fn probe_mp4(bytes: &[u8]) -> Result<Mp4Info, MediaError> {
    let bad = |why: String| MediaError::NotPlayable(why);
    let mp4 = std::panic::catch_unwind(|| Mp4::read_bytes(bytes))
        .map_err(|_| bad("the box structure is inconsistent".into()))?
        .map_err(|e| bad(format!("not a readable MP4: {e}")))?;
    let track = mp4
        .tracks()
        .values()
        .find(|t| t.kind == Some(TrackKind::Video))
        .ok_or_else(|| bad("no video track".into()))?;
    if !matches!(
        track.trak(&mp4).mdia.minf.stbl.stsd.contents,
        StsdBoxContent::Avc1(_)
    ) {
        return Err(bad("the video track is not H.264 (avc1)".into()));
    }
    if track.samples.is_empty() {
        return Err(bad("the video track has no samples".into()));
    }
    if let Some(s) = track
        .samples
        .iter()
        .find(|s| s.offset.saturating_add(s.size) > bytes.len() as u64)
    {
        return Err(bad(format!(
            "sample {} lies past the end of the {}-byte file (truncated?)",
            s.id,
            bytes.len()
        )));
    }
    let timescale = track.timescale.max(1);
    let total: u64 = track.samples.iter().map(|s| s.duration).sum();
    let top_level = top_level_boxes(bytes);
    let position = |name: &[u8; 4]| top_level.iter().position(|b| b == name);
    Ok(Mp4Info {
        width: u32::from(track.width),
        height: u32::from(track.height),
        frame_count: track.samples.len() as u32,
        duration_ms: total.saturating_mul(1000) / timescale,
        codec: track.codec_string(&mp4).unwrap_or_default(),
        fast_start: matches!((position(b"moov"), position(b"mdat")), (Some(m), Some(d)) if m < d),
        fragmented: position(b"moof").is_some(),
    })
}

/// The types of the top-level boxes, in file order (stops at the first malformed size).
fn top_level_boxes(bytes: &[u8]) -> Vec<[u8; 4]> {
    let mut boxes = Vec::new();
    let mut at = 0usize;
    while at + 8 <= bytes.len() {
        let size = u32::from_be_bytes([bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]]);
        let name = [bytes[at + 4], bytes[at + 5], bytes[at + 6], bytes[at + 7]];
        let size = match size {
            1 if at + 16 <= bytes.len() => {
                u64::from_be_bytes(bytes[at + 8..at + 16].try_into().unwrap_or([0; 8])) as usize
            }
            0 => bytes.len() - at,
            n => n as usize,
        };
        boxes.push(name);
        if size < 8 {
            break;
        }
        at = at.saturating_add(size);
    }
    boxes
}
