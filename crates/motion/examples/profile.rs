//! Profiling loop: the detector over decoded highway frames, repeated.
use std::path::Path;
use watchlight_motion::{Detector, DetectorConfig, cdnet::CdnetSequence};

fn main() {
    let data = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../../shared/data/cdnet/highway"
    );
    let seq = CdnetSequence::open(Path::new(data)).unwrap();
    let frames: Vec<Vec<u8>> = seq.numbers[..300]
        .iter()
        .map(|&n| seq.luma(n).unwrap())
        .collect();
    let mut mask = vec![0u8; frames[0].len()];
    let mut d = Detector::new(seq.width, seq.height, DetectorConfig::default()).unwrap();
    let start = std::time::Instant::now();
    let mut count = 0;
    for _ in 0..20 {
        for f in &frames {
            d.process(f).unwrap();
            d.write_mask(&mut mask).unwrap();
            count += 1;
        }
    }
    println!(
        "{count} frames, {:.1} us/frame (wall)",
        start.elapsed().as_secs_f64() * 1e6 / count as f64
    );
}
