//! The offline queue on a real folder: order, budget, drops with a `clip_dropped` event,
//! recovery after a crash at any durable step.

use proptest::prelude::*;
use serde_json::{Map, Value, json};
use std::collections::{BTreeMap, BTreeSet};
use watchlight_camera::queue::{ItemBody, OfflineQueue, QueueError, QueuedEvent};
use watchlight_protocol::EventKind;

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
    let mut q = OfflineQueue::open(dir.path(), 1 << 20).unwrap();
    let a = q.push_event(&event(1)).unwrap().seq;
    let b = q.push_clip(&clip_meta("c1"), b"mp4 bytes").unwrap().seq;
    let c = q.push_event(&event(2)).unwrap().seq;
    assert!(a < b && b < c);
    drop(q);

    let mut q = OfflineQueue::open(dir.path(), 1 << 20).unwrap();
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
    let mut q = OfflineQueue::open(dir.path(), 1 << 20).unwrap();
    assert!(q.push_event(&event(3)).unwrap().seq > c);
}

#[test]
fn a_full_queue_drops_the_oldest_clip_with_an_event_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let mut q = OfflineQueue::open(dir.path(), 3000).unwrap();
    let e1 = q.push_event(&event(1)).unwrap().seq;
    let c1 = q.push_clip(&clip_meta("old"), &[1u8; 1000]).unwrap().seq;
    let c2 = q.push_clip(&clip_meta("mid"), &[2u8; 1000]).unwrap().seq;
    let outcome = q.push_clip(&clip_meta("new"), &[3u8; 1000]).unwrap();
    assert_eq!(outcome.dropped, vec![c1]);
    assert!(q.bytes_used() <= 3000);
    let seqs = q.seqs();
    assert_eq!(seqs[0], e1);
    assert_eq!(seqs[1], c2);
    // The drop event comes before the new clip.
    let drop_event = q.read(seqs[2]).unwrap();
    let ItemBody::Event(ev) = drop_event.body else {
        panic!("expected the drop event")
    };
    assert_eq!(ev.kind, EventKind::ClipDropped);
    assert_eq!(ev.data["clip_id"], json!("old"));
    assert_eq!(ev.data["seq"], json!(c1));
    assert_eq!(ev.data["bytes"], json!(1000));
    assert_eq!(seqs[3], outcome.seq);
}

#[test]
fn a_clip_larger_than_the_queue_is_reported_not_kept() {
    let dir = tempfile::tempdir().unwrap();
    let mut q = OfflineQueue::open(dir.path(), 500).unwrap();
    let outcome = q.push_clip(&clip_meta("huge"), &[0u8; 600]).unwrap();
    assert_eq!(q.len(), 1);
    let ItemBody::Event(ev) = q.read(outcome.seq).unwrap().body else {
        panic!()
    };
    assert_eq!(ev.kind, EventKind::ClipDropped);
    assert_eq!(ev.data["reason"], json!("larger_than_queue"));
}

#[test]
fn events_alone_that_overflow_are_refused_with_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let mut q = OfflineQueue::open(dir.path(), 200).unwrap();
    q.push_event(&event(1)).unwrap();
    q.push_event(&event(2)).unwrap();
    let err = loop {
        match q.push_event(&event(3)) {
            Ok(_) => continue,
            Err(e) => break e,
        }
    };
    assert!(matches!(err, QueueError::Full { .. }));
    assert!(err.to_string().contains("no clip to drop"), "{err}");
}

#[test]
fn recovery_deletes_temporary_files_and_names_corrupt_items() {
    let dir = tempfile::tempdir().unwrap();
    let mut q = OfflineQueue::open(dir.path(), 1 << 20).unwrap();
    q.push_event(&event(1)).unwrap();
    drop(q);
    std::fs::write(dir.path().join("00000000000000000009.tmp"), b"half").unwrap();
    let q = OfflineQueue::open(dir.path(), 1 << 20).unwrap();
    assert_eq!(q.len(), 1);
    assert!(!dir.path().join("00000000000000000009.tmp").exists());
    drop(q);
    std::fs::write(dir.path().join("00000000000000000042.item"), b"garbage").unwrap();
    let err = OfflineQueue::open(dir.path(), 1 << 20).unwrap_err();
    assert!(
        err.to_string().contains("00000000000000000042.item"),
        "{err}"
    );
}

#[test]
fn acking_an_unknown_item_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let mut q = OfflineQueue::open(dir.path(), 1 << 20).unwrap();
    assert!(matches!(q.ack(7), Err(QueueError::NoSuchItem(7))));
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
        let mut q = OfflineQueue::open(dir.path(), 4000).unwrap();
        // What the caller was told: seq -> payload marker.
        let mut pushed: BTreeMap<u64, String> = BTreeMap::new();
        let mut acked: BTreeSet<u64> = BTreeSet::new();
        let mut acked_drops: BTreeSet<u64> = BTreeSet::new();
        let mut counter = 0u64;
        let mut crashed = false;
        for (i, op) in ops.iter().enumerate() {
            if i == crash_at {
                q.inject_crash_after(crash_step);
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

        let q = OfflineQueue::open(dir.path(), 4000).unwrap();
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
