//! Snapshots and live view on the camera (docs/contracts.md, "Snapshots and live view").
//!
//! `cmd/snapshot`: the next frame from the image sensor is encoded as JPEG and `PUT` to
//! `/api/v1/devices/{id}/snapshot` with the device token; the command's result goes out
//! once the hub has it (or an error when no frame came within [`SNAPSHOT_WAIT_MS`]).
//!
//! `cmd/live_start`: every frame is encoded and `PUT` to
//! `/api/v1/devices/{id}/live/frame` on the pinned HTTPS connection (kept alive), one at
//! a time: a frame that comes while the previous one is still on its way is skipped, so
//! a slow link lowers the frame rate instead of adding delay. The hub's answer is its
//! keep-alive: `200` someone watches, `410` nobody does (stop now). With no `200` for
//! [`WATCHDOG_MS`] (hub gone, link down) the camera stops by itself. The camera core
//! shows the recording light while live (`Command::LiveStart`/`LiveStop`).
//!
//! [`LivePlan`] is the decision (sans-IO, in the agent's machine); [`Live`] does the
//! encoding and uploads, whose answers come back as [`LiveReport`]s.

use crate::machine::live::FrameUse;
pub use crate::machine::live::{LivePlan, SNAPSHOT_WAIT_MS, WATCHDOG_MS};
use crate::persist::Credentials;
use tokio::sync::mpsc;
use watchlight_hw::Frame;

/// JPEG quality of snapshots and live frames.
const JPEG_QUALITY: u8 = 75;
/// Per-request limit on an upload.
const UPLOAD_TIMEOUT_MS: u64 = 4_000;

/// What became of one upload.
#[derive(Debug)]
pub enum LiveReport {
    /// A live frame's answer: `Ok(true)` someone watches, `Ok(false)` nobody (410).
    Frame {
        run: u64,
        result: Result<bool, String>,
    },
    /// A snapshot upload, answering these commands.
    Snapshot {
        cmd_ids: Vec<String>,
        result: Result<(), String>,
    },
}

/// The uploads of what [`LivePlan`] decided (the plan lives in the agent's machine).
pub struct Live {
    reports: mpsc::UnboundedSender<LiveReport>,
}

impl Live {
    pub fn new() -> (Live, mpsc::UnboundedReceiver<LiveReport>) {
        let (reports, rx) = mpsc::unbounded_channel();
        (Live { reports }, rx)
    }

    /// A frame was read at hub time `captured_at_ms`: sends it where `used` says.
    pub fn on_frame(
        &mut self,
        used: FrameUse,
        frame: &Frame,
        captured_at_ms: u64,
        client: &reqwest::Client,
        creds: &Credentials,
    ) {
        if used.stream.is_none() && used.snapshot_for.is_empty() {
            return;
        }
        let (frame, client, creds) = (frame.clone(), client.clone(), creds.clone());
        let reports = self.reports.clone();
        let (to_stream, to_snapshot) = (used.stream.is_some(), !used.snapshot_for.is_empty());
        tokio::spawn(async move {
            // The stream's picture carries its capture time (the viewer shows how far behind
            // it is); a snapshot is the plain picture.
            let encoded = tokio::task::spawn_blocking(move || {
                let snapshot = if to_snapshot {
                    Some(watchlight_media::thumbnail_jpeg(&frame, JPEG_QUALITY)?)
                } else {
                    None
                };
                let stream = if to_stream {
                    let mut stamped = frame;
                    watchlight_media::stamp_capture_time(&mut stamped, captured_at_ms);
                    Some(watchlight_media::thumbnail_jpeg(&stamped, JPEG_QUALITY)?)
                } else {
                    None
                };
                Ok::<_, watchlight_media::MediaError>((stream, snapshot))
            })
            .await
            .map_err(|e| e.to_string())
            .and_then(|r| r.map_err(|e| e.to_string()));
            let (stream_jpeg, snapshot_jpeg) = match encoded {
                Ok(j) => j,
                Err(e) => {
                    let e = format!("could not encode the frame: {e}");
                    if let Some(run) = used.stream {
                        let _ = reports.send(LiveReport::Frame {
                            run,
                            result: Err(e.clone()),
                        });
                    }
                    if !used.snapshot_for.is_empty() {
                        let _ = reports.send(LiveReport::Snapshot {
                            cmd_ids: used.snapshot_for,
                            result: Err(e),
                        });
                    }
                    return;
                }
            };
            if let (Some(run), Some(jpeg)) = (used.stream, stream_jpeg) {
                let result = put_frame(&client, &creds, jpeg, captured_at_ms).await;
                let _ = reports.send(LiveReport::Frame { run, result });
            }
            if let Some(jpeg) = snapshot_jpeg {
                let result = put_snapshot(&client, &creds, jpeg, captured_at_ms).await;
                let _ = reports.send(LiveReport::Snapshot {
                    cmd_ids: used.snapshot_for,
                    result,
                });
            }
        });
    }
}

fn device_url(creds: &Credentials, rest: &str) -> String {
    format!(
        "{}/api/v1/devices/{}/{rest}",
        creds.http_url, creds.device_id
    )
}

async fn put_frame(
    client: &reqwest::Client,
    creds: &Credentials,
    jpeg: Vec<u8>,
    captured_at_ms: u64,
) -> Result<bool, String> {
    let url = device_url(creds, "live/frame");
    let resp = client
        .put(&url)
        .bearer_auth(&creds.token)
        .timeout(std::time::Duration::from_millis(UPLOAD_TIMEOUT_MS))
        .header("content-type", "image/jpeg")
        .header("x-captured-at", captured_at_ms.to_string())
        .body(jpeg)
        .send()
        .await
        .map_err(|e| format!("PUT {url}: {}", e.without_url()))?;
    match resp.status().as_u16() {
        200..=299 => Ok(true),
        410 => Ok(false),
        status => {
            let text = resp.text().await.unwrap_or_default();
            Err(format!("PUT {url}: {status} {text}"))
        }
    }
}

async fn put_snapshot(
    client: &reqwest::Client,
    creds: &Credentials,
    jpeg: Vec<u8>,
    taken_at_ms: u64,
) -> Result<(), String> {
    let url = device_url(creds, "snapshot");
    let request = crate::runtime::signed_put(client, &url, &creds.token, "image/jpeg", jpeg)
        .timeout(std::time::Duration::from_millis(UPLOAD_TIMEOUT_MS))
        .header("x-taken-at", taken_at_ms.to_string());
    crate::runtime::send_upload(request, &url).await
}
