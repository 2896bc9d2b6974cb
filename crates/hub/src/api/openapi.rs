//! `GET /api/v1/openapi.json`: an OpenAPI 3 description of the API, written by hand
//! from the route table so it stays short and readable.

use super::auth::Owner;
use axum::Json;
use serde_json::{Map, Value, json};

/// (method, path, summary, who may call: "public" | "owner" | "device").
pub const OPERATIONS: &[(&str, &str, &str, &str)] = &[
    (
        "post",
        "/setup",
        "Create the owner with the one-time setup token",
        "public",
    ),
    (
        "get",
        "/setup",
        "Whether the hub has an owner and the one-time setup link is still open",
        "public",
    ),
    (
        "post",
        "/login",
        "Log in; sets an HttpOnly SameSite=Strict session cookie",
        "public",
    ),
    ("post", "/logout", "End the session", "public"),
    (
        "post",
        "/tokens",
        "Create an API token (shown once)",
        "owner",
    ),
    (
        "get",
        "/hub",
        "Hub status: light, broker, dropped MQTT messages by reason, arming, retention, free disk, version",
        "owner",
    ),
    (
        "post",
        "/hub/button",
        "The hub's reset button, simulated: {\"down\": true} presses, {\"down\": false} releases; held 10 s it resets the hub",
        "owner",
    ),
    ("get", "/openapi.json", "This document", "owner"),
    (
        "get",
        "/events/stream",
        "Server-sent events: state, events, availability, pairing, clips, snapshot, live",
        "owner",
    ),
    ("get", "/arm", "Current arming", "owner"),
    (
        "post",
        "/arm",
        "Arm: {mode: home|away, cameras?: [ids armed in home mode]}",
        "owner",
    ),
    ("post", "/disarm", "Disarm every camera", "owner"),
    (
        "get",
        "/cameras",
        "List cameras with their computed availability",
        "owner",
    ),
    (
        "post",
        "/cameras",
        "Pair a camera: {serial, pairing_code, name, profile, wifi:{ssid,passphrase}, provision_url}",
        "owner",
    ),
    (
        "get",
        "/cameras/{id}",
        "One camera, with pairing progress and the light it shows now (`light`: reported, or what an unreachable camera shows)",
        "owner",
    ),
    (
        "delete",
        "/cameras/{id}",
        "Forget a camera; its credential stops working",
        "owner",
    ),
    (
        "get",
        "/cameras/{id}/settings",
        "The camera's settings document",
        "owner",
    ),
    (
        "patch",
        "/cameras/{id}/settings",
        "Change settings (new version, published retained)",
        "owner",
    ),
    (
        "post",
        "/cameras/{id}/wifi",
        "Reconnect Wi-Fi: {ssid, passphrase} sent as cmd/wifi",
        "owner",
    ),
    (
        "post",
        "/cameras/{id}/commands/{name}",
        "Send a command (snapshot, record, live_start, live_stop, identify, reboot, factory_reset, wifi, time)",
        "owner",
    ),
    (
        "get",
        "/commands/{id}",
        "A command and its result (waiting, sent, ok, error, expired)",
        "owner",
    ),
    ("get", "/cameras/{id}/events", "Latest events", "owner"),
    (
        "get",
        "/cameras/{id}/availability",
        "Computed availability and its history",
        "owner",
    ),
    ("get", "/cameras/{id}/clips", "The camera's clips", "owner"),
    (
        "get",
        "/cameras/{id}/telemetry",
        "Readings for charts: ?hours=1..744 (default 48) of {ts, rssi_dbm, battery_percent, ...}, at most 500",
        "owner",
    ),
    (
        "get",
        "/clips/{clip_id}/video",
        "The clip's MP4, with byte ranges (206, 416, Accept-Ranges)",
        "owner",
    ),
    (
        "get",
        "/clips/{clip_id}/thumbnail",
        "The clip's JPEG thumbnail",
        "owner",
    ),
    ("delete", "/clips/{clip_id}", "Delete a clip", "owner"),
    (
        "put",
        "/devices/{device_id}/clips/{clip_id}",
        "Camera uploads a clip (X-Watchlight-Sha256; 201 new, 200 same, 400 digest, 409 other digest, 507 full)",
        "device",
    ),
    (
        "put",
        "/devices/{device_id}/clips/{clip_id}/thumbnail",
        "Camera uploads a clip's thumbnail",
        "device",
    ),
    (
        "post",
        "/cameras/{id}/snapshot",
        "Ask the camera for a fresh snapshot (cmd/snapshot): 200 {taken_at_ms, command} when it arrives within 4 s, else 202 {command} (a sleeping battery camera answers at its next check-in)",
        "owner",
    ),
    (
        "get",
        "/cameras/{id}/snapshot",
        "The latest snapshot (image/jpeg; X-Taken-At: ms since epoch); 404 before the first",
        "owner",
    ),
    (
        "get",
        "/cameras/{id}/live.mjpeg",
        "Live view as multipart/x-mixed-replace MJPEG (boundary wlframe; each part has X-Captured-At in ms, and each picture carries its capture time in its top-left corner: watchlight-media timecode). Each open response is a viewer: the first sends cmd/live_start, the camera shows blue_solid while anyone watches, the last one leaving sends cmd/live_stop. A battery camera's stream closes at its cap",
        "owner",
    ),
    (
        "get",
        "/cameras/{id}/live",
        "Live view session: {state: idle|starting|streaming, viewers, started_at_ms, cap_s (null for mains), ends_at_ms, now_ms (the hub clock)}",
        "owner",
    ),
    (
        "post",
        "/cameras/{id}/live/extend",
        "Extend a battery camera's live session by another cap (409 for mains, when idle, or before the first frame); answers the session",
        "owner",
    ),
    (
        "put",
        "/devices/{device_id}/snapshot",
        "Camera uploads a snapshot (image/jpeg, X-Watchlight-Sha256, X-Taken-At); 201",
        "device",
    ),
    (
        "put",
        "/devices/{device_id}/live/frame",
        "Camera sends one live frame (image/jpeg, X-Captured-At): 200 {watching: true}, 410 when nobody watches (stop)",
        "device",
    ),
    (
        "get",
        "/cameras/{id}/case",
        "The doctor's case for the camera (SPEC §8 case file), built from what the hub knows",
        "owner",
    ),
    (
        "get",
        "/cameras/{id}/diagnosis",
        "The doctor's diagnosis: {causes, plan, expected_cost_min}, with the learned priors",
        "owner",
    ),
    (
        "post",
        "/cameras/{id}/diagnosis",
        "Diagnosis with the owner's answers: {observations?, failed?: [action], unavailable?: [action]}",
        "owner",
    ),
    (
        "post",
        "/cameras/{id}/diagnosis/confirm",
        "The owner confirms what fixed it: {fault, action}; the learned priors move (persisted)",
        "owner",
    ),
    (
        "get",
        "/doctor/priors",
        "The learned priors, in the format of `watchlight doctor --priors FILE`",
        "owner",
    ),
    (
        "get",
        "/notifications",
        "Notification feed, newest first (?before=id&limit=n); new ones also on the SSE stream as `notification`",
        "owner",
    ),
    (
        "get",
        "/notifications/settings",
        "Each notification kind and whether it is on",
        "owner",
    ),
    (
        "patch",
        "/notifications/settings",
        "Switch kinds on or off: {\"motion\": false, ...}",
        "owner",
    ),
    (
        "get",
        "/webhooks",
        "Webhooks (without their secrets)",
        "owner",
    ),
    (
        "post",
        "/webhooks",
        "Add a webhook {url, kinds?}; the signing secret is in the answer, shown once (X-Watchlight-Signature: sha256=HMAC)",
        "owner",
    ),
    ("delete", "/webhooks/{id}", "Remove a webhook", "owner"),
    (
        "get",
        "/cameras/{id}/battery",
        "Battery: percent, voltages, days-left forecast with its band and summary",
        "owner",
    ),
    (
        "get",
        "/arming",
        "Arming in force, home cameras, schedule and its next switch",
        "owner",
    ),
    (
        "get",
        "/arming/schedule",
        "The weekly arming schedule",
        "owner",
    ),
    (
        "put",
        "/arming/schedule",
        "Replace the schedule: {utc_offset_minutes, entries: [{days, at: HH:MM, mode}]}",
        "owner",
    ),
    (
        "get",
        "/reports",
        "Monthly health reports (without their bodies)",
        "owner",
    ),
    (
        "post",
        "/reports",
        "Make the report of the current month so far",
        "owner",
    ),
    (
        "get",
        "/reports/{id}",
        "One report as JSON, or text with ?format=text",
        "owner",
    ),
    (
        "get",
        "/bundle",
        "Support bundle of the hub (application/gzip, secrets removed)",
        "owner",
    ),
    (
        "get",
        "/cameras/{id}/bundle",
        "Support bundle of one camera (application/gzip, secrets removed)",
        "owner",
    ),
];

pub fn build() -> Value {
    let mut paths = Map::new();
    for (method, path, summary, who) in OPERATIONS {
        let params: Vec<Value> = path
            .split('/')
            .filter_map(|seg| seg.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
            .map(|name| json!({"name": name, "in": "path", "required": true, "schema": {"type": "string"}}))
            .collect();
        let security = match *who {
            "public" => json!([]),
            "device" => json!([{"deviceToken": []}]),
            _ => json!([{"session": []}, {"apiToken": []}]),
        };
        let entry = paths.entry(path.to_string()).or_insert_with(|| json!({}));
        entry[*method] = json!({
            "summary": summary,
            "parameters": params,
            "security": security,
            "responses": {"200": {"description": "OK"}, "4XX": {"description": "{\"error\": \"what was wrong\"}"}},
        });
    }
    json!({
        "openapi": "3.0.3",
        "info": {"title": "Watchlight hub API", "version": "1"},
        "servers": [{"url": "/api/v1"}],
        "paths": paths,
        "components": {"securitySchemes": {
            "session": {"type": "apiKey", "in": "cookie", "name": super::SESSION_COOKIE},
            "apiToken": {"type": "http", "scheme": "bearer"},
            "deviceToken": {"type": "http", "scheme": "bearer"},
        }},
    })
}

pub async fn document(_: Owner) -> Json<Value> {
    Json(build())
}
