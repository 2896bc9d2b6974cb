//! The detector allocates nothing per frame once built (SPEC §7): counted with a global
//! allocator wrapper in this test binary.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

use watchlight_hw::FrameSource;
use watchlight_motion::{Detector, DetectorConfig, SceneConfig, SceneEvent, SyntheticScene};

struct Counting;

static ALLOCATIONS: AtomicUsize = AtomicUsize::new(0);

// SAFETY: forwards to the system allocator unchanged, only counting calls.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

#[test]
fn steady_state_frames_allocate_nothing() {
    for (w, h) in [(320, 240), (1280, 720)] {
        let mut config = SceneConfig::quiet(30, 3);
        config.width = w;
        config.height = h;
        config.rain = true;
        config.clock = true;
        config.events.push(SceneEvent::Person {
            start: 0,
            end: 30,
            from: (0.1, 0.5),
            to: (0.9, 0.5),
        });
        let mut scene = SyntheticScene::new(config);
        let mut frames = Vec::new();
        while let Some(f) = scene.next_frame().unwrap() {
            frames.push(f.y);
        }
        let mut detector = Detector::new(w, h, DetectorConfig::default()).unwrap();
        let mut mask = vec![0u8; (w * h) as usize];
        let before = ALLOCATIONS.load(Ordering::Relaxed);
        let mut motion = 0;
        for f in &frames {
            motion += usize::from(detector.process(f).unwrap().motion);
            detector.write_mask(&mut mask).unwrap();
        }
        let allocated = ALLOCATIONS.load(Ordering::Relaxed) - before;
        assert_eq!(
            allocated,
            0,
            "{w}x{h}: {allocated} allocations in {} frames",
            frames.len()
        );
        assert!(
            motion > 10,
            "{w}x{h}: the walker was seen ({motion} frames)"
        );
    }
}
