//! The cameras' provisioning endpoints (docs/contracts.md, "Pairing"), one HTTP server
//! for the whole fleet: camera `serial` is at `http://ADDR/cam/{serial}`, so the hub
//! POSTs its credential to `/cam/{serial}/provision` and follows
//! `/cam/{serial}/provision/status` as it does with a real camera.

use crate::camera::{Control, Status};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use tokio::sync::mpsc;

/// One camera as its setup endpoint knows it.
pub struct Entry {
    pub pairing_code: String,
    pub control: mpsc::UnboundedSender<Control>,
    pub status: Arc<Status>,
}

pub type Book = Arc<HashMap<String, Entry>>;

/// The six-digit code "printed on" simulated camera `serial`.
pub fn pairing_code(serial: &str) -> String {
    let h = serial.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
    });
    format!("{:06}", h % 1_000_000)
}

/// Serves the book on 127.0.0.1; returns `http://ADDR`.
pub async fn serve(book: Book) -> std::io::Result<String> {
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0)).await?;
    let addr = listener.local_addr()?;
    let app = Router::new()
        .route("/cam/{serial}/provision", post(provision))
        .route("/cam/{serial}/provision/status", get(status))
        .with_state(book);
    tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, app).await {
            tracing::error!("provisioning endpoint stopped: {e}");
        }
    });
    Ok(format!("http://{addr}"))
}

async fn provision(
    State(book): State<Book>,
    Path(serial): Path<String>,
    Json(body): Json<Value>,
) -> (StatusCode, Json<Value>) {
    let Some(entry) = book.get(&serial) else {
        return (
            StatusCode::NOT_FOUND,
            Json(json!({"error": "no such camera"})),
        );
    };
    if body.get("pairing_code").and_then(Value::as_str) != Some(entry.pairing_code.as_str()) {
        return (
            StatusCode::FORBIDDEN,
            Json(json!({"error": "pairing_code"})),
        );
    }
    let Some(token) = body.get("token").and_then(Value::as_str) else {
        return (StatusCode::BAD_REQUEST, Json(json!({"error": "no token"})));
    };
    let _ = entry.control.send(Control::Provisioned {
        token: token.to_string(),
    });
    (StatusCode::ACCEPTED, Json(json!({})))
}

async fn status(State(book): State<Book>, Path(serial): Path<String>) -> Json<Value> {
    let state = match book.get(&serial) {
        Some(e) if e.status.ever_connected.load(Ordering::Relaxed) => "online",
        Some(_) => "joining",
        None => "setup",
    };
    Json(json!({"state": state, "last_error": null}))
}

#[cfg(test)]
mod tests {
    #[test]
    fn pairing_codes_are_six_digits_and_differ() {
        let a = super::pairing_code("sim0-00001");
        assert_eq!(a.len(), 6);
        assert_ne!(a, super::pairing_code("sim0-00002"));
    }
}
