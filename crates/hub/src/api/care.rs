//! Owner services under `/api/v1`: the notification feed and its switches,
//! webhooks, battery, arming schedules, monthly reports, support bundles; and
//! `/metrics` (served at the root, see [`metrics`]).

use super::auth::Owner;
use super::cameras::known;
use super::{ApiError, JsonBody};
use crate::care;
use crate::state::Shared;
use axum::Json;
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::http::header::{CONTENT_DISPOSITION, CONTENT_TYPE};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get};
use serde::Deserialize;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use watchlight_care::arming::Schedule;
use watchlight_care::bundle::Scope;
use watchlight_care::notify::NotificationKind;

pub(super) fn routes() -> Router<Shared> {
    Router::new()
        .route("/notifications", get(notifications))
        .route(
            "/notifications/settings",
            get(notification_settings).patch(patch_notification_settings),
        )
        .route("/webhooks", get(webhooks).post(add_webhook))
        .route("/webhooks/{id}", delete(delete_webhook))
        .route("/cameras/{id}/battery", get(battery))
        .route("/arming", get(arming))
        .route("/arming/schedule", get(schedule).put(put_schedule))
        .route("/reports", get(reports).post(make_report))
        .route("/reports/{id}", get(report))
        .route("/bundle", get(hub_bundle))
        .route("/cameras/{id}/bundle", get(camera_bundle))
}

#[derive(Deserialize)]
pub struct FeedQuery {
    /// Only notices older than this id (paging back).
    before: Option<i64>,
    limit: Option<usize>,
}

/// The live feed's history, newest first; new ones arrive on the SSE stream as
/// `notification` events.
async fn notifications(
    _: Owner,
    State(hub): State<Shared>,
    Query(q): Query<FeedQuery>,
) -> Result<Json<Value>, ApiError> {
    let limit = q.limit.unwrap_or(100).clamp(1, 1000);
    let feed: Vec<Value> = hub
        .store
        .care_notifications(q.before, limit)?
        .into_iter()
        .map(|n| n.doc)
        .collect();
    Ok(Json(json!({"notifications": feed})))
}

async fn notification_settings(
    _: Owner,
    State(hub): State<Shared>,
) -> Result<Json<Value>, ApiError> {
    Ok(Json(care::notify::settings(&hub)?))
}

async fn patch_notification_settings(
    _: Owner,
    State(hub): State<Shared>,
    JsonBody(changes): JsonBody<BTreeMap<String, bool>>,
) -> Result<Json<Value>, ApiError> {
    care::notify::set_enabled(&hub, &changes)
        .map(Json)
        .map_err(|e| match e {
            care::notify::SettingsError::UnknownKind(..) => ApiError::BadRequest(e.to_string()),
            care::notify::SettingsError::Store(s) => s.into(),
        })
}

fn webhook_json(w: &watchlight_store::WebhookRow) -> Value {
    json!({"id": w.id, "url": w.url, "kinds": w.kinds, "created_ms": w.created_ms})
}

/// Webhooks without their secrets (shown once, at creation).
async fn webhooks(_: Owner, State(hub): State<Shared>) -> Result<Json<Value>, ApiError> {
    let list: Vec<Value> = hub.store.webhooks()?.iter().map(webhook_json).collect();
    Ok(Json(json!({"webhooks": list})))
}

#[derive(Deserialize)]
pub struct WebhookBody {
    url: String,
    /// Kinds to send; absent or empty: all.
    #[serde(default)]
    kinds: Vec<String>,
}

/// Adds a webhook; the answer carries the signing secret, which is never shown again.
async fn add_webhook(
    _: Owner,
    State(hub): State<Shared>,
    JsonBody(body): JsonBody<WebhookBody>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let url = body.url.trim();
    let parsed = reqwest::Url::parse(url)
        .map_err(|e| ApiError::BadRequest(format!("url {url:?} is not a URL: {e}")))?;
    if !matches!(parsed.scheme(), "http" | "https") || parsed.host_str().is_none() {
        return Err(ApiError::BadRequest(format!(
            "url {url:?} must be an http:// or https:// URL with a host"
        )));
    }
    for k in &body.kinds {
        if !NotificationKind::ALL.iter().any(|n| n.as_str() == k) {
            let known: Vec<&str> = NotificationKind::ALL.iter().map(|n| n.as_str()).collect();
            return Err(ApiError::BadRequest(format!(
                "unknown notification kind '{k}' (known: {})",
                known.join(", ")
            )));
        }
    }
    let secret = crate::secrets::new_token();
    let row = hub.store.add_webhook(url, &secret, &body.kinds)?;
    let mut v = webhook_json(&row);
    v["secret"] = json!(secret);
    v["signature"] = json!(format!(
        "{}: sha256=<hex HMAC-SHA256 of the body with the secret>",
        watchlight_care::notify::SIGNATURE_HEADER
    ));
    Ok((StatusCode::CREATED, Json(v)))
}

async fn delete_webhook(
    _: Owner,
    State(hub): State<Shared>,
    Path(id): Path<i64>,
) -> Result<StatusCode, ApiError> {
    if hub.store.delete_webhook(id)? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::NotFound(format!("no webhook {id}")))
    }
}

async fn battery(
    _: Owner,
    State(hub): State<Shared>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    known(&hub, &id)?;
    care::battery::json(&hub, &id)
        .map(Json)
        .ok_or_else(|| ApiError::NotFound(format!("camera '{id}' is not battery powered")))
}

async fn arming(_: Owner, State(hub): State<Shared>) -> Result<Json<Value>, ApiError> {
    Ok(Json(care::arming::json(&hub)?))
}

async fn schedule(_: Owner, State(hub): State<Shared>) -> Json<Schedule> {
    Json(care::arming::schedule(&hub))
}

/// Replaces the weekly schedule: `{utc_offset_minutes, entries: [{days, at: "HH:MM",
/// mode}]}`.
async fn put_schedule(
    _: Owner,
    State(hub): State<Shared>,
    JsonBody(schedule): JsonBody<Schedule>,
) -> Result<Json<Value>, ApiError> {
    care::arming::set_schedule(&hub, schedule).map_err(|e| match e {
        care::arming::ScheduleError::Invalid(e) => ApiError::BadRequest(e.to_string()),
        care::arming::ScheduleError::Store(s) => s.into(),
    })?;
    Ok(Json(care::arming::json(&hub)?))
}

async fn reports(_: Owner, State(hub): State<Shared>) -> Result<Json<Value>, ApiError> {
    let list: Vec<Value> = hub
        .store
        .reports()?
        .iter()
        .map(|r| care::report::json(r, false))
        .collect();
    Ok(Json(json!({"reports": list})))
}

#[derive(Deserialize)]
pub struct ReportQuery {
    format: Option<String>,
}

/// One report: JSON, or the text the owner reads with `?format=text`.
async fn report(
    _: Owner,
    State(hub): State<Shared>,
    Path(id): Path<i64>,
    Query(q): Query<ReportQuery>,
) -> Result<Response, ApiError> {
    let r = hub
        .store
        .report(id)?
        .ok_or_else(|| ApiError::NotFound(format!("no report {id}")))?;
    match q.format.as_deref() {
        None | Some("json") => Ok(Json(care::report::json(&r, true)).into_response()),
        Some("text") => {
            let text = care::report::text(&r)
                .map_err(|e| ApiError::Internal(format!("report {id} does not parse: {e}")))?;
            Ok(([(CONTENT_TYPE, "text/plain; charset=utf-8")], text).into_response())
        }
        Some(other) => Err(ApiError::BadRequest(format!(
            "format must be 'json' or 'text', got '{other}'"
        ))),
    }
}

/// Makes the report of the current month so far.
async fn make_report(
    _: Owner,
    State(hub): State<Shared>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let r = care::report::on_demand(&hub)?;
    Ok((StatusCode::CREATED, Json(care::report::json(&r, true))))
}

async fn hub_bundle(_: Owner, State(hub): State<Shared>) -> Result<Response, ApiError> {
    bundle(&hub, Scope::Hub)
}

async fn camera_bundle(
    _: Owner,
    State(hub): State<Shared>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    known(&hub, &id)?;
    bundle(&hub, Scope::Camera(id))
}

fn bundle(hub: &Shared, scope: Scope) -> Result<Response, ApiError> {
    let b = care::bundle::build(hub, &scope).map_err(|e| ApiError::Internal(e.to_string()))?;
    Ok((
        [
            (CONTENT_TYPE, "application/gzip".to_string()),
            (
                CONTENT_DISPOSITION,
                format!("attachment; filename=\"{}\"", b.file_name),
            ),
        ],
        b.tar_gz,
    )
        .into_response())
}

/// `GET /metrics`: Prometheus text. It needs the owner like the rest of the API (the
/// counts describe the home); Prometheus sends the API token as `Authorization: Bearer`
/// (`authorization: {credentials: <token>}` in its scrape config).
pub async fn metrics(_: Owner, State(hub): State<Shared>) -> Response {
    (
        [(CONTENT_TYPE, watchlight_care::metrics::CONTENT_TYPE)],
        care::metrics::render(&hub),
    )
        .into_response()
}
