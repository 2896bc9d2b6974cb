//! Who is calling: the owner (session cookie or API token) or a device (its token).

use super::ApiError;
use crate::state::Shared;
use axum::extract::FromRequestParts;
use axum::http::header::{AUTHORIZATION, COOKIE};
use axum::http::request::Parts;
use watchlight_store::TokenDigest;

pub const SESSION_COOKIE: &str = "wl_session";

/// Proof that the owner is calling.
pub struct Owner;

pub fn bearer(parts: &Parts) -> Option<&str> {
    parts
        .headers
        .get(AUTHORIZATION)?
        .to_str()
        .ok()?
        .strip_prefix("Bearer ")
        .map(str::trim)
}

pub fn session_cookie(parts: &Parts) -> Option<&str> {
    parts
        .headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == SESSION_COOKIE)
        .map(|(_, v)| v)
}

impl FromRequestParts<Shared> for Owner {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, hub: &Shared) -> Result<Owner, ApiError> {
        if let Some(token) = session_cookie(parts)
            && (hub
                .store
                .check_session(&TokenDigest::of_token(token))?
                .is_some()
                || hub.session_in_memory(&TokenDigest::of_token(token)))
        {
            return Ok(Owner);
        }
        if let Some(token) = bearer(parts)
            && hub
                .store
                .check_api_token(&TokenDigest::of_token(token))?
                .is_some()
        {
            return Ok(Owner);
        }
        Err(ApiError::Unauthorized)
    }
}

/// Checks that the request carries `device_id`'s own token.
pub fn device(
    parts_headers: &axum::http::HeaderMap,
    hub: &Shared,
    device_id: &str,
) -> Result<(), ApiError> {
    let token = parts_headers
        .get(AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim)
        .ok_or(ApiError::Unauthorized)?;
    let device = hub.store.device(device_id)?.ok_or(ApiError::Unauthorized)?;
    if device
        .token
        .as_ref()
        .is_some_and(|digest| digest.verify(token))
    {
        Ok(())
    } else {
        Err(ApiError::Unauthorized)
    }
}
