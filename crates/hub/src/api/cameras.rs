//! Cameras: pairing (docs/contracts.md), settings, commands, arming.

use super::auth::Owner;
use super::{ApiError, JsonBody};
use crate::secrets::new_token;
use crate::state::{HubState, PairingProgress, Shared, arming_json};
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::Deserialize;
use serde_json::{Map, Value, json};
use std::time::Duration;
use watchlight_protocol::messages::COMMANDS;
use watchlight_protocol::topics::is_valid_id;
use watchlight_protocol::{ProfileId, Settings, SettingsPatch};
use watchlight_store::{
    ArmMode, Command, CommandStatus, Device, NewDevice, PairingAttempt, TokenDigest,
};

#[derive(Deserialize)]
pub struct Wifi {
    ssid: String,
    passphrase: String,
}

#[derive(Deserialize)]
pub struct PairBody {
    serial: String,
    pairing_code: String,
    #[serde(default)]
    name: String,
    profile: String,
    wifi: Wifi,
    provision_url: String,
}

/// How long the hub follows a camera's provisioning status after sending credentials.
const FOLLOW_PROVISIONING: Duration = Duration::from_secs(90);

pub async fn pair(
    _: Owner,
    State(hub): State<Shared>,
    JsonBody(body): JsonBody<PairBody>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let device_id = format!("cam-{}", body.serial);
    if !is_valid_id(&body.serial) || !is_valid_id(&device_id) {
        return Err(ApiError::BadRequest(
            "serial must be 1 to 60 letters, digits, '-' or '_'".into(),
        ));
    }
    let profile: ProfileId =
        body.profile
            .parse()
            .map_err(|e: watchlight_protocol::profile::UnknownProfile| {
                ApiError::BadRequest(e.to_string())
            })?;
    let provision_url = body.provision_url.trim_end_matches('/').to_string();
    if !(provision_url.starts_with("http://") || provision_url.starts_with("https://")) {
        return Err(ApiError::BadRequest(
            "provision_url must be an http:// or https:// URL".into(),
        ));
    }
    if body.wifi.ssid.is_empty() {
        return Err(ApiError::BadRequest("wifi.ssid is empty".into()));
    }
    if let PairingAttempt::RateLimited { retry_after_ms } =
        hub.store.pairing_attempt(&body.serial)?
    {
        return Err(ApiError::TooManyRequests { retry_after_ms });
    }

    let token = new_token();
    let now = hub.now();
    match hub.store.device(&device_id)? {
        Some(d) if d.removed_ms.is_none() && d.first_connected_ms.is_some() => {
            return Err(ApiError::Conflict(format!(
                "camera {device_id} is already paired; forget it first to pair it again"
            )));
        }
        // A retry before the camera ever connected: same record, fresh token.
        Some(d) if d.removed_ms.is_none() => hub
            .store
            .set_device_token(&device_id, &TokenDigest::of_token(&token))?,
        _ => {
            let name = if body.name.is_empty() {
                device_id.clone()
            } else {
                body.name.clone()
            };
            hub.store.create_device(&NewDevice {
                id: device_id.clone(),
                serial: body.serial.clone(),
                name,
                profile,
                token: TokenDigest::of_token(&token),
            })?;
        }
    }
    let device = hub
        .store
        .device(&device_id)?
        .ok_or_else(|| ApiError::Internal("device vanished".into()))?;
    // A camera added while the home is armed is armed like the others.
    if hub.store.arming()?.arms(&device_id) {
        let armed = watchlight_protocol::SettingsPatch {
            armed: Some(true),
            ..Default::default()
        };
        hub.update_settings(&device_id, &armed).await?;
    }
    let settings = hub.store.settings(&device_id)?;
    crate::register_device_credential(&hub, &device_id, &token).map_err(ApiError::Internal)?;
    hub.track_availability(
        &device_id,
        HubState::liveness(&settings, &device),
        None,
        now,
    );
    hub.publish_settings(&device_id, &settings).await;
    crate::care::on_cameras_changed(&hub).await;
    crate::care::homeassistant::announce(&hub, &device_id).await;
    set_progress(
        &hub,
        &device_id,
        "provisioning",
        "Sending Wi-Fi and hub details to the camera",
        true,
    );

    let payload = json!({
        "v": 1,
        "pairing_code": body.pairing_code,
        "wifi": {"ssid": body.wifi.ssid, "passphrase": body.wifi.passphrase},
        "home": hub.home,
        "device_id": device_id,
        "token": token,
        "hub": {"mqtt_url": hub.mqtt_url, "http_url": hub.http_url, "cert_pem": hub.cert_pem},
    });
    let resp = hub
        .http
        .post(format!("{provision_url}/provision"))
        .json(&payload)
        .timeout(Duration::from_secs(10))
        .send()
        .await
        .map_err(|e| {
            set_progress(
                &hub,
                &device_id,
                "unreachable",
                "The camera's setup endpoint did not answer",
                false,
            );
            ApiError::BadGateway(format!(
                "could not reach the camera at {provision_url}: {}",
                e.without_url()
            ))
        })?;
    match resp.status() {
        StatusCode::FORBIDDEN => {
            set_progress(
                &hub,
                &device_id,
                "pairing_code",
                "The pairing code does not match this camera",
                false,
            );
            return Err(ApiError::Forbidden(
                "the camera refused the pairing code (error: pairing_code)".into(),
            ));
        }
        s if !s.is_success() => {
            return Err(ApiError::BadGateway(format!(
                "the camera answered {s} to the provisioning request"
            )));
        }
        _ => {}
    }
    set_progress(
        &hub,
        &device_id,
        "joining",
        "The camera is joining the Wi-Fi",
        false,
    );
    tokio::spawn(follow_provisioning(
        hub.clone(),
        device_id.clone(),
        provision_url,
    ));
    Ok((
        StatusCode::ACCEPTED,
        Json(json!({"id": device_id, "pairing": progress(&hub, &device_id)})),
    ))
}

fn set_progress(hub: &HubState, device: &str, state: &str, message: &str, restart: bool) {
    if !hub.set_pairing_progress(device, state, message, restart) {
        return;
    }
    hub.emit(
        "pairing",
        Some(device),
        json!({"state": state, "message": message}),
    );
}

fn progress(hub: &HubState, device: &str) -> Option<PairingProgress> {
    hub.pairing_progress(device)
}

/// Polls the camera's provisioning status to tell the owner when the Wi-Fi refused
/// the password, until the camera reaches the hub.
async fn follow_provisioning(hub: Shared, device: String, provision_url: String) {
    let deadline = tokio::time::Instant::now() + FOLLOW_PROVISIONING;
    while tokio::time::Instant::now() < deadline {
        if progress(&hub, &device).is_some_and(|p| p.state == "paired") {
            return;
        }
        let status = hub
            .http
            .get(format!("{provision_url}/provision/status"))
            .timeout(Duration::from_secs(3))
            .send()
            .await;
        if let Ok(resp) = status
            && let Ok(v) = resp.json::<Value>().await
        {
            match v.get("last_error").and_then(Value::as_str) {
                Some("wifi_rejected") => set_progress(
                    &hub,
                    &device,
                    "wifi_rejected",
                    "The Wi-Fi refused the password",
                    false,
                ),
                Some("join_timeout") => set_progress(
                    &hub,
                    &device,
                    "join_timeout",
                    "The camera could not join the Wi-Fi in time",
                    false,
                ),
                _ => {}
            }
            if v.get("state").and_then(Value::as_str) == Some("online") {
                return;
            }
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}

fn camera_json(hub: &HubState, d: &Device) -> Result<Value, ApiError> {
    let settings = hub.store.settings(&d.id)?;
    let now = hub.now();
    let telemetry =
        hub.store
            .latest_telemetry(&d.id, now.saturating_sub(48 * 3600 * 1000), now + 1)?;
    // The light the device shows now: a timed one it reported (the 5 s `connected`
    // blue) has given way to the light that follows, even while the camera sleeps.
    let state = hub.store.device_state(&d.id)?.map(|mut s| {
        s.state.light = s.state.light.at(now).clone();
        s
    });
    let availability = hub.computed_availability(&d.id);
    let pairing = progress(hub, &d.id);
    let light = super::shown_light::json(&super::shown_light::Seen {
        reported: state.as_ref().map(|s| &s.state.light),
        availability,
        since_ms: hub.store.availability(&d.id)?.map(|a| a.since_ms),
        now_ms: now,
        paired: d.first_connected_ms.is_some(),
        pairing: pairing.as_ref().map(|p| p.state.as_str()),
    });
    Ok(json!({
        "id": d.id,
        "serial": d.serial,
        "name": settings.name,
        "profile": d.profile,
        "power": d.profile.profile().power,
        "paired": d.first_connected_ms.is_some(),
        "paired_ms": d.first_connected_ms,
        "availability": availability,
        "light": light,
        "state": state.as_ref().map(|s| &s.state),
        "state_received_ms": state.as_ref().map(|s| s.received_ms),
        "telemetry": telemetry,
        "battery": crate::care::battery::json(hub, &d.id),
        "settings": settings,
        "pairing": pairing,
    }))
}

pub async fn list(_: Owner, State(hub): State<Shared>) -> Result<Json<Value>, ApiError> {
    let cams: Result<Vec<Value>, ApiError> = hub
        .store
        .devices()?
        .iter()
        .filter(|d| d.removed_ms.is_none())
        .map(|d| camera_json(&hub, d))
        .collect();
    Ok(Json(json!({"cameras": cams?})))
}

pub(super) fn known(hub: &HubState, id: &str) -> Result<Device, ApiError> {
    hub.store
        .device(id)?
        .filter(|d| d.removed_ms.is_none())
        .ok_or_else(|| ApiError::NotFound(format!("no camera '{id}'")))
}

pub async fn show(
    _: Owner,
    State(hub): State<Shared>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let d = known(&hub, &id)?;
    Ok(Json(camera_json(&hub, &d)?))
}

/// Forgets a camera: its credential stops working at once.
pub async fn forget(
    _: Owner,
    State(hub): State<Shared>,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    known(&hub, &id)?;
    crate::unregister_device_credential(&hub, &id);
    hub.forget_availability(&id);
    hub.store.remove_device(&id)?;
    crate::snapshot::remove(&hub.data_dir, &id);
    crate::care::on_cameras_changed(&hub).await;
    crate::care::homeassistant::remove(&hub, &id).await;
    hub.emit("forgotten", Some(&id), json!({}));
    Ok(StatusCode::NO_CONTENT)
}

pub async fn settings(
    _: Owner,
    State(hub): State<Shared>,
    Path(id): Path<String>,
) -> Result<Json<Settings>, ApiError> {
    known(&hub, &id)?;
    Ok(Json(hub.store.settings(&id)?))
}

pub async fn patch_settings(
    _: Owner,
    State(hub): State<Shared>,
    Path(id): Path<String>,
    JsonBody(patch): JsonBody<SettingsPatch>,
) -> Result<Json<Settings>, ApiError> {
    known(&hub, &id)?;
    let s = hub.update_settings(&id, &patch).await?;
    Ok(Json(s))
}

pub async fn wifi(
    _: Owner,
    State(hub): State<Shared>,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<Wifi>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    if body.ssid.is_empty() {
        return Err(ApiError::BadRequest("ssid is empty".into()));
    }
    let mut args = Map::new();
    args.insert("ssid".into(), json!(body.ssid));
    args.insert("passphrase".into(), json!(body.passphrase));
    issue(&hub, &id, "wifi", args).await
}

pub async fn command(
    _: Owner,
    State(hub): State<Shared>,
    Path((id, name)): Path<(String, String)>,
    body: Option<Json<Map<String, Value>>>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    if !COMMANDS.contains(&name.as_str()) {
        return Err(ApiError::NotFound(format!(
            "no command '{name}' (known: {})",
            COMMANDS.join(", ")
        )));
    }
    let mut args = body.map(|b| b.0).unwrap_or_default();
    match name.as_str() {
        "wifi"
            if args
                .get("ssid")
                .and_then(Value::as_str)
                .is_none_or(str::is_empty) =>
        {
            return Err(ApiError::BadRequest(
                "wifi needs args ssid and passphrase".into(),
            ));
        }
        "time" => {
            args.insert("now_ms".into(), json!(hub.now()));
        }
        _ => {}
    }
    issue(&hub, &id, &name, args).await
}

async fn issue(
    hub: &Shared,
    id: &str,
    name: &str,
    args: Map<String, Value>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let d = known(hub, id)?;
    let cmd = hub.new_command(id, name, args)?;
    // Before the first connection there is no session to queue it in: it waits for
    // the camera's first check-in instead.
    if d.first_connected_ms.is_some() {
        hub.send_command(&cmd).await;
    }
    let cmd = hub.store.command(&cmd.id)?.unwrap_or(cmd);
    Ok((StatusCode::ACCEPTED, Json(command_json(hub, &cmd))))
}

/// A command as the API shows it; a Wi-Fi passphrase is never echoed.
pub fn command_json(_hub: &HubState, c: &Command) -> Value {
    let (status, at_ms, error) = match &c.status {
        CommandStatus::Pending if c.sent_ms.is_some() => ("sent", None, None),
        CommandStatus::Pending => ("waiting", None, None),
        CommandStatus::Ok { at_ms } => ("ok", Some(*at_ms), None),
        CommandStatus::Failed { at_ms, error } => ("error", Some(*at_ms), Some(error.clone())),
        CommandStatus::Expired => ("expired", None, None),
    };
    let mut args = c.args.clone();
    if args.contains_key("passphrase") {
        args.insert("passphrase".into(), json!("[hidden]"));
    }
    json!({
        "id": c.id,
        "device": c.device_id,
        "name": c.name,
        "args": args,
        "created_ms": c.created_ms,
        "expires_ms": c.expires_ms,
        "sent_ms": c.sent_ms,
        "status": status,
        "result_ms": at_ms,
        "error": error,
    })
}

pub async fn command_status(
    _: Owner,
    State(hub): State<Shared>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let c = hub
        .store
        .command(&id)?
        .ok_or_else(|| ApiError::NotFound(format!("no command '{id}'")))?;
    Ok(Json(command_json(&hub, &c)))
}

pub async fn events(
    _: Owner,
    State(hub): State<Shared>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    known(&hub, &id)?;
    let events: Vec<Value> = hub
        .store
        .events(Some(&id), 0, u64::MAX / 2, 200)?
        .into_iter()
        .map(|e| json!({"seq": e.seq, "ts": e.ts_ms, "event": e.kind, "data": e.data, "received_ms": e.received_ms}))
        .collect();
    Ok(Json(json!({"events": events})))
}

pub async fn availability_history(
    _: Owner,
    State(hub): State<Shared>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    known(&hub, &id)?;
    let history: Vec<Value> = hub
        .store
        .availability_history(&id, 0, u64::MAX / 2)?
        .into_iter()
        .map(|c| json!({"ts": c.ts_ms, "availability": c.availability, "reason": c.reason}))
        .collect();
    Ok(Json(json!({
        "availability": hub.computed_availability(&id),
        "history": history,
    })))
}

#[derive(Deserialize)]
pub struct ArmBody {
    mode: String,
    #[serde(default)]
    cameras: Option<Vec<String>>,
}

pub async fn arm(
    _: Owner,
    State(hub): State<Shared>,
    JsonBody(body): JsonBody<ArmBody>,
) -> Result<Json<Value>, ApiError> {
    let mode = match body.mode.as_str() {
        "home" => ArmMode::Home,
        "away" => ArmMode::Away,
        other => {
            return Err(ApiError::BadRequest(format!(
                "mode must be 'home' or 'away', got '{other}'"
            )));
        }
    };
    if let Some(cams) = body.cameras {
        for c in &cams {
            known(&hub, c)?;
        }
        hub.store.set_home_cameras(&cams)?;
    }
    hub.store.set_arm_mode(mode)?;
    hub.apply_arming().await?;
    Ok(Json(arming_json(&hub.store.arming()?)))
}

pub async fn disarm(_: Owner, State(hub): State<Shared>) -> Result<Json<Value>, ApiError> {
    hub.store.set_arm_mode(ArmMode::Disarmed)?;
    hub.apply_arming().await?;
    Ok(Json(arming_json(&hub.store.arming()?)))
}

pub async fn arming(_: Owner, State(hub): State<Shared>) -> Result<Json<Value>, ApiError> {
    Ok(Json(arming_json(&hub.store.arming()?)))
}
