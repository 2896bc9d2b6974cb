//! Decode + detect throughput on the shared footage: what replaying a file through the
//! motion detector costs per frame, against decode alone in the same run.
//!
//! `cargo bench -p watchlight-media --bench decode_detect`

use std::path::PathBuf;
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput};
use watchlight_hw::FrameSource;
use watchlight_media::Mp4FrameSource;
use watchlight_motion::{Detector, DetectorConfig};

const FILES: [(&str, f64); 2] = [
    ("campus-pedestrians-480x360-10fps.mp4", 10.0),
    ("highway-cctv-320x240-25fps.mp4", 25.0),
];

fn read(name: &str) -> Vec<u8> {
    let dir = PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../../shared/data/video"
    ));
    std::fs::read(dir.join(name)).unwrap()
}

/// Decodes the whole file, running the detector on each frame if `detect`; returns the
/// frame count and how many frames the detector called motion.
fn run(bytes: &[u8], detect: bool) -> (usize, usize) {
    let mut source = Mp4FrameSource::from_bytes("bench", bytes.to_vec()).unwrap();
    let (w, h) = source.size();
    let mut detector = Detector::new(w, h, DetectorConfig::default()).unwrap();
    let (mut frames, mut motion) = (0, 0);
    while let Some(frame) = source.next_frame().unwrap() {
        frames += 1;
        if detect && detector.process(&frame.y).unwrap().motion {
            motion += 1;
        }
        std::hint::black_box(&frame);
    }
    (frames, motion)
}

fn bench(c: &mut Criterion) {
    let mut group = c.benchmark_group("decode + detect");
    group
        .sample_size(10)
        .measurement_time(Duration::from_secs(8));
    for (name, _) in FILES {
        let bytes = read(name);
        let (frames, _) = run(&bytes, false);
        group.throughput(Throughput::Elements(frames as u64));
        group.bench_function(format!("{name} decode only"), |b| {
            b.iter(|| run(&bytes, false))
        });
        group.bench_function(format!("{name} decode + detect"), |b| {
            b.iter(|| run(&bytes, true))
        });
    }
    group.finish();
}

fn median_secs(runs: usize, mut f: impl FnMut()) -> f64 {
    let mut t: Vec<f64> = (0..runs)
        .map(|_| {
            let start = Instant::now();
            f();
            start.elapsed().as_secs_f64()
        })
        .collect();
    t.sort_by(f64::total_cmp);
    t[runs / 2]
}

fn summary() {
    println!("\n== decode + detect, one thread, against decode alone in the same run ==");
    for (name, fps) in FILES {
        let bytes = read(name);
        let (mut frames, mut motion) = (0, 0);
        let decode = median_secs(5, || (frames, _) = run(&bytes, false));
        let both = median_secs(5, || (frames, motion) = run(&bytes, true));
        let video_s = frames as f64 / fps;
        println!(
            "{name}: decode {:.0} fps, decode + detect {:.0} fps ({:.2}x the decode time; \
             {:.4} x real time); detector saw motion in {motion} of {frames} frames",
            frames as f64 / decode,
            frames as f64 / both,
            both / decode,
            both / video_s
        );
    }
}

fn main() {
    let mut c = Criterion::default().configure_from_args();
    bench(&mut c);
    c.final_summary();
    summary();
}
