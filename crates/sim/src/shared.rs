//! What the fleet's cameras share with each other and with the run: the hub's
//! addresses, the connection gate, the clip uploader, the ledger of every event and
//! clip, and each camera's status.

use serde_json::Value;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tokio::sync::{Semaphore, mpsc};
use tokio::time::Instant;
use watchlight_protocol::{EventKind, LightId};

/// Hub time: ms since the Unix epoch (hub and simulator share the machine's clock).
pub fn wall_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// What the simulator learns of every event, by `(camera index, seq)`.
#[derive(Debug, Clone)]
pub struct EventRecord {
    pub kind: EventKind,
    pub created: Instant,
    /// The camera was connected when it recorded the event (else it had to wake up or
    /// reconnect first, and the wait is the link's, not the hub's).
    pub connected: bool,
    pub acked: Option<Instant>,
    /// First arrival on the live stream, and how many times it came.
    pub sse_at: Option<Instant>,
    pub sse_count: u32,
    /// The camera's wall clock when it recorded the event (its `ts`).
    pub created_wall_ms: u64,
    /// The hub's wall clock when it put the event on its live stream (the stream's
    /// `ts`), and the reader's when the event arrived: the machine's one clock splits
    /// the way into the hub's part and the stream's.
    pub hub_emit_wall_ms: Option<u64>,
    pub sse_wall_ms: Option<u64>,
    pub api_at: Option<Instant>,
}

/// What the simulator learns of every clip, by `(camera index, clip id)`.
#[derive(Debug, Clone)]
pub struct ClipRecord {
    /// The queue item (and its `clip_recorded` event's seq).
    pub seq: u64,
    /// When the recording ended and the clip was queued.
    pub recorded: Instant,
    /// When the hub had its video and thumbnail.
    pub uploaded: Option<Instant>,
    /// Its `clip_recorded` acknowledged: gone from the camera's queue.
    pub acked: Option<Instant>,
    pub attempts: u32,
    /// Uploads that failed or were cut off, and the last one's error.
    pub failures: u32,
    pub last_error: Option<String>,
}

impl ClipRecord {
    pub fn new(seq: u64, recorded: Instant) -> ClipRecord {
        ClipRecord {
            seq,
            recorded,
            uploaded: None,
            acked: None,
            attempts: 0,
            failures: 0,
            last_error: None,
        }
    }

    pub fn failed(&mut self, error: String) {
        self.failures += 1;
        self.last_error = Some(error);
    }
}

#[derive(Default)]
pub struct Ledger {
    pub events: HashMap<(usize, u64), EventRecord>,
    pub clips: HashMap<(usize, String), ClipRecord>,
}

/// What every camera shares.
pub struct Shared {
    pub home: String,
    pub mqtt_url: String,
    pub tls: Option<Arc<rustls::ClientConfig>>,
    /// Connection attempts waiting for their CONNACK.
    pub gate: Arc<Semaphore>,
    pub telemetry_every: Duration,
    pub seed: u64,
    pub ledger: Mutex<Ledger>,
    /// Events to probe in the API for their event-to-API latency.
    pub probe_tx: mpsc::UnboundedSender<(usize, u64)>,
    /// The clip every camera uploads, and the HTTP client that uploads it.
    pub uploader: crate::camera::Uploader,
}

/// What the run reads of a camera while it goes.
#[derive(Default)]
pub struct Status {
    pub connected: AtomicBool,
    pub ever_connected: AtomicBool,
    pub queued: AtomicU64,
    pub connects: AtomicU64,
    pub failed_connects: AtomicU64,
    /// Motion under way or a recording not yet ended: events are still to come.
    pub busy: AtomicBool,
    /// The version of the settings the camera runs with.
    pub settings_version: AtomicU64,
    pub light: Mutex<SeenLight>,
}

/// What an owner looking at the camera sees, and the red or green light that would
/// have sent them to the doctor.
#[derive(Debug, Clone, Copy, Default)]
pub struct SeenLight {
    pub now: Option<LightId>,
    pub last_alarming: Option<(Instant, LightId)>,
}

impl SeenLight {
    /// What the owner tells the doctor after a fault that began at `since`: the last
    /// red or green light since then (an owner asks about the light that worried
    /// them, even when it has stopped), else the light shown now.
    pub fn reported(&self, since: Instant) -> Option<LightId> {
        // The camera's clock counts whole milliseconds: a light shown within the
        // millisecond `since` fell in counts as after it.
        match self.last_alarming {
            Some((at, light)) if at + std::time::Duration::from_millis(1) >= since => Some(light),
            _ => self.now,
        }
    }
}

/// The string at `key` of a JSON object (live stream payloads).
pub fn str_field<'a>(v: &'a Value, key: &str) -> Option<&'a str> {
    v.get(key).and_then(Value::as_str)
}
