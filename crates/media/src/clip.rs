//! A finished clip and its metadata (docs/contracts.md, "Clips over HTTP").

use serde::{Deserialize, Serialize};

/// A motion box normalised to the frame: `[x, y, w, h]`, each in 0..1, origin top left.
pub type NormalisedBox = [f32; 4];

/// What started a clip.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ClipTrigger {
    /// The passive-infrared sensor.
    Pir,
    /// Pixel motion from the detector.
    Pixel,
    /// The owner (`cmd/record`).
    Manual,
}

impl ClipTrigger {
    /// The wire name: `pir`, `pixel` or `manual`.
    pub fn as_str(self) -> &'static str {
        match self {
            ClipTrigger::Pir => "pir",
            ClipTrigger::Pixel => "pixel",
            ClipTrigger::Manual => "manual",
        }
    }
}

/// The motion measured on one frame, as the detector reports it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct MotionSample {
    /// The detector's score for the frame; higher is more motion, 0 none.
    pub score: f32,
    pub boxes: Vec<NormalisedBox>,
}

impl MotionSample {
    /// A frame without motion.
    pub fn none() -> MotionSample {
        MotionSample::default()
    }

    /// Normalises a pixel box `(x, y, w, h)` of a `width`x`height` frame, clamped to it.
    pub fn normalise_box(
        (x, y, w, h): (u32, u32, u32, u32),
        width: u32,
        height: u32,
    ) -> NormalisedBox {
        let (fw, fh) = (width.max(1) as f32, height.max(1) as f32);
        let x0 = (x as f32 / fw).clamp(0.0, 1.0);
        let y0 = (y as f32 / fh).clamp(0.0, 1.0);
        let x1 = ((x + w) as f32 / fw).clamp(0.0, 1.0);
        let y1 = ((y + h) as f32 / fh).clamp(0.0, 1.0);
        [x0, y0, x1 - x0, y1 - y0]
    }
}

/// What the hub stores beside a clip; it is also the `clip_recorded` event's data, less
/// the `clip_id` the camera agent assigns.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClipMeta {
    /// Time of the clip's first frame, in the clock the recorder was given (hub ms).
    pub start_ts: u64,
    /// `start_ts + duration_ms`.
    pub end_ts: u64,
    pub trigger: ClipTrigger,
    /// The highest motion score of any frame in the clip.
    pub peak_score: f32,
    /// The motion boxes of that peak frame (the thumbnail's frame).
    pub boxes: Vec<NormalisedBox>,
    /// The MP4's duration.
    pub duration_ms: u64,
    pub frame_count: u32,
    pub width: u32,
    pub height: u32,
    /// Size of the MP4 in bytes.
    pub bytes: u64,
    /// SHA-256 of the MP4, lowercase hex (the `X-Watchlight-Sha256` header).
    pub sha256: String,
}

/// A recorded clip, ready to queue and upload.
#[derive(Debug, Clone, PartialEq)]
pub struct Clip {
    /// Fast-start MP4, H.264 Constrained Baseline.
    pub mp4: Vec<u8>,
    /// JPEG of the frame with the most motion.
    pub thumbnail_jpeg: Vec<u8>,
    pub meta: ClipMeta,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn triggers_use_the_contract_names() {
        for (t, name) in [
            (ClipTrigger::Pir, "pir"),
            (ClipTrigger::Pixel, "pixel"),
            (ClipTrigger::Manual, "manual"),
        ] {
            assert_eq!(serde_json::to_string(&t).unwrap(), format!("\"{name}\""));
            assert_eq!(t.as_str(), name);
        }
        assert!(serde_json::from_str::<ClipTrigger>("\"motion\"").is_err());
    }

    #[test]
    fn pixel_boxes_normalise_and_clamp_to_the_frame() {
        let b = MotionSample::normalise_box((160, 60, 80, 60), 320, 240);
        assert_eq!(b, [0.5, 0.25, 0.25, 0.25]);
        let b = MotionSample::normalise_box((300, 200, 100, 100), 320, 240);
        let want = [300.0 / 320.0, 200.0 / 240.0, 20.0 / 320.0, 40.0 / 240.0];
        for (got, want) in b.iter().zip(want) {
            assert!((got - want).abs() < 1e-6, "{b:?}");
        }
    }
}
