//! The MP4/H.264 file source on the shared real footage, and on broken files.

mod common;

use watchlight_hw::{FrameError, FrameSource};
use watchlight_media::Mp4FrameSource;

fn decode_all(source: &mut Mp4FrameSource) -> Vec<(u64, usize)> {
    let mut out = Vec::new();
    while let Some(frame) = source.next_frame().expect("decodes") {
        out.push((frame.pts_ms, frame.y.len()));
    }
    out
}

#[test]
fn campus_footage_decodes_to_exactly_797_frames_at_10_fps() {
    let mut source = Mp4FrameSource::open(common::campus_mp4()).unwrap();
    assert_eq!(source.size(), (480, 360));
    assert!((source.fps() - 10.0).abs() < 0.01, "fps {}", source.fps());
    assert_eq!(source.sample_count(), 797);
    let frames = decode_all(&mut source);
    assert_eq!(frames.len(), 797);
    assert!(frames.iter().all(|&(_, luma)| luma == 480 * 360));
    assert_eq!(frames[0].0, 0);
    assert_eq!(frames[1].0, 100, "10 fps is 100 ms apart");
    assert!(frames.windows(2).all(|w| w[1].0 > w[0].0), "times increase");
    assert!(source.next_frame().unwrap().is_none(), "stays at the end");
}

#[test]
fn highway_footage_decodes_to_748_frames_at_25_fps() {
    let mut source = Mp4FrameSource::open(common::highway_mp4()).unwrap();
    assert_eq!(source.size(), (320, 240));
    assert!((source.fps() - 25.0).abs() < 0.01, "fps {}", source.fps());
    let frames = decode_all(&mut source);
    assert_eq!(frames.len(), 748);
    assert_eq!(frames[1].0, 40);
}

#[test]
fn decoded_frames_hold_the_picture_not_a_blank() {
    let mut source = Mp4FrameSource::open(common::campus_mp4()).unwrap();
    let frame = source.next_frame().unwrap().unwrap();
    let mean = frame.y.iter().map(|&v| u64::from(v)).sum::<u64>() / frame.y.len() as u64;
    let min = *frame.y.iter().min().unwrap();
    let max = *frame.y.iter().max().unwrap();
    assert!((40..220).contains(&mean), "mean luma {mean}");
    assert!(max - min > 100, "a real scene has contrast: {min}..{max}");
    assert_eq!(frame.u.len(), 240 * 180);
}

#[test]
fn a_missing_file_is_a_read_error_naming_it() {
    let err = Mp4FrameSource::open("/nonexistent/clip.mp4").unwrap_err();
    assert!(matches!(err, FrameError::Read { .. }));
    assert!(err.to_string().contains("/nonexistent/clip.mp4"), "{err}");
}

#[test]
fn bytes_that_are_not_mp4_are_refused_with_a_reason() {
    for junk in [
        Vec::new(),
        b"hello, this is not a video".to_vec(),
        vec![0xFF; 4096],
    ] {
        let err = Mp4FrameSource::from_bytes("junk", junk).unwrap_err();
        assert!(err.to_string().contains("junk"), "{err}");
    }
}

#[test]
fn truncated_files_give_errors_not_panics_or_garbage() {
    let whole = std::fs::read(common::highway_mp4()).unwrap();
    // Cut inside the header, inside moov, at the start of mdat and near the end.
    let mut cuts: Vec<usize> = vec![4, 12, 100, 1000, 4000];
    cuts.extend([whole.len() / 2, whole.len() - 1000, whole.len() - 1]);
    for cut in cuts {
        let bytes = whole[..cut].to_vec();
        match Mp4FrameSource::from_bytes(format!("cut-at-{cut}"), bytes) {
            Err(err) => assert!(err.to_string().contains(&format!("cut-at-{cut}")), "{err}"),
            Ok(mut source) => {
                // The index survived: decoding must then end in an error, not succeed.
                let outcome = std::iter::from_fn(|| match source.next_frame() {
                    Ok(Some(_)) => Some(Ok(())),
                    Ok(None) => None,
                    Err(e) => Some(Err(e)),
                })
                .find(|r| r.is_err());
                assert!(
                    outcome.is_some(),
                    "cut at {cut} of {} decoded fine",
                    whole.len()
                );
            }
        }
    }
}

#[test]
fn a_corrupted_sample_is_reported_with_its_index() {
    let mut bytes = std::fs::read(common::highway_mp4()).unwrap();
    // Overwrite the middle of mdat with a NAL length far beyond the sample.
    let mid = bytes.len() / 2;
    bytes[mid..mid + 64].fill(0x7F);
    let mut source = Mp4FrameSource::from_bytes("damaged", bytes).unwrap();
    let mut decoded = 0;
    let result = loop {
        match source.next_frame() {
            Ok(Some(_)) => decoded += 1,
            other => break other,
        }
    };
    // Either the decoder conceals the damage and plays on, or it names the sample.
    match result {
        Ok(None) => assert!(decoded > 0),
        Err(FrameError::Corrupt { index, reason, .. }) => {
            assert!(index > 0 && index < 748, "index {index}");
            assert!(!reason.is_empty());
        }
        Err(other) => panic!("unexpected error kind: {other}"),
        Ok(Some(_)) => unreachable!(),
    }
}

/// Every kind of damage to a small clip — a flipped byte anywhere in the file, or a cut
/// anywhere — ends in frames or a clear error: never a panic, never a hang.
#[test]
fn damage_anywhere_in_a_clip_never_panics() {
    use watchlight_media::{EncoderSettings, H264Encoder, mux_mp4};
    let settings = EncoderSettings::for_clip(64, 48, 10.0);
    let mut encoder = H264Encoder::new(settings).unwrap();
    let frames: Vec<_> = (0..12)
        .map(|i| {
            encoder
                .encode(&common::moving_square(64, 48, i, 10.0))
                .unwrap()
        })
        .collect();
    let clip = mux_mp4(64, 48, 10.0, &frames).unwrap();
    let decode_all = |bytes: Vec<u8>| -> Result<usize, FrameError> {
        let mut source = Mp4FrameSource::from_bytes("damaged", bytes)?;
        let mut n = 0;
        while source.next_frame()?.is_some() {
            n += 1;
            assert!(n <= 12, "more frames out than samples in");
        }
        Ok(n)
    };
    assert_eq!(decode_all(clip.clone()).unwrap(), 12);
    let (mut errors, mut decoded) = (0, 0);
    for at in (0..clip.len()).step_by(3) {
        let mut flipped = clip.clone();
        flipped[at] ^= 0xA5;
        match decode_all(flipped) {
            Ok(_) => decoded += 1,
            Err(e) => {
                assert!(e.to_string().contains("damaged"), "{e}");
                errors += 1;
            }
        }
        match decode_all(clip[..at].to_vec()) {
            Ok(n) => assert!(n < 12, "a file cut at {at} of {} decoded whole", clip.len()),
            Err(_) => errors += 1,
        }
    }
    assert!(
        errors > 0 && decoded > 0,
        "errors {errors}, decoded {decoded}"
    );
}

#[test]
fn a_looping_source_wraps_with_time_running_on() {
    let mut source = Mp4FrameSource::open(common::highway_mp4())
        .unwrap()
        .looping(true);
    let first = source.next_frame().unwrap().unwrap();
    let mut last_pts = first.pts_ms;
    for _ in 1..748 {
        last_pts = source.next_frame().unwrap().unwrap().pts_ms;
    }
    assert_eq!(last_pts, 747 * 40);
    let wrapped = source.next_frame().unwrap().unwrap();
    assert_eq!(wrapped.pts_ms, 748 * 40, "time runs on across the wrap");
    assert_eq!(
        wrapped.y, first.y,
        "the second pass shows the first frame again"
    );
    let next = source.next_frame().unwrap().unwrap();
    assert_eq!(next.pts_ms, 749 * 40);
}
