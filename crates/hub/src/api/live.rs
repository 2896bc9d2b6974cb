//! Snapshots and live view over HTTP (SPEC §9, docs/contracts.md "Snapshots and live
//! view"). The owner asks; the hub sends the camera `cmd/snapshot` or `cmd/live_start`;
//! the camera uploads with its own token (`PUT /devices/{id}/snapshot`, one
//! `PUT /devices/{id}/live/frame` per frame); the hub keeps the snapshot
//! (`crate::snapshot`) or relays the frames to every viewer as MJPEG
//! (`crate::live_view`).

use super::auth::{self, Owner};
use super::cameras::known;
use super::{ApiError, command_json};
use crate::live_view::{LiveAction, LiveFrame, Viewer};
use crate::snapshot::{self, MAX_SNAPSHOT_BYTES};
use crate::state::Shared;
use axum::Json;
use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};
use std::time::Duration;
use tokio::sync::broadcast::error::RecvError;

/// How long `POST /snapshot` waits for the picture before answering 202.
pub const SNAPSHOT_WAIT: Duration = Duration::from_secs(4);
/// How often a live session is ticked (its cap, a camera gone quiet).
const LIVE_TICK: Duration = Duration::from_millis(200);
/// The MJPEG part boundary.
const BOUNDARY: &str = "wlframe";
pub const CAPTURED_AT_HEADER: &str = "x-captured-at";
pub const TAKEN_AT_HEADER: &str = "x-taken-at";
/// Largest live frame a camera may send.
const MAX_FRAME_BYTES: usize = 2 * 1024 * 1024;

pub fn routes() -> Router<Shared> {
    Router::new()
        .route(
            "/cameras/{id}/snapshot",
            post(take_snapshot).get(latest_snapshot),
        )
        .route("/cameras/{id}/live.mjpeg", get(mjpeg))
        .route("/cameras/{id}/live", get(live_status))
        .route("/cameras/{id}/live/extend", post(extend))
        .route(
            "/devices/{device_id}/snapshot",
            put(upload_snapshot).layer(DefaultBodyLimit::max(MAX_SNAPSHOT_BYTES)),
        )
        .route(
            "/devices/{device_id}/live/frame",
            put(upload_frame).layer(DefaultBodyLimit::max(MAX_FRAME_BYTES)),
        )
}

// ----- snapshots ----------------------------------------------------------------------

/// Asks the camera for a fresh picture: 200 with it taken when it comes within
/// [`SNAPSHOT_WAIT`], else 202 with the command to follow (a sleeping battery camera
/// answers at its next check-in).
async fn take_snapshot(
    _: Owner,
    State(hub): State<Shared>,
    Path(id): Path<String>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let d = known(&hub, &id)?;
    let mut events = hub.subscribe_live();
    let cmd = hub.new_command(&id, "snapshot", Map::new())?;
    if d.first_connected_ms.is_some() {
        hub.send_command(&cmd).await;
    }
    let arrived = tokio::time::timeout(SNAPSHOT_WAIT, async {
        loop {
            match events.recv().await {
                Ok(v) if v["type"] == "snapshot" && v["device"] == id.as_str() => {
                    return v["data"]["taken_at_ms"].as_u64();
                }
                Ok(_) | Err(RecvError::Lagged(_)) => {}
                Err(RecvError::Closed) => return None,
            }
        }
    })
    .await
    .ok()
    .flatten();
    let cmd = hub.store.command(&cmd.id)?.unwrap_or(cmd);
    let cmd_json = command_json(&hub, &cmd);
    Ok(match arrived {
        Some(taken_at_ms) => (
            StatusCode::OK,
            Json(json!({"taken_at_ms": taken_at_ms, "command": cmd_json})),
        ),
        None => (StatusCode::ACCEPTED, Json(json!({"command": cmd_json}))),
    })
}

/// The latest snapshot as `image/jpeg`, `X-Taken-At` in ms; 404 before the first.
async fn latest_snapshot(
    _: Owner,
    State(hub): State<Shared>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    known(&hub, &id)?;
    let dir = hub.data_dir.clone();
    let device = id.clone();
    let shot = tokio::task::spawn_blocking(move || snapshot::load(&dir, &device))
        .await
        .map_err(|e| ApiError::Internal(e.to_string()))?
        .map_err(|e| ApiError::Internal(format!("reading the snapshot of {id}: {e}")))?
        .ok_or_else(|| ApiError::NotFound(format!("camera '{id}' has no snapshot yet")))?;
    Ok((
        [
            (CONTENT_TYPE, "image/jpeg".to_string()),
            (CACHE_CONTROL, "no-store".to_string()),
            (
                TAKEN_AT_HEADER.parse().expect("valid"),
                shot.taken_at_ms.to_string(),
            ),
        ],
        shot.jpeg,
    )
        .into_response())
}

/// A time header in ms, required.
fn time_header(headers: &HeaderMap, name: &str) -> Result<u64, ApiError> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse().ok())
        .ok_or_else(|| {
            ApiError::BadRequest(format!(
                "header {name} (ms since epoch) is missing or not a number"
            ))
        })
}

/// The camera's snapshot: `image/jpeg` with `X-Watchlight-Sha256` and `X-Taken-At`.
async fn upload_snapshot(
    State(hub): State<Shared>,
    Path(device_id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    auth::device(&headers, &hub, &device_id)?;
    let digest = headers
        .get(super::clips::SHA256_HEADER)
        .and_then(|v| v.to_str().ok())
        .map(str::to_ascii_lowercase)
        .ok_or_else(|| ApiError::BadRequest("header X-Watchlight-Sha256 is missing".into()))?;
    if hex::encode(Sha256::digest(&body)) != digest {
        return Err(ApiError::BadRequest(
            "the body does not match X-Watchlight-Sha256: nothing kept".into(),
        ));
    }
    if !snapshot::is_jpeg(&body) {
        return Err(ApiError::BadRequest(
            "the body is not a whole JPEG (FFD8 ... FFD9)".into(),
        ));
    }
    // The camera's clock is the hub's; one running ahead cannot date a picture later
    // than its arrival.
    let taken_at_ms = time_header(&headers, TAKEN_AT_HEADER)?.min(hub.now());
    let dir = hub.data_dir.clone();
    let device = device_id.clone();
    tokio::task::spawn_blocking(move || snapshot::save(&dir, &device, &body, taken_at_ms))
        .await
        .map_err(|e| ApiError::Internal(e.to_string()))?
        .map_err(|e| ApiError::InsufficientStorage(format!("could not keep the snapshot: {e}")))?;
    hub.emit(
        "snapshot",
        Some(&device_id),
        json!({"taken_at_ms": taken_at_ms}),
    );
    Ok((
        StatusCode::CREATED,
        Json(json!({"taken_at_ms": taken_at_ms})),
    ))
}

// ----- live view ----------------------------------------------------------------------

fn on_battery(d: &watchlight_store::Device) -> bool {
    d.profile.profile().on_battery()
}

/// Sends the camera what the session decided.
async fn carry_out(hub: &Shared, device: &str, action: LiveAction) {
    let name = match action {
        LiveAction::Start => "live_start",
        LiveAction::Stop => "live_stop",
    };
    tracing::info!(device, command = name, "live view");
    let Ok(Some(d)) = hub.store.device(device) else {
        return;
    };
    match hub.new_command(device, name, Map::new()) {
        // Before its first connection a camera has no session to queue it in: it is
        // sent when it comes online, as every command is.
        Ok(cmd) if d.first_connected_ms.is_some() => hub.send_command(&cmd).await,
        Ok(_) => {}
        Err(e) => tracing::warn!(device, "could not record cmd/{name}: {e}"),
    }
    let status = hub.live_view.status(device, on_battery(&d));
    hub.emit(
        "live",
        Some(device),
        serde_json::to_value(status).unwrap_or_default(),
    );
}

/// Ticks one camera's session while it is live.
async fn supervise(hub: Shared, device: String) {
    let mut every = tokio::time::interval(LIVE_TICK);
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut seen = None;
    loop {
        // Real time lets an idle session's task end; the hub's clock (a test's manual
        // one too) decides the cap.
        let next = hub.now().saturating_add(LIVE_TICK.as_millis() as u64);
        tokio::select! {
            _ = every.tick() => {}
            _ = crate::clock::next_look(hub.clock.as_ref(), seen, next) => {}
        }
        let now = hub.now();
        seen = Some(now);
        let (action, go_on) = hub.live_view.tick(&device, now);
        if let Some(a) = action {
            carry_out(&hub, &device, a).await;
        }
        if !go_on {
            return;
        }
    }
}

/// A viewer's hold on a session: its goodbye when the response is dropped (the
/// browser closed the page, the cap closed the stream).
struct Watching {
    hub: Shared,
    device: String,
    generation: u64,
}

impl Drop for Watching {
    fn drop(&mut self) {
        let action = self.hub.live_view.leave(&self.device, self.generation);
        if let Some(a) = action
            && let Ok(rt) = tokio::runtime::Handle::try_current()
        {
            let (hub, device) = (self.hub.clone(), self.device.clone());
            rt.spawn(async move { carry_out(&hub, &device, a).await });
        }
    }
}

fn mjpeg_part(frame: &LiveFrame) -> Bytes {
    let head = format!(
        "--{BOUNDARY}\r\nContent-Type: image/jpeg\r\nContent-Length: {}\r\nX-Captured-At: {}\r\n\r\n",
        frame.jpeg.len(),
        frame.captured_at_ms
    );
    let mut part = Vec::with_capacity(head.len() + frame.jpeg.len() + 2);
    part.extend_from_slice(head.as_bytes());
    part.extend_from_slice(&frame.jpeg);
    part.extend_from_slice(b"\r\n");
    Bytes::from(part)
}

/// `multipart/x-mixed-replace` MJPEG: each open response is a viewer.
async fn mjpeg(
    _: Owner,
    State(hub): State<Shared>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let d = known(&hub, &id)?;
    let Viewer {
        frames,
        generation,
        supervise: start_task,
        action,
    } = hub.live_view.join(&id, on_battery(&d), hub.now());
    let watching = Watching {
        hub: hub.clone(),
        device: id.clone(),
        generation,
    };
    if start_task {
        tokio::spawn(supervise(hub.clone(), id.clone()));
    }
    if let Some(a) = action {
        carry_out(&hub, &id, a).await;
    }
    let stream =
        futures_util::stream::unfold((frames, watching), |(mut frames, watching)| async move {
            loop {
                match frames.recv().await {
                    Ok(frame) => {
                        let part = mjpeg_part(&frame);
                        return Some((Ok::<_, std::convert::Infallible>(part), (frames, watching)));
                    }
                    // Behind: skip to the newest frames.
                    Err(RecvError::Lagged(_)) => continue,
                    Err(RecvError::Closed) => return None,
                }
            }
        });
    Ok((
        [
            (
                CONTENT_TYPE,
                format!("multipart/x-mixed-replace; boundary={BOUNDARY}"),
            ),
            (CACHE_CONTROL, "no-store".to_string()),
        ],
        Body::from_stream(stream),
    )
        .into_response())
}

async fn live_status(
    _: Owner,
    State(hub): State<Shared>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let d = known(&hub, &id)?;
    let status = hub.live_view.status(&id, on_battery(&d));
    let mut body = serde_json::to_value(status).unwrap_or_default();
    // The page's clock may not be the hub's: with the hub's now beside the session's
    // times it can count down, and age the frames' capture times, on the hub's clock.
    body["now_ms"] = json!(hub.now());
    Ok(Json(body))
}

async fn extend(
    _: Owner,
    State(hub): State<Shared>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let d = known(&hub, &id)?;
    let battery = on_battery(&d);
    hub.live_view
        .extend(&id, battery)
        .map_err(|e| ApiError::Conflict(e.to_string()))?;
    let status = hub.live_view.status(&id, battery);
    Ok(Json(serde_json::to_value(status).unwrap_or_default()))
}

/// One live frame from the camera (`image/jpeg`, `X-Captured-At`): 200
/// `{"watching":true}` while someone watches, 410 when nobody does (the camera stops).
async fn upload_frame(
    State(hub): State<Shared>,
    Path(device_id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    auth::device(&headers, &hub, &device_id)?;
    let captured_at_ms = time_header(&headers, CAPTURED_AT_HEADER)?;
    if !snapshot::is_jpeg(&body) {
        return Err(ApiError::BadRequest(
            "the body is not a whole JPEG (FFD8 ... FFD9)".into(),
        ));
    }
    let frame = LiveFrame {
        jpeg: body,
        captured_at_ms,
    };
    if hub.live_view.frame(&device_id, frame, hub.now()) {
        Ok(Json(json!({"watching": true})).into_response())
    } else {
        Ok((
            StatusCode::GONE,
            Json(json!({"error": "nobody is watching: stop streaming"})),
        )
            .into_response())
    }
}
