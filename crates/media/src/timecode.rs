//! The capture-time strip of live frames: when a live frame was captured (hub clock, Unix
//! milliseconds), written into the picture's top-left corner as black and white blocks, so a
//! viewer that decodes the picture can say how far behind the glass it is. An MJPEG `<img>`
//! gives a page no per-frame headers, so the time has to travel in the pixels.
//!
//! Layout: [`ROWS`] rows of [`COLUMNS`] blocks of [`BLOCK`]×[`BLOCK`] luma pixels, read left
//! to right, top to bottom, most significant bit first: the 4 marker bits `1010`, then 44 bits
//! of milliseconds (enough until the year 2527). A block is one JPEG DCT block, so compression
//! keeps it as its mean; a reader thresholds each block's centre at mid-grey. The web app's
//! reader (`crates/web/assets/js/camera.js`) follows this layout.

use watchlight_hw::Frame;

/// Side of one bit's square, in luma pixels.
pub const BLOCK: u32 = 8;
/// Bits per row.
pub const COLUMNS: u32 = 24;
/// Rows of bits.
pub const ROWS: u32 = 2;
const MARKER: u64 = 0b1010;
const MARKER_BITS: u32 = 4;
const TIME_BITS: u32 = COLUMNS * ROWS - MARKER_BITS;
/// Video-range black and white (the thumbnail encoder stretches them to 0 and 255).
const DARK: u8 = 16;
const LIGHT: u8 = 235;

fn fits(frame: &Frame) -> bool {
    frame.width >= COLUMNS * BLOCK && frame.height >= ROWS * BLOCK
}

/// Writes `unix_ms` into the frame. A frame too small to hold the strip is left as it is
/// (`false`); so is a time too large for 44 bits.
pub fn stamp_capture_time(frame: &mut Frame, unix_ms: u64) -> bool {
    if !fits(frame) || unix_ms >> TIME_BITS != 0 {
        return false;
    }
    let word = (MARKER << TIME_BITS) | unix_ms;
    let (w, cw) = (frame.width as usize, frame.width as usize / 2);
    let b = BLOCK as usize;
    for bit in 0..(COLUMNS * ROWS) {
        let on = (word >> (COLUMNS * ROWS - 1 - bit)) & 1 == 1;
        let (bx, by) = ((bit % COLUMNS) as usize * b, (bit / COLUMNS) as usize * b);
        for y in by..by + b {
            frame.y[y * w + bx..y * w + bx + b].fill(if on { LIGHT } else { DARK });
        }
        // Neutral chroma, so the strip is grey whatever the scene's colour was.
        for y in by / 2..(by + b) / 2 {
            frame.u[y * cw + bx / 2..y * cw + (bx + b) / 2].fill(128);
            frame.v[y * cw + bx / 2..y * cw + (bx + b) / 2].fill(128);
        }
    }
    true
}

/// Reads a strip written by [`stamp_capture_time`]: `None` when the marker is not there.
pub fn read_capture_time(frame: &Frame) -> Option<u64> {
    if !fits(frame) {
        return None;
    }
    let w = frame.width as usize;
    let half = (BLOCK / 2) as usize;
    let mut word = 0u64;
    for bit in 0..(COLUMNS * ROWS) {
        let x = (bit % COLUMNS) as usize * BLOCK as usize + half;
        let y = (bit / COLUMNS) as usize * BLOCK as usize + half;
        word = (word << 1) | u64::from(frame.y[y * w + x] >= 128);
    }
    (word >> TIME_BITS == MARKER).then_some(word & ((1 << TIME_BITS) - 1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stamped_time_reads_back_and_an_unstamped_frame_has_none() {
        let mut frame = Frame::grey(320, 240, 0);
        assert_eq!(read_capture_time(&frame), None, "mid-grey is no marker");
        let t = 1_796_000_123_456;
        assert!(stamp_capture_time(&mut frame, t));
        assert_eq!(read_capture_time(&frame), Some(t));
        // Outside the strip the picture is untouched.
        assert_eq!(frame.y[100 * 320 + 200], 128);
    }

    #[test]
    fn a_frame_too_small_or_a_time_too_large_is_left_alone() {
        let mut small = Frame::grey(160, 120, 0);
        assert!(!stamp_capture_time(&mut small, 5));
        assert_eq!(small, Frame::grey(160, 120, 0));
        let mut frame = Frame::grey(320, 240, 0);
        assert!(!stamp_capture_time(&mut frame, 1 << 44));
        assert_eq!(read_capture_time(&frame), None);
    }
}
