//! The owner: first setup through a one-time link, login, sessions, API tokens, and
//! the hub's own status.

use super::auth::{Owner, SESSION_COOKIE, session_cookie};
use super::{ApiError, JsonBody, JsonOrForm};
use crate::hub_light::hub_light;
use crate::secrets::{constant_time_eq, hash_password, new_token, verify_password};
use crate::state::Shared;
use axum::Json;
use axum::extract::State;
use axum::http::header::SET_COOKIE;
use axum::http::request::Parts;
use axum::response::IntoResponse;
use serde::Deserialize;
use serde_json::{Value, json};
use watchlight_store::TokenDigest;

/// How long a login lasts.
pub const SESSION_MS: u64 = 30 * 24 * 3600 * 1000;

#[derive(Deserialize)]
pub struct SetupBody {
    token: String,
    username: String,
    password: String,
}

#[derive(Deserialize)]
pub struct LoginBody {
    username: String,
    password: String,
}

pub async fn setup(
    State(hub): State<Shared>,
    JsonBody(body): JsonBody<SetupBody>,
) -> Result<Json<Value>, ApiError> {
    if hub.store.owner()?.is_some() {
        return Err(ApiError::Conflict("the hub already has an owner".into()));
    }
    let created = hub.redeem_setup_link(&body.token, || {
        validate_username(&body.username)?;
        let hash =
            hash_password(&body.password).map_err(|e| ApiError::BadRequest(e.to_string()))?;
        hub.store.create_owner(&body.username, &hash)?;
        Ok::<(), ApiError>(())
    });
    match created {
        Some(created) => created?,
        None => {
            return Err(ApiError::Forbidden(
                "the setup link is wrong, used or expired; run 'watchlight hub owner create'"
                    .into(),
            ));
        }
    }
    tracing::info!(username = %body.username, "owner created through the setup link");
    Ok(Json(json!({"owner": body.username})))
}

pub fn validate_username(name: &str) -> Result<(), ApiError> {
    if name.trim().is_empty() || name.len() > 64 || name.chars().any(char::is_control) {
        return Err(ApiError::BadRequest(
            "the username must be 1 to 64 printable characters".into(),
        ));
    }
    Ok(())
}

pub async fn login(
    State(hub): State<Shared>,
    peer: super::limits::Peer,
    JsonOrForm(body): JsonOrForm<LoginBody>,
) -> Result<impl IntoResponse, ApiError> {
    super::limits::before_login(&hub, peer)?;
    let owner = hub.store.owner()?;
    let ok = match &owner {
        Some(o) => {
            // Verify even on a wrong name so timing does not tell names apart.
            let password_ok = verify_password(&body.password, &o.password_hash);
            password_ok && constant_time_eq(&o.name, &body.username)
        }
        None => false,
    };
    super::limits::after_login(&hub, peer, ok);
    if !ok {
        tracing::warn!("failed login");
        return Err(ApiError::WrongLogin);
    }
    let token = new_token();
    let digest = TokenDigest::of_token(&token);
    match hub.store.create_session(&digest, SESSION_MS) {
        Ok(_) => {}
        // The owner must be able to log in to a full hub, if only to free space.
        Err(e) if e.is_storage_full() => hub.remember_session(digest, SESSION_MS),
        Err(e) => return Err(e.into()),
    }
    let cookie = format!(
        "{SESSION_COOKIE}={token}; HttpOnly; SameSite=Strict; Path=/; Max-Age={}{}",
        SESSION_MS / 1000,
        secure_attr(&hub)
    );
    Ok((
        [(SET_COOKIE, cookie)],
        Json(json!({"owner": body.username})),
    ))
}

/// The session cookie goes only over HTTPS when the hub serves HTTPS (it does unless
/// started `--insecure`).
fn secure_attr(hub: &Shared) -> &'static str {
    if hub.cert_pem.is_some() {
        "; Secure"
    } else {
        ""
    }
}

pub async fn logout(
    State(hub): State<Shared>,
    parts: Parts,
) -> Result<impl IntoResponse, ApiError> {
    if let Some(token) = session_cookie(&parts) {
        hub.store.delete_session(&TokenDigest::of_token(token))?;
    }
    let cookie = format!(
        "{SESSION_COOKIE}=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0{}",
        secure_attr(&hub)
    );
    Ok(([(SET_COOKIE, cookie)], Json(json!({}))))
}

#[derive(Deserialize, Default)]
pub struct TokenBody {
    #[serde(default)]
    name: String,
}

/// A new API token for scripts; shown once.
pub async fn create_token(
    _: Owner,
    State(hub): State<Shared>,
    body: Option<Json<TokenBody>>,
) -> Result<Json<Value>, ApiError> {
    let name = body.map(|b| b.0.name).unwrap_or_default();
    let token = new_token();
    hub.store
        .create_api_token(&name, &TokenDigest::of_token(&token))?;
    Ok(Json(json!({"token": token, "name": name})))
}

pub async fn hub_status(_: Owner, State(hub): State<Shared>) -> Result<Json<Value>, ApiError> {
    let light = hub_light(hub.facts());
    let cameras = hub
        .store
        .devices()?
        .iter()
        .filter(|d| d.removed_ms.is_none())
        .count();
    let (clips, clip_bytes) = hub.store.clip_usage()?;
    Ok(Json(json!({
        "home": hub.home,
        "light": light,
        "mqtt_url": hub.mqtt_url,
        "http_url": hub.http_url,
        "tls": hub.cert_pem.is_some(),
        "upstream_up": hub.facts().upstream_up,
        "network": hub.network(),
        "cameras": cameras,
        "clips": clips,
        "clip_bytes": clip_bytes,
        "dropped_messages": hub.dropped_counts(),
        "storage_full": hub.storage_full(),
        "arming": crate::state::arming_json(&hub.store.arming()?),
        "retention": hub.store.retention_policy()?,
        "disk_free_pct": crate::doctor_case::disk_free_pct(&hub.data_dir),
        "version": env!("CARGO_PKG_VERSION"),
        "now_ms": hub.now(),
    })))
}

#[derive(Deserialize)]
pub struct ButtonBody {
    down: bool,
}

/// The hub's reset button, simulated (a real hub's is on its case; here the owner's
/// login stands in for hands on the box). `{"down":true}` presses it; held 10 s the hub
/// light turns red fast blink (`GET /hub`); `{"down":false}` releases it, and after
/// the full hold the hub resets itself (SPEC §4.3) and starts again with a new setup link.
pub async fn hub_button(
    _: Owner,
    State(hub): State<Shared>,
    JsonBody(body): JsonBody<ButtonBody>,
) -> Json<Value> {
    let now = hub.now();
    let reset = if body.down {
        hub.button.press(now);
        false
    } else {
        hub.button.release(now) == crate::hub_light::Release::Reset
    };
    Json(json!({
        "pressed": hub.button.is_pressed(),
        "armed": hub.button.is_armed(now),
        "resetting": reset,
    }))
}

/// Whether the one-time setup link can still be used, for the web app's setup page:
/// a hub that has an owner says so instead of offering the form.
pub async fn setup_status(State(hub): State<Shared>) -> Result<Json<Value>, ApiError> {
    let owner = hub.store.owner()?.is_some();
    let link_open = !owner && hub.setup_link_open();
    Ok(Json(json!({"owner_exists": owner, "link_open": link_open})))
}
