//! The owner's web app (`watchlight-web`), served at the root beside `/api/v1`, and
//! the guard that keeps other sites from posting to the API with the owner's session.

use super::ApiError;
use crate::state::Shared;
use axum::Router;
use axum::extract::{Path, Request};
use axum::http::header::{CONTENT_TYPE, HOST, ORIGIN};
use axum::http::{HeaderName, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;

pub(super) fn routes() -> Router<Shared> {
    let mut r = Router::new().route("/app/{*path}", get(file));
    for path in watchlight_web::page_paths() {
        r = r.route(path, get(move || async move { serve(path) }));
    }
    r
}

async fn file(Path(path): Path<String>) -> Response {
    serve(&format!("/app/{path}"))
}

fn serve(path: &str) -> Response {
    let Some(asset) = watchlight_web::asset(path) else {
        return (StatusCode::NOT_FOUND, "not found").into_response();
    };
    let mut resp = asset.body.into_owned().into_response();
    let headers = resp.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static(asset.content_type));
    for (name, value) in watchlight_web::SECURITY_HEADERS {
        headers.insert(
            HeaderName::from_static(name),
            HeaderValue::from_static(value),
        );
    }
    resp
}

/// A browser always names the page that sends a `fetch` or form post in `Origin`: a
/// state-changing call whose `Origin` is another site is refused, on top of the
/// session cookie's `SameSite=Strict`. Scripts with an API token send no `Origin`.
pub(super) async fn same_origin(req: Request, next: Next) -> Response {
    let safe = matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS);
    if !safe && let Some(origin) = req.headers().get(ORIGIN) {
        let host = req.headers().get(HOST).and_then(|h| h.to_str().ok());
        let origin_host = origin
            .to_str()
            .ok()
            .and_then(|o| o.split_once("://"))
            .map(|(_, rest)| rest);
        if host.is_none() || origin_host != host {
            return ApiError::Forbidden(
                "this request came from another site's page (Origin does not match the hub)".into(),
            )
            .into_response();
        }
    }
    next.run(req).await
}
