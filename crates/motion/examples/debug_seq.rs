//! Per-frame verdicts on a CDnet sequence (for looking into a result).
use std::path::Path;
use watchlight_motion::{Detector, DetectorConfig, cdnet::CdnetSequence};

fn main() {
    let dir = std::env::args().nth(1).expect("sequence folder");
    let seq = CdnetSequence::open(Path::new(&dir)).unwrap();
    let mut d = Detector::new(seq.width, seq.height, DetectorConfig::default()).unwrap();
    for &n in &seq.numbers {
        let v = d.process(&seq.luma(n).unwrap()).unwrap();
        let fg = d.working_mask().iter().filter(|&&m| m != 0).count();
        println!(
            "{n} motion {} light {} score {:.3} fg {fg}",
            v.motion, v.light_change, v.score
        );
    }
}
