//! The offline queue on a real folder: order across reopening, recovery after a crash
//! at any durable step, private files. (Its rules alone: `crates/camera/tests/queue.rs`.)

use proptest::prelude::*;
use serde_json::{Map, Value, json};
use std::collections::{BTreeMap, BTreeSet};
use watchlight_agent::disk_queue::{self as disk, DiskQueue};
use watchlight_camera::queue::{ItemBody, QueueError, QueuedEvent};
use watchlight_protocol::EventKind;

fn open(dir: impl AsRef<std::path::Path>, budget: u64) -> Result<DiskQueue, QueueError> {
    disk::open(dir, budget)
}

fn event(n: u64) -> QueuedEvent {
    let mut data = Map::new();
    data.insert("n".into(), json!(n));
    QueuedEvent {
        kind: EventKind::MotionStart,
        ts: 1000 + n,
        data,
    }
}

fn clip_meta(id: &str) -> Map<String, Value> {
    let Value::Object(m) = json!({"clip_id": id, "start_ts": 5}) else {
        unreachable!()
    };
    m
}

#[test]
fn items_come_back_in_order_and_survive_reopening() {
    let dir = tempfile::tempdir().unwrap();
    let mut q = open(dir.path(), 1 << 20).unwrap();
    let a = q.push_event(&event(1)).unwrap().seq;
    let b = q.push_clip(&clip_meta("c1"), b"mp4 bytes").unwrap().seq;
    let c = q.push_event(&event(2)).unwrap().seq;
    assert!(a < b && b < c);
    drop(q);

    let mut q = open(dir.path(), 1 << 20).unwrap();
    assert_eq!(q.seqs(), vec![a, b, c]);
    let first = q.peek_oldest().unwrap().unwrap();
    assert_eq!(first.body, ItemBody::Event(event(1)));
    q.ack(a).unwrap();
    let second = q.peek_oldest().unwrap().unwrap();
    assert_eq!(
        second.body,
        ItemBody::Clip {
            meta: clip_meta("c1"),
            bytes: b"mp4 bytes".to_vec()
        }
    );
    q.ack(b).unwrap();
    q.ack(c).unwrap();
    assert!(q.is_empty());
    assert_eq!(q.bytes_used(), 0);
    // Numbers keep increasing after the queue emptied, across a restart too.
    drop(q);
    let mut q = open(dir.path(), 1 << 20).unwrap();
    assert!(q.push_event(&event(3)).unwrap().seq > c);
}

#[test]
fn recovery_deletes_temporary_files_and_names_corrupt_items() {
    let dir = tempfile::tempdir().unwrap();
    let mut q = open(dir.path(), 1 << 20).unwrap();
    q.push_event(&event(1)).unwrap();
    drop(q);
    std::fs::write(dir.path().join("00000000000000000009.tmp"), b"half").unwrap();
    let q = open(dir.path(), 1 << 20).unwrap();
    assert_eq!(q.len(), 1);
    assert!(!dir.path().join("00000000000000000009.tmp").exists());
    drop(q);
    std::fs::write(dir.path().join("00000000000000000042.item"), b"garbage").unwrap();
    let err = open(dir.path(), 1 << 20).unwrap_err();
    assert!(
        err.to_string().contains("00000000000000000042.item"),
        "{err}"
    );
}

#[derive(Debug, Clone)]
enum Op {
    Event,
    Clip(usize),
    AckOldest,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        2 => Just(Op::Event),
        3 => (50usize..900).prop_map(Op::Clip),
        2 => Just(Op::AckOldest),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(100))]

    /// Runs random operations, "kills" the process at a random durable step (leaving
    /// whatever half-written files a real kill would), reopens, and checks that every
    /// item whose push returned Ok is still there or was reported by a clip_dropped
    /// event, that nothing acked comes back, and that the order holds.
    #[test]
    fn nothing_is_lost_without_a_drop_event_across_a_crash(
        ops in prop::collection::vec(op(), 1..40),
        crash_at in 0usize..40,
        crash_step in 0u32..8,
    ) {
        let dir = tempfile::tempdir().unwrap();
        let mut q = open(dir.path(), 4000).unwrap();
        // What the caller was told: seq -> payload marker.
        let mut pushed: BTreeMap<u64, String> = BTreeMap::new();
        let mut acked: BTreeSet<u64> = BTreeSet::new();
        let mut acked_drops: BTreeSet<u64> = BTreeSet::new();
        let mut counter = 0u64;
        let mut crashed = false;
        for (i, op) in ops.iter().enumerate() {
            if i == crash_at {
                q.store_mut().inject_crash_after(crash_step);
            }
            counter += 1;
            let result = match op {
                Op::Event => q.push_event(&event(counter)).map(|o| {
                    pushed.insert(o.seq, format!("e{counter}"));
                }),
                Op::Clip(n) => q
                    .push_clip(&clip_meta(&format!("c{counter}")), &vec![7u8; *n])
                    .map(|o| {
                        pushed.insert(o.seq, format!("c{counter}"));
                    }),
                Op::AckOldest => match q.seqs().first().copied() {
                    Some(seq) => {
                        // The hub received it: a drop event it carried counts as told.
                        let item = q.read(seq).unwrap();
                        q.ack(seq).map(|()| {
                            acked.insert(seq);
                            if let ItemBody::Event(ev) = item.body
                                && ev.kind == EventKind::ClipDropped
                            {
                                acked_drops.insert(ev.data["seq"].as_u64().unwrap());
                            }
                        })
                    }
                    None => Ok(()),
                },
            };
            match result {
                Ok(()) => {}
                Err(QueueError::InjectedCrash) => {
                    crashed = true;
                    break;
                }
                Err(QueueError::Full { .. }) => {}
                Err(e) => return Err(TestCaseError::fail(format!("unexpected error: {e}"))),
            }
        }
        let _ = crashed;
        drop(q);

        let q = open(dir.path(), 4000).unwrap();
        let seqs = q.seqs();
        prop_assert!(seqs.windows(2).all(|w| w[0] < w[1]));
        let mut dropped: BTreeSet<u64> = acked_drops;
        let mut present: BTreeSet<u64> = BTreeSet::new();
        let mut used = 0u64;
        for &seq in &seqs {
            let item = q.read(seq).unwrap();
            present.insert(seq);
            match &item.body {
                ItemBody::Event(ev) if ev.kind == EventKind::ClipDropped => {
                    dropped.insert(ev.data["seq"].as_u64().unwrap());
                }
                ItemBody::Event(ev) => {
                    if let Some(marker) = pushed.get(&seq) {
                        prop_assert_eq!(marker, &format!("e{}", ev.data["n"]));
                    }
                }
                ItemBody::Clip { meta, bytes } => {
                    prop_assert!(bytes.iter().all(|&b| b == 7), "clip bytes intact");
                    if let Some(marker) = pushed.get(&seq) {
                        prop_assert_eq!(Some(marker.as_str()), meta["clip_id"].as_str());
                    }
                }
            }
            used += std::fs::metadata(dir.path().join(format!("{seq:020}.item"))).unwrap().len();
        }
        prop_assert_eq!(used, q.bytes_used());
        for (seq, marker) in &pushed {
            if acked.contains(seq) {
                continue;
            }
            prop_assert!(
                present.contains(seq) || dropped.contains(seq),
                "item {seq} ({marker}) lost without a clip_dropped event"
            );
            prop_assert!(
                !(present.contains(seq) && dropped.contains(seq)),
                "item {seq} both delivered and reported dropped"
            );
        }
        for seq in &acked {
            prop_assert!(!present.contains(seq), "acked item {seq} came back");
        }
        let leftovers = std::fs::read_dir(dir.path())
            .unwrap()
            .filter(|e| e.as_ref().unwrap().file_name().to_string_lossy().ends_with(".tmp"))
            .count();
        prop_assert_eq!(leftovers, 0);
    }
}

/// The queue holds the home's clips: its folder is 0700 and its files 0600, whatever the
/// process's umask, and an old folder's loose mode is tightened on open.
#[test]
fn the_queue_folder_and_files_are_private() {
    use std::os::unix::fs::PermissionsExt;
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("queue");
    std::fs::create_dir(&dir).unwrap();
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
    let mut q = open(&dir, 1 << 20).unwrap();
    q.push_event(&event(1)).unwrap();
    q.push_clip(&clip_meta("c1"), b"mp4 bytes").unwrap();
    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&dir), 0o700);
    let files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .collect();
    assert!(files.len() >= 2, "{files:?}");
    for f in files {
        assert_eq!(mode(&f), 0o600, "{}", f.display());
    }
}
