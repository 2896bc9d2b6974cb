//! The offline queue (SPEC §4.2): events and clips wait here until the hub has them.
//! Ordered, bounded by bytes, delivered once in order. Where the items are kept is a
//! [`QueueStore`]: the agent keeps them in a folder (`watchlight_agent::disk_queue`,
//! which survives a kill -9 at any moment), tests here in memory ([`MemoryStore`]).
//!
//! The store keeps `next_seq`, the next sequence number, so numbers keep increasing
//! even after the queue empties: the agent uses an event's `seq` as the event's `seq`
//! on the wire and the hub stores each `(device, seq)` once.
//!
//! When an item does not fit, the oldest clips are dropped to make room, each one only
//! after a `clip_dropped` event naming it was made durable: nothing is lost silently.
//!
//! An item: `WLQ1`, kind byte (`E` event, `C` clip), u32 little-endian length of the
//! JSON header, the header, then the clip's bytes.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::collections::BTreeMap;
use std::path::PathBuf;
use watchlight_protocol::EventKind;

/// The default byte budget of SPEC §4.2.
pub const DEFAULT_BUDGET_BYTES: u64 = 256 * 1024 * 1024;

const MAGIC: &[u8; 4] = b"WLQ1";
/// Magic, kind byte and header length.
const PREFIX_LEN: usize = 9;

#[derive(Debug, thiserror::Error)]
pub enum QueueError {
    #[error("offline queue {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// `item` names the item as its store does (a file, for a folder).
    #[error("offline queue item {item} is corrupt: {reason}")]
    Corrupt { item: String, reason: String },
    #[error(
        "offline queue is full ({used} of {budget} bytes) and holds no clip to drop for an item of {needed} bytes"
    )]
    Full { used: u64, budget: u64, needed: u64 },
    #[error("offline queue has no item with seq {0}")]
    NoSuchItem(u64),
    /// Only from a store's fault injection in tests: the process "died" here.
    #[error("injected crash")]
    InjectedCrash,
}

/// An event as queued: what the agent publishes on `event` once it is online.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct QueuedEvent {
    pub kind: EventKind,
    /// Hub time when it happened (ms since the Unix epoch), or the camera's best guess.
    pub ts: u64,
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    pub data: Map<String, Value>,
}

/// What an item is.
#[derive(Debug, Clone, PartialEq)]
pub enum ItemBody {
    Event(QueuedEvent),
    /// A clip: its metadata (as in the `clip_recorded` event of docs/contracts.md) and
    /// its MP4 bytes.
    Clip {
        meta: Map<String, Value>,
        bytes: Vec<u8>,
    },
}

/// One queued item, with its sequence number.
#[derive(Debug, Clone, PartialEq)]
pub struct QueuedItem {
    pub seq: u64,
    pub body: ItemBody,
}

/// What a push did besides queueing the item.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct PushOutcome {
    /// The new item's seq.
    pub seq: u64,
    /// Seqs of the clips dropped to make room (a `clip_dropped` event is queued for each).
    pub dropped: Vec<u64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Event,
    Clip,
}

#[derive(Debug, Clone, Copy)]
struct Entry {
    kind: Kind,
    size: u64,
}

#[derive(Serialize, Deserialize)]
struct ClipHeader {
    meta: Map<String, Value>,
}

/// Where the queue's items are kept. Each item is bytes under its seq; every method
/// that changes the store is durable when it returns `Ok`.
pub trait QueueStore {
    /// The items kept, each seq with the bytes it takes. A write that was cut short
    /// (a crash) left no item.
    fn items(&mut self) -> Result<Vec<(u64, u64)>, QueueError>;
    /// The first `limit` bytes of item `seq` (fewer if it is shorter), or all of them.
    fn read(&self, seq: u64, limit: Option<usize>) -> Result<Vec<u8>, QueueError>;
    /// Keeps item `seq`, made of `parts` one after the other, whole or not at all.
    fn write(&mut self, seq: u64, parts: &[&[u8]]) -> Result<(), QueueError>;
    /// Forgets item `seq` (an item already gone is no error).
    fn remove(&mut self, seq: u64) -> Result<(), QueueError>;
    /// The `next_seq` last set, if any.
    fn next_seq(&mut self) -> Result<Option<u64>, QueueError>;
    fn set_next_seq(&mut self, seq: u64) -> Result<(), QueueError>;
    /// How errors name item `seq`.
    fn name(&self, seq: u64) -> String;
}

/// A store in memory: the queue's rules, testable without a disk.
#[derive(Debug, Default, Clone)]
pub struct MemoryStore {
    items: BTreeMap<u64, Vec<u8>>,
    next_seq: Option<u64>,
}

impl QueueStore for MemoryStore {
    fn items(&mut self) -> Result<Vec<(u64, u64)>, QueueError> {
        Ok(self
            .items
            .iter()
            .map(|(&seq, bytes)| (seq, bytes.len() as u64))
            .collect())
    }

    fn read(&self, seq: u64, limit: Option<usize>) -> Result<Vec<u8>, QueueError> {
        let bytes = self.items.get(&seq).ok_or(QueueError::NoSuchItem(seq))?;
        let end = limit.map_or(bytes.len(), |l| l.min(bytes.len()));
        Ok(bytes[..end].to_vec())
    }

    fn write(&mut self, seq: u64, parts: &[&[u8]]) -> Result<(), QueueError> {
        self.items.insert(seq, parts.concat());
        Ok(())
    }

    fn remove(&mut self, seq: u64) -> Result<(), QueueError> {
        self.items.remove(&seq);
        Ok(())
    }

    fn next_seq(&mut self) -> Result<Option<u64>, QueueError> {
        Ok(self.next_seq)
    }

    fn set_next_seq(&mut self, seq: u64) -> Result<(), QueueError> {
        self.next_seq = Some(seq);
        Ok(())
    }

    fn name(&self, seq: u64) -> String {
        format!("{seq} (in memory)")
    }
}

/// The queue. Open it with [`OfflineQueue::open`]; every method that changes it is
/// durable when it returns `Ok` (as durable as its store).
#[derive(Debug)]
pub struct OfflineQueue<S: QueueStore> {
    store: S,
    budget: u64,
    entries: BTreeMap<u64, Entry>,
    next_seq: u64,
    used: u64,
}

impl<S: QueueStore> OfflineQueue<S> {
    /// Opens the queue kept in `store` with a budget of `budget_bytes`. A clip whose
    /// `clip_dropped` event was kept but which was not yet forgotten (a crash between
    /// the two) is forgotten now.
    pub fn open(store: S, budget_bytes: u64) -> Result<OfflineQueue<S>, QueueError> {
        let mut queue = OfflineQueue {
            store,
            budget: budget_bytes,
            entries: BTreeMap::new(),
            next_seq: 1,
            used: 0,
        };
        if let Some(seq) = queue.store.next_seq()? {
            queue.next_seq = queue.next_seq.max(seq);
        }
        let mut dropped_but_present = Vec::new();
        for (seq, size) in queue.store.items()? {
            let (kind, header, _) = queue.read_raw(seq, false)?;
            if kind == Kind::Event
                && let Ok(event) = serde_json::from_slice::<QueuedEvent>(&header)
                && event.kind == EventKind::ClipDropped
                && let Some(dropped) = event.data.get("seq").and_then(Value::as_u64)
            {
                dropped_but_present.push(dropped);
            }
            queue.entries.insert(seq, Entry { kind, size });
            queue.used += size;
            queue.next_seq = queue.next_seq.max(seq + 1);
        }
        for seq in dropped_but_present {
            if queue
                .entries
                .get(&seq)
                .is_some_and(|e| e.kind == Kind::Clip)
            {
                queue.remove(seq)?;
            }
        }
        Ok(queue)
    }

    pub fn store(&self) -> &S {
        &self.store
    }

    /// The store, for a test's fault injection.
    pub fn store_mut(&mut self) -> &mut S {
        &mut self.store
    }

    /// The store, to open again (as after a restart).
    pub fn into_store(self) -> S {
        self.store
    }

    /// Bytes the store takes for the queued items.
    pub fn bytes_used(&self) -> u64 {
        self.used
    }

    pub fn budget_bytes(&self) -> u64 {
        self.budget
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Seqs of the queued items, oldest first.
    pub fn seqs(&self) -> Vec<u64> {
        self.entries.keys().copied().collect()
    }

    /// Queues an event. Returns its seq (and any clips dropped to make room).
    pub fn push_event(&mut self, event: &QueuedEvent) -> Result<PushOutcome, QueueError> {
        let header = serde_json::to_vec(event).expect("events always serialize");
        self.push(Kind::Event, &header, &[])
    }

    /// Queues a clip with its metadata. A clip larger than the whole budget is not
    /// kept: it is reported at once with a `clip_dropped` event (whose seq is returned,
    /// with the clip's own seq in `dropped`).
    pub fn push_clip(
        &mut self,
        meta: &Map<String, Value>,
        bytes: &[u8],
    ) -> Result<PushOutcome, QueueError> {
        let header = serde_json::to_vec(&ClipHeader { meta: meta.clone() })
            .expect("clip headers always serialize");
        if item_size(&header, bytes) > self.budget {
            let seq = self.take_seq()?;
            let event = drop_event(seq, meta, bytes.len() as u64, "larger_than_queue");
            let mut outcome = self.push_event(&event)?;
            outcome.dropped.push(seq);
            return Ok(outcome);
        }
        self.push(Kind::Clip, &header, bytes)
    }

    /// The oldest item, read from the store.
    pub fn peek_oldest(&self) -> Result<Option<QueuedItem>, QueueError> {
        match self.entries.keys().next() {
            Some(&seq) => self.read(seq).map(Some),
            None => Ok(None),
        }
    }

    /// Reads the item `seq`.
    pub fn read(&self, seq: u64) -> Result<QueuedItem, QueueError> {
        if !self.entries.contains_key(&seq) {
            return Err(QueueError::NoSuchItem(seq));
        }
        let (kind, header, payload) = self.read_raw(seq, true)?;
        let corrupt = |e: serde_json::Error| QueueError::Corrupt {
            item: self.store.name(seq),
            reason: e.to_string(),
        };
        let body = match kind {
            Kind::Event => ItemBody::Event(serde_json::from_slice(&header).map_err(corrupt)?),
            Kind::Clip => {
                let h: ClipHeader = serde_json::from_slice(&header).map_err(corrupt)?;
                ItemBody::Clip {
                    meta: h.meta,
                    bytes: payload,
                }
            }
        };
        Ok(QueuedItem { seq, body })
    }

    /// The hub has item `seq`: delete it.
    pub fn ack(&mut self, seq: u64) -> Result<(), QueueError> {
        if !self.entries.contains_key(&seq) {
            return Err(QueueError::NoSuchItem(seq));
        }
        self.remove(seq)
    }

    // ----- internals ------------------------------------------------------------------

    fn take_seq(&mut self) -> Result<u64, QueueError> {
        let seq = self.next_seq;
        self.store.set_next_seq(seq + 1)?;
        self.next_seq = seq + 1;
        Ok(seq)
    }

    fn push(
        &mut self,
        kind: Kind,
        header: &[u8],
        payload: &[u8],
    ) -> Result<PushOutcome, QueueError> {
        let size = item_size(header, payload);
        let mut dropped = Vec::new();
        while self.used + size > self.budget {
            let Some(oldest_clip) = self
                .entries
                .iter()
                .find(|(_, e)| e.kind == Kind::Clip)
                .map(|(&s, _)| s)
            else {
                return Err(QueueError::Full {
                    used: self.used,
                    budget: self.budget,
                    needed: size,
                });
            };
            self.drop_clip(oldest_clip)?;
            dropped.push(oldest_clip);
        }
        let seq = self.take_seq()?;
        let kind_byte = [match kind {
            Kind::Event => b'E',
            Kind::Clip => b'C',
        }];
        let len = (header.len() as u32).to_le_bytes();
        self.store
            .write(seq, &[MAGIC, &kind_byte, &len, header, payload])?;
        self.entries.insert(seq, Entry { kind, size });
        self.used += size;
        Ok(PushOutcome { seq, dropped })
    }

    /// Writes a `clip_dropped` event naming clip `seq`, then deletes the clip.
    fn drop_clip(&mut self, seq: u64) -> Result<(), QueueError> {
        let item = self.read(seq)?;
        let ItemBody::Clip { meta, bytes } = item.body else {
            return Ok(());
        };
        let event = drop_event(seq, &meta, bytes.len() as u64, "queue_full");
        let header = serde_json::to_vec(&event).expect("events always serialize");
        let size = item_size(&header, &[]);
        let event_seq = self.take_seq()?;
        let len = (header.len() as u32).to_le_bytes();
        self.store.write(event_seq, &[MAGIC, b"E", &len, &header])?;
        self.entries.insert(
            event_seq,
            Entry {
                kind: Kind::Event,
                size,
            },
        );
        self.used += size;
        self.remove(seq)
    }

    fn remove(&mut self, seq: u64) -> Result<(), QueueError> {
        self.store.remove(seq)?;
        if let Some(entry) = self.entries.remove(&seq) {
            self.used -= entry.size;
        }
        Ok(())
    }

    /// Reads item `seq`: its kind, header and (if `with_payload`) payload.
    fn read_raw(
        &self,
        seq: u64,
        with_payload: bool,
    ) -> Result<(Kind, Vec<u8>, Vec<u8>), QueueError> {
        let corrupt = |reason: &str| QueueError::Corrupt {
            item: self.store.name(seq),
            reason: reason.to_string(),
        };
        let head = self.store.read(seq, Some(PREFIX_LEN))?;
        if head.len() < PREFIX_LEN {
            return Err(corrupt("shorter than its 9-byte prefix"));
        }
        if &head[..4] != MAGIC {
            return Err(corrupt("does not start with WLQ1"));
        }
        let kind = match head[4] {
            b'E' => Kind::Event,
            b'C' => Kind::Clip,
            _ => return Err(corrupt("unknown item kind")),
        };
        let len = u32::from_le_bytes([head[5], head[6], head[7], head[8]]) as usize;
        let end = PREFIX_LEN + len;
        let mut bytes = self.store.read(seq, (!with_payload).then_some(end))?;
        if bytes.len() < end {
            return Err(corrupt("header shorter than its length"));
        }
        let payload = bytes.split_off(end);
        let header = bytes.split_off(PREFIX_LEN);
        Ok((kind, header, payload))
    }
}

fn item_size(header: &[u8], payload: &[u8]) -> u64 {
    (MAGIC.len() + 1 + 4 + header.len() + payload.len()) as u64
}

fn drop_event(seq: u64, meta: &Map<String, Value>, bytes: u64, reason: &str) -> QueuedEvent {
    let mut data = Map::new();
    data.insert("seq".into(), Value::from(seq));
    if let Some(id) = meta.get("clip_id") {
        data.insert("clip_id".into(), id.clone());
    }
    data.insert("bytes".into(), Value::from(bytes));
    data.insert("reason".into(), Value::from(reason));
    let ts = meta.get("start_ts").and_then(Value::as_u64).unwrap_or(0);
    QueuedEvent {
        kind: EventKind::ClipDropped,
        ts,
        data,
    }
}
