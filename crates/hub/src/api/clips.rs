//! Clips over HTTP (docs/contracts.md): the camera's idempotent, digest-checked upload,
//! and the owner's list, ranged download and delete. Files and their index live in
//! `watchlight-store`, which writes atomically and checks the digest before keeping.

use super::ApiError;
use super::auth::{self, Owner};
use super::cameras::known;
use crate::ranges::{self, RangeAnswer};
use crate::state::Shared;
use axum::Json;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::header::{ACCEPT_RANGES, CONTENT_LENGTH, CONTENT_RANGE, CONTENT_TYPE, RANGE};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use futures_util::{StreamExt, TryStreamExt};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncSeekExt};
use tokio_util::io::{ReaderStream, StreamReader, SyncIoBridge};
use watchlight_store::{ClipInfo, OpenedFile, PutOutcome};

pub const SHA256_HEADER: &str = "x-watchlight-sha256";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Video,
    Thumbnail,
}

/// `<device_id>-<start_ts>-<seq>`, from characters a file name and a URL carry safely.
pub fn valid_clip_id(device: &str, clip_id: &str) -> bool {
    watchlight_protocol::messages::is_valid_clip_id(device, clip_id)
}

/// Checks an upload's credentials, clip id and digest header; returns the digest.
fn check_upload(
    hub: &Shared,
    device_id: &str,
    clip_id: &str,
    headers: &HeaderMap,
) -> Result<String, ApiError> {
    auth::device(headers, hub, device_id)?;
    if !valid_clip_id(device_id, clip_id) {
        return Err(ApiError::BadRequest(format!(
            "clip id must be '{device_id}-<start_ts>-<seq>' (letters, digits, '-', '_')"
        )));
    }
    let digest = headers
        .get(SHA256_HEADER)
        .and_then(|v| v.to_str().ok())
        .map(str::to_ascii_lowercase)
        .ok_or_else(|| ApiError::BadRequest("header X-Watchlight-Sha256 is missing".into()))?;
    if digest.len() != 64 || !digest.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(ApiError::BadRequest(
            "header X-Watchlight-Sha256 must be 64 hex digits".into(),
        ));
    }
    Ok(digest)
}

/// The most of a refused or redundant upload's body the hub reads before answering.
const MAX_DISCARD_BYTES: usize = 64 * 1024 * 1024;

/// Reads and drops a refused upload's body, up to a bound (past it the connection is
/// closed anyway, so a stranger cannot keep the hub reading forever).
async fn discard_body(body: Body) {
    let mut stream = body.into_data_stream();
    let mut seen = 0usize;
    let read = async {
        while let Some(Ok(chunk)) = stream.next().await {
            seen += chunk.len();
            if seen > MAX_DISCARD_BYTES {
                break;
            }
        }
    };
    let _ = tokio::time::timeout(std::time::Duration::from_secs(30), read).await;
}

/// The camera a clip id names: everything before its last two `-` fields.
pub fn device_of_clip(clip_id: &str) -> Option<&str> {
    let mut parts = clip_id.rsplitn(3, '-');
    let (_seq, _ts, device) = (parts.next()?, parts.next()?, parts.next()?);
    Some(device).filter(|d| !d.is_empty())
}

pub async fn upload_video(
    State(hub): State<Shared>,
    Path((device_id, clip_id)): Path<(String, String)>,
    headers: HeaderMap,
    body: Body,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    upload(hub, device_id, clip_id, headers, body, Kind::Video).await
}

pub async fn upload_thumbnail(
    State(hub): State<Shared>,
    Path((device_id, clip_id)): Path<(String, String)>,
    headers: HeaderMap,
    body: Body,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    upload(hub, device_id, clip_id, headers, body, Kind::Thumbnail).await
}

async fn upload(
    hub: Shared,
    device_id: String,
    clip_id: String,
    headers: HeaderMap,
    body: Body,
    kind: Kind,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let digest = match check_upload(&hub, &device_id, &clip_id, &headers) {
        Ok(digest) => digest,
        Err(refusal) => {
            // Read what the client is sending before answering: closing the connection
            // with the body unread makes the client see a broken pipe instead of the
            // status that tells it what is wrong.
            discard_body(body).await;
            return Err(refusal);
        }
    };

    let reader = StreamReader::new(body.into_data_stream().map_err(std::io::Error::other));
    let mut bridge = SyncIoBridge::new(reader);
    let store_hub = hub.clone();
    let (device, clip) = (device_id.clone(), clip_id.clone());
    let outcome = tokio::task::spawn_blocking(move || {
        let outcome = match kind {
            Kind::Video => store_hub
                .store
                .put_clip(&device, &clip, &digest, &mut bridge),
            Kind::Thumbnail => store_hub
                .store
                .put_thumbnail(&device, &clip, &digest, &mut bridge),
        };
        // The store may answer without reading everything (a retry of a clip it already
        // has); read the rest so the client sees our answer, not a broken pipe.
        let _ = std::io::copy(
            &mut std::io::Read::take(&mut bridge, MAX_DISCARD_BYTES as u64),
            &mut std::io::sink(),
        );
        outcome
    })
    .await
    .map_err(|e| ApiError::Internal(format!("clip upload task failed: {e}")))?;
    let outcome = match outcome {
        Ok(o) => o,
        Err(e) if e.is_storage_full() => PutOutcome::StorageFull {
            reason: e.to_string(),
        },
        Err(e) => return Err(e.into()),
    };

    let what = if kind == Kind::Video {
        "clip"
    } else {
        "thumbnail"
    };
    match outcome {
        PutOutcome::Created { bytes, evicted } => {
            tracing::info!(device = %device_id, clip = %clip_id, bytes, what, "stored");
            hub.storage_ok();
            for e in &evicted {
                hub.emit(
                    "clip_deleted",
                    Some(&e.device_id),
                    json!({"clip_id": e.clip_id, "reason": "space"}),
                );
            }
            hub.emit(
                "clip",
                Some(&device_id),
                json!({"clip_id": clip_id, "kind": what, "bytes": bytes}),
            );
            crate::care::on_clip_stored(&hub, &device_id, &clip_id, kind == Kind::Video, bytes)
                .await;
            Ok((
                StatusCode::CREATED,
                Json(json!({"clip_id": clip_id, "bytes": bytes})),
            ))
        }
        PutOutcome::AlreadyHad => Ok((
            StatusCode::OK,
            Json(json!({"clip_id": clip_id, "stored": "already"})),
        )),
        PutOutcome::DigestMismatch { expected, actual } => Err(ApiError::BadRequest(format!(
            "the body's SHA-256 is {actual}, X-Watchlight-Sha256 said {expected}; nothing was kept"
        ))),
        PutOutcome::Conflict { existing } => Err(ApiError::Conflict(format!(
            "{what} {clip_id} is already stored with SHA-256 {existing}"
        ))),
        PutOutcome::StorageFull { reason } => {
            // 507: nothing was kept, the camera keeps the clip and sends it again.
            hub.storage_refused(&reason).await;
            Err(ApiError::InsufficientStorage(format!(
                "hub storage full: {reason}"
            )))
        }
        PutOutcome::TooLarge { limit } => Err(ApiError::PayloadTooLarge(format!(
            "the {what} is larger than the {limit} bytes the hub accepts"
        ))),
    }
}

pub fn clip_json(c: &ClipInfo) -> Value {
    json!({
        "clip_id": c.clip_id,
        "device": c.device_id,
        "created_ms": c.created_ms,
        "sort_ts": c.sort_ts,
        "video": c.video.map(|f| json!({"bytes": f.bytes, "sha256": f.sha256.to_string()})),
        "thumbnail": c.thumbnail.map(|f| json!({"bytes": f.bytes, "sha256": f.sha256.to_string()})),
        "meta": c.meta,
        "seen": c.seen,
    })
}

pub async fn list(
    _: Owner,
    State(hub): State<Shared>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    known(&hub, &id)?;
    let clips: Vec<Value> = hub
        .store
        .list_clips(Some(&id), 0, u64::MAX / 2, 1000)?
        .iter()
        .map(clip_json)
        .collect();
    Ok(Json(json!({"clips": clips})))
}

fn device_for(clip_id: &str) -> Result<&str, ApiError> {
    device_of_clip(clip_id).ok_or_else(|| ApiError::NotFound(format!("no clip '{clip_id}'")))
}

pub async fn video(
    _: Owner,
    State(hub): State<Shared>,
    Path(clip_id): Path<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let device = device_for(&clip_id)?;
    let opened = hub
        .store
        .open_clip(device, &clip_id)?
        .ok_or_else(|| ApiError::NotFound(format!("no clip '{clip_id}'")))?;
    if !opened.info.seen {
        let _ = hub.store.mark_clip_seen(device, &clip_id);
    }
    serve_file(opened, "video/mp4", &headers).await
}

pub async fn thumbnail(
    _: Owner,
    State(hub): State<Shared>,
    Path(clip_id): Path<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let device = device_for(&clip_id)?;
    let opened = hub
        .store
        .open_thumbnail(device, &clip_id)?
        .ok_or_else(|| ApiError::NotFound(format!("no thumbnail for clip '{clip_id}'")))?;
    serve_file(opened, "image/jpeg", &headers).await
}

/// Serves a file whole or by one byte range, so a browser can seek in a clip.
async fn serve_file(
    opened: OpenedFile,
    content_type: &'static str,
    headers: &HeaderMap,
) -> Result<Response, ApiError> {
    let len = opened.len;
    let mut file = tokio::fs::File::from_std(opened.file);
    let range = headers.get(RANGE).and_then(|v| v.to_str().ok());
    match ranges::answer(range, len) {
        RangeAnswer::Whole => Ok((
            StatusCode::OK,
            [
                (CONTENT_TYPE, content_type.to_string()),
                (ACCEPT_RANGES, "bytes".into()),
                (CONTENT_LENGTH, len.to_string()),
            ],
            Body::from_stream(ReaderStream::new(file.take(len))),
        )
            .into_response()),
        RangeAnswer::Partial(r) => {
            file.seek(std::io::SeekFrom::Start(r.start))
                .await
                .map_err(|e| ApiError::Internal(format!("seeking in a clip: {e}")))?;
            Ok((
                StatusCode::PARTIAL_CONTENT,
                [
                    (CONTENT_TYPE, content_type.to_string()),
                    (ACCEPT_RANGES, "bytes".into()),
                    (CONTENT_LENGTH, r.len().to_string()),
                    (CONTENT_RANGE, r.content_range(len)),
                ],
                Body::from_stream(ReaderStream::new(file.take(r.len()))),
            )
                .into_response())
        }
        RangeAnswer::Unsatisfiable => Ok((
            StatusCode::RANGE_NOT_SATISFIABLE,
            [
                (CONTENT_RANGE, format!("bytes */{len}")),
                (ACCEPT_RANGES, "bytes".into()),
            ],
        )
            .into_response()),
    }
}

pub async fn delete(
    _: Owner,
    State(hub): State<Shared>,
    Path(clip_id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let device = device_for(&clip_id)?;
    let deleted = hub
        .store
        .delete_clip(device, &clip_id)?
        .ok_or_else(|| ApiError::NotFound(format!("no clip '{clip_id}'")))?;
    hub.emit(
        "clip_deleted",
        Some(&deleted.device_id),
        json!({"clip_id": clip_id, "reason": "owner"}),
    );
    Ok(StatusCode::NO_CONTENT)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clip_ids_belong_to_their_camera() {
        assert!(valid_clip_id("cam-1", "cam-1-1700000000000-3"));
        assert!(!valid_clip_id("cam-1", "cam-2-1700000000000-3"));
        assert!(!valid_clip_id("cam-1", "cam-1-"));
        assert!(!valid_clip_id("cam-1", "cam-1-../../etc"));
        assert!(!valid_clip_id("cam-1", "cam-1-a/b"));
    }

    #[test]
    fn a_clip_id_names_its_camera() {
        assert_eq!(
            device_of_clip("cam-AB-12-1700000000000-3"),
            Some("cam-AB-12")
        );
        assert_eq!(device_of_clip("cam-1-5-1"), Some("cam-1"));
        assert_eq!(device_of_clip("nodash"), None);
        assert_eq!(device_of_clip("-5-1"), None);
    }
}
