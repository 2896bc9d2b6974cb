//! The motion detector (SPEC §7): a sans-IO state machine fed luma planes.
//!
//! Per frame, at a downscaled working resolution (at most [`Tuning::max_working_width`]):
//!
//! 1. **Downscale** by a power of two (box average).
//! 2. **Global light compensation**: the median difference between frame and background on
//!    a sparse grid (Motion's sparse pre-check) is an offset that clouds, auto-exposure or a
//!    slow sunrise add to every pixel; it is removed before comparing, so it never fires.
//! 3. **Difference with neighbourhood tolerance**: a pixel is compared with the range of
//!    the background in its 3×3 neighbourhood (as ViBe/PBAS do), so camera jitter of a
//!    pixel or so and sharp background edges do not fire.
//! 4. **Adaptive threshold** per pixel: a base from `sensitivity`, plus the pixel's learned
//!    noise (running mean of its residual, Motion's noise auto-tune), plus a "blink" score
//!    that grows where the decision keeps flipping (swaying foliage, rain streaks, a
//!    burned-in clock: PBAS's and SuBSENSE's answer to dynamic backgrounds, and a learned
//!    mask in Frigate's and Motion's sense).
//! 5. **Despeckle**: a 3×3 majority vote, then **blobs** on a grid of cells, tiny ones dropped.
//! 6. **Whole-frame changes** (light switched, IR mode): when most of the watched image
//!    changes at once, the background is re-learned from this frame instead of firing.
//! 7. **Background update**: a running average in 8.8 fixed point, fast where the scene is
//!    background, slow under foreground (a car that parks is absorbed in time); the first
//!    frames use 1/n so the model is usable after a few frames.
//! 8. **Decision**: the largest blob must reach a minimum area (from `sensitivity`) and the
//!    foreground must still be changing from frame to frame (a clock digit that flipped, a
//!    parked car or the aftermath of an IR switch is foreground, not motion), for a minimum
//!    number of consecutive frames.
//!
//! All per-pixel work is integer arithmetic in straight row loops the compiler vectorises;
//! all buffers are allocated in [`Detector::new`].

use watchlight_protocol::ZoneGrid;

use crate::blobs::{BoundingBox, CellBlobs};

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum MotionError {
    #[error("frame size {width}x{height} is too small for motion detection (at least 16x16)")]
    FrameTooSmall { width: u32, height: u32 },
    #[error("luma plane has {got} bytes, expected {expected} for the detector's {width}x{height}")]
    LumaSize {
        got: usize,
        expected: usize,
        width: u32,
        height: u32,
    },
    #[error("sensitivity must be 1 to 10, got {0}")]
    Sensitivity(u8),
    #[error("zone grid is invalid: {cols}x{rows} needs {} cells, got {cells}", usize::from(*cols) * usize::from(*rows))]
    Zones { cols: u8, rows: u8, cells: usize },
    #[error("min_motion_frames must be at least 1")]
    MinMotionFrames,
}

/// What the owner sets (SPEC §7): the rest is [`Tuning`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DetectorConfig {
    /// 1 (least sensitive) to 10; 5 is the default and what evaluation uses.
    pub sensitivity: u8,
    /// Cells switched off are ignored.
    pub zones: ZoneGrid,
    /// Consecutive frames with a large enough blob before `motion` is reported.
    pub min_motion_frames: u32,
}

impl Default for DetectorConfig {
    fn default() -> Self {
        DetectorConfig {
            sensitivity: 5,
            zones: ZoneGrid::default(),
            min_motion_frames: 3,
        }
    }
}

/// The detector's internal parameters: one set for every scene (the default); public so
/// that experiments and benchmarks can vary them openly.
#[derive(Debug, Clone, PartialEq)]
pub struct Tuning {
    /// The working resolution is the frame halved until its width is at most this.
    pub max_working_width: u32,
    /// Background learning rate 2^-n where the pixel is background.
    pub background_shift: u32,
    /// Background learning rate 2^-n under foreground.
    pub foreground_shift: u32,
    /// Noise (mean residual) learning rate 2^-n.
    pub noise_shift: u32,
    /// Threshold = base + noise * `noise_gain` / 8 + blink >> `blink_shift`
    /// (`noise_gain` at most 16).
    pub noise_gain: u16,
    pub blink_shift: u32,
    /// Blink score added when a pixel's decision flips, and removed each frame otherwise.
    pub blink_up: u8,
    pub blink_down: u8,
    /// Votes (of 9) the 3x3 majority needs to keep a pixel.
    pub despeckle_votes: u8,
    /// Side of the blob cells, working pixels.
    pub cell: u32,
    /// Blobs smaller than this share of the working image are dropped from the mask.
    pub speckle_area: f32,
    /// A frame whose watched area changes by more than this share is a light change.
    pub light_change_share: f32,
}

impl Default for Tuning {
    fn default() -> Self {
        Tuning {
            max_working_width: 240,
            background_shift: 6,
            foreground_shift: 9,
            noise_shift: 5,
            noise_gain: 16,
            blink_shift: 3,
            blink_up: 8,
            blink_down: 1,
            despeckle_votes: 4,
            cell: 4,
            speckle_area: 0.0004,
            light_change_share: 0.4,
        }
    }
}

impl Tuning {
    /// Threshold base (luma levels) for a sensitivity 1–10.
    fn base_threshold(sensitivity: u8) -> u8 {
        6 + 2 * (10 - sensitivity)
    }

    /// Minimum blob area for motion, as a share of the working image.
    fn motion_area(sensitivity: u8) -> f32 {
        0.0005 * f32::from(11 - sensitivity)
    }
}

/// The detector's verdict on one frame. Boxes and mask are read from the detector.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Verdict {
    /// A large enough blob for `min_motion_frames` consecutive frames.
    pub motion: bool,
    /// Share of the watched image covered by kept blobs, 0–1.
    pub score: f32,
    /// The frame was treated as a whole-frame light change and re-learned.
    pub light_change: bool,
}

#[derive(Debug, Clone)]
pub struct Detector {
    width: u32,
    height: u32,
    scale: usize,
    ww: usize,
    wh: usize,
    tuning: Tuning,
    config: DetectorConfig,
    base_threshold: u8,
    motion_area: u32,
    speckle_area: u32,
    watched_pixels: u32,
    /// Frames since the model was (re)started.
    frames_learned: u32,
    motion_run: u32,
    /// Working buffers, `ww * wh` each.
    cur: Vec<u8>,
    /// The previous frame's `cur`.
    prev: Vec<u8>,
    background: Vec<u16>,
    bg8: Vec<u8>,
    bg_lo: Vec<u8>,
    bg_hi: Vec<u8>,
    /// Horizontal-only min/max, the first half of the separable 3x3 range.
    row_lo: Vec<u8>,
    row_hi: Vec<u8>,
    noise: Vec<u16>,
    /// Base plus noise part of each pixel's threshold, refreshed with the noise.
    threshold: Vec<u8>,
    blink: Vec<u8>,
    zone: Vec<u8>,
    raw: Vec<u8>,
    prev_raw: Vec<u8>,
    votes: Vec<u8>,
    mask: Vec<u8>,
    /// One band of rows summed vertically, 16 bits a pixel, for downscaling.
    row_sums: Vec<u16>,
    /// Histogram of frame minus background on the sparse grid.
    diff_histogram: Box<[u32; 511]>,
    blobs: CellBlobs,
    boxes: Vec<BoundingBox>,
}

impl Detector {
    pub fn new(width: u32, height: u32, config: DetectorConfig) -> Result<Detector, MotionError> {
        Detector::with_tuning(width, height, config, Tuning::default())
    }

    pub fn with_tuning(
        width: u32,
        height: u32,
        config: DetectorConfig,
        tuning: Tuning,
    ) -> Result<Detector, MotionError> {
        if width < 16 || height < 16 {
            return Err(MotionError::FrameTooSmall { width, height });
        }
        if !(1..=10).contains(&config.sensitivity) {
            return Err(MotionError::Sensitivity(config.sensitivity));
        }
        if !config.zones.is_valid() {
            return Err(MotionError::Zones {
                cols: config.zones.cols,
                rows: config.zones.rows,
                cells: config.zones.enabled.len(),
            });
        }
        if config.min_motion_frames == 0 {
            return Err(MotionError::MinMotionFrames);
        }
        let mut scale = 1usize;
        while width as usize / scale > tuning.max_working_width.max(16) as usize
            && height as usize / (scale * 2) >= 8
            && scale < 16
        {
            scale *= 2;
        }
        let (ww, wh) = (width as usize / scale, height as usize / scale);
        let n = ww * wh;
        let mut zone = vec![0u8; n];
        for y in 0..wh {
            for x in 0..ww {
                let on = config
                    .zones
                    .watches((x as f32 + 0.5) / ww as f32, (y as f32 + 0.5) / wh as f32);
                zone[y * ww + x] = if on { 1 } else { 0 };
            }
        }
        let watched_pixels = zone.iter().map(|&z| u32::from(z)).sum::<u32>().max(1);
        let base_threshold = Tuning::base_threshold(config.sensitivity);
        let motion_area = ((n as f32 * Tuning::motion_area(config.sensitivity)) as u32).max(4);
        let speckle_area = (n as f32 * tuning.speckle_area) as u32;
        let cell = tuning.cell.max(1) as usize;
        Ok(Detector {
            width,
            height,
            scale,
            ww,
            wh,
            base_threshold,
            motion_area,
            speckle_area,
            watched_pixels,
            frames_learned: 0,
            motion_run: 0,
            cur: vec![0; n],
            prev: vec![0; n],
            background: vec![0; n],
            bg8: vec![0; n],
            bg_lo: vec![0; n],
            bg_hi: vec![0; n],
            row_lo: vec![0; n],
            row_hi: vec![0; n],
            noise: vec![2 << 8; n],
            threshold: vec![base_threshold; n],
            blink: vec![0; n],
            zone,
            raw: vec![0; n],
            prev_raw: vec![0; n],
            votes: vec![0; n],
            mask: vec![0; n],
            row_sums: vec![0; ww * scale],
            diff_histogram: Box::new([0; 511]),
            blobs: CellBlobs::new(ww, wh, cell),
            boxes: Vec::with_capacity(n / (cell * cell) + 1),
            tuning,
            config,
        })
    }

    /// Full-resolution frame size.
    pub fn size(&self) -> (u32, u32) {
        (self.width, self.height)
    }

    /// Working (downscaled) size.
    pub fn working_size(&self) -> (usize, usize) {
        (self.ww, self.wh)
    }

    pub fn config(&self) -> &DetectorConfig {
        &self.config
    }

    /// Boxes of the blobs kept in the last frame, full-resolution pixels, largest first.
    pub fn boxes(&self) -> &[BoundingBox] {
        &self.boxes
    }

    /// The last frame's foreground at working resolution, one byte a pixel (0 or 1).
    pub fn working_mask(&self) -> &[u8] {
        &self.mask
    }

    /// Writes the last frame's foreground at full resolution (0 or 255) into `out`,
    /// which must hold `width * height` bytes.
    pub fn write_mask(&self, out: &mut [u8]) -> Result<(), MotionError> {
        let (w, h) = (self.width as usize, self.height as usize);
        if out.len() != w * h {
            return Err(self.size_error(out.len()));
        }
        let s = self.scale;
        for wy in 0..h.div_ceil(s) {
            let src = &self.mask[wy.min(self.wh - 1) * self.ww..][..self.ww];
            let first = wy * s;
            let last = ((wy + 1) * s).min(h);
            let dst = &mut out[first * w..(first + 1) * w];
            match s {
                1 => expand::<1>(src, dst),
                2 => expand::<2>(src, dst),
                4 => expand::<4>(src, dst),
                8 => expand::<8>(src, dst),
                _ => expand::<16>(src, dst),
            }
            // The other rows of the band are copies of the first.
            let (head, rest) = out[first * w..last * w].split_at_mut(w);
            for row in rest.chunks_exact_mut(w) {
                row.copy_from_slice(head);
            }
        }
        Ok(())
    }

    fn size_error(&self, got: usize) -> MotionError {
        MotionError::LumaSize {
            got,
            expected: self.width as usize * self.height as usize,
            width: self.width,
            height: self.height,
        }
    }

    /// Feeds one luma plane (`width * height` bytes, row-major) and returns the verdict.
    pub fn process(&mut self, luma: &[u8]) -> Result<Verdict, MotionError> {
        if luma.len() != self.width as usize * self.height as usize {
            return Err(self.size_error(luma.len()));
        }
        self.downscale(luma);
        if self.frames_learned == 0 {
            self.restart_model();
            return Ok(self.quiet_verdict(false));
        }
        let offset = self.light_offset();
        let (add, sub) = if offset < 0 {
            ((-offset) as u8, 0)
        } else {
            (0, offset as u8)
        };
        self.neighbourhood_range();
        let (changed, active) = self.classify(add, sub);
        let whole_frame =
            changed as f32 > self.tuning.light_change_share * self.watched_pixels as f32;
        if whole_frame {
            // Lights, IR switching, a sudden exposure step: re-learn rather than fire.
            self.restart_model();
            return Ok(self.quiet_verdict(true));
        }
        self.despeckle();
        self.find_blobs();
        self.update_background();
        std::mem::swap(&mut self.cur, &mut self.prev);
        self.frames_learned = self.frames_learned.saturating_add(1);

        let largest = self.blobs.blobs().iter().map(|b| b.area).max().unwrap_or(0);
        let covered: u32 = self
            .blobs
            .blobs()
            .iter()
            .filter(|b| b.area >= self.speckle_area)
            .map(|b| b.area)
            .sum();
        // A blob counts only while its pixels still change from frame to frame: a clock
        // digit that flipped, or a car that parked, is foreground but not motion.
        if largest >= self.motion_area && active >= self.motion_area / 4 {
            self.motion_run = self.motion_run.saturating_add(1);
        } else {
            self.motion_run = 0;
        }
        Ok(Verdict {
            motion: self.motion_run >= self.config.min_motion_frames,
            score: covered as f32 / self.watched_pixels as f32,
            light_change: false,
        })
    }

    fn quiet_verdict(&mut self, light_change: bool) -> Verdict {
        self.motion_run = 0;
        self.mask.fill(0);
        self.boxes.clear();
        Verdict {
            motion: false,
            score: 0.0,
            light_change,
        }
    }

    /// Starts the background from the current frame; noise and blink are kept, since
    /// they describe the scene rather than the lighting.
    fn restart_model(&mut self) {
        for ((b, b8), &c) in self.background.iter_mut().zip(&mut self.bg8).zip(&self.cur) {
            *b = u16::from(c) << 8;
            *b8 = c;
        }
        self.prev.copy_from_slice(&self.cur);
        self.raw.fill(0);
        self.prev_raw.fill(0);
        self.frames_learned = 1;
    }

    #[inline(never)]
    fn downscale(&mut self, luma: &[u8]) {
        match self.scale {
            1 => self.cur.copy_from_slice(luma),
            2 => self.downscale_by::<2>(luma),
            4 => self.downscale_by::<4>(luma),
            8 => self.downscale_by::<8>(luma),
            _ => self.downscale_by::<16>(luma),
        }
    }

    /// Box average over SxS blocks: S rows summed into 16-bit lanes, then S neighbours.
    fn downscale_by<const S: usize>(&mut self, luma: &[u8]) {
        let w = self.width as usize;
        let span = self.ww * S;
        let shift = 2 * S.trailing_zeros();
        for wy in 0..self.wh {
            let sums = &mut self.row_sums[..span];
            sums.fill(0);
            for r in 0..S {
                let row = &luma[(wy * S + r) * w..][..span];
                for (sum, &p) in sums.iter_mut().zip(row) {
                    *sum += u16::from(p);
                }
            }
            let out = &mut self.cur[wy * self.ww..(wy + 1) * self.ww];
            for (o, block) in out.iter_mut().zip(sums.chunks_exact(S)) {
                let total: u16 = block.iter().sum();
                *o = (total >> shift) as u8;
            }
        }
    }

    /// The median of frame minus background on a sparse grid: the part of the change that
    /// the whole image shares (exposure, clouds, a slow sunrise). Under 2 levels it is
    /// noise and comes back as 0.
    #[inline(never)]
    fn light_offset(&mut self) -> i32 {
        let hist = &mut self.diff_histogram;
        hist.fill(0);
        for y in (0..self.wh).step_by(4) {
            let row = y * self.ww;
            for x in (0..self.ww).step_by(4) {
                let i = row + x;
                if self.zone[i] != 0 {
                    let d = i32::from(self.cur[i]) - i32::from(self.bg8[i]) + 255;
                    hist[d as usize] += 1;
                }
            }
        }
        let median = median_of(hist);
        if median.abs() < 2 { 0 } else { median }
    }

    /// `bg_lo`/`bg_hi`: min and max of the background over each pixel's 3x3 neighbourhood.
    #[inline(never)]
    fn neighbourhood_range(&mut self) {
        let (w, h) = (self.ww, self.wh);
        // Horizontal pass into scratch planes, then the vertical pass into `bg_lo`/`bg_hi`.
        for y in 0..h {
            let src = &self.bg8[y * w..(y + 1) * w];
            let lo = &mut self.row_lo[y * w..(y + 1) * w];
            let hi = &mut self.row_hi[y * w..(y + 1) * w];
            lo[0] = src[0].min(src[1]);
            hi[0] = src[0].max(src[1]);
            for x in 1..w - 1 {
                lo[x] = src[x - 1].min(src[x]).min(src[x + 1]);
                hi[x] = src[x - 1].max(src[x]).max(src[x + 1]);
            }
            lo[w - 1] = src[w - 2].min(src[w - 1]);
            hi[w - 1] = src[w - 2].max(src[w - 1]);
        }
        vertical_extreme(&self.row_lo, &mut self.bg_lo, w, h, u8::min);
        vertical_extreme(&self.row_hi, &mut self.bg_hi, w, h, u8::max);
    }

    /// Thresholds every pixel into `raw` (0/1). Returns how many watched pixels differ from
    /// the background, and how many of those also changed since the previous frame.
    #[inline(never)]
    fn classify(&mut self, add: u8, sub: u8) -> (u32, u32) {
        std::mem::swap(&mut self.raw, &mut self.prev_raw);
        let blink_shift = self.tuning.blink_shift.min(7);
        let (up, down) = (self.tuning.blink_up, self.tuning.blink_down);
        let mut changed = 0u32;
        let mut active = 0u32;
        // Frame-to-frame change counts at half the background threshold: a slow walker's
        // edges move only a pixel or so per frame.
        let step = self.base_threshold / 2;
        let w = self.ww;
        // Row by row so that the per-row count fits a u16 and every loop is a plain zip.
        for y in 0..self.wh {
            let r = y * w..(y + 1) * w;
            let cur = &self.cur[r.clone()];
            let before = &self.prev[r.clone()];
            let lo = &self.bg_lo[r.clone()];
            let hi = &self.bg_hi[r.clone()];
            let thr = &self.threshold[r.clone()];
            let zone = &self.zone[r.clone()];
            let prev = &self.prev_raw[r.clone()];
            let blink = &mut self.blink[r.clone()];
            let raw = &mut self.raw[r];
            let mut row_changed = 0u16;
            let mut row_active = 0u16;
            for i in 0..w {
                let c = cur[i].saturating_add(add).saturating_sub(sub);
                let d = c.saturating_sub(hi[i]) | lo[i].saturating_sub(c);
                let t = thr[i].saturating_add(blink[i] >> blink_shift);
                let fg = u8::from(d > t) & zone[i];
                blink[i] = if fg != prev[i] {
                    blink[i].saturating_add(up)
                } else {
                    blink[i].saturating_sub(down)
                };
                raw[i] = fg;
                row_changed += u16::from(fg);
                row_active += u16::from(fg & u8::from(cur[i].abs_diff(before[i]) > step));
            }
            changed += u32::from(row_changed);
            active += u32::from(row_active);
        }
        (changed, active)
    }

    /// 3x3 majority vote on `raw` into `mask`.
    #[inline(never)]
    fn despeckle(&mut self) {
        let (w, h) = (self.ww, self.wh);
        // Vertical sums of three rows into `votes`.
        for y in 0..h {
            let up = y.saturating_sub(1);
            let down = (y + 1).min(h - 1);
            let (a, b, c) = (
                &self.raw[up * w..(up + 1) * w],
                &self.raw[y * w..(y + 1) * w],
                &self.raw[down * w..(down + 1) * w],
            );
            let out = &mut self.votes[y * w..(y + 1) * w];
            for (((o, &a), &b), &c) in out.iter_mut().zip(a).zip(b).zip(c) {
                *o = a + b + c;
            }
        }
        let need = self.tuning.despeckle_votes;
        for y in 0..h {
            let v = &self.votes[y * w..(y + 1) * w];
            let out = &mut self.mask[y * w..(y + 1) * w];
            out[0] = u8::from(v[0] + v[1] + v[0] >= need);
            for x in 1..w - 1 {
                out[x] = u8::from(v[x - 1] + v[x] + v[x + 1] >= need);
            }
            out[w - 1] = u8::from(v[w - 2] + v[w - 1] + v[w - 1] >= need);
        }
    }

    #[inline(never)]
    fn find_blobs(&mut self) {
        self.blobs.label(&self.mask);
        let speckle = self.speckle_area;
        self.blobs
            .clear_cells(&mut self.mask, |b| b.area >= speckle);
        self.boxes.clear();
        let s = self.scale as u32;
        for blob in self.blobs.blobs().iter().filter(|b| b.area >= speckle) {
            let (x, y, w, h) = self.blobs.pixel_box(blob);
            self.boxes.push(BoundingBox {
                x: x as u32 * s,
                y: y as u32 * s,
                width: w as u32 * s,
                height: h as u32 * s,
            });
        }
        self.boxes
            .sort_unstable_by_key(|b| std::cmp::Reverse(u64::from(b.width) * u64::from(b.height)));
    }

    #[inline(never)]
    fn update_background(&mut self) {
        let learn = 31 - (self.frames_learned + 1).leading_zeros();
        let bg_shift = self.tuning.background_shift.min(learn);
        let fg_shift = self.tuning.foreground_shift.min(learn + 2);
        let noise_shift = self.tuning.noise_shift.min(learn);
        let gain = self.tuning.noise_gain.min(16);
        let base = self.base_threshold;
        let n = self.ww * self.wh;
        let (cur, mask) = (&self.cur[..n], &self.mask[..n]);
        let (bg, bg8) = (&mut self.background[..n], &mut self.bg8[..n]);
        let (noise, threshold) = (&mut self.noise[..n], &mut self.threshold[..n]);
        let (bg_k, fg_k, noise_k) = (
            shift_factor(bg_shift),
            shift_factor(fg_shift),
            shift_factor(noise_shift),
        );
        for i in 0..n {
            // Unsigned steps up and down instead of a signed delta, and shifts as high-half
            // multiplies: 16-bit lanes throughout.
            let target = u16::from(cur[i]) << 8;
            let fg = mask[i] != 0;
            let k = if fg { fg_k } else { bg_k };
            let rise = mul_high(target.saturating_sub(bg[i]), k);
            let fall = mul_high(bg[i].saturating_sub(target), k);
            let new_bg = bg[i] + rise - fall;
            let residual = u16::from(cur[i].abs_diff(bg8[i])) << 8;
            let n_rise = mul_high(residual.saturating_sub(noise[i]), noise_k);
            let n_fall = mul_high(noise[i].saturating_sub(residual), noise_k);
            let new_noise = if fg {
                noise[i]
            } else {
                noise[i] + n_rise - n_fall
            };
            bg[i] = new_bg;
            bg8[i] = (new_bg.saturating_add(128) >> 8) as u8;
            noise[i] = new_noise;
            let noise_part = ((new_noise >> 4) * gain) >> 7;
            threshold[i] = (u16::from(base) + noise_part).min(255) as u8;
        }
    }
}

/// The median bin of a difference histogram (bin 255 = no difference); 0 if empty.
fn median_of(hist: &[u32; 511]) -> i32 {
    let total: u32 = hist.iter().sum();
    let mut seen = 0u32;
    for (bin, &count) in hist.iter().enumerate() {
        seen += count;
        if seen * 2 > total {
            return bin as i32 - 255;
        }
    }
    0
}

/// Writes each mask value (0 or 1) as S pixels of 0 or 255; the columns past the
/// working width repeat the last value.
fn expand<const S: usize>(src: &[u8], dst: &mut [u8]) {
    let (body, tail) = dst.split_at_mut(src.len() * S);
    for (block, &m) in body.chunks_exact_mut(S).zip(src) {
        for b in block.iter_mut() {
            *b = m.wrapping_neg();
        }
    }
    tail.fill(src[src.len() - 1].wrapping_neg());
}

/// The multiplier that makes [`mul_high`] a right shift by `shift` (1 to 16).
fn shift_factor(shift: u32) -> u16 {
    (1u32 << (16 - shift.clamp(1, 16))) as u16
}

/// `(a * k) >> 16`: one instruction per eight pixels, unlike a shift by a variable amount.
#[inline(always)]
fn mul_high(a: u16, k: u16) -> u16 {
    ((u32::from(a) * u32::from(k)) >> 16) as u16
}

/// Each output pixel is `pick` of the input pixel and its vertical neighbours.
fn vertical_extreme(src: &[u8], out: &mut [u8], w: usize, h: usize, pick: fn(u8, u8) -> u8) {
    for y in 0..h {
        let up = y.saturating_sub(1);
        let down = (y + 1).min(h - 1);
        let (a, b, c) = (
            &src[up * w..(up + 1) * w],
            &src[y * w..(y + 1) * w],
            &src[down * w..(down + 1) * w],
        );
        for (((o, &a), &b), &c) in out[y * w..(y + 1) * w].iter_mut().zip(a).zip(b).zip(c) {
            *o = pick(pick(a, b), c);
        }
    }
}
