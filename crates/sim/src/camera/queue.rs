//! A simulated camera's queue: what it recorded, kept until the hub acknowledges it on
//! `cmd/ack` (sent again after [`ACK_WAIT`] and on every new connection), so a hub killed
//! mid-write loses nothing. A clip's item holds its `clip_recorded` event, sent once the
//! clip is uploaded ([`super::upload`]), as the agent does.

use super::upload::QueuedClip;
use super::{ACK_WAIT, Camera, Conn};
use crate::shared::{EventRecord, wall_ms};
use rumqttc::QoS;
use serde_json::{Map, Value};
use std::sync::atomic::Ordering;
use tokio::time::Instant;
use watchlight_protocol::EventKind;
use watchlight_protocol::messages::{EventMsg, encode};
use watchlight_protocol::topics::DeviceTopic;

pub(super) struct Queued {
    pub seq: u64,
    /// The event (a clip's: its `clip_recorded`).
    pub payload: Vec<u8>,
    pub sent: Option<Instant>,
    /// A clip to upload before the event goes.
    pub clip: Option<QueuedClip>,
}

impl Queued {
    /// Bytes the camera holds for the item.
    fn bytes(&self, clip_len: u64) -> u64 {
        let clip = self
            .clip
            .as_ref()
            .map_or(0, |c| if c.uploaded { 0 } else { clip_len });
        self.payload.len() as u64 + clip
    }
}

impl Camera {
    /// An event the camera recorded, at its own time.
    pub(super) fn record(&mut self, kind: EventKind, data: Map<String, Value>) {
        self.enqueue(kind, wall_ms(), data, None);
    }

    /// Queues event `kind` with hub time `ts`; with `clip`, the event waits for the
    /// clip's upload. Returns its seq.
    pub(super) fn enqueue(
        &mut self,
        kind: EventKind,
        ts: u64,
        data: Map<String, Value>,
        clip: Option<QueuedClip>,
    ) -> u64 {
        let seq = self.next_seq;
        self.next_seq += 1;
        let msg = EventMsg {
            v: 1,
            ts,
            seq,
            event: kind,
            data,
        };
        self.shared
            .ledger
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .events
            .insert(
                (self.spec.index, seq),
                EventRecord {
                    kind,
                    created: Instant::now(),
                    connected: matches!(self.conn, Conn::Up { .. }),
                    created_wall_ms: wall_ms(),
                    hub_emit_wall_ms: None,
                    sse_wall_ms: None,
                    acked: None,
                    sse_at: None,
                    sse_count: 0,
                    api_at: None,
                },
            );
        // A clip's event is timed from its upload (`on_upload_done`).
        if clip.is_none() {
            let _ = self.shared.probe_tx.send((self.spec.index, seq));
        }
        self.queue.push_back(Queued {
            seq,
            payload: encode(&msg),
            sent: None,
            clip,
        });
        self.status
            .queued
            .store(self.queue.len() as u64, Ordering::Relaxed);
        // A battery camera wakes for what it records (its PIR woke it): it reports at
        // once rather than at its next check-in.
        if self.battery
            && self.token.is_some()
            && self.link_down_until.is_none()
            && !self.faults.hung()
            && let Conn::Down { retry_at } = &mut self.conn
        {
            *retry_at = Instant::now();
        }
        self.deliver(Instant::now());
        seq
    }

    /// Sends every queued event not sent on this connection, or sent and not
    /// acknowledged within [`ACK_WAIT`]; a clip not yet uploaded is uploaded first, one
    /// at a time, oldest first.
    pub(super) fn deliver(&mut self, now: Instant) {
        let Conn::Up { client, .. } = &self.conn else {
            return;
        };
        let topic = self.topics.topic(DeviceTopic::Event);
        let mut upload = None;
        for q in self.queue.iter_mut() {
            if let Some(c) = &q.clip
                && !c.uploaded
            {
                if upload.is_none() && self.upload.is_none() && c.retry_at.is_none_or(|r| now >= r)
                {
                    upload = Some(q.seq);
                }
                continue;
            }
            if q.sent.is_some_and(|s| now < s + ACK_WAIT) {
                continue;
            }
            if client
                .try_publish(topic.clone(), QoS::AtLeastOnce, false, q.payload.clone())
                .is_err()
            {
                break;
            }
            q.sent = Some(now);
        }
        if let Some(seq) = upload {
            self.start_upload(seq);
        }
    }

    /// When [`Camera::deliver`] has something to do next, while connected.
    pub(super) fn next_delivery(&self, now: Instant) -> Option<Instant> {
        self.queue
            .iter()
            .filter_map(|q| match &q.clip {
                Some(c) if !c.uploaded => self.upload.is_none().then(|| c.retry_at.unwrap_or(now)),
                _ => Some(q.sent.map_or(now, |s| s + ACK_WAIT)),
            })
            .min()
    }

    /// A new connection: everything not acknowledged goes again, and a clip whose
    /// upload failed is tried again at once.
    pub(super) fn requeue(&mut self) {
        for q in self.queue.iter_mut() {
            q.sent = None;
            if let Some(c) = &mut q.clip {
                c.retry_at = None;
            }
        }
    }

    /// The hub stored event `seq` (`cmd/ack`): only now does it leave the queue.
    pub(super) fn on_event_ack(&mut self, seq: u64) {
        let Some(pos) = self.queue.iter().position(|q| q.seq == seq) else {
            return;
        };
        if self.queue[pos].clip.as_ref().is_some_and(|c| !c.uploaded) {
            // Its event is sent only once the clip is uploaded: the hub cannot have
            // stored it, and the clip is still to go.
            return;
        }
        let Some(item) = self.queue.remove(pos) else {
            return;
        };
        self.status
            .queued
            .store(self.queue.len() as u64, Ordering::Relaxed);
        let now = Instant::now();
        let mut ledger = self.shared.ledger.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(r) = ledger.events.get_mut(&(self.spec.index, seq)) {
            r.acked.get_or_insert(now);
        }
        if let Some(c) = item.clip
            && let Some(r) = ledger.clips.get_mut(&(self.spec.index, c.id))
        {
            r.acked.get_or_insert(now);
        }
    }

    /// Bytes the camera holds in its queue (its telemetry's `queue_bytes`).
    pub(super) fn queue_bytes(&self) -> u64 {
        let clip_len = self.shared.uploader.clip.len();
        self.queue.iter().map(|q| q.bytes(clip_len)).sum()
    }
}
