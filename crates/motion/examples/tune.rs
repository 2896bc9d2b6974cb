//! Tuning experiment: one parameter set over both shared sequences.
use std::path::Path;
use watchlight_motion::{DetectorConfig, Tuning, cdnet::evaluate_cdnet_with};

fn main() {
    let data = concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/data/cdnet");
    let mut t = Tuning::default();
    for arg in std::env::args().skip(1) {
        let (k, v) = arg.split_once('=').unwrap();
        match k {
            "bg" => t.background_shift = v.parse().unwrap(),
            "fg" => t.foreground_shift = v.parse().unwrap(),
            "ns" => t.noise_shift = v.parse().unwrap(),
            "ng" => t.noise_gain = v.parse().unwrap(),
            "bs" => t.blink_shift = v.parse().unwrap(),
            "bu" => t.blink_up = v.parse().unwrap(),
            "bdn" => t.blink_down = v.parse().unwrap(),
            "dv" => t.despeckle_votes = v.parse().unwrap(),
            "sp" => t.speckle_area = v.parse().unwrap(),
            "cell" => t.cell = v.parse().unwrap(),
            "mw" => t.max_working_width = v.parse().unwrap(),
            "ls" => t.light_change_share = v.parse().unwrap(),
            _ => panic!("unknown {k}"),
        }
    }
    for (seq, learn) in [("highway", None), ("traffic", Some(999))] {
        let r = evaluate_cdnet_with(
            &Path::new(data).join(seq),
            learn,
            DetectorConfig::default(),
            t.clone(),
        )
        .unwrap();
        println!(
            "{seq:8} P {:.3} R {:.3} F {:.3} fps {:.0}",
            r.precision, r.recall, r.f_measure, r.fps
        );
    }
}
