//! Test helpers: the shared footage's location and synthetic frames with known content.
#![allow(dead_code)]

use std::path::PathBuf;

use watchlight_hw::Frame;

/// `../shared/data` beside the workspace.
pub fn shared_data() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/data"))
}

/// A file of the shared data; a test without it fails naming the path.
pub fn shared_file(relative: &str) -> PathBuf {
    let path = shared_data().join(relative);
    assert!(
        path.is_file(),
        "missing {}: the tests read real footage from ../shared/data beside the repository (not in it; see ../shared/data/SOURCES.md and the README's Tests section)",
        path.display()
    );
    path
}

pub fn campus_mp4() -> PathBuf {
    shared_file("video/campus-pedestrians-480x360-10fps.mp4")
}

pub fn highway_mp4() -> PathBuf {
    shared_file("video/highway-cctv-320x240-25fps.mp4")
}

/// Frame `index` of a scene: a fixed textured background with a bright square moving
/// across it, and a little deterministic sensor noise — something an encoder must
/// actually work on, whose content a decoder can be checked against.
pub fn moving_square(width: u32, height: u32, index: u64, fps: f32) -> Frame {
    let (w, h) = (width as usize, height as usize);
    let mut y = vec![0u8; w * h];
    let side = (h / 4).max(2);
    let sx = (index as usize * 4) % (w - side).max(1);
    let sy = h / 3;
    let mut noise = (index as u32).wrapping_mul(2_654_435_761).wrapping_add(1);
    for row in 0..h {
        for col in 0..w {
            noise ^= noise << 13;
            noise ^= noise >> 17;
            noise ^= noise << 5;
            let texture = 60 + ((row / 8 + col / 8) % 2) * 40 + (col * 60 / w);
            let inside = (sx..sx + side).contains(&col) && (sy..sy + side).contains(&row);
            let base = if inside { 220 } else { texture };
            y[row * w + col] = (base as i32 + (noise % 5) as i32 - 2).clamp(16, 235) as u8;
        }
    }
    let pts_ms = (index as f64 * 1000.0 / f64::from(fps)).round() as u64;
    let mut frame = Frame::from_luma(width, height, pts_ms, y);
    // Some colour, so chroma is exercised too.
    for (i, u) in frame.u.iter_mut().enumerate() {
        *u = 100 + (i % 40) as u8;
    }
    frame
}

/// Mean absolute difference of two luma planes.
pub fn luma_mad(a: &Frame, b: &Frame) -> f64 {
    assert_eq!(a.y.len(), b.y.len());
    let sum: u64 =
        a.y.iter()
            .zip(&b.y)
            .map(|(&x, &y)| u64::from(x.abs_diff(y)))
            .sum();
    sum as f64 / a.y.len() as f64
}
