//! Media benchmarks: decode throughput on the shared footage, and the cost of encoding one
//! second of clip, each also printed as a ratio to real time measured in the same run.
//!
//! `cargo bench -p watchlight-media --bench media`

use std::path::PathBuf;
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput};
use sha2::{Digest, Sha256};
use watchlight_hw::{Frame, FrameSource};
use watchlight_media::{
    ClipRecorder, EncoderSettings, H264Encoder, MotionSample, Mp4FrameSource, RecorderConfig,
    mux_mp4, thumbnail_jpeg,
};

fn data(name: &str) -> PathBuf {
    PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../../shared/data/video"
    ))
    .join(name)
}

const CAMPUS: &str = "campus-pedestrians-480x360-10fps.mp4";
const HIGHWAY: &str = "highway-cctv-320x240-25fps.mp4";

/// Decodes a whole file; returns the number of frames.
fn decode_all(bytes: &[u8]) -> usize {
    let mut source = Mp4FrameSource::from_bytes("bench", bytes.to_vec()).unwrap();
    let mut n = 0;
    while let Some(frame) = source.next_frame().unwrap() {
        std::hint::black_box(&frame);
        n += 1;
    }
    n
}

fn first_frames(name: &str, n: usize) -> Vec<Frame> {
    let mut source = Mp4FrameSource::open(data(name)).unwrap();
    (0..n)
        .map(|_| source.next_frame().unwrap().unwrap())
        .collect()
}

/// Bilinear resize of one plane.
fn resize_plane(src: &[u8], sw: usize, sh: usize, dw: usize, dh: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(dw * dh);
    for y in 0..dh {
        let fy = (y as f32 + 0.5) * sh as f32 / dh as f32 - 0.5;
        let y0 = (fy.floor().max(0.0) as usize).min(sh - 1);
        let y1 = (y0 + 1).min(sh - 1);
        let wy = (fy - y0 as f32).clamp(0.0, 1.0);
        for x in 0..dw {
            let fx = (x as f32 + 0.5) * sw as f32 / dw as f32 - 0.5;
            let x0 = (fx.floor().max(0.0) as usize).min(sw - 1);
            let x1 = (x0 + 1).min(sw - 1);
            let wx = (fx - x0 as f32).clamp(0.0, 1.0);
            let p = |yy: usize, xx: usize| f32::from(src[yy * sw + xx]);
            let top = p(y0, x0) * (1.0 - wx) + p(y0, x1) * wx;
            let bottom = p(y1, x0) * (1.0 - wx) + p(y1, x1) * wx;
            out.push((top * (1.0 - wy) + bottom * wy).round() as u8);
        }
    }
    out
}

/// Real footage brought to 720p, with sensor-like noise (±4 levels) so the encoder sees
/// the fine detail a real 720p sensor gives rather than a smooth upscale.
fn to_720p(frame: &Frame, seed: u32) -> Frame {
    let (sw, sh) = (frame.width as usize, frame.height as usize);
    let (dw, dh) = (1280, 720);
    let mut y = resize_plane(&frame.y, sw, sh, dw, dh);
    let mut state = seed.wrapping_mul(0x9E37_79B9) | 1;
    for v in &mut y {
        state ^= state << 13;
        state ^= state >> 17;
        state ^= state << 5;
        *v = (i32::from(*v) + (state % 9) as i32 - 4).clamp(0, 255) as u8;
    }
    Frame {
        width: dw as u32,
        height: dh as u32,
        pts_ms: frame.pts_ms,
        y,
        u: resize_plane(&frame.u, sw / 2, sh / 2, dw / 2, dh / 2),
        v: resize_plane(&frame.v, sw / 2, sh / 2, dw / 2, dh / 2),
    }
}

/// One encode workload: `fps` frames make one clip second.
struct EncodeCase {
    name: &'static str,
    fps: f32,
    frames: Vec<Frame>,
}

impl EncodeCase {
    fn encoder(&self) -> H264Encoder {
        let f = &self.frames[0];
        H264Encoder::new(EncoderSettings::for_clip(f.width, f.height, self.fps)).unwrap()
    }

    /// Encodes one clip second on a running encoder, continuing its timeline.
    fn encode_second(&mut self, encoder: &mut H264Encoder, next_index: &mut u64) -> usize {
        let mut bytes = 0;
        for frame in &mut self.frames {
            frame.pts_ms = (*next_index as f64 * 1000.0 / f64::from(self.fps)) as u64;
            *next_index += 1;
            bytes += encoder.encode(frame).unwrap().data.len();
        }
        bytes
    }
}

fn encode_cases() -> Vec<EncodeCase> {
    let campus = first_frames(CAMPUS, 30);
    vec![
        EncodeCase {
            name: "480x360@10fps (campus)",
            fps: 10.0,
            frames: campus[..10].to_vec(),
        },
        EncodeCase {
            name: "1280x720@15fps (campus upscaled + noise)",
            fps: 15.0,
            frames: campus[..15]
                .iter()
                .enumerate()
                .map(|(i, f)| to_720p(f, i as u32))
                .collect(),
        },
        EncodeCase {
            name: "1280x720@30fps (campus upscaled + noise)",
            fps: 30.0,
            frames: campus[..30]
                .iter()
                .enumerate()
                .map(|(i, f)| to_720p(f, i as u32))
                .collect(),
        },
    ]
}

fn bench_decode(c: &mut Criterion) {
    let mut group = c.benchmark_group("decode");
    group
        .sample_size(10)
        .measurement_time(Duration::from_secs(8));
    for name in [CAMPUS, HIGHWAY] {
        let bytes = std::fs::read(data(name)).unwrap();
        let frames = decode_all(&bytes);
        group.throughput(Throughput::Elements(frames as u64));
        group.bench_function(name, |b| b.iter(|| decode_all(&bytes)));
    }
    group.finish();
}

fn bench_encode(c: &mut Criterion) {
    let mut group = c.benchmark_group("encode one clip second");
    group
        .sample_size(10)
        .measurement_time(Duration::from_secs(8));
    for mut case in encode_cases() {
        let mut encoder = case.encoder();
        let mut index = 0u64;
        group.throughput(Throughput::Elements(case.frames.len() as u64));
        group.bench_function(case.name, |b| {
            b.iter(|| case.encode_second(&mut encoder, &mut index))
        });
    }
    group.finish();
}

/// The work at the end of a clip: mux 10 s of 720p15, JPEG the peak frame, hash the MP4.
fn bench_finish(c: &mut Criterion) {
    let mut case = encode_cases().swap_remove(1);
    let mut encoder = case.encoder();
    let mut index = 0;
    let mut encoded = Vec::new();
    for _ in 0..10 {
        for frame in &mut case.frames {
            frame.pts_ms = index * 1000 / 15;
            index += 1;
            encoded.push(encoder.encode(frame).unwrap());
        }
    }
    let mut group = c.benchmark_group("finish a clip");
    group.sample_size(20);
    group.bench_function("mux 10 s of 1280x720@15fps", |b| {
        b.iter(|| mux_mp4(1280, 720, 15.0, &encoded).unwrap())
    });
    group.bench_function("thumbnail 1280x720 JPEG q80", |b| {
        b.iter(|| thumbnail_jpeg(&case.frames[7], 80).unwrap())
    });
    let mp4 = mux_mp4(1280, 720, 15.0, &encoded).unwrap();
    let jpeg = thumbnail_jpeg(&case.frames[7], 80).unwrap();
    println!(
        "10 s of 1280x720@15fps: MP4 {} kB; its 1280x720 thumbnail {} kB",
        mp4.len() / 1000,
        jpeg.len() / 1000
    );
    group.throughput(Throughput::Bytes(mp4.len() as u64));
    group.bench_function("sha256 of that MP4", |b| b.iter(|| Sha256::digest(&mp4)));
    group.finish();
}

/// Median wall time of `runs` calls.
fn median_of(runs: usize, mut f: impl FnMut()) -> Duration {
    let mut times: Vec<Duration> = (0..runs)
        .map(|_| {
            let start = Instant::now();
            f();
            start.elapsed()
        })
        .collect();
    times.sort();
    times[runs / 2]
}

/// The same workloads as ratios to real time: how long one second of video takes to
/// decode or encode, on one thread. Below 1.0 keeps up with the camera.
fn real_time_summary() {
    println!("\n== media cost as a fraction of real time (one thread; lower is better) ==");
    for (name, fps) in [(CAMPUS, 10.0), (HIGHWAY, 25.0)] {
        let bytes = std::fs::read(data(name)).unwrap();
        let mut frames = 0;
        let took = median_of(5, || frames = decode_all(&bytes));
        let video_s = frames as f64 / fps;
        let ratio = took.as_secs_f64() / video_s;
        println!(
            "decode {name}: {frames} frames ({video_s:.1} s of video) in {:.0} ms = {:.0} fps, \
             {ratio:.4} x real time ({:.0}x faster)",
            took.as_secs_f64() * 1e3,
            frames as f64 / took.as_secs_f64(),
            1.0 / ratio
        );
    }
    for mut case in encode_cases() {
        let mut encoder = case.encoder();
        let mut index = 0;
        case.encode_second(&mut encoder, &mut index); // warm up past the first keyframe
        let mut bytes = 0;
        let took = median_of(5, || bytes = case.encode_second(&mut encoder, &mut index));
        let ratio = took.as_secs_f64();
        println!(
            "encode {}: one clip second in {:.1} ms = {ratio:.3} x real time ({:.1}x faster), \
             {:.2} ms/frame, {} kB/s",
            case.name,
            took.as_secs_f64() * 1e3,
            1.0 / ratio,
            took.as_secs_f64() * 1e3 / case.frames.len() as f64,
            bytes / 1000
        );
    }
}

/// What the pre-roll costs in memory: 2 s at 720p15 kept as encoded GOPs, against the
/// same frames kept raw.
fn pre_roll_memory_summary() {
    let frames = encode_cases().swap_remove(2).frames; // 30 frames of 720p
    let mut recorder = ClipRecorder::new(RecorderConfig::new(1280, 720, 15.0, 2_000)).unwrap();
    let (mut peak_bytes, mut peak_span) = (0, 0);
    for i in 0..120u64 {
        let mut frame = frames[i as usize % frames.len()].clone();
        frame.pts_ms = i * 1000 / 15;
        recorder.push_frame(&frame, &MotionSample::none()).unwrap();
        if recorder.pre_roll_bytes() > peak_bytes {
            peak_bytes = recorder.pre_roll_bytes();
            peak_span = recorder.pre_roll_span_ms();
        }
    }
    let raw_frames = (peak_span as usize * 15).div_ceil(1000) + 1;
    let raw_bytes = raw_frames * 1280 * 720 * 3 / 2;
    println!(
        "pre-roll 2 s at 1280x720@15fps: at most {} kB encoded (spanning {peak_span} ms); \
         the same {raw_frames} frames raw would be {} kB ({:.0}x more)",
        peak_bytes / 1000,
        raw_bytes / 1000,
        raw_bytes as f64 / peak_bytes as f64
    );
}

fn main() {
    let mut c = Criterion::default().configure_from_args();
    bench_decode(&mut c);
    bench_encode(&mut c);
    bench_finish(&mut c);
    c.final_summary();
    real_time_summary();
    pre_roll_memory_summary();
}
