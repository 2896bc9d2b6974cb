//! The live stream for the app (SPEC §9): server-sent events of state changes,
//! events, availability, pairing and clips, as they happen.

use super::auth::Owner;
use crate::state::Shared;
use axum::extract::State;
use axum::response::sse::{Event, KeepAlive, Sse};
use futures_util::{Stream, StreamExt};
use std::convert::Infallible;
use tokio_stream::wrappers::BroadcastStream;

pub async fn live(
    _: Owner,
    State(hub): State<Shared>,
) -> Sse<impl Stream<Item = Result<Event, Infallible>>> {
    let rx = hub.subscribe_live();
    let stream = BroadcastStream::new(rx).filter_map(|item| async move {
        match item {
            Ok(v) => {
                let kind = v
                    .get("type")
                    .and_then(|t| t.as_str())
                    .unwrap_or("message")
                    .to_string();
                Some(Ok(Event::default().event(kind).data(v.to_string())))
            }
            // A slow reader missed some: tell it to refetch rather than pretend.
            Err(_) => Some(Ok(Event::default().event("lagged").data("{}"))),
        }
    });
    Sse::new(stream).keep_alive(KeepAlive::default())
}
