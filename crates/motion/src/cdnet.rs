//! CDnet 2014 sequences (`../shared/data/SOURCES.md`): frames as a [`FrameSource`], and the
//! scoring protocol used to compare the detector with OpenCV.
//!
//! Layout: `input/inNNNNNN.jpg`, `groundtruth/gtNNNNNN.png`, `ROI.bmp`, `temporalROI.txt`.
//! Ground truth: 0 and 50 (hard shadow) static, 85 and 170 ignored, 255 moving; only pixels
//! where `ROI.bmp` is non-zero count. Scored frames: those inside `temporalROI.txt` that
//! exist, or with `learn_until = N` those after frame N.

use std::path::{Path, PathBuf};

use serde::Serialize;
use watchlight_hw::{Frame, FrameError, FrameSource};

use crate::detector::{Detector, DetectorConfig, MotionError, Tuning};

#[derive(Debug, thiserror::Error)]
pub enum CdnetError {
    #[error("cannot read {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot decode image {path}: {reason}")]
    Decode { path: PathBuf, reason: String },
    #[error("{path} is {got_w}x{got_h}, the sequence's frames are {want_w}x{want_h}")]
    SizeMismatch {
        path: PathBuf,
        got_w: u32,
        got_h: u32,
        want_w: u32,
        want_h: u32,
    },
    #[error("{path}: temporalROI.txt must hold two frame numbers, first and last")]
    TemporalRoi { path: PathBuf },
    #[error("no frames named inNNNNNN.jpg in {0}")]
    NoFrames(PathBuf),
    #[error("no frame of {dir} falls in the scored range {first}..={last}")]
    NoScoredFrames { dir: PathBuf, first: u32, last: u32 },
    #[error(transparent)]
    Detector(#[from] MotionError),
}

/// One sequence folder: its frame numbers, size and regions of interest.
#[derive(Debug, Clone)]
pub struct CdnetSequence {
    pub dir: PathBuf,
    /// Frame numbers present in `input/`, ascending.
    pub numbers: Vec<u32>,
    pub width: u32,
    pub height: u32,
    /// `temporalROI.txt`: first and last frame to score.
    pub temporal_roi: (u32, u32),
    /// `ROI.bmp` non-zero, one byte a pixel (0 or 1).
    pub roi: Vec<u8>,
}

impl CdnetSequence {
    pub fn open(dir: &Path) -> Result<CdnetSequence, CdnetError> {
        let input = dir.join("input");
        let entries = std::fs::read_dir(&input).map_err(|source| CdnetError::Io {
            path: input.clone(),
            source,
        })?;
        let mut numbers = Vec::new();
        for entry in entries {
            let entry = entry.map_err(|source| CdnetError::Io {
                path: input.clone(),
                source,
            })?;
            let name = entry.file_name();
            let name = name.to_string_lossy();
            if let Some(n) = name
                .strip_prefix("in")
                .and_then(|r| r.strip_suffix(".jpg"))
                .and_then(|d| d.parse::<u32>().ok())
            {
                numbers.push(n);
            }
        }
        numbers.sort_unstable();
        let Some(&first) = numbers.first() else {
            return Err(CdnetError::NoFrames(input));
        };
        let (width, height, _) = load_luma(&frame_path(dir, first))?;

        let roi_path = dir.join("temporalROI.txt");
        let text = std::fs::read_to_string(&roi_path).map_err(|source| CdnetError::Io {
            path: roi_path.clone(),
            source,
        })?;
        let mut fields = text.split_whitespace().map(str::parse::<u32>);
        let temporal_roi = match (fields.next(), fields.next()) {
            (Some(Ok(a)), Some(Ok(b))) if a <= b => (a, b),
            _ => return Err(CdnetError::TemporalRoi { path: roi_path }),
        };

        let roi_path = dir.join("ROI.bmp");
        let (rw, rh, roi) = load_luma(&roi_path)?;
        check_size(&roi_path, (rw, rh), (width, height))?;
        let roi = roi.into_iter().map(|v| u8::from(v != 0)).collect();
        Ok(CdnetSequence {
            dir: dir.to_path_buf(),
            numbers,
            width,
            height,
            temporal_roi,
            roi,
        })
    }

    /// The scored frame range: after `learn_until`, or the temporal ROI.
    pub fn scored_range(&self, learn_until: Option<u32>) -> (u32, u32) {
        match learn_until {
            Some(n) => (n.saturating_add(1), u32::MAX),
            None => self.temporal_roi,
        }
    }

    /// The luma plane of frame `n`.
    pub fn luma(&self, n: u32) -> Result<Vec<u8>, CdnetError> {
        let path = frame_path(&self.dir, n);
        let (w, h, y) = load_luma(&path)?;
        check_size(&path, (w, h), (self.width, self.height))?;
        Ok(y)
    }

    /// The ground truth of frame `n` (values 0, 50, 85, 170, 255).
    pub fn ground_truth(&self, n: u32) -> Result<Vec<u8>, CdnetError> {
        let path = self.dir.join("groundtruth").join(format!("gt{n:06}.png"));
        let (w, h, y) = load_luma(&path)?;
        check_size(&path, (w, h), (self.width, self.height))?;
        Ok(y)
    }
}

fn frame_path(dir: &Path, n: u32) -> PathBuf {
    dir.join("input").join(format!("in{n:06}.jpg"))
}

fn check_size(path: &Path, got: (u32, u32), want: (u32, u32)) -> Result<(), CdnetError> {
    if got == want {
        Ok(())
    } else {
        Err(CdnetError::SizeMismatch {
            path: path.to_path_buf(),
            got_w: got.0,
            got_h: got.1,
            want_w: want.0,
            want_h: want.1,
        })
    }
}

/// Decodes an image file to 8-bit luma. Grey palettes (CDnet's masks) keep their values.
pub fn load_luma(path: &Path) -> Result<(u32, u32, Vec<u8>), CdnetError> {
    let bytes = std::fs::read(path).map_err(|source| CdnetError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    let img = image::load_from_memory(&bytes).map_err(|e| CdnetError::Decode {
        path: path.to_path_buf(),
        reason: e.to_string(),
    })?;
    let luma = img.to_luma8();
    Ok((luma.width(), luma.height(), luma.into_raw()))
}

/// A CDnet sequence's frames, in order, as the camera's image sensor would give them.
pub struct CdnetSource {
    sequence: CdnetSequence,
    next: usize,
    fps: f32,
}

impl CdnetSource {
    pub fn open(dir: &Path) -> Result<CdnetSource, CdnetError> {
        Ok(CdnetSource {
            sequence: CdnetSequence::open(dir)?,
            next: 0,
            // CDnet does not record frame rates; its cameras run at about this.
            fps: 25.0,
        })
    }

    pub fn sequence(&self) -> &CdnetSequence {
        &self.sequence
    }
}

impl FrameSource for CdnetSource {
    fn size(&self) -> (u32, u32) {
        (self.sequence.width, self.sequence.height)
    }

    fn fps(&self) -> f32 {
        self.fps
    }

    fn next_frame(&mut self) -> Result<Option<Frame>, FrameError> {
        let Some(&n) = self.sequence.numbers.get(self.next) else {
            return Ok(None);
        };
        let luma = self.sequence.luma(n).map_err(|e| FrameError::Corrupt {
            source_name: self.sequence.dir.display().to_string(),
            index: self.next as u64,
            reason: e.to_string(),
        })?;
        let pts_ms = (self.next as f64 * 1000.0 / f64::from(self.fps)) as u64;
        self.next += 1;
        Ok(Some(Frame::from_luma(
            self.sequence.width,
            self.sequence.height,
            pts_ms,
            luma,
        )))
    }
}

/// Pixel counts over scored pixels.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PixelCounts {
    pub true_positive: u64,
    pub false_positive: u64,
    pub false_negative: u64,
}

impl PixelCounts {
    /// Adds one frame: `predicted` non-zero = moving; `truth` CDnet values; `roi` non-zero = scored.
    pub fn add_frame(&mut self, predicted: &[u8], truth: &[u8], roi: &[u8]) {
        for ((&p, &t), &r) in predicted.iter().zip(truth).zip(roi) {
            let scored = r != 0 && matches!(t, 0 | 50 | 255);
            if !scored {
                continue;
            }
            match (p != 0, t == 255) {
                (true, true) => self.true_positive += 1,
                (true, false) => self.false_positive += 1,
                (false, true) => self.false_negative += 1,
                (false, false) => {}
            }
        }
    }

    pub fn precision(&self) -> f64 {
        ratio(self.true_positive, self.true_positive + self.false_positive)
    }

    pub fn recall(&self) -> f64 {
        ratio(self.true_positive, self.true_positive + self.false_negative)
    }

    pub fn f_measure(&self) -> f64 {
        let (p, r) = (self.precision(), self.recall());
        if p + r == 0.0 {
            0.0
        } else {
            2.0 * p * r / (p + r)
        }
    }
}

fn ratio(a: u64, b: u64) -> f64 {
    if b == 0 { 0.0 } else { a as f64 / b as f64 }
}

/// What `watchlight motion eval --json` prints.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct EvalReport {
    pub frames_scored: u64,
    pub precision: f64,
    pub recall: f64,
    pub f_measure: f64,
    /// Frames per second of the detector alone (including the full-resolution mask),
    /// one thread, on frames decoded beforehand, by the thread's CPU time.
    pub fps: f64,
}

/// Runs the detector (default sensitivity, default tuning) over a sequence by the CDnet protocol.
pub fn evaluate_cdnet(dir: &Path, learn_until: Option<u32>) -> Result<EvalReport, CdnetError> {
    evaluate_cdnet_with(
        dir,
        learn_until,
        DetectorConfig::default(),
        Tuning::default(),
    )
}

/// [`evaluate_cdnet`] with explicit parameters (for experiments; evaluation uses the defaults).
pub fn evaluate_cdnet_with(
    dir: &Path,
    learn_until: Option<u32>,
    config: DetectorConfig,
    tuning: Tuning,
) -> Result<EvalReport, CdnetError> {
    let seq = CdnetSequence::open(dir)?;
    let (first, last) = seq.scored_range(learn_until);
    let scored: Vec<u32> = seq
        .numbers
        .iter()
        .copied()
        .filter(|n| (first..=last).contains(n))
        .collect();
    if scored.is_empty() {
        return Err(CdnetError::NoScoredFrames {
            dir: dir.to_path_buf(),
            first,
            last,
        });
    }
    // Decode everything beforehand so that only the detector is timed.
    let frames = decode_all(&seq, &seq.numbers, CdnetSequence::luma)?;
    let truths = decode_all(&seq, &scored, CdnetSequence::ground_truth)?;

    let mut detector = Detector::with_tuning(seq.width, seq.height, config, tuning)?;
    let mut mask = vec![0u8; seq.width as usize * seq.height as usize];
    let mut counts = PixelCounts::default();
    let mut busy = 0u64;
    let mut truth_iter = scored.iter().zip(&truths).peekable();
    for (&n, luma) in seq.numbers.iter().zip(&frames) {
        let start = thread_cpu_ns();
        detector.process(luma)?;
        detector.write_mask(&mut mask)?;
        busy += thread_cpu_ns().saturating_sub(start);
        if let Some((_, truth)) = truth_iter.next_if(|(s, _)| **s == n) {
            counts.add_frame(&mask, truth, &seq.roi);
        }
    }
    Ok(EvalReport {
        frames_scored: scored.len() as u64,
        precision: counts.precision(),
        recall: counts.recall(),
        f_measure: counts.f_measure(),
        fps: frames.len() as f64 / (busy.max(1) as f64 * 1e-9),
    })
}

/// CPU time of the calling thread, nanoseconds. On a machine shared with other work, wall
/// time would count their time slices as ours; the OpenCV comparison measures the same way.
pub fn thread_cpu_ns() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec; CLOCK_THREAD_CPUTIME_ID exists on Linux.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    if rc != 0 {
        return 0;
    }
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

/// Decodes the given frames on two threads (decoding is not what is being measured).
fn decode_all(
    seq: &CdnetSequence,
    numbers: &[u32],
    decode: fn(&CdnetSequence, u32) -> Result<Vec<u8>, CdnetError>,
) -> Result<Vec<Vec<u8>>, CdnetError> {
    let half = numbers.len() / 2;
    let (a, b) = numbers.split_at(half);
    let (ra, rb) = std::thread::scope(|scope| {
        let other = scope.spawn(|| {
            b.iter()
                .map(|&n| decode(seq, n))
                .collect::<Result<Vec<_>, _>>()
        });
        let mine = a
            .iter()
            .map(|&n| decode(seq, n))
            .collect::<Result<Vec<_>, _>>();
        (mine, other.join())
    });
    let mut out = ra?;
    match rb {
        Ok(rest) => out.extend(rest?),
        Err(panic) => std::panic::resume_unwind(panic),
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scoring_follows_the_cdnet_value_rules() {
        // truth: static, shadow, outside ROI, unknown, moving, moving (outside ROI.bmp)
        let truth = [0, 50, 85, 170, 255, 255];
        let roi = [1, 1, 1, 1, 1, 0];
        let predicted = [255, 255, 255, 255, 0, 255];
        let mut c = PixelCounts::default();
        c.add_frame(&predicted, &truth, &roi);
        assert_eq!(
            c,
            PixelCounts {
                true_positive: 0,
                false_positive: 2,
                false_negative: 1,
            }
        );
        let mut c = PixelCounts::default();
        c.add_frame(&[255, 0, 0, 0, 255, 0], &truth, &roi);
        assert_eq!(c.precision(), 0.5);
        assert_eq!(c.recall(), 1.0);
        assert!((c.f_measure() - 2.0 / 3.0).abs() < 1e-12);
    }

    #[test]
    fn missing_folder_is_a_clear_error() {
        let err = CdnetSequence::open(Path::new("/nonexistent/cdnet/seq")).unwrap_err();
        assert!(
            err.to_string().contains("/nonexistent/cdnet/seq/input"),
            "{err}"
        );
    }
}
