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
//! [`LivePlan`] is the decision (sans-IO, on the agent's monotonic ms); [`Live`] adds the
//! encoding and uploads, whose answers come back as [`LiveReport`]s.

use crate::persist::Credentials;
use tokio::sync::mpsc;
use watchlight_hw::Frame;

/// Without a `200` from the hub for this long, a live stream stops.
pub const WATCHDOG_MS: u64 = 5_000;
/// A snapshot with no frame (or no upload) after this long fails.
pub const SNAPSHOT_WAIT_MS: u64 = 5_000;
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

#[derive(Debug, Clone, PartialEq, Eq)]
struct Run {
    id: u64,
    last_ok_at: u64,
    in_flight: bool,
}

/// What to do with the frame just read.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct FrameUse {
    /// Send it on the live stream of this run.
    pub stream: Option<u64>,
    /// Send it as the snapshot these commands asked for.
    pub snapshot_for: Vec<String>,
}

/// What time did.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct LiveTick {
    /// The watchdog stopped the stream.
    pub stopped: bool,
    /// Snapshot commands that got no frame in time.
    pub expired: Vec<String>,
}

/// The decisions, without I/O.
#[derive(Debug, Default)]
pub struct LivePlan {
    run: Option<Run>,
    runs: u64,
    /// Snapshot commands waiting for a frame, with when they were asked.
    waiting: Vec<(String, u64)>,
    /// Snapshot commands whose upload is on its way, with when they were asked.
    uploading: Vec<(String, u64)>,
    frames_sent: u64,
}

impl LivePlan {
    pub fn is_streaming(&self) -> bool {
        self.run.is_some()
    }

    /// Whether a battery camera must stay awake for this.
    pub fn is_busy(&self) -> bool {
        self.run.is_some() || !self.waiting.is_empty() || !self.uploading.is_empty()
    }

    pub fn frames_sent(&self) -> u64 {
        self.frames_sent
    }

    pub fn start(&mut self, now: u64) {
        if self.run.is_none() {
            self.runs += 1;
            self.run = Some(Run {
                id: self.runs,
                last_ok_at: now,
                in_flight: false,
            });
        }
    }

    /// Stops the stream; `true` if one was running.
    pub fn stop(&mut self) -> bool {
        self.run.take().is_some()
    }

    pub fn ask_snapshot(&mut self, cmd_id: &str, now: u64) {
        self.waiting.push((cmd_id.to_string(), now));
    }

    pub fn wants_frame(&self) -> bool {
        !self.waiting.is_empty() || self.run.as_ref().is_some_and(|r| !r.in_flight)
    }

    /// A frame was read: what it is for.
    pub fn on_frame(&mut self) -> FrameUse {
        let mut used = FrameUse::default();
        if let Some(run) = &mut self.run
            && !run.in_flight
        {
            run.in_flight = true;
            self.frames_sent += 1;
            used.stream = Some(run.id);
        }
        for (id, asked) in self.waiting.drain(..) {
            used.snapshot_for.push(id.clone());
            self.uploading.push((id, asked));
        }
        used
    }

    /// The hub answered a live frame; `true` when the stream stops because of it.
    pub fn frame_answered(&mut self, run_id: u64, now: u64, result: &Result<bool, String>) -> bool {
        let Some(run) = self.run.as_mut().filter(|r| r.id == run_id) else {
            return false; // an answer for a stream already stopped
        };
        run.in_flight = false;
        match result {
            Ok(true) => {
                run.last_ok_at = now;
                false
            }
            Ok(false) => {
                self.run = None;
                true
            }
            Err(_) => false,
        }
    }

    /// A snapshot upload finished: its commands are answered.
    pub fn snapshot_done(&mut self, cmd_ids: &[String]) {
        self.uploading.retain(|(id, _)| !cmd_ids.contains(id));
    }

    pub fn tick(&mut self, now: u64) -> LiveTick {
        let mut tick = LiveTick::default();
        if self
            .run
            .as_ref()
            .is_some_and(|r| now >= r.last_ok_at + WATCHDOG_MS)
        {
            self.run = None;
            tick.stopped = true;
        }
        self.waiting.retain(|(id, asked)| {
            let late = now >= asked + SNAPSHOT_WAIT_MS;
            if late {
                tick.expired.push(id.clone());
            }
            !late
        });
        tick
    }

    pub fn next_deadline(&self) -> Option<u64> {
        let watchdog = self.run.as_ref().map(|r| r.last_ok_at + WATCHDOG_MS);
        let snapshot = self.waiting.iter().map(|(_, t)| t + SNAPSHOT_WAIT_MS).min();
        watchdog.into_iter().chain(snapshot).min()
    }
}

/// [`LivePlan`] with its uploads.
pub struct Live {
    pub plan: LivePlan,
    reports: mpsc::UnboundedSender<LiveReport>,
}

impl Live {
    pub fn new() -> (Live, mpsc::UnboundedReceiver<LiveReport>) {
        let (reports, rx) = mpsc::unbounded_channel();
        let live = Live {
            plan: LivePlan::default(),
            reports,
        };
        (live, rx)
    }

    /// A frame was read at hub time `captured_at_ms`: sends it where it is wanted.
    pub fn on_frame(
        &mut self,
        frame: &Frame,
        captured_at_ms: u64,
        client: &reqwest::Client,
        creds: &Credentials,
    ) {
        let used = self.plan.on_frame();
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_frame_at_a_time_and_the_hubs_answers_keep_the_stream_going() {
        let mut p = LivePlan::default();
        assert!(!p.wants_frame());
        p.start(0);
        assert!(p.is_streaming() && p.wants_frame());
        let used = p.on_frame();
        let run = used.stream.expect("streams the first frame");
        assert!(!p.wants_frame(), "the previous frame is still on its way");
        assert_eq!(p.on_frame(), FrameUse::default(), "skipped, not queued");
        assert!(!p.frame_answered(run, 100, &Ok(true)));
        assert!(p.wants_frame());
        // Answers keep the watchdog fed.
        for t in (200..20_000).step_by(100) {
            assert_eq!(p.on_frame().stream, Some(run));
            assert!(!p.frame_answered(run, t, &Ok(true)));
            assert_eq!(p.tick(t), LiveTick::default(), "at {t}");
        }
        assert_eq!(p.frames_sent(), 199);
    }

    #[test]
    fn nobody_watching_stops_at_once_and_silence_stops_it_after_the_watchdog() {
        let mut p = LivePlan::default();
        p.start(0);
        let run = p.on_frame().stream.unwrap();
        assert!(p.frame_answered(run, 100, &Ok(false)), "410: stop");
        assert!(!p.is_streaming());
        assert!(
            !p.frame_answered(run, 150, &Ok(true)),
            "a late answer changes nothing"
        );

        p.start(1_000);
        let run = p.on_frame().stream.unwrap();
        assert!(!p.frame_answered(run, 1_200, &Ok(true)));
        for t in (1_300..1_200 + WATCHDOG_MS).step_by(100) {
            if let Some(r) = p.on_frame().stream {
                assert!(!p.frame_answered(r, t, &Err("connection refused".into())));
            }
            assert!(!p.tick(t).stopped, "at {t}");
        }
        assert_eq!(p.next_deadline(), Some(1_200 + WATCHDOG_MS));
        assert!(p.tick(1_200 + WATCHDOG_MS).stopped);
        assert!(!p.is_streaming() && !p.is_busy());
    }

    #[test]
    fn a_snapshot_takes_the_next_frame_or_fails_after_the_wait() {
        let mut p = LivePlan::default();
        p.ask_snapshot("c1", 0);
        p.ask_snapshot("c2", 10);
        assert!(p.wants_frame() && p.is_busy());
        let used = p.on_frame();
        assert_eq!(used.stream, None, "not streaming");
        assert_eq!(used.snapshot_for, ["c1", "c2"], "one picture answers both");
        assert!(!p.wants_frame());
        assert!(p.is_busy(), "awake until the upload is answered");
        p.snapshot_done(&used.snapshot_for);
        assert!(!p.is_busy());

        // No frame comes (a broken image sensor): the command fails after the wait.
        p.ask_snapshot("c3", 1_000);
        assert_eq!(p.tick(1_000 + SNAPSHOT_WAIT_MS - 1), LiveTick::default());
        let tick = p.tick(1_000 + SNAPSHOT_WAIT_MS);
        assert_eq!(tick.expired, ["c3"]);
        assert!(!p.is_busy());
    }

    #[test]
    fn a_snapshot_while_streaming_shares_the_frame() {
        let mut p = LivePlan::default();
        p.start(0);
        p.ask_snapshot("c1", 0);
        let used = p.on_frame();
        assert!(used.stream.is_some());
        assert_eq!(used.snapshot_for, ["c1"]);
    }
}
