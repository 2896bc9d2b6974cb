//! Detector cost per frame at 320x240, 720p and 1080p (SPEC §10: 1080p luma under 1 ms),
//! and, as the baseline in the same run, a plain copy of the luma plane (memory bandwidth).
//!
//! `CARGO_TARGET_DIR=... cargo bench -p watchlight-motion --bench detector`

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use watchlight_hw::FrameSource;
use watchlight_motion::{Detector, DetectorConfig, SceneConfig, SceneEvent, SyntheticScene};

/// Frames of a busy synthetic scene (noise, rain, foliage, clock, a walker and a car).
fn frames(width: u32, height: u32, count: u64) -> Vec<Vec<u8>> {
    let mut config = SceneConfig::quiet(count, 5);
    config.width = width;
    config.height = height;
    config.rain = true;
    config.foliage = true;
    config.clock = true;
    config.events.push(SceneEvent::Person {
        start: 0,
        end: count,
        from: (0.1, 0.6),
        to: (0.9, 0.6),
    });
    config.events.push(SceneEvent::Car {
        start: 0,
        end: count,
        from: (0.9, 0.8),
        to: (0.1, 0.8),
    });
    let mut scene = SyntheticScene::new(config);
    let mut out = Vec::new();
    while let Some(frame) = scene.next_frame().unwrap() {
        out.push(frame.y);
    }
    out
}

fn detector(c: &mut Criterion) {
    let mut group = c.benchmark_group("detector");
    for (name, w, h) in [
        ("320x240", 320, 240),
        ("720p", 1280, 720),
        ("1080p", 1920, 1080),
    ] {
        let frames = frames(w, h, 16);
        group.throughput(Throughput::Elements(1));
        let mut d = Detector::new(w, h, DetectorConfig::default()).unwrap();
        for f in &frames {
            d.process(f).unwrap();
        }
        let mut mask = vec![0u8; (w * h) as usize];
        let mut i = 0;
        group.bench_function(BenchmarkId::new("process", name), |b| {
            b.iter(|| {
                i = (i + 1) % frames.len();
                d.process(&frames[i]).unwrap()
            })
        });
        group.bench_function(BenchmarkId::new("process+full_mask", name), |b| {
            b.iter(|| {
                i = (i + 1) % frames.len();
                let v = d.process(&frames[i]).unwrap();
                d.write_mask(&mut mask).unwrap();
                v
            })
        });
        let mut copy = vec![0u8; (w * h) as usize];
        group.bench_function(BenchmarkId::new("baseline_copy", name), |b| {
            b.iter(|| {
                i = (i + 1) % frames.len();
                copy.copy_from_slice(&frames[i]);
                copy[0]
            })
        });
    }
    group.finish();
}

criterion_group!(benches, detector);
criterion_main!(benches);
