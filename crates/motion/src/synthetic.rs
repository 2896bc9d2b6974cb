//! A synthetic scene with ground truth: what a fixed camera sees, made of parts that each
//! test one promise of the detector.
//!
//! A textured static background; people and cars as textured shapes moving in straight
//! lines; slow and sudden light changes; an IR-switch moment (the image's response changes
//! at once); sensor noise; a swaying tree; rain streaks; a burned-in clock. Every frame
//! comes with its truth: the moving objects' mask and boxes, and a PIR signal (someone or
//! something warm moving in view). Seeded and deterministic: same config, same frames.

use watchlight_hw::{Frame, FrameError, FrameSource};

use crate::blobs::BoundingBox;

/// Something that happens in the scene. Positions are normalised (0..1 of width/height),
/// frames are frame indices from 0.
#[derive(Debug, Clone, PartialEq)]
pub enum SceneEvent {
    /// A person (tall textured shape) walks from `from` to `to` (centre points).
    Person {
        start: u64,
        end: u64,
        from: (f32, f32),
        to: (f32, f32),
    },
    /// A car (wide textured shape) drives from `from` to `to`.
    Car {
        start: u64,
        end: u64,
        from: (f32, f32),
        to: (f32, f32),
    },
    /// The light level is multiplied by `gain` from `frame` on (a lamp, a cloud).
    LightSwitch { frame: u64, gain: f32 },
    /// The light level ramps linearly from `from_gain` to `to_gain` (sunrise, dusk).
    Sunrise {
        start: u64,
        end: u64,
        from_gain: f32,
        to_gain: f32,
    },
    /// From `frame` on the camera is in night (IR) mode: flat, bright, lower contrast.
    IrSwitch { frame: u64 },
}

#[derive(Debug, Clone, PartialEq)]
pub struct SceneConfig {
    pub width: u32,
    pub height: u32,
    pub fps: f32,
    /// Frames before the source ends.
    pub frames: u64,
    pub seed: u64,
    /// Sensor noise: each pixel gets a uniform offset in `-noise..=noise`.
    pub noise: u8,
    /// A swaying tree at the left edge.
    pub foliage: bool,
    /// Rain streaks all over.
    pub rain: bool,
    /// A burned-in clock (HH:MM:SS) at the top left.
    pub clock: bool,
    pub events: Vec<SceneEvent>,
}

impl SceneConfig {
    /// An empty 320x240 scene at 10 fps with mild sensor noise.
    pub fn quiet(frames: u64, seed: u64) -> SceneConfig {
        SceneConfig {
            width: 320,
            height: 240,
            fps: 10.0,
            frames,
            seed,
            noise: 3,
            foliage: false,
            rain: false,
            clock: false,
            events: Vec::new(),
        }
    }
}

/// The truth for the frame last returned.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Truth {
    /// 255 where a moving object is, 0 elsewhere; full resolution.
    pub mask: Vec<u8>,
    /// Boxes of the moving objects in view.
    pub boxes: Vec<BoundingBox>,
    /// What a PIR sensor would say: a person or car moving in view.
    pub pir: bool,
}

/// The scene as a [`FrameSource`]; [`SyntheticScene::truth`] describes the last frame.
pub struct SyntheticScene {
    config: SceneConfig,
    background: Vec<u8>,
    tree: Vec<u8>,
    index: u64,
    rng: u64,
    truth: Truth,
}

/// xorshift64*: small, fast, and the same everywhere.
fn next_random(state: &mut u64) -> u64 {
    let mut x = *state;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *state = x;
    x.wrapping_mul(0x2545_f491_4f6c_dd1d)
}

impl SyntheticScene {
    pub fn new(config: SceneConfig) -> SyntheticScene {
        let (w, h) = (config.width as usize, config.height as usize);
        let mut rng = config.seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
        // Background: a sky-to-ground gradient, a few flat "buildings", and fine texture.
        let mut background = vec![0u8; w * h];
        let mut blocks = Vec::new();
        for _ in 0..6 {
            let r = next_random(&mut rng);
            let bx = (r % w as u64) as usize;
            let by = ((r >> 16) % (h as u64 / 2)) as usize + h / 4;
            let bw = ((r >> 32) % (w as u64 / 4)) as usize + 8;
            let bh = ((r >> 48) % (h as u64 / 3)) as usize + 8;
            let level = 40 + ((r >> 8) % 120) as i32;
            blocks.push((bx, by, bw, bh, level));
        }
        for y in 0..h {
            for x in 0..w {
                let mut v = 150 - (y as i32 * 60 / h as i32);
                for &(bx, by, bw, bh, level) in &blocks {
                    if x >= bx && x < bx + bw && y >= by && y < by + bh {
                        v = level;
                    }
                }
                v += (next_random(&mut rng) % 13) as i32 - 6;
                background[y * w + x] = v.clamp(0, 255) as u8;
            }
        }
        // The tree: a dark textured canopy, wider than it shows so it can sway.
        let tree = (0..w * h)
            .map(|_| 30 + (next_random(&mut rng) % 50) as u8)
            .collect();
        SyntheticScene {
            background,
            tree,
            index: 0,
            rng,
            truth: Truth {
                mask: vec![0; w * h],
                boxes: Vec::new(),
                pir: false,
            },
            config,
        }
    }

    pub fn config(&self) -> &SceneConfig {
        &self.config
    }

    /// The truth for the frame last returned by `next_frame`.
    pub fn truth(&self) -> &Truth {
        &self.truth
    }

    /// Light multiplier at frame `t`.
    fn light_gain(&self, t: u64) -> f32 {
        let mut gain = 1.0;
        for event in &self.config.events {
            match *event {
                SceneEvent::LightSwitch { frame, gain: g } if t >= frame => gain *= g,
                SceneEvent::Sunrise {
                    start,
                    end,
                    from_gain,
                    to_gain,
                } => {
                    let f = if t <= start {
                        0.0
                    } else if t >= end {
                        1.0
                    } else {
                        (t - start) as f32 / (end - start).max(1) as f32
                    };
                    gain *= from_gain + (to_gain - from_gain) * f;
                }
                _ => {}
            }
        }
        gain
    }

    fn infrared(&self, t: u64) -> bool {
        self.config
            .events
            .iter()
            .any(|e| matches!(*e, SceneEvent::IrSwitch { frame } if t >= frame))
    }

    /// Moving objects at frame `t`: box and texture kind (0 person, 1 car).
    fn objects(&self, t: u64) -> impl Iterator<Item = (BoundingBox, u8)> + '_ {
        let (w, h) = (self.config.width as f32, self.config.height as f32);
        self.config.events.iter().filter_map(move |event| {
            let (start, end, from, to, size, kind) = match *event {
                SceneEvent::Person {
                    start,
                    end,
                    from,
                    to,
                } => (start, end, from, to, (w / 20.0, h / 5.0), 0),
                SceneEvent::Car {
                    start,
                    end,
                    from,
                    to,
                } => (start, end, from, to, (w / 6.0, h / 9.0), 1),
                _ => return None,
            };
            if t < start || t > end {
                return None;
            }
            let f = (t - start) as f32 / (end - start).max(1) as f32;
            let cx = (from.0 + (to.0 - from.0) * f) * w;
            let cy = (from.1 + (to.1 - from.1) * f) * h;
            let x0 = (cx - size.0 / 2.0).round().max(0.0);
            let y0 = (cy - size.1 / 2.0).round().max(0.0);
            let x1 = (cx + size.0 / 2.0).round().min(w);
            let y1 = (cy + size.1 / 2.0).round().min(h);
            if x1 <= x0 || y1 <= y0 {
                return None;
            }
            Some((
                BoundingBox {
                    x: x0 as u32,
                    y: y0 as u32,
                    width: (x1 - x0) as u32,
                    height: (y1 - y0) as u32,
                },
                kind,
            ))
        })
    }

    fn render(&mut self, t: u64) -> Vec<u8> {
        let (w, h) = (self.config.width as usize, self.config.height as usize);
        let mut y_plane = self.background.clone();

        if self.config.foliage {
            // A canopy over the left fifth, swaying a few pixels with a period of ~3 s.
            let phase = t as f32 / self.config.fps.max(1.0) * std::f32::consts::TAU / 3.0;
            let canopy_w = w / 5;
            for y in h / 6..h * 2 / 3 {
                let sway = (3.0 * (phase + y as f32 * 0.03).sin()).round() as isize;
                for x in 0..canopy_w {
                    let src = (x as isize + sway).clamp(0, w as isize - 1) as usize;
                    // Leaves: ragged right edge so swaying uncovers and covers background.
                    let edge = canopy_w as isize - 4 + (self.tree[y * w] % 8) as isize + sway;
                    if (x as isize) < edge {
                        y_plane[y * w + x] = self.tree[y * w + src];
                    }
                }
            }
        }

        self.truth.mask.fill(0);
        self.truth.boxes.clear();
        let objects: Vec<(BoundingBox, u8)> = self.objects(t).collect();
        for (b, kind) in &objects {
            for y in b.y as usize..(b.y + b.height) as usize {
                for x in b.x as usize..(b.x + b.width) as usize {
                    // Texture moves with the object: coordinates relative to its box.
                    let (u, v) = (x - b.x as usize, y - b.y as usize);
                    let value = match kind {
                        0 => {
                            if v < b.height as usize / 6 {
                                200 // head
                            } else if (v / 4) % 2 == 0 {
                                50 + (u as u8 % 4) * 10 // striped coat
                            } else {
                                90
                            }
                        }
                        _ => {
                            if v < b.height as usize / 3 {
                                220 // windows, roof
                            } else {
                                20 + ((u / 3 + v / 3) % 2) as u8 * 25
                            }
                        }
                    };
                    y_plane[y * w + x] = value;
                    self.truth.mask[y * w + x] = 255;
                }
            }
            self.truth.boxes.push(*b);
        }
        self.truth.pir = !objects.is_empty();

        if self.config.rain {
            // Short bright streaks at new random places every frame.
            let streaks = (w * h) / 600;
            for _ in 0..streaks {
                let r = next_random(&mut self.rng);
                let x = (r % w as u64) as usize;
                let y0 = ((r >> 20) % h as u64) as usize;
                for y in y0..(y0 + 5).min(h) {
                    let p = &mut y_plane[y * w + x];
                    *p = p.saturating_add(35);
                }
            }
        }

        let gain = self.light_gain(t);
        let infrared = self.infrared(t);
        let noise = i32::from(self.config.noise);
        let mut lut = [0u8; 256];
        for (v, out) in lut.iter_mut().enumerate() {
            let mut x = v as f32 * gain;
            if infrared {
                x = 70.0 + x * 0.55;
            }
            *out = x.round().clamp(0.0, 255.0) as u8;
        }
        for p in y_plane.iter_mut() {
            let mut v = i32::from(lut[*p as usize]);
            if noise > 0 {
                let r = next_random(&mut self.rng);
                v += (r % (2 * noise as u64 + 1)) as i32 - noise;
            }
            *p = v.clamp(0, 255) as u8;
        }

        if self.config.clock {
            // Burned in after exposure: white digits on a black box, like a DVR overlay.
            let seconds = (t as f32 / self.config.fps.max(1.0)) as u64 + 12 * 3600 + 34 * 60;
            draw_clock(&mut y_plane, w, h, seconds);
        }
        y_plane
    }
}

/// HH:MM:SS in 7-segment digits at the top left.
fn draw_clock(plane: &mut [u8], w: usize, h: usize, seconds: u64) {
    let scale = (h / 120).max(1);
    let (dw, dh) = (5 * scale, 9 * scale);
    let text = [
        (seconds / 36000) % 10,
        (seconds / 3600) % 10,
        10,
        (seconds / 600) % 6,
        (seconds / 60) % 10,
        10,
        (seconds / 10) % 6,
        seconds % 10,
    ];
    let (x0, y0) = (4, 4);
    let box_w = (text.len() * (dw + 2 * scale) + 2 * scale).min(w - x0);
    for y in y0..(y0 + dh + 4 * scale).min(h) {
        plane[y * w + x0..y * w + x0 + box_w].fill(0);
    }
    // Segments: a top, b top-right, c bottom-right, d bottom, e bottom-left, f top-left, g middle.
    const SEGMENTS: [u8; 10] = [
        0b0111111, 0b0000110, 0b1011011, 0b1001111, 0b1100110, 0b1101101, 0b1111101, 0b0000111,
        0b1111111, 0b1101111,
    ];
    for (k, &digit) in text.iter().enumerate() {
        let ox = x0 + 2 * scale + k * (dw + 2 * scale);
        let oy = y0 + 2 * scale;
        let mut set = |x: usize, y: usize| {
            let (px, py) = (ox + x, oy + y);
            if px < w && py < h {
                plane[py * w + px] = 235;
            }
        };
        if digit == 10 {
            for s in 0..scale {
                set(dw / 2, dh / 3 + s);
                set(dw / 2, 2 * dh / 3 + s);
            }
            continue;
        }
        let seg = SEGMENTS[digit as usize];
        let mid = dh / 2;
        for x in 0..dw {
            for s in 0..scale {
                if seg & 1 != 0 {
                    set(x, s);
                }
                if seg & 8 != 0 {
                    set(x, dh - 1 - s);
                }
                if seg & 64 != 0 {
                    set(x, mid + s);
                }
            }
        }
        for y in 0..dh {
            for s in 0..scale {
                let upper = y <= mid;
                if (upper && seg & 32 != 0) || (!upper && seg & 16 != 0) {
                    set(s, y);
                }
                if (upper && seg & 2 != 0) || (!upper && seg & 4 != 0) {
                    set(dw - 1 - s, y);
                }
            }
        }
    }
}

impl FrameSource for SyntheticScene {
    fn size(&self) -> (u32, u32) {
        (self.config.width, self.config.height)
    }

    fn fps(&self) -> f32 {
        self.config.fps
    }

    fn next_frame(&mut self) -> Result<Option<Frame>, FrameError> {
        if self.index >= self.config.frames {
            return Ok(None);
        }
        let t = self.index;
        let y = self.render(t);
        self.index += 1;
        let pts_ms = (t as f64 * 1000.0 / f64::from(self.config.fps.max(0.001))) as u64;
        Ok(Some(Frame::from_luma(
            self.config.width,
            self.config.height,
            pts_ms,
            y,
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn walker() -> SceneConfig {
        let mut c = SceneConfig::quiet(40, 7);
        c.clock = true;
        c.rain = true;
        c.foliage = true;
        c.events.push(SceneEvent::Person {
            start: 10,
            end: 30,
            from: (0.3, 0.6),
            to: (0.8, 0.6),
        });
        c
    }

    #[test]
    fn same_seed_same_frames_and_truth() {
        let mut a = SyntheticScene::new(walker());
        let mut b = SyntheticScene::new(walker());
        while let Some(fa) = a.next_frame().unwrap() {
            let fb = b.next_frame().unwrap().unwrap();
            assert_eq!(fa, fb);
            assert_eq!(a.truth(), b.truth());
        }
        assert!(b.next_frame().unwrap().is_none());
    }

    #[test]
    fn truth_follows_the_person_and_pir_only_while_in_view() {
        let mut s = SyntheticScene::new(walker());
        let mut seen = Vec::new();
        while s.next_frame().unwrap().is_some() {
            seen.push((s.truth().pir, s.truth().boxes.first().copied()));
        }
        assert!(!seen[9].0 && seen[10].0 && seen[30].0 && !seen[31].0);
        let (start, end) = (seen[10].1.unwrap(), seen[30].1.unwrap());
        assert!(end.x > start.x + 100, "walks right: {start:?} -> {end:?}");
        let mask_pixels = s.truth().mask.iter().filter(|&&m| m == 255).count();
        assert_eq!(mask_pixels, 0, "nobody in view after the walk");
    }

    #[test]
    fn light_switch_raises_brightness_at_its_frame() {
        let mut c = SceneConfig::quiet(4, 1);
        c.events.push(SceneEvent::LightSwitch {
            frame: 2,
            gain: 1.5,
        });
        let mut s = SyntheticScene::new(c);
        let means: Vec<f64> = (0..4)
            .map(|_| {
                let f = s.next_frame().unwrap().unwrap();
                f.y.iter().map(|&v| f64::from(v)).sum::<f64>() / f.y.len() as f64
            })
            .collect();
        assert!((means[1] - means[0]).abs() < 1.0);
        assert!(means[2] > means[1] * 1.3, "{means:?}");
    }
}
