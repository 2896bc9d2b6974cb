//! JPEG thumbnails straight from I420, no RGB detour.

use jpeg_encoder::{Encoder, ImageBuffer, JpegColorType, SamplingFactor};
use watchlight_hw::Frame;

use crate::MediaError;

/// Video (and openh264) uses limited-range BT.601 YCbCr (Y 16..235, C 16..240); JFIF
/// expects full range. These tables stretch one to the other, so the thumbnail's blacks
/// are black and not grey.
struct RangeTables {
    luma: [u8; 256],
    chroma: [u8; 256],
}

impl RangeTables {
    fn new() -> RangeTables {
        let mut luma = [0u8; 256];
        let mut chroma = [0u8; 256];
        for i in 0..256 {
            let v = i as f32;
            luma[i] = ((v - 16.0) * 255.0 / 219.0).round().clamp(0.0, 255.0) as u8;
            chroma[i] = ((v - 128.0) * 255.0 / 224.0 + 128.0)
                .round()
                .clamp(0.0, 255.0) as u8;
        }
        RangeTables { luma, chroma }
    }
}

struct I420Image<'a> {
    frame: &'a Frame,
    tables: RangeTables,
}

impl ImageBuffer for I420Image<'_> {
    fn get_jpeg_color_type(&self) -> JpegColorType {
        JpegColorType::Ycbcr
    }

    fn width(&self) -> u16 {
        self.frame.width as u16
    }

    fn height(&self) -> u16 {
        self.frame.height as u16
    }

    fn fill_buffers(&self, row: u16, buffers: &mut [Vec<u8>; 4]) {
        let w = self.frame.width as usize;
        let row = row as usize;
        let luma = &self.frame.y[row * w..(row + 1) * w];
        let chroma_row = (row / 2) * (w / 2);
        let u = &self.frame.u[chroma_row..chroma_row + w / 2];
        let v = &self.frame.v[chroma_row..chroma_row + w / 2];
        for x in 0..w {
            buffers[0].push(self.tables.luma[usize::from(luma[x])]);
            buffers[1].push(self.tables.chroma[usize::from(u[x / 2])]);
            buffers[2].push(self.tables.chroma[usize::from(v[x / 2])]);
        }
    }
}

/// Encodes a frame as a baseline JPEG, 4:2:0, at `quality` (1–100; 80 suits a thumbnail).
pub fn thumbnail_jpeg(frame: &Frame, quality: u8) -> Result<Vec<u8>, MediaError> {
    let (w, h) = (frame.width as usize, frame.height as usize);
    if frame.width == 0 || frame.height == 0 || frame.width > 65_535 || frame.height > 65_535 {
        return Err(MediaError::Thumbnail(format!(
            "size {}x{} is outside JPEG's 1..65535",
            frame.width, frame.height
        )));
    }
    if frame.y.len() != w * h
        || frame.u.len() != (w / 2) * (h / 2)
        || frame.v.len() != frame.u.len()
    {
        return Err(MediaError::Thumbnail(format!(
            "planes do not match {}x{} I420",
            frame.width, frame.height
        )));
    }
    let mut out = Vec::with_capacity(w * h / 8);
    let mut encoder = Encoder::new(&mut out, quality.clamp(1, 100));
    encoder.set_sampling_factor(SamplingFactor::R_4_2_0);
    encoder
        .encode_image(I420Image {
            frame,
            tables: RangeTables::new(),
        })
        .map_err(|e| MediaError::Thumbnail(e.to_string()))?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_frame_becomes_a_jpeg_with_its_size_in_the_header() {
        let frame = Frame::grey(64, 48, 0);
        let jpeg = thumbnail_jpeg(&frame, 80).unwrap();
        assert_eq!(&jpeg[..2], &[0xFF, 0xD8], "SOI marker");
        assert_eq!(&jpeg[jpeg.len() - 2..], &[0xFF, 0xD9], "EOI marker");
        // SOF0: FF C0, length(2), precision(1), height(2), width(2)
        let sof = jpeg.windows(2).position(|w| w == [0xFF, 0xC0]).unwrap();
        assert_eq!(u16::from_be_bytes([jpeg[sof + 5], jpeg[sof + 6]]), 48);
        assert_eq!(u16::from_be_bytes([jpeg[sof + 7], jpeg[sof + 8]]), 64);
    }

    #[test]
    fn planes_that_do_not_match_the_size_are_refused() {
        let mut frame = Frame::grey(64, 48, 0);
        frame.u.pop();
        let err = thumbnail_jpeg(&frame, 80).unwrap_err();
        assert!(err.to_string().contains("64x48"), "{err}");
    }

    #[test]
    fn limited_range_black_and_white_stretch_to_full_range() {
        let t = RangeTables::new();
        assert_eq!((t.luma[16], t.luma[235], t.luma[0]), (0, 255, 0));
        assert_eq!(t.chroma[128], 128, "neutral chroma stays neutral");
        assert!(t.chroma[16] <= 1 && t.chroma[240] == 255);
    }
}
