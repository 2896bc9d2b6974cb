//! A simulated camera's clips, uploaded as the agent uploads them
//! (`crates/agent/src/runtime/clips.rs`): when a recording ends with the image sensor
//! working, the fleet's sample clip ([`crate::clip::SampleClip`]) is queued under a new
//! clip id; while connected, the oldest clip not yet uploaded is `PUT` to
//! `/api/v1/devices/{device}/clips/{clip_id}` and then `/thumbnail`, each with the
//! camera's token and the body's SHA-256, which the hub checks before it answers 201 (or
//! 200 for a clip it already has). Only then does its `clip_recorded` event go, and the
//! item leaves the queue on the hub's `cmd/ack` like any event. An upload that fails
//! (the hub down, its disk full) is tried again 2 s later while connected and at once on
//! the next connection; one under way when the link goes is abandoned and tried again
//! the same way. Nothing is dropped: the queue has no bound.

use super::queue::Queued;
use super::{Camera, Conn};
use crate::clip::SampleClip;
use crate::run::{SimError, run_err};
use crate::shared::{ClipRecord, wall_ms};
use bytes::Bytes;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Semaphore;
use tokio::time::Instant;
use watchlight_camera::RecordTrigger;
use watchlight_media::ClipTrigger;
use watchlight_protocol::EventKind;

/// A failed upload is tried again after this long while connected (the agent's
/// `DELIVERY_RETRY_MS`).
const UPLOAD_RETRY: Duration = Duration::from_secs(2);
/// Uploads under way at once across the fleet. Every simulated camera comes from
/// 127.0.0.1 and the hub's HTTP server lets one address hold 64 connections
/// (`crates/hub/src/connlimit.rs`), some of which the owner's API and live stream use.
const UPLOADS_AT_ONCE: usize = 16;
/// One `PUT` may take this long (the agent's client waits 60 s; a loopback hub answers
/// a 30 KB clip in milliseconds unless it is down).
const PUT_TIMEOUT: Duration = Duration::from_secs(30);

/// The fleet's side of clip uploads: the sample clip, and one HTTP client with a
/// connection pool for every camera (each sends its own token).
pub struct Uploader {
    pub clip: SampleClip,
    client: reqwest::Client,
    base: String,
    gate: Semaphore,
}

impl Uploader {
    /// Uploads `clip` to the hub at `http_url`, trusting only `tls`'s roots when given.
    pub fn new(
        clip: SampleClip,
        http_url: &str,
        tls: Option<Arc<rustls::ClientConfig>>,
    ) -> Result<Uploader, SimError> {
        let mut builder = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(5))
            .timeout(PUT_TIMEOUT)
            .pool_max_idle_per_host(UPLOADS_AT_ONCE);
        if let Some(tls) = tls {
            builder = builder.use_preconfigured_tls((*tls).clone());
        }
        let client = builder
            .build()
            .map_err(|e| run_err(format!("the cameras' HTTP client: {e}")))?;
        Ok(Uploader {
            clip,
            client,
            base: http_url.trim_end_matches('/').to_string(),
            gate: Semaphore::new(UPLOADS_AT_ONCE),
        })
    }

    /// The video, then the thumbnail, of clip `clip_id` of `device`.
    pub async fn upload(&self, device: &str, token: &str, clip_id: &str) -> Result<(), String> {
        let _permit = self.gate.acquire().await.map_err(|e| e.to_string())?;
        let url = format!("{}/api/v1/devices/{device}/clips/{clip_id}", self.base);
        let c = &self.clip;
        self.put(&url, token, "video/mp4", c.mp4.clone(), &c.meta.sha256)
            .await?;
        let url = format!("{url}/thumbnail");
        self.put(
            &url,
            token,
            "image/jpeg",
            c.thumbnail.clone(),
            &c.thumbnail_sha256,
        )
        .await
    }

    /// One `PUT` with the device's token and the body's SHA-256, as the agent's
    /// `signed_put`; `Ok` on 201 or 200, the status and the hub's words otherwise.
    async fn put(
        &self,
        url: &str,
        token: &str,
        content_type: &str,
        body: Bytes,
        sha256: &str,
    ) -> Result<(), String> {
        let resp = self
            .client
            .put(url)
            .bearer_auth(token)
            .header("content-type", content_type)
            .header("x-watchlight-sha256", sha256)
            .body(body)
            .send()
            .await
            .map_err(|e| format!("PUT {url}: {}", with_causes(e)))?;
        let status = resp.status();
        if status.is_success() {
            Ok(())
        } else {
            let text = resp.text().await.unwrap_or_default();
            Err(format!("PUT {url}: {status} {text}"))
        }
    }
}

/// The error and what caused it ("error sending request" says little without
/// "Connection refused").
fn with_causes(e: reqwest::Error) -> String {
    let e = e.without_url();
    let mut out = e.to_string();
    let mut cause = std::error::Error::source(&e);
    while let Some(c) = cause {
        out.push_str(": ");
        out.push_str(&c.to_string());
        cause = c.source();
    }
    out
}

/// A clip waiting in the queue.
pub(super) struct QueuedClip {
    pub id: String,
    /// The hub has its video and thumbnail: its event may go.
    pub uploaded: bool,
    /// A failed upload is not tried again before this (while connected).
    pub retry_at: Option<Instant>,
}

/// An upload's end, back to the camera task.
pub struct UploadDone {
    seq: u64,
    result: Result<(), String>,
}

fn clip_trigger(t: RecordTrigger) -> ClipTrigger {
    match t {
        RecordTrigger::Pir => ClipTrigger::Pir,
        RecordTrigger::Pixel => ClipTrigger::Pixel,
        RecordTrigger::Manual => ClipTrigger::Manual,
    }
}

impl Camera {
    /// A recording that began at `started_ms` (the camera's clock) ended with frames:
    /// its clip is queued for upload, named as the agent names clips
    /// (`{device}-{start_ts}-{n}`, `n` counting the camera's clips).
    pub(super) fn clip_recorded(&mut self, trigger: RecordTrigger, started_ms: u64) {
        let now = Instant::now();
        let start_ts = wall_ms().saturating_sub(self.ms(now).saturating_sub(started_ms));
        let n = self.clips_made;
        self.clips_made += 1;
        let id = format!("{}-{start_ts}-{n}", self.spec.device_id());
        let clip = &self.shared.uploader.clip;
        let data = clip.event_data(&id, start_ts, clip_trigger(trigger));
        let end_ts = start_ts + clip.meta.duration_ms;
        let queued = QueuedClip {
            id: id.clone(),
            uploaded: false,
            retry_at: None,
        };
        // In the ledger before it can be delivered (`enqueue` may start the upload).
        let seq = self.next_seq;
        self.shared
            .ledger
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clips
            .insert((self.spec.index, id), ClipRecord::new(seq, now));
        self.enqueue(EventKind::ClipRecorded, end_ts, data, Some(queued));
    }

    /// Uploads the clip of item `seq`, in a task of its own; its end comes back as an
    /// [`UploadDone`].
    pub(super) fn start_upload(&mut self, seq: u64) {
        let (Some(token), Some(Queued { clip: Some(c), .. })) =
            (self.token.clone(), self.queue.iter().find(|q| q.seq == seq))
        else {
            return;
        };
        let clip_id = c.id.clone();
        let device = self.spec.device_id();
        let shared = self.shared.clone();
        let tx = self.upload_tx.clone();
        self.clip_record(&clip_id, |r| r.attempts += 1);
        let task = tokio::spawn(async move {
            let result = shared.uploader.upload(&device, &token, &clip_id).await;
            let _ = tx.send(UploadDone { seq, result });
        });
        self.upload = Some((seq, task));
    }

    pub(super) fn on_upload_done(&mut self, done: UploadDone) {
        let now = Instant::now();
        if self.upload.as_ref().is_some_and(|(s, _)| *s == done.seq) {
            self.upload = None;
        }
        let index = self.spec.index;
        let connected = matches!(self.conn, Conn::Up { .. });
        let Some(q) = self.queue.iter_mut().find(|q| q.seq == done.seq) else {
            return;
        };
        let Some(c) = &mut q.clip else { return };
        let mut ledger = self.shared.ledger.lock().unwrap_or_else(|p| p.into_inner());
        match done.result {
            Ok(()) if c.uploaded => return,
            Ok(()) => {
                c.uploaded = true;
                q.sent = None;
                if let Some(r) = ledger.clips.get_mut(&(index, c.id.clone())) {
                    r.uploaded.get_or_insert(now);
                }
                // The event's way to the hub starts now; the upload before it is the
                // clip's (`ClipFigures::to_hub_ms`).
                if let Some(r) = ledger.events.get_mut(&(index, done.seq)) {
                    r.created = now;
                    r.created_wall_ms = wall_ms();
                    r.connected = connected;
                }
                drop(ledger);
                let _ = self.shared.probe_tx.send((index, done.seq));
            }
            Err(e) => {
                c.retry_at = Some(now + UPLOAD_RETRY);
                if let Some(r) = ledger.clips.get_mut(&(index, c.id.clone())) {
                    r.failed(e);
                }
                drop(ledger);
            }
        }
        self.deliver(now);
    }

    /// The link went (or the camera hung, or hung up): the upload under way is
    /// abandoned with its socket, and tried again on the next connection.
    pub(super) fn stop_upload(&mut self) {
        let Some((seq, task)) = self.upload.take() else {
            return;
        };
        task.abort();
        let Some(c) = self
            .queue
            .iter()
            .find(|q| q.seq == seq)
            .and_then(|q| q.clip.as_ref())
        else {
            return;
        };
        self.clip_record(&c.id, |r| {
            r.failed("the link went down during the upload".into())
        });
    }

    /// Changes this camera's ledger record of clip `clip_id`, if it has one.
    fn clip_record(&self, clip_id: &str, change: impl FnOnce(&mut ClipRecord)) {
        let mut ledger = self.shared.ledger.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(r) = ledger
            .clips
            .get_mut(&(self.spec.index, clip_id.to_string()))
        {
            change(r);
        }
    }
}
