//! The detector on synthetic scenes whose truth is known (SPEC §7): people are found,
//! lighting, foliage, rain and a burned-in clock are not motion, zones exclude what they should.

use watchlight_hw::FrameSource;
use watchlight_motion::{
    BoundingBox, Detector, DetectorConfig, SceneConfig, SceneEvent, SyntheticScene, Verdict,
};
use watchlight_protocol::ZoneGrid;

/// Frames the detector needs to learn the empty scene before its verdicts count.
const WARM_UP: usize = 20;

struct FrameResult {
    verdict: Verdict,
    boxes: Vec<BoundingBox>,
    truth_boxes: Vec<BoundingBox>,
    pir: bool,
}

fn run(scene: SceneConfig, config: DetectorConfig) -> Vec<FrameResult> {
    let mut source = SyntheticScene::new(scene);
    let (w, h) = source.size();
    let mut detector = Detector::new(w, h, config).unwrap();
    let mut out = Vec::new();
    while let Some(frame) = source.next_frame().unwrap() {
        let verdict = detector.process(&frame.y).unwrap();
        out.push(FrameResult {
            verdict,
            boxes: detector.boxes().to_vec(),
            truth_boxes: source.truth().boxes.clone(),
            pir: source.truth().pir,
        });
    }
    out
}

fn motion_frames(results: &[FrameResult]) -> Vec<usize> {
    results
        .iter()
        .enumerate()
        .skip(WARM_UP)
        .filter(|(_, r)| r.verdict.motion)
        .map(|(i, _)| i)
        .collect()
}

fn walk(start: u64, end: u64, y: f32) -> SceneEvent {
    SceneEvent::Person {
        start,
        end,
        from: (0.15, y),
        to: (0.85, y),
    }
}

/// Motion in most frames the person is in view, with a box on them; none before or after.
fn assert_person_found(results: &[FrameResult], start: usize, end: usize) {
    let in_view = end - start + 1;
    let found = (start..=end).filter(|&i| results[i].verdict.motion).count();
    assert!(
        found * 10 >= in_view * 8,
        "motion in {found} of {in_view} frames with a person"
    );
    for (i, r) in results.iter().enumerate().take(end + 1).skip(start + 5) {
        if !r.verdict.motion {
            continue;
        }
        let truth = r.truth_boxes[0];
        let best = r
            .boxes
            .iter()
            .map(|b| b.overlap_area(&truth))
            .max()
            .unwrap_or(0);
        let truth_area = u64::from(truth.width) * u64::from(truth.height);
        assert!(
            best * 2 >= truth_area,
            "frame {i}: boxes {:?} miss the person at {truth:?}",
            r.boxes
        );
    }
    let false_alarms: Vec<usize> = motion_frames(results)
        .into_iter()
        .filter(|&i| i < start || i > end + 5)
        .collect();
    assert!(
        false_alarms.is_empty(),
        "motion without anyone: frames {false_alarms:?}"
    );
}

#[test]
fn a_person_walking_is_found() {
    let mut scene = SceneConfig::quiet(120, 11);
    scene.events.push(walk(40, 100, 0.6));
    let results = run(scene, DetectorConfig::default());
    assert!(results[40].pir && !results[39].pir);
    assert_person_found(&results, 40, 100);
}

#[test]
fn a_person_is_found_among_rain_foliage_and_the_clock() {
    let mut scene = SceneConfig::quiet(160, 12);
    scene.rain = true;
    scene.foliage = true;
    scene.clock = true;
    scene.events.push(walk(80, 140, 0.7));
    let results = run(scene, DetectorConfig::default());
    assert_person_found(&results, 80, 140);
}

#[test]
fn a_car_is_found() {
    let mut scene = SceneConfig::quiet(100, 13);
    scene.events.push(SceneEvent::Car {
        start: 40,
        end: 70,
        from: (0.9, 0.8),
        to: (0.1, 0.8),
    });
    let results = run(scene, DetectorConfig::default());
    assert_person_found(&results, 40, 70);
}

#[test]
fn a_light_switched_on_is_not_motion() {
    let mut scene = SceneConfig::quiet(120, 21);
    scene.events.push(SceneEvent::LightSwitch {
        frame: 50,
        gain: 1.7,
    });
    scene.events.push(SceneEvent::LightSwitch {
        frame: 90,
        gain: 0.5,
    });
    let results = run(scene, DetectorConfig::default());
    assert_eq!(motion_frames(&results), Vec::<usize>::new());
}

#[test]
fn the_ir_switch_is_not_motion() {
    let mut scene = SceneConfig::quiet(100, 22);
    scene.events.push(SceneEvent::IrSwitch { frame: 50 });
    let results = run(scene, DetectorConfig::default());
    assert_eq!(motion_frames(&results), Vec::<usize>::new());
}

#[test]
fn a_slow_sunrise_is_not_motion() {
    let mut scene = SceneConfig::quiet(400, 23);
    scene.events.push(SceneEvent::Sunrise {
        start: 30,
        end: 380,
        from_gain: 0.35,
        to_gain: 1.2,
    });
    let results = run(scene, DetectorConfig::default());
    assert_eq!(motion_frames(&results), Vec::<usize>::new());
}

#[test]
fn a_burned_in_clock_is_not_motion() {
    // 40 s of a ticking clock, at the most sensitive setting.
    let mut scene = SceneConfig::quiet(400, 24);
    scene.clock = true;
    let config = DetectorConfig {
        sensitivity: 10,
        ..DetectorConfig::default()
    };
    let results = run(scene, config);
    assert_eq!(motion_frames(&results), Vec::<usize>::new());
}

#[test]
fn a_swaying_tree_is_not_motion() {
    let mut scene = SceneConfig::quiet(300, 25);
    scene.foliage = true;
    let results = run(scene, DetectorConfig::default());
    assert_eq!(motion_frames(&results), Vec::<usize>::new());
}

#[test]
fn rain_is_not_motion() {
    let mut scene = SceneConfig::quiet(200, 26);
    scene.rain = true;
    let results = run(scene, DetectorConfig::default());
    assert_eq!(motion_frames(&results), Vec::<usize>::new());
}

#[test]
fn zones_switched_off_exclude_motion_there_only() {
    // Someone walks along the top-left; someone else later along the bottom right.
    let mut scene = SceneConfig::quiet(160, 31);
    scene.events.push(SceneEvent::Person {
        start: 30,
        end: 70,
        from: (0.1, 0.2),
        to: (0.4, 0.2),
    });
    scene.events.push(SceneEvent::Person {
        start: 100,
        end: 140,
        from: (0.6, 0.75),
        to: (0.9, 0.75),
    });
    // Everything watched: both are found.
    let all = run(scene.clone(), DetectorConfig::default());
    assert!((30..=70).any(|i| all[i].verdict.motion));
    assert!((100..=140).any(|i| all[i].verdict.motion));

    // The top half switched off: only the second walker is found.
    let mut zones = ZoneGrid::all_on(4, 4);
    for cell in &mut zones.enabled[..8] {
        *cell = false;
    }
    let config = DetectorConfig {
        zones,
        ..DetectorConfig::default()
    };
    let masked = run(scene, config);
    let found = motion_frames(&masked);
    assert!(
        found.iter().all(|&i| i >= 100),
        "motion from an excluded zone: {found:?}"
    );
    let second: Vec<bool> = (100..=140).map(|i| masked[i].verdict.motion).collect();
    assert!(
        second.iter().filter(|&&m| m).count() >= 30,
        "second walker: {second:?}"
    );
}

#[test]
fn min_motion_frames_delays_the_verdict() {
    let mut scene = SceneConfig::quiet(80, 41);
    scene.events.push(walk(40, 70, 0.5));
    let first_motion = |min_motion_frames| {
        let config = DetectorConfig {
            min_motion_frames,
            ..DetectorConfig::default()
        };
        let results = run(scene.clone(), config);
        motion_frames(&results)[0]
    };
    assert_eq!(first_motion(5), first_motion(1) + 4);
}

#[test]
fn bad_input_is_a_clear_error() {
    let mut d = Detector::new(64, 48, DetectorConfig::default()).unwrap();
    let err = d.process(&[0u8; 100]).unwrap_err();
    assert_eq!(
        err.to_string(),
        "luma plane has 100 bytes, expected 3072 for the detector's 64x48"
    );
    let err = Detector::new(
        64,
        48,
        DetectorConfig {
            sensitivity: 0,
            ..DetectorConfig::default()
        },
    )
    .unwrap_err();
    assert_eq!(err.to_string(), "sensitivity must be 1 to 10, got 0");
    let bad_zones = ZoneGrid {
        cols: 2,
        rows: 2,
        enabled: vec![true; 3],
    };
    let err = Detector::new(
        64,
        48,
        DetectorConfig {
            zones: bad_zones,
            ..DetectorConfig::default()
        },
    )
    .unwrap_err();
    assert!(err.to_string().contains("needs 4 cells, got 3"), "{err}");
    assert!(Detector::new(8, 8, DetectorConfig::default()).is_err());
}
