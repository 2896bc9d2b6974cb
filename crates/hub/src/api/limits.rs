//! Owner-login guessing limit: wrong passwords per source address
//! ([`watchlight_broker::guesses`], [`Limits::OWNER`]), on the hub's clock. A locked-out
//! address is answered 429 with `Retry-After` before its password is even hashed.

use std::net::{IpAddr, SocketAddr};

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;
use watchlight_broker::guesses::{GuessLimiter, Limits, Verdict};

use super::ApiError;
use crate::state::HubState;

/// The owner-login limiter a hub starts with.
pub fn owner_logins() -> std::sync::Mutex<GuessLimiter> {
    std::sync::Mutex::new(GuessLimiter::new(Limits::OWNER))
}

/// The request's source address (from the server's connect info; `None` when served
/// without it, e.g. in-process).
#[derive(Debug, Clone, Copy)]
pub struct Peer(pub Option<IpAddr>);

impl<S: Send + Sync> FromRequestParts<S> for Peer {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(Peer(
            parts
                .extensions
                .get::<ConnectInfo<SocketAddr>>()
                .map(|c| c.0.ip()),
        ))
    }
}

/// Before checking a login: refuses an address that guessed too often.
pub fn before_login(hub: &HubState, peer: Peer) -> Result<(), ApiError> {
    let Some(ip) = peer.0 else { return Ok(()) };
    let verdict = hub.login_verdict(ip);
    match verdict {
        Verdict::Allowed => Ok(()),
        Verdict::LockedOut { retry_in_ms } => Err(ApiError::TooManyLogins {
            retry_after_ms: retry_in_ms,
        }),
    }
}

/// After checking a login: a wrong one counts against the address.
pub fn after_login(hub: &HubState, peer: Peer, ok: bool) {
    let Some(ip) = peer.0 else { return };
    if let Some(limits) = hub.record_login(ip, ok) {
        tracing::warn!(
            %ip,
            failures = limits.max_failures,
            lockout_secs = limits.lockout_ms / 1000,
            "owner logins from this address refused for a while: too many wrong passwords"
        );
    }
}
