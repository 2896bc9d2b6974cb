//! MP4 writing: fast-start (moov before mdat) so a browser can start playing and seeking
//! from the first bytes it fetches.

use muxide::api::{MuxerBuilder, VideoCodec};

use crate::{EncodedFrame, MediaError};

/// Writes encoded frames to a fast-start MP4 in memory. Times come from the frames'
/// `pts_ms`, shifted so the first frame is at 0; the last frame lasts as long as the one
/// before it. The first frame must be a keyframe (with SPS/PPS, as openh264 writes them).
pub fn mux_mp4(
    width: u32,
    height: u32,
    fps: f32,
    frames: &[EncodedFrame],
) -> Result<Vec<u8>, MediaError> {
    if frames.len() < 2 {
        return Err(MediaError::TooFewFrames(frames.len()));
    }
    if !frames[0].keyframe {
        return Err(MediaError::Mux(
            "the first frame is not a keyframe, so the clip could not start playing".into(),
        ));
    }
    let first_pts = frames[0].pts_ms;
    let mut muxer = MuxerBuilder::new(Vec::with_capacity(
        frames.iter().map(|f| f.data.len()).sum::<usize>() + 64 * 1024,
    ))
    .video(VideoCodec::H264, width, height, f64::from(fps))
    .with_fast_start(true)
    .build()
    .map_err(|e| MediaError::Mux(e.to_string()))?;
    for frame in frames {
        let Some(offset) = frame.pts_ms.checked_sub(first_pts) else {
            return Err(MediaError::Mux(format!(
                "frame at {} ms comes before the first frame at {first_pts} ms",
                frame.pts_ms
            )));
        };
        muxer
            .write_video(offset as f64 / 1000.0, &frame.data, frame.keyframe)
            .map_err(|e| MediaError::Mux(e.to_string()))?;
    }
    muxer
        .finish_in_place()
        .map_err(|e| MediaError::Mux(e.to_string()))?;
    Ok(muxer.into_writer())
}

/// The duration an MP4 written by [`mux_mp4`] has: first to last frame, plus the last
/// frame shown as long as the one before it.
pub(crate) fn clip_duration_ms(frames: &[EncodedFrame]) -> u64 {
    match frames {
        [.., before, last] => {
            let first = frames[0].pts_ms;
            last.pts_ms - first + (last.pts_ms - before.pts_ms)
        }
        _ => 0,
    }
}
