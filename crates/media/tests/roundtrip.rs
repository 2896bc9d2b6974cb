//! Encode → MP4 → decode, and the clip recorder's pre-roll, timing, thumbnail and metadata.

mod common;

use sha2::{Digest, Sha256};
use watchlight_hw::{Frame, FrameSource};
use watchlight_media::{
    ClipRecorder, ClipTrigger, EncodedFrame, EncoderSettings, H264Encoder, MediaError,
    MotionSample, Mp4FrameSource, RecorderConfig, contains_idr, mux_mp4,
};

const W: u32 = 160;
const H: u32 = 120;
const FPS: f32 = 10.0;

fn encode_scene(settings: EncoderSettings, frames: u64) -> Vec<EncodedFrame> {
    let mut encoder = H264Encoder::new(settings).unwrap();
    (0..frames)
        .map(|i| {
            encoder
                .encode(&common::moving_square(
                    settings.width,
                    settings.height,
                    i,
                    settings.fps,
                ))
                .unwrap()
        })
        .collect()
}

fn decode(mp4: Vec<u8>) -> (Mp4FrameSource, Vec<Frame>) {
    let mut source = Mp4FrameSource::from_bytes("clip", mp4).unwrap();
    let mut frames = Vec::new();
    while let Some(frame) = source.next_frame().unwrap() {
        frames.push(frame);
    }
    (source, frames)
}

#[test]
fn encode_mux_decode_keeps_frame_count_size_times_and_picture() {
    let settings = EncoderSettings::for_clip(W, H, FPS);
    let encoded = encode_scene(settings, 25);
    let mp4 = mux_mp4(W, H, FPS, &encoded).unwrap();
    let (source, decoded) = decode(mp4);
    assert_eq!(source.size(), (W, H));
    assert!((source.fps() - FPS).abs() < 0.01, "fps {}", source.fps());
    assert_eq!(decoded.len(), 25);
    for (i, frame) in decoded.iter().enumerate() {
        assert_eq!((frame.width, frame.height), (W, H));
        assert_eq!(frame.pts_ms, i as u64 * 100, "frame {i}");
        let original = common::moving_square(W, H, i as u64, FPS);
        let mad = common::luma_mad(frame, &original);
        assert!(
            mad < 6.0,
            "frame {i} differs from its source by {mad:.1} per pixel"
        );
    }
    // And not trivially: a different frame of the scene is clearly farther.
    let other = common::moving_square(W, H, 12, FPS);
    assert!(
        common::luma_mad(&decoded[0], &other)
            > common::luma_mad(&decoded[0], &common::moving_square(W, H, 0, FPS))
    );
}

#[test]
fn the_encoder_gives_one_output_per_input_with_keyframes_at_the_set_interval() {
    let settings = EncoderSettings {
        keyframe_interval: 5,
        ..EncoderSettings::for_clip(W, H, FPS)
    };
    let encoded = encode_scene(settings, 16);
    assert_eq!(encoded.len(), 16);
    let keyframes: Vec<usize> = (0..16).filter(|&i| encoded[i].keyframe).collect();
    assert_eq!(keyframes, [0, 5, 10, 15]);
    for f in &encoded {
        assert_eq!(
            f.keyframe,
            contains_idr(&f.data),
            "flag matches the bitstream"
        );
    }
    // Keyframes carry SPS (7) and PPS (8) in front: a clip may start at any of them.
    let types: Vec<u8> = watchlight_media::annex_b_nal_units(&encoded[5].data)
        .map(|nal| nal[0] & 0x1f)
        .collect();
    assert_eq!(&types[..2], &[7, 8], "NAL types {types:?}");
    // Constrained Baseline: profile_idc 66 with constraint_set1 set.
    let sps = watchlight_media::annex_b_nal_units(&encoded[0].data)
        .next()
        .unwrap();
    assert_eq!(sps[1], 66, "profile_idc");
    assert_ne!(sps[2] & 0x40, 0, "constraint_set1_flag");
}

#[test]
fn the_bitrate_setting_governs_the_size() {
    // The test scene with sensor-like noise (±12 levels) on top: real detail to spend
    // bits on, so the bitrate, not the content, decides the size.
    let noisy = |i: u64| {
        let mut frame = common::moving_square(320, 240, i, FPS);
        let mut state = (i as u32 + 1).wrapping_mul(0x9E37_79B9);
        for v in &mut frame.y {
            state ^= state << 13;
            state ^= state >> 17;
            state ^= state << 5;
            *v = (i32::from(*v) + (state % 25) as i32 - 12).clamp(16, 235) as u8;
        }
        frame
    };
    let bytes = |bitrate_bps| {
        let settings = EncoderSettings {
            bitrate_bps,
            ..EncoderSettings::for_clip(320, 240, FPS)
        };
        let mut encoder = H264Encoder::new(settings).unwrap();
        (0..30)
            .map(|i| encoder.encode(&noisy(i)).unwrap().data.len())
            .sum::<usize>()
    };
    let (small, large) = (bytes(200_000), bytes(1_000_000));
    assert!(
        large > small * 3,
        "200 kbps gave {small} B, 1 Mbps gave {large} B"
    );
    // 3 s: within a factor of two of the target either way.
    for (got, bps) in [(small, 200_000), (large, 1_000_000)] {
        let target = bps * 3 / 8;
        assert!(
            got < 2 * target && got > target / 2,
            "{got} B for 3 s at {bps} bps"
        );
    }
}

#[test]
fn bad_settings_and_frames_are_refused_by_name() {
    let good = EncoderSettings::for_clip(W, H, FPS);
    for (bad, word) in [
        (EncoderSettings { width: 161, ..good }, "even"),
        (EncoderSettings { fps: 0.0, ..good }, "frame rate"),
        (
            EncoderSettings {
                bitrate_bps: 5,
                ..good
            },
            "bitrate",
        ),
        (
            EncoderSettings {
                keyframe_interval: 0,
                ..good
            },
            "keyframe",
        ),
        (
            EncoderSettings {
                width: 7680,
                height: 4320,
                ..good
            },
            "3840x2160",
        ),
    ] {
        let err = H264Encoder::new(bad).unwrap_err();
        assert!(err.to_string().contains(word), "{err}");
    }
    let mut encoder = H264Encoder::new(good).unwrap();
    let err = encoder.encode(&Frame::grey(320, 240, 0)).unwrap_err();
    assert!(
        matches!(err, MediaError::FrameSize { got_width: 320, .. }),
        "{err}"
    );
    let mut short = Frame::grey(W, H, 0);
    short.v.truncate(10);
    let err = encoder.encode(&short).unwrap_err();
    assert!(matches!(err, MediaError::FramePlanes { .. }), "{err}");
}

#[test]
fn muxing_refuses_clips_that_could_not_play() {
    let encoded = encode_scene(EncoderSettings::for_clip(W, H, FPS), 3);
    assert!(matches!(
        mux_mp4(W, H, FPS, &encoded[..1]),
        Err(MediaError::TooFewFrames(1))
    ));
    let err = mux_mp4(W, H, FPS, &encoded[1..]).unwrap_err();
    assert!(err.to_string().contains("keyframe"), "{err}");
    let mut backwards = encoded.clone();
    backwards[2].pts_ms = 50;
    backwards[1].pts_ms = 100;
    assert!(mux_mp4(W, H, FPS, &backwards).is_err());
}

#[test]
fn the_mp4_is_fast_start_moov_before_mdat() {
    let encoded = encode_scene(EncoderSettings::for_clip(W, H, FPS), 10);
    let mp4 = mux_mp4(W, H, FPS, &encoded).unwrap();
    let mut boxes = Vec::new();
    let mut at = 0usize;
    while at + 8 <= mp4.len() {
        let size = u32::from_be_bytes(mp4[at..at + 4].try_into().unwrap()) as usize;
        boxes.push(String::from_utf8_lossy(&mp4[at + 4..at + 8]).to_string());
        assert!(size >= 8);
        at += size;
    }
    assert_eq!(at, mp4.len(), "top-level boxes tile the file");
    let moov = boxes.iter().position(|b| b == "moov").unwrap();
    let mdat = boxes.iter().position(|b| b == "mdat").unwrap();
    assert!(moov < mdat, "boxes {boxes:?}");
}

// ---- the recorder ----

fn recorder(pre_roll_ms: u64) -> ClipRecorder {
    ClipRecorder::new(RecorderConfig::new(W, H, FPS, pre_roll_ms)).unwrap()
}

fn motion(score: f32) -> MotionSample {
    MotionSample {
        score,
        boxes: vec![[0.25, 0.25, 0.5 * score.min(1.0), 0.1]],
    }
}

#[test]
fn a_clip_holds_pre_roll_and_recording_with_metadata_that_matches_its_bytes() {
    let mut rec = recorder(2_000);
    // 5 s idle at 10 fps, keyframe every 10 frames.
    for i in 0..50 {
        rec.push_frame(&common::moving_square(W, H, i, FPS), &MotionSample::none())
            .unwrap();
    }
    // The newest frame is at 4.9 s; the ring starts at the newest keyframe ≥ 2 s earlier.
    assert_eq!(
        rec.pre_roll_span_ms(),
        2_900,
        "from the keyframe at 2.0 s to 4.9 s"
    );
    rec.start(ClipTrigger::Pixel, 1_000_000).unwrap();
    assert!(rec.is_recording());
    for i in 50..80 {
        let score = if i == 61 { 0.9 } else { 0.2 };
        rec.push_frame(&common::moving_square(W, H, i, FPS), &motion(score))
            .unwrap();
    }
    let clip = rec.finish().unwrap();
    assert!(!rec.is_recording());

    let meta = &clip.meta;
    assert_eq!(
        meta.frame_count,
        30 + 30,
        "pre-roll 2.0–4.9 s plus 3 s recorded"
    );
    assert_eq!(meta.duration_ms, 6_000);
    assert_eq!(
        meta.start_ts,
        1_000_000 - 2_900,
        "the clip starts before the trigger"
    );
    assert_eq!(meta.end_ts, meta.start_ts + 6_000);
    assert_eq!(meta.trigger, ClipTrigger::Pixel);
    assert_eq!(meta.peak_score, 0.9);
    assert_eq!(meta.boxes, vec![[0.25, 0.25, 0.45, 0.1]]);
    assert_eq!((meta.width, meta.height), (W, H));
    assert_eq!(meta.bytes, clip.mp4.len() as u64);
    let digest: String = Sha256::digest(&clip.mp4)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    assert_eq!(meta.sha256, digest);
    assert_eq!(&clip.thumbnail_jpeg[..2], &[0xFF, 0xD8]);

    let json = serde_json::to_value(meta).unwrap();
    assert_eq!(json["trigger"], "pixel");
    assert_eq!(json["start_ts"], 997_100);
    assert_eq!(json["boxes"][0].as_array().unwrap().len(), 4);

    let (_, decoded) = decode(clip.mp4);
    assert_eq!(decoded.len(), 60);
    assert_eq!(decoded[0].pts_ms, 0);
    // The decoded first frame is the scene at 2.0 s (index 20).
    let mad_first = common::luma_mad(&decoded[0], &common::moving_square(W, H, 20, FPS));
    assert!(
        mad_first < 6.0,
        "first frame is the pre-roll keyframe: {mad_first}"
    );
}

#[test]
fn the_thumbnail_is_the_frame_with_the_most_motion() {
    let mut rec = recorder(0);
    rec.start(ClipTrigger::Manual, 0).unwrap();
    for i in 0..20 {
        let score = if i == 13 { 5.0 } else { 1.0 };
        rec.push_frame(&common::moving_square(W, H, i, FPS), &motion(score))
            .unwrap();
    }
    let clip = rec.finish().unwrap();
    let jpeg_of =
        |i| watchlight_media::thumbnail_jpeg(&common::moving_square(W, H, i, FPS), 80).unwrap();
    assert_eq!(clip.thumbnail_jpeg, jpeg_of(13));
    assert_ne!(clip.thumbnail_jpeg, jpeg_of(12));
    assert_eq!(clip.meta.peak_score, 5.0);
}

#[test]
fn the_trigger_frame_in_the_pre_roll_can_be_the_thumbnail() {
    let mut rec = recorder(1_000);
    for i in 0..15 {
        let score = if i == 14 { 9.0 } else { 0.0 };
        rec.push_frame(&common::moving_square(W, H, i, FPS), &motion(score))
            .unwrap();
    }
    rec.start(ClipTrigger::Pixel, 5_000).unwrap();
    for i in 15..20 {
        rec.push_frame(&common::moving_square(W, H, i, FPS), &motion(1.0))
            .unwrap();
    }
    let clip = rec.finish().unwrap();
    let trigger_jpeg =
        watchlight_media::thumbnail_jpeg(&common::moving_square(W, H, 14, FPS), 80).unwrap();
    assert_eq!(clip.thumbnail_jpeg, trigger_jpeg);
    assert_eq!(clip.meta.peak_score, 9.0);
}

#[test]
fn without_pre_roll_nothing_is_encoded_and_the_clip_starts_on_a_forced_keyframe() {
    let mut rec = recorder(0);
    for i in 0..7 {
        rec.push_frame(&common::moving_square(W, H, i, FPS), &MotionSample::none())
            .unwrap();
    }
    assert_eq!(rec.pre_roll_bytes(), 0);
    // 7 frames in: the encoder's own GOP would not put a keyframe here.
    rec.start(ClipTrigger::Pir, 42_000).unwrap();
    for i in 7..17 {
        rec.push_frame(&common::moving_square(W, H, i, FPS), &motion(0.5))
            .unwrap();
    }
    let clip = rec.finish().unwrap();
    assert_eq!(clip.meta.start_ts, 42_000);
    assert_eq!(clip.meta.frame_count, 10);
    assert_eq!(clip.meta.trigger, ClipTrigger::Pir);
    let (_, decoded) = decode(clip.mp4);
    assert_eq!(decoded.len(), 10);
}

#[test]
fn a_second_clip_after_the_first_starts_cleanly() {
    let mut rec = recorder(500);
    let mut i = 0;
    let mut push = |rec: &mut ClipRecorder, n: u64| {
        for _ in 0..n {
            rec.push_frame(&common::moving_square(W, H, i, FPS), &motion(0.3))
                .unwrap();
            i += 1;
        }
    };
    push(&mut rec, 12);
    rec.start(ClipTrigger::Pixel, 0).unwrap();
    push(&mut rec, 13);
    let first = rec.finish().unwrap();
    // Idle again for a few frames, mid-GOP: the new pre-roll must still open on a keyframe.
    push(&mut rec, 3);
    rec.start(ClipTrigger::Pixel, 10_000).unwrap();
    push(&mut rec, 10);
    let second = rec.finish().unwrap();
    assert_eq!(second.meta.frame_count, 13);
    assert_eq!(second.meta.start_ts, 10_000 - 200);
    for clip in [first, second] {
        let frames = clip.meta.frame_count as usize;
        assert_eq!(decode(clip.mp4).1.len(), frames);
    }
}

#[test]
fn the_pre_roll_stays_bounded_by_duration_however_long_the_camera_idles() {
    let mut rec = recorder(2_000);
    let mut spans = Vec::new();
    for i in 0..200 {
        rec.push_frame(&common::moving_square(W, H, i, FPS), &MotionSample::none())
            .unwrap();
        if i >= 30 {
            spans.push(rec.pre_roll_span_ms());
        }
    }
    // Never less than the pre-roll, never more than pre-roll plus one keyframe interval.
    assert!(
        spans.iter().all(|&s| (2_000..3_000).contains(&s)),
        "{spans:?}"
    );
    assert!(rec.pre_roll_bytes() > 0);
}

#[test]
fn misuse_is_an_error_not_a_panic() {
    let mut rec = recorder(0);
    assert!(matches!(rec.finish(), Err(MediaError::NotRecording)));
    rec.start(ClipTrigger::Manual, 0).unwrap();
    assert!(matches!(
        rec.start(ClipTrigger::Manual, 1),
        Err(MediaError::AlreadyRecording)
    ));
    rec.push_frame(&common::moving_square(W, H, 0, FPS), &motion(1.0))
        .unwrap();
    assert!(matches!(rec.finish(), Err(MediaError::TooFewFrames(1))));
    assert!(!rec.is_recording(), "idle again after a failed finish");
    let err = rec
        .push_frame(&Frame::grey(64, 64, 0), &MotionSample::none())
        .err();
    // Idle with no pre-roll: the frame is not encoded, so not checked either.
    assert!(err.is_none());
    rec.start(ClipTrigger::Manual, 0).unwrap();
    let err = rec
        .push_frame(&Frame::grey(64, 64, 0), &MotionSample::none())
        .unwrap_err();
    assert!(err.to_string().contains("64x64"), "{err}");
}

#[test]
fn fragmented_mp4_decodes_through_the_same_source() {
    use muxide::fragmented::{FragmentConfig, FragmentedMuxer};
    use watchlight_media::{NalType, annex_b_nal_units};

    let encoded = encode_scene(EncoderSettings::for_clip(W, H, FPS), 30);
    let nal_of = |t: NalType| {
        annex_b_nal_units(&encoded[0].data)
            .find(|n| NalType::of(n) == Some(t))
            .unwrap()
            .to_vec()
    };
    let mut config = FragmentConfig::new(W, H, 90_000).with_fragment_duration_ms(1_000);
    config.sps = nal_of(NalType::Sps);
    config.pps = nal_of(NalType::Pps);
    let mut muxer = FragmentedMuxer::new(config).unwrap();
    let mut file = muxer.init_segment();
    for (i, frame) in encoded.iter().enumerate() {
        // MP4 samples are length-prefixed, parameter sets live in the init segment.
        let mut sample = Vec::new();
        for nal in annex_b_nal_units(&frame.data) {
            if !matches!(NalType::of(nal), Some(NalType::Sps | NalType::Pps)) {
                sample.extend_from_slice(&(nal.len() as u32).to_be_bytes());
                sample.extend_from_slice(nal);
            }
        }
        let t = frame.pts_ms * 90;
        muxer.write_video(t, t, &sample, frame.keyframe).unwrap();
        if i % 10 == 9 {
            file.extend(muxer.flush_segment().unwrap());
        }
    }
    assert!(file.windows(4).any(|w| w == b"moof"), "really fragmented");
    let (source, decoded) = decode(file);
    assert_eq!(source.size(), (W, H));
    assert_eq!(decoded.len(), 30);
    for (i, frame) in decoded.iter().enumerate() {
        assert_eq!(frame.pts_ms, i as u64 * 100);
        assert!(common::luma_mad(frame, &common::moving_square(W, H, i as u64, FPS)) < 6.0);
    }
}

#[test]
fn recorder_and_source_can_move_to_another_thread() {
    fn assert_send<T: Send>() {}
    assert_send::<ClipRecorder>();
    assert_send::<Mp4FrameSource>();
    assert_send::<H264Encoder>();
}

#[test]
fn probing_a_clip_reads_its_index_without_decoding() {
    use watchlight_media::probe_mp4;
    let encoded = encode_scene(EncoderSettings::for_clip(W, H, FPS), 20);
    let mp4 = mux_mp4(W, H, FPS, &encoded).unwrap();
    let info = probe_mp4(&mp4).unwrap();
    assert_eq!((info.width, info.height, info.frame_count), (W, H, 20));
    assert_eq!(info.duration_ms, 2_000);
    assert!(
        info.codec.starts_with("avc1.42"),
        "Baseline profile: {}",
        info.codec
    );
    assert!(info.fast_start && !info.fragmented);

    let shared = std::fs::read(common::campus_mp4()).unwrap();
    let campus = probe_mp4(&shared).unwrap();
    assert_eq!(
        (campus.width, campus.height, campus.frame_count),
        (480, 360, 797)
    );
    assert_eq!(campus.duration_ms, 79_700);

    let err = probe_mp4(&mp4[..mp4.len() - 100]).unwrap_err();
    assert!(err.to_string().contains("truncated"), "{err}");
    let err = probe_mp4(b"GIF89a not a video").unwrap_err();
    assert!(
        err.to_string().contains("not a playable H.264 MP4"),
        "{err}"
    );
}

/// A camera clock that stalls: after a lag, several frames are read in the same
/// millisecond (and one even reads earlier). The clip must still be written, its frame
/// times strictly increasing; before, the muxer refused it ("frame 50 has PTS 5.006s
/// which is not greater than previous PTS 5.006s") and the camera lost the clip.
#[test]
fn a_stalling_clock_still_gives_a_clip_with_strictly_increasing_frame_times() {
    let mut rec = recorder(2_000);
    let stalled = |i: u64| match i {
        // The clock stops at 5.006 s for three frames, then runs again.
        50..=52 => 5_006,
        53 => 5_005,
        _ => i * 100,
    };
    for i in 0..48 {
        let mut f = common::moving_square(W, H, i, FPS);
        f.pts_ms = stalled(i);
        rec.push_frame(&f, &MotionSample::none()).unwrap();
    }
    rec.start(ClipTrigger::Pixel, 1_000_000).unwrap();
    for i in 48..70 {
        let mut f = common::moving_square(W, H, i, FPS);
        f.pts_ms = stalled(i);
        rec.push_frame(&f, &motion(0.5)).unwrap();
    }
    let clip = rec
        .finish()
        .expect("a stalled clock does not lose the clip");
    let (_, decoded) = decode(clip.mp4);
    assert_eq!(decoded.len() as u32, clip.meta.frame_count);
    for pair in decoded.windows(2) {
        assert!(
            pair[1].pts_ms > pair[0].pts_ms,
            "frame times {} then {}",
            pair[0].pts_ms,
            pair[1].pts_ms
        );
    }
}
