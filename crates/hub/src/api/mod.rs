//! The HTTP API under `/api/v1` (SPEC §9, docs/contracts.md). Everything but login and
//! setup needs the owner (session cookie or API token); the clip upload needs the
//! device's own token.

mod auth;
mod cameras;
mod care;
mod clips;
mod doctor;
mod doctor_words;
mod history;
mod limits;
mod live;
mod openapi;
mod owner;
mod shown_light;
mod stream;
mod web;

pub use auth::SESSION_COOKIE;
pub use cameras::command_json;
pub use doctor::learned_priors;
pub use limits::owner_logins;

use crate::state::Shared;
use axum::extract::DefaultBodyLimit;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, patch, post, put};
use axum::{Json, Router};
use serde_json::json;

/// Largest clip or thumbnail a camera may upload.
pub const MAX_UPLOAD_BYTES: usize = 512 * 1024 * 1024;

pub fn router(hub: Shared) -> Router {
    let api = Router::new()
        .route("/setup", post(owner::setup).get(owner::setup_status))
        .route("/login", post(owner::login))
        .route("/logout", post(owner::logout))
        .route("/tokens", post(owner::create_token))
        .route("/hub", get(owner::hub_status))
        .route("/hub/button", post(owner::hub_button))
        .route("/openapi.json", get(openapi::document))
        .route("/events/stream", get(stream::live))
        .route("/arm", post(cameras::arm).get(cameras::arming))
        .route("/disarm", post(cameras::disarm))
        .route("/cameras", post(cameras::pair).get(cameras::list))
        .route("/cameras/{id}", get(cameras::show).delete(cameras::forget))
        .route(
            "/cameras/{id}/settings",
            patch(cameras::patch_settings).get(cameras::settings),
        )
        .route("/cameras/{id}/wifi", post(cameras::wifi))
        .route("/cameras/{id}/commands/{name}", post(cameras::command))
        .route("/cameras/{id}/events", get(cameras::events))
        .route(
            "/cameras/{id}/availability",
            get(cameras::availability_history),
        )
        .route("/cameras/{id}/clips", get(clips::list))
        .route("/cameras/{id}/telemetry", get(history::telemetry))
        .route("/commands/{id}", get(cameras::command_status))
        .route("/clips/{clip_id}", delete(clips::delete))
        .route("/clips/{clip_id}/video", get(clips::video))
        .route("/clips/{clip_id}/thumbnail", get(clips::thumbnail))
        .route(
            "/devices/{device_id}/clips/{clip_id}",
            put(clips::upload_video).layer(DefaultBodyLimit::max(MAX_UPLOAD_BYTES)),
        )
        .route(
            "/devices/{device_id}/clips/{clip_id}/thumbnail",
            put(clips::upload_thumbnail).layer(DefaultBodyLimit::max(MAX_UPLOAD_BYTES)),
        )
        .merge(care::routes())
        .merge(doctor::routes())
        .merge(live::routes())
        .fallback(|| async { ApiError::NotFound("no such endpoint".into()) })
        .layer(axum::middleware::from_fn(web::same_origin));
    Router::new()
        .nest("/api/v1", api)
        .merge(web::routes())
        .route("/metrics", get(care::metrics))
        .with_state(hub)
}

/// An API error: a status and a message that names the problem, as JSON
/// `{"error": "..."}`.
#[derive(Debug)]
pub enum ApiError {
    BadRequest(String),
    Unauthorized,
    /// A login whose name or password is wrong (one message for both, so it does not
    /// tell which names exist).
    WrongLogin,
    Forbidden(String),
    NotFound(String),
    Conflict(String),
    TooManyRequests {
        retry_after_ms: u64,
    },
    TooManyLogins {
        retry_after_ms: u64,
    },
    BadGateway(String),
    PayloadTooLarge(String),
    InsufficientStorage(String),
    Internal(String),
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, msg) = match self {
            ApiError::BadRequest(m) => (StatusCode::BAD_REQUEST, m),
            ApiError::Unauthorized => (StatusCode::UNAUTHORIZED, "login required".into()),
            ApiError::WrongLogin => (StatusCode::UNAUTHORIZED, "wrong name or password".into()),
            ApiError::Forbidden(m) => (StatusCode::FORBIDDEN, m),
            ApiError::NotFound(m) => (StatusCode::NOT_FOUND, m),
            ApiError::Conflict(m) => (StatusCode::CONFLICT, m),
            ApiError::TooManyRequests { retry_after_ms } => {
                let secs = retry_after_ms.div_ceil(1000).max(1);
                return (
                    StatusCode::TOO_MANY_REQUESTS,
                    [("retry-after", secs.to_string())],
                    Json(json!({"error": format!("too many pairing tries for this serial; retry in {secs} s")})),
                )
                    .into_response();
            }
            ApiError::TooManyLogins { retry_after_ms } => {
                let secs = retry_after_ms.div_ceil(1000).max(1);
                return (
                    StatusCode::TOO_MANY_REQUESTS,
                    [("retry-after", secs.to_string())],
                    Json(json!({"error": format!("too many wrong passwords from this address; retry in {secs} s")})),
                )
                    .into_response();
            }
            ApiError::BadGateway(m) => (StatusCode::BAD_GATEWAY, m),
            ApiError::PayloadTooLarge(m) => (StatusCode::PAYLOAD_TOO_LARGE, m),
            ApiError::InsufficientStorage(m) => (StatusCode::INSUFFICIENT_STORAGE, m),
            ApiError::Internal(m) => {
                tracing::error!("internal error: {m}");
                (StatusCode::INTERNAL_SERVER_ERROR, m)
            }
        };
        (status, Json(json!({"error": msg}))).into_response()
    }
}

impl From<watchlight_store::StoreError> for ApiError {
    fn from(e: watchlight_store::StoreError) -> Self {
        use watchlight_store::StoreError as E;
        match e {
            e if e.is_storage_full() => {
                ApiError::InsufficientStorage(format!("hub storage full: {e}"))
            }
            E::UnknownDevice(_) => ApiError::NotFound(e.to_string()),
            E::DeviceExists(_) | E::SerialInUse(_) | E::OwnerExists | E::CommandExists(_) => {
                ApiError::Conflict(e.to_string())
            }
            E::InvalidDeviceId(_)
            | E::InvalidClipId(_)
            | E::InvalidDigest(_)
            | E::Settings { .. } => ApiError::BadRequest(e.to_string()),
            E::NoOwner => ApiError::Unauthorized,
            _ => ApiError::Internal(e.to_string()),
        }
    }
}

/// A body sent as JSON or as an HTML form (`application/x-www-form-urlencoded`, what a
/// plain `<form method=post>` sends); parse errors become a 400 naming the problem.
pub struct JsonOrForm<T>(pub T);

impl<T, S> axum::extract::FromRequest<S> for JsonOrForm<T>
where
    T: serde::de::DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(req: axum::extract::Request, state: &S) -> Result<Self, ApiError> {
        let form = req
            .headers()
            .get(axum::http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
        if !form {
            return JsonBody::from_request(req, state)
                .await
                .map(|JsonBody(t)| JsonOrForm(t));
        }
        axum::Form::<T>::from_request(req, state)
            .await
            .map(|axum::Form(t)| JsonOrForm(t))
            .map_err(|e| ApiError::BadRequest(format!("invalid form body: {}", e.body_text())))
    }
}

/// A JSON body whose parse errors become a 400 naming the problem.
pub struct JsonBody<T>(pub T);

impl<T, S> axum::extract::FromRequest<S> for JsonBody<T>
where
    T: serde::de::DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(req: axum::extract::Request, state: &S) -> Result<Self, ApiError> {
        let bytes = axum::body::Bytes::from_request(req, state)
            .await
            .map_err(|e| ApiError::BadRequest(format!("could not read the body: {e}")))?;
        serde_json::from_slice(&bytes)
            .map(JsonBody)
            .map_err(|e| ApiError::BadRequest(format!("invalid JSON body: {e}")))
    }
}
