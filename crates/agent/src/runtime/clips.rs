//! The driver's side of clips: finishing a recording into the offline queue, reading
//! the oldest item for the machine, uploading a clip (video, then thumbnail, each with
//! its SHA-256) and the signed `PUT` snapshots share.

use super::{AgentError, PeekedClip, Runtime, THUMBNAIL_LEN_KEY, UploadDone};
use crate::machine::{Head, HeadBody, Input};
use crate::persist::Credentials;
use crate::session;
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};
use std::time::Duration;
use watchlight_camera::queue::{ItemBody, QueuedEvent};
use watchlight_media::MediaError;
use watchlight_protocol::EventKind;

impl Runtime {
    pub(super) fn finish_clip(&mut self) -> Result<(), AgentError> {
        if !self.recorder.is_recording() {
            return Ok(());
        }
        let result = self.recorder.finish();
        if self.machine.credentials().is_none() {
            return Ok(());
        }
        let clip = match result {
            Ok(clip) => clip,
            Err(MediaError::TooFewFrames(n)) => {
                // The image sensor gave (almost) nothing while recording: there is no
                // clip to keep; its self_test_failed event says why.
                tracing::warn!("recording ended with {n} frames: no clip");
                return Ok(());
            }
            Err(e) => {
                // A recording that cannot be finished is reported, never lost silently,
                // and never ends the camera.
                let clip_id = self.name_clip(self.recording_start_ts)?;
                tracing::error!(clip_id, "clip recorder: {e}: the clip is dropped");
                let event = unfinished_clip_event(&clip_id, self.recording_start_ts, &e);
                self.queue.push_event(&event)?;
                self.queue_changed(self.mono());
                return Ok(());
            }
        };
        let clip_id = self.name_clip(clip.meta.start_ts)?;
        let mut meta = match serde_json::to_value(&clip.meta) {
            Ok(Value::Object(m)) => m,
            _ => Map::new(),
        };
        meta.insert("clip_id".into(), json!(clip_id));
        meta.insert(THUMBNAIL_LEN_KEY.into(), json!(clip.thumbnail_jpeg.len()));
        let mut bytes = clip.mp4;
        bytes.extend_from_slice(&clip.thumbnail_jpeg);
        let outcome = self.queue.push_clip(&meta, &bytes)?;
        self.clips_recorded += 1;
        tracing::info!(
            clip_id,
            bytes = bytes.len(),
            seq = outcome.seq,
            "clip queued"
        );
        if self.config.print_lights {
            println!("clip id={clip_id} bytes={}", clip.meta.bytes);
        }
        let now = self.mono();
        self.queue_changed(now);
        self.machine.handle_input(now, Input::ClipQueued);
        Ok(())
    }

    /// The id of a clip that started at hub time `start_ts`, unique per camera across
    /// restarts (the count is saved before the clip is queued).
    pub(super) fn name_clip(&mut self, start_ts: u64) -> Result<String, AgentError> {
        let Some((device_id, n, creds)) = self.machine.next_clip_number() else {
            return Ok(String::new());
        };
        self.data.save_credentials(&creds)?;
        Ok(format!("{device_id}-{start_ts}-{n}"))
    }

    // ----- delivery ------------------------------------------------------------------------

    pub(super) fn peek_oldest(&mut self) -> Result<Option<Head>, AgentError> {
        let Some(item) = self.queue.peek_oldest()? else {
            return Ok(None);
        };
        let body = match item.body {
            ItemBody::Event(event) => HeadBody::Event(event),
            ItemBody::Clip { meta, bytes } => {
                self.peeked_clip = Some(PeekedClip {
                    seq: item.seq,
                    meta: meta.clone(),
                    bytes,
                });
                HeadBody::Clip { meta }
            }
        };
        Ok(Some(Head {
            seq: item.seq,
            body,
        }))
    }

    pub(super) fn upload(&mut self, seq: u64) -> Result<(), AgentError> {
        let clip = match self.peeked_clip.take() {
            Some(c) if c.seq == seq => c,
            _ => match self.queue.read(seq)?.body {
                ItemBody::Clip { meta, bytes } => PeekedClip { seq, meta, bytes },
                ItemBody::Event(_) => return Ok(()),
            },
        };
        let Some(creds) = self.machine.credentials().cloned() else {
            return Ok(());
        };
        let client = self.http_client(&creds)?;
        let tx = self.upload_tx.clone();
        tokio::spawn(async move {
            let result = upload_clip(&client, &creds, &clip.meta, clip.bytes).await;
            let _ = tx.send(UploadDone { seq, result });
        });
        Ok(())
    }

    pub(super) fn http_client(
        &mut self,
        creds: &Credentials,
    ) -> Result<reqwest::Client, AgentError> {
        if let Some(c) = &self.http {
            return Ok(c.clone());
        }
        let mut builder = reqwest::Client::builder().timeout(Duration::from_secs(60));
        if let Some(pem) = &creds.cert_pem {
            let tls = session::pinned_tls(pem).map_err(|e| AgentError::Http(e.to_string()))?;
            builder = builder.use_preconfigured_tls((*tls).clone());
        }
        let client = builder
            .build()
            .map_err(|e| AgentError::Http(e.to_string()))?;
        self.http = Some(client.clone());
        Ok(client)
    }
}

async fn upload_clip(
    client: &reqwest::Client,
    creds: &Credentials,
    meta: &Map<String, Value>,
    mut bytes: Vec<u8>,
) -> Result<(), String> {
    let clip_id = meta
        .get("clip_id")
        .and_then(Value::as_str)
        .ok_or("queued clip has no clip_id")?;
    let thumb_len = meta
        .get(THUMBNAIL_LEN_KEY)
        .and_then(Value::as_u64)
        .unwrap_or(0) as usize;
    let thumbnail = bytes.split_off(bytes.len().saturating_sub(thumb_len));
    let base = format!(
        "{}/api/v1/devices/{}/clips/{clip_id}",
        creds.http_url, creds.device_id
    );
    put(client, &base, &creds.token, "video/mp4", bytes).await?;
    if !thumbnail.is_empty() {
        put(
            client,
            &format!("{base}/thumbnail"),
            &creds.token,
            "image/jpeg",
            thumbnail,
        )
        .await?;
    }
    Ok(())
}

/// A `PUT` of `body` to the hub with the device's token and the body's SHA-256 (which the
/// hub checks before it acknowledges); callers add what else their upload carries.
pub(crate) fn signed_put(
    client: &reqwest::Client,
    url: &str,
    token: &str,
    content_type: &str,
    body: Vec<u8>,
) -> reqwest::RequestBuilder {
    let digest = hex::encode(Sha256::digest(&body));
    client
        .put(url)
        .bearer_auth(token)
        .header("content-type", content_type)
        .header("x-watchlight-sha256", digest)
        .body(body)
}

/// Sends an upload and reads the hub's answer: `Ok` on success, the status and the
/// hub's words otherwise.
pub(crate) async fn send_upload(request: reqwest::RequestBuilder, url: &str) -> Result<(), String> {
    let resp = request
        .send()
        .await
        .map_err(|e| format!("PUT {url}: {}", e.without_url()))?;
    let status = resp.status();
    if status.is_success() {
        Ok(())
    } else {
        let text = resp.text().await.unwrap_or_default();
        Err(format!("PUT {url}: {status} {text}"))
    }
}

async fn put(
    client: &reqwest::Client,
    url: &str,
    token: &str,
    content_type: &str,
    body: Vec<u8>,
) -> Result<(), String> {
    send_upload(signed_put(client, url, token, content_type, body), url).await
}

/// The `clip_dropped` event of a recording the recorder could not finish.
fn unfinished_clip_event(clip_id: &str, start_ts: u64, error: &MediaError) -> QueuedEvent {
    let mut data = Map::new();
    data.insert("clip_id".into(), json!(clip_id));
    data.insert("reason".into(), json!("recorder_failed"));
    data.insert("error".into(), json!(error.to_string()));
    QueuedEvent {
        kind: EventKind::ClipDropped,
        ts: start_ts,
        data,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unfinished_recording_is_a_clip_dropped_event_naming_it() {
        let e = MediaError::Mux("video frame 50 has PTS 5.006s".into());
        let event = unfinished_clip_event("cam-1-5000-3", 5_000, &e);
        assert_eq!(event.kind, EventKind::ClipDropped);
        assert_eq!(event.data["clip_id"], "cam-1-5000-3");
        assert_eq!(event.data["reason"], "recorder_failed");
        assert!(event.data["error"].as_str().unwrap().contains("PTS 5.006s"));
    }
}
