//! The offline queue (SPEC §4.2): events and clips wait here, on disk, until the hub
//! has them. Ordered, bounded by bytes, delivered once in order, and it survives a
//! kill -9 at any moment.
//!
//! On disk: one file per item, `<seq>.item` (20 digits, so names sort in order),
//! written as a temporary file, fsynced, renamed into place and the folder fsynced. A
//! crash leaves either the whole item or only a `*.tmp` that recovery deletes.
//! `next_seq` holds the next sequence number, so numbers keep increasing even after
//! the queue empties: the agent uses an event's `seq` as the event's `seq` on the wire
//! and the hub stores each `(device, seq)` once.
//!
//! When an item does not fit, the oldest clips are dropped to make room, each one only
//! after a `clip_dropped` event naming it was made durable: nothing is lost silently.
//!
//! Item file: `WLQ1`, kind byte (`E` event, `C` clip), u32 little-endian length of the
//! JSON header, the header, then the clip's bytes.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::collections::BTreeMap;
use std::fs::{self, File};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use watchlight_protocol::EventKind;

/// The default byte budget of SPEC §4.2.
pub const DEFAULT_BUDGET_BYTES: u64 = 256 * 1024 * 1024;

const MAGIC: &[u8; 4] = b"WLQ1";
const SEQ_FILE: &str = "next_seq";

#[derive(Debug, thiserror::Error)]
pub enum QueueError {
    #[error("offline queue {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("offline queue item {path} is corrupt: {reason}")]
    Corrupt { path: PathBuf, reason: String },
    #[error(
        "offline queue is full ({used} of {budget} bytes) and holds no clip to drop for an item of {needed} bytes"
    )]
    Full { used: u64, budget: u64, needed: u64 },
    #[error("offline queue has no item with seq {0}")]
    NoSuchItem(u64),
    /// Only from fault injection in tests: the process "died" here.
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

/// The queue. Open it with [`OfflineQueue::open`]; every method that changes it is
/// durable when it returns `Ok`.
#[derive(Debug)]
pub struct OfflineQueue {
    dir: PathBuf,
    budget: u64,
    entries: BTreeMap<u64, Entry>,
    next_seq: u64,
    used: u64,
    /// Fault injection: fail (as if killed) after this many more durable steps.
    crash_after: Option<u32>,
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> QueueError + '_ {
    move |source| QueueError::Io {
        path: path.to_path_buf(),
        source,
    }
}

fn item_name(seq: u64) -> String {
    format!("{seq:020}.item")
}

impl OfflineQueue {
    /// Opens (creating if needed) the queue in `dir` with a budget of `budget_bytes`.
    /// Leftovers of a crash are cleaned: temporary files are deleted, and a clip whose
    /// `clip_dropped` event was written but which was not yet deleted is deleted now.
    pub fn open(dir: impl AsRef<Path>, budget_bytes: u64) -> Result<OfflineQueue, QueueError> {
        let dir = dir.as_ref().to_path_buf();
        fs::create_dir_all(&dir).map_err(io_err(&dir))?;
        let mut queue = OfflineQueue {
            dir: dir.clone(),
            budget: budget_bytes,
            entries: BTreeMap::new(),
            next_seq: 1,
            used: 0,
            crash_after: None,
        };
        let mut dropped_but_present = Vec::new();
        for entry in fs::read_dir(&dir).map_err(io_err(&dir))? {
            let entry = entry.map_err(io_err(&dir))?;
            let path = entry.path();
            let name = entry.file_name().to_string_lossy().into_owned();
            if name.ends_with(".tmp") {
                fs::remove_file(&path).map_err(io_err(&path))?;
                continue;
            }
            if name == SEQ_FILE {
                let text = fs::read_to_string(&path).map_err(io_err(&path))?;
                let seq = text
                    .trim()
                    .parse::<u64>()
                    .map_err(|e| QueueError::Corrupt {
                        path: path.clone(),
                        reason: format!("next_seq is not a number: {e}"),
                    })?;
                queue.next_seq = queue.next_seq.max(seq);
                continue;
            }
            let Some(seq) = name
                .strip_suffix(".item")
                .and_then(|s| s.parse::<u64>().ok())
            else {
                continue;
            };
            let (kind, header, _) = read_item(&path, false)?;
            if kind == Kind::Event
                && let Ok(event) = serde_json::from_slice::<QueuedEvent>(&header)
                && event.kind == EventKind::ClipDropped
                && let Some(dropped) = event.data.get("seq").and_then(Value::as_u64)
            {
                dropped_but_present.push(dropped);
            }
            let size = entry.metadata().map_err(io_err(&path))?.len();
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

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Bytes on disk taken by queued items.
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

    /// The oldest item, read from disk.
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
        let path = self.dir.join(item_name(seq));
        let (kind, header, payload) = read_item(&path, true)?;
        let corrupt = |e: serde_json::Error| QueueError::Corrupt {
            path: path.clone(),
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

    /// Tests only: make the queue fail as if the process were killed after `steps` more
    /// durable steps (file writes, renames, deletions). The queue must then be dropped
    /// and reopened, as after a real crash.
    #[doc(hidden)]
    pub fn inject_crash_after(&mut self, steps: u32) {
        self.crash_after = Some(steps);
    }

    // ----- internals ------------------------------------------------------------------

    fn step(&mut self) -> Result<(), QueueError> {
        match self.crash_after {
            Some(0) => Err(QueueError::InjectedCrash),
            Some(n) => {
                self.crash_after = Some(n - 1);
                Ok(())
            }
            None => Ok(()),
        }
    }

    fn take_seq(&mut self) -> Result<u64, QueueError> {
        let seq = self.next_seq;
        let text = (seq + 1).to_string();
        self.write_atomic(&self.dir.join(SEQ_FILE), &[text.as_bytes()])?;
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
        let path = self.dir.join(item_name(seq));
        self.write_atomic(&path, &[MAGIC, &kind_byte, &len, header, payload])?;
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
        let path = self.dir.join(item_name(event_seq));
        let len = (header.len() as u32).to_le_bytes();
        self.write_atomic(&path, &[MAGIC, b"E", &len, &header])?;
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
        self.step()?;
        let path = self.dir.join(item_name(seq));
        match fs::remove_file(&path) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(io_err(&path)(e)),
        }
        self.sync_dir()?;
        if let Some(entry) = self.entries.remove(&seq) {
            self.used -= entry.size;
        }
        Ok(())
    }

    /// Temporary file, fsync, rename, fsync of the folder. A crash injected half-way
    /// through the data leaves a partial temporary file, as a real one would.
    fn write_atomic(&mut self, path: &Path, parts: &[&[u8]]) -> Result<(), QueueError> {
        let tmp = path.with_extension("tmp");
        let mut file = File::create(&tmp).map_err(io_err(&tmp))?;
        for part in parts {
            if self.crash_after == Some(0) {
                file.write_all(&part[..part.len() / 2])
                    .map_err(io_err(&tmp))?;
                return Err(QueueError::InjectedCrash);
            }
            file.write_all(part).map_err(io_err(&tmp))?;
        }
        self.step()?;
        file.sync_all().map_err(io_err(&tmp))?;
        drop(file);
        self.step()?;
        fs::rename(&tmp, path).map_err(io_err(path))?;
        self.sync_dir()
    }

    fn sync_dir(&self) -> Result<(), QueueError> {
        File::open(&self.dir)
            .and_then(|d| d.sync_all())
            .map_err(io_err(&self.dir))
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

/// Reads an item file: its kind, header and (if `with_payload`) payload.
fn read_item(path: &Path, with_payload: bool) -> Result<(Kind, Vec<u8>, Vec<u8>), QueueError> {
    let corrupt = |reason: &str| QueueError::Corrupt {
        path: path.to_path_buf(),
        reason: reason.to_string(),
    };
    let mut file = File::open(path).map_err(io_err(path))?;
    let mut head = [0u8; 9];
    file.read_exact(&mut head)
        .map_err(|_| corrupt("shorter than its 9-byte prefix"))?;
    if &head[..4] != MAGIC {
        return Err(corrupt("does not start with WLQ1"));
    }
    let kind = match head[4] {
        b'E' => Kind::Event,
        b'C' => Kind::Clip,
        _ => return Err(corrupt("unknown item kind")),
    };
    let len = u32::from_le_bytes([head[5], head[6], head[7], head[8]]) as usize;
    let mut header = vec![0u8; len];
    file.read_exact(&mut header)
        .map_err(|_| corrupt("header shorter than its length"))?;
    let mut payload = Vec::new();
    if with_payload {
        file.read_to_end(&mut payload).map_err(io_err(path))?;
    }
    Ok((kind, header, payload))
}
