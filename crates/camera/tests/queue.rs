//! The offline queue's rules on a store in memory: order, budget, drops with a
//! `clip_dropped` event. The agent's tests hold the same on its folder, across crashes
//! (`crates/agent/tests/disk_queue.rs`).

use serde_json::{Map, Value, json};
use watchlight_camera::queue::{ItemBody, MemoryStore, OfflineQueue, QueueError, QueuedEvent};
use watchlight_protocol::EventKind;

fn open(budget: u64) -> OfflineQueue<MemoryStore> {
    OfflineQueue::open(MemoryStore::default(), budget).unwrap()
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
    let mut q = open(1 << 20);
    let a = q.push_event(&event(1)).unwrap().seq;
    let b = q.push_clip(&clip_meta("c1"), b"mp4 bytes").unwrap().seq;
    let c = q.push_event(&event(2)).unwrap().seq;
    assert!(a < b && b < c);
    let store = q.into_store();

    let mut q = OfflineQueue::open(store, 1 << 20).unwrap();
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
    let mut q = OfflineQueue::open(q.into_store(), 1 << 20).unwrap();
    assert!(q.push_event(&event(3)).unwrap().seq > c);
}

#[test]
fn a_full_queue_drops_the_oldest_clip_with_an_event_naming_it() {
    let mut q = open(3000);
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
    let mut q = open(500);
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
    let mut q = open(200);
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
fn acking_an_unknown_item_is_an_error() {
    let mut q = open(1 << 20);
    assert!(matches!(q.ack(7), Err(QueueError::NoSuchItem(7))));
}
