//! The camera's own HTTP endpoint.
//!
//! Provisioning (docs/contracts.md, "Pairing"): in setup mode the hub POSTs the Wi-Fi
//! credentials, its addresses, the pinned certificate and the device token to
//! `POST /provision`; a wrong pairing code gets 403 `{"error":"pairing_code"}`, more
//! than five tries a minute 429, a camera not in setup 409. `GET /provision/status`
//! answers `{"state":"setup|joining|online","last_error":...}`.
//!
//! Simulator controls, for tests and the demo (a real camera has none of these):
//! - `GET /sim/status`: lifecycle state, the light and its meaning, queue, link, live view.
//! - `POST /sim/link {"up":false}`: the Wi-Fi access point goes away (`true`: back).
//!   `{"up":false,"silent":true}`: the link goes silent instead — packets dropped both
//!   ways, sockets left open, nobody told (`radio`); `{"up":true}` ends it.
//! - `POST /sim/ap {"ssid":"new","passphrase":"..."}`: the access point is reconfigured
//!   (or a new router set up beside the old one): the camera's current association
//!   holds, its next join needs these credentials.
//! - `POST /sim/motion`: a person walks through the scene (PIR and pixels).
//! - `POST /sim/battery {"depth":0.97}` drains the pack to that depth of discharge;
//!   `{"replace":true}` puts fresh cells in; `{"temp_c":-10}` sets the temperature.
//! - `POST /sim/button {"hold_ms":300}`: press the button for that long.
//! - `POST /sim/sensor {"image_sensor":"broken"}`: the image sensor stops giving frames
//!   (every read fails) until `{"image_sensor":"ok"}`; `{"motion_sensor":"broken"|"ok"}`
//!   does the same to the PIR (no PIR motion while broken; the pixels are still
//!   watched); both keys may come at once. The camera's self-test reports a broken
//!   part (`self_test_failed`).

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::mpsc;
use watchlight_protocol::Part;

/// Pairing tries allowed per minute (SPEC §4.1).
pub const PAIRING_TRIES_PER_MINUTE: usize = 5;

#[derive(Debug, Clone, Deserialize)]
pub struct WifiBody {
    pub ssid: String,
    pub passphrase: String,
}

#[derive(Debug, Clone, Deserialize)]
pub struct HubBody {
    pub mqtt_url: String,
    pub http_url: String,
    #[serde(default)]
    pub cert_pem: Option<String>,
}

/// `POST /provision` (docs/contracts.md).
#[derive(Clone, Deserialize)]
pub struct ProvisionBody {
    pub v: u32,
    pub pairing_code: String,
    pub wifi: WifiBody,
    pub home: String,
    pub device_id: String,
    pub token: String,
    pub hub: HubBody,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct BatteryBody {
    #[serde(default)]
    pub depth: Option<f64>,
    #[serde(default)]
    pub replace: bool,
    #[serde(default)]
    pub temp_c: Option<f64>,
}

/// What the endpoint asks of the agent's loop.
pub enum Control {
    Provision(Box<ProvisionBody>),
    Link {
        up: bool,
        silent: bool,
    },
    AccessPoint(WifiBody),
    Motion,
    Battery(BatteryBody),
    Button {
        hold_ms: u64,
    },
    /// Break (`true`) or mend a simulated part.
    Sensor {
        part: Part,
        broken: bool,
    },
}

/// What the agent shows through `GET /sim/status` and `GET /provision/status`.
#[derive(Debug, Clone, Default, Serialize)]
pub struct LocalStatus {
    pub device_id: String,
    pub profile: String,
    pub state: String,
    pub light_id: String,
    pub condition: String,
    pub meaning: String,
    pub link_up: bool,
    /// The radio drops every packet (`POST /sim/link {"up":false,"silent":true}`).
    pub link_silent: bool,
    pub connected: bool,
    pub recording: bool,
    pub queue_items: usize,
    pub queue_bytes: u64,
    pub clips_recorded: u64,
    pub delivered: u64,
    /// Streaming live view to the hub.
    pub live: bool,
    /// Live frames sent since the camera started.
    pub live_frames_sent: u64,
    pub last_error: Option<String>,
    /// The simulated image sensor: `ok` or `broken` (`POST /sim/sensor`).
    pub image_sensor: String,
    /// The simulated PIR: `ok` or `broken` (`POST /sim/sensor`).
    pub motion_sensor: String,
    /// Parts whose failure the camera reported (`self_test_failed`) and that have not
    /// worked since.
    pub parts_failed: Vec<String>,
}

pub struct LocalShared {
    pub status: Mutex<LocalStatus>,
    pairing_code: String,
    tries: Mutex<VecDeque<Instant>>,
    control: mpsc::UnboundedSender<Control>,
}

impl LocalShared {
    pub fn new(pairing_code: String, control: mpsc::UnboundedSender<Control>) -> Arc<LocalShared> {
        Arc::new(LocalShared {
            status: Mutex::new(LocalStatus::default()),
            pairing_code,
            tries: Mutex::new(VecDeque::new()),
            control,
        })
    }

    pub fn update(&self, f: impl FnOnce(&mut LocalStatus)) {
        f(&mut self.status.lock().unwrap_or_else(|p| p.into_inner()));
    }

    fn snapshot(&self) -> LocalStatus {
        self.status
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Counts a try; false when five were made in the last minute.
    fn try_allowed(&self, now: Instant) -> bool {
        let mut tries = self.tries.lock().unwrap_or_else(|p| p.into_inner());
        while tries
            .front()
            .is_some_and(|t| now.duration_since(*t) >= Duration::from_secs(60))
        {
            tries.pop_front();
        }
        if tries.len() >= PAIRING_TRIES_PER_MINUTE {
            return false;
        }
        tries.push_back(now);
        true
    }
}

pub fn router(shared: Arc<LocalShared>) -> Router {
    Router::new()
        .route("/provision", post(provision))
        .route("/provision/status", get(provision_status))
        .route("/sim/status", get(sim_status))
        .route("/sim/link", post(sim_link))
        .route("/sim/ap", post(sim_ap))
        .route("/sim/motion", post(sim_motion))
        .route("/sim/battery", post(sim_battery))
        .route("/sim/button", post(sim_button))
        .route("/sim/sensor", post(sim_sensor))
        .with_state(shared)
}

type Answer = (StatusCode, Json<Value>);

fn error(status: StatusCode, msg: &str) -> Answer {
    (status, Json(json!({"error": msg})))
}

fn parse<T: for<'de> Deserialize<'de>>(body: &[u8]) -> Result<T, Answer> {
    serde_json::from_slice(body)
        .map_err(|e| error(StatusCode::BAD_REQUEST, &format!("invalid JSON body: {e}")))
}

async fn provision(State(shared): State<Arc<LocalShared>>, body: axum::body::Bytes) -> Answer {
    if !shared.try_allowed(Instant::now()) {
        return error(StatusCode::TOO_MANY_REQUESTS, "too_many_tries");
    }
    let body: ProvisionBody = match parse(&body) {
        Ok(b) => b,
        Err(a) => return a,
    };
    if body.v != 1 {
        return error(StatusCode::BAD_REQUEST, "unsupported version");
    }
    if shared.snapshot().state != "setup" {
        return error(StatusCode::CONFLICT, "not_in_setup");
    }
    if !constant_time_eq(body.pairing_code.as_bytes(), shared.pairing_code.as_bytes()) {
        return error(StatusCode::FORBIDDEN, "pairing_code");
    }
    if body.wifi.ssid.is_empty() || body.token.is_empty() || body.device_id.is_empty() {
        return error(
            StatusCode::BAD_REQUEST,
            "wifi.ssid, token and device_id must not be empty",
        );
    }
    shared.update(|s| {
        s.state = "joining".into();
        s.last_error = None;
    });
    let _ = shared.control.send(Control::Provision(Box::new(body)));
    (StatusCode::ACCEPTED, Json(json!({"state": "joining"})))
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

async fn provision_status(State(shared): State<Arc<LocalShared>>) -> Json<Value> {
    let s = shared.snapshot();
    let state = match s.state.as_str() {
        "setup" | "booting" | "factory" | "off" => "setup",
        "joining" => "joining",
        _ => "online",
    };
    Json(json!({"state": state, "last_error": s.last_error}))
}

async fn sim_status(State(shared): State<Arc<LocalShared>>) -> Json<LocalStatus> {
    Json(shared.snapshot())
}

#[derive(Deserialize)]
struct LinkBody {
    up: bool,
    #[serde(default)]
    silent: bool,
}

async fn sim_link(State(shared): State<Arc<LocalShared>>, body: axum::body::Bytes) -> Answer {
    match parse::<LinkBody>(&body) {
        Ok(b) if b.up && b.silent => error(
            StatusCode::BAD_REQUEST,
            "a link cannot be up and silent: send {\"up\":false,\"silent\":true}",
        ),
        Ok(b) => {
            let _ = shared.control.send(Control::Link {
                up: b.up,
                silent: b.silent,
            });
            (
                StatusCode::OK,
                Json(json!({"up": b.up, "silent": b.silent})),
            )
        }
        Err(a) => a,
    }
}

async fn sim_ap(State(shared): State<Arc<LocalShared>>, body: axum::body::Bytes) -> Answer {
    match parse::<WifiBody>(&body) {
        Ok(b) if b.ssid.is_empty() => error(StatusCode::BAD_REQUEST, "ssid is empty"),
        Ok(b) => {
            let ssid = b.ssid.clone();
            let _ = shared.control.send(Control::AccessPoint(b));
            (StatusCode::OK, Json(json!({"ssid": ssid})))
        }
        Err(a) => a,
    }
}

async fn sim_motion(State(shared): State<Arc<LocalShared>>) -> Answer {
    let _ = shared.control.send(Control::Motion);
    (StatusCode::OK, Json(json!({"walking": true})))
}

async fn sim_battery(State(shared): State<Arc<LocalShared>>, body: axum::body::Bytes) -> Answer {
    match parse::<BatteryBody>(&body) {
        Ok(b) => {
            if b.depth.is_some_and(|d| !(0.0..=1.0).contains(&d)) {
                return error(StatusCode::BAD_REQUEST, "depth must be 0 to 1");
            }
            let _ = shared.control.send(Control::Battery(b));
            (StatusCode::OK, Json(json!({})))
        }
        Err(a) => a,
    }
}

#[derive(Deserialize)]
struct ButtonBody {
    hold_ms: u64,
}

async fn sim_button(State(shared): State<Arc<LocalShared>>, body: axum::body::Bytes) -> Answer {
    match parse::<ButtonBody>(&body) {
        Ok(b) if b.hold_ms <= 60_000 => {
            let _ = shared.control.send(Control::Button { hold_ms: b.hold_ms });
            (StatusCode::OK, Json(json!({})))
        }
        Ok(_) => error(StatusCode::BAD_REQUEST, "hold_ms must be at most 60000"),
        Err(a) => a,
    }
}

/// `POST /sim/sensor`: `{"image_sensor":"broken"|"ok","motion_sensor":"broken"|"ok"}`
/// (either key or both). The body is checked whole before any part changes.
async fn sim_sensor(State(shared): State<Arc<LocalShared>>, body: axum::body::Bytes) -> Answer {
    match parse::<Value>(&body).and_then(|v| sensor_body(&v)) {
        Ok(changes) => {
            let mut answer = serde_json::Map::new();
            for (part, broken) in changes {
                let _ = shared.control.send(Control::Sensor { part, broken });
                let health = if broken { "broken" } else { "ok" };
                answer.insert(part.as_str().into(), health.into());
            }
            (StatusCode::OK, Json(Value::Object(answer)))
        }
        Err(a) => a,
    }
}

/// The parts a `/sim/sensor` body breaks (`true`) or mends, in `Part::ALL` order.
fn sensor_body(body: &Value) -> Result<Vec<(Part, bool)>, Answer> {
    let bad = |msg: String| error(StatusCode::BAD_REQUEST, &msg);
    let known = Part::ALL.map(Part::as_str).join(", ");
    let Some(obj) = body.as_object() else {
        return Err(bad(format!(
            "expected an object like {{\"image_sensor\":\"broken\"|\"ok\"}} \
             (keys: {known}), got {body}"
        )));
    };
    if let Some(key) = obj.keys().find(|k| Part::parse(k).is_none()) {
        return Err(bad(format!("unknown field '{key}' (known: {known})")));
    }
    let mut changes = Vec::new();
    for part in Part::ALL {
        let name = part.as_str();
        match obj.get(name).map(|v| (v, v.as_str())) {
            None => {}
            Some((_, Some("broken"))) => changes.push((part, true)),
            Some((_, Some("ok"))) => changes.push((part, false)),
            Some((_, Some(other))) => {
                return Err(bad(format!(
                    "{name} must be \"broken\" or \"ok\", got \"{other}\""
                )));
            }
            Some((v, None)) => {
                return Err(bad(format!(
                    "{name} must be a string (\"broken\" or \"ok\"), got {v}"
                )));
            }
        }
    }
    if changes.is_empty() {
        return Err(bad(format!("no part named: give at least one of {known}")));
    }
    Ok(changes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sensor_bodies_break_or_mend_and_bad_ones_say_what_is_wrong() {
        let ok = |body: Value| sensor_body(&body).ok();
        assert_eq!(
            ok(json!({"image_sensor": "broken"})),
            Some(vec![(Part::ImageSensor, true)])
        );
        assert_eq!(
            ok(json!({"image_sensor": "ok"})),
            Some(vec![(Part::ImageSensor, false)])
        );
        assert_eq!(
            ok(json!({"motion_sensor": "broken"})),
            Some(vec![(Part::MotionSensor, true)])
        );
        assert_eq!(
            ok(json!({"motion_sensor": "ok", "image_sensor": "broken"})),
            Some(vec![(Part::ImageSensor, true), (Part::MotionSensor, false)])
        );
        for (body, says) in [
            (json!({"image_sensor": "smashed"}), "got \"smashed\""),
            (json!({"motion_sensor": "gone"}), "motion_sensor must be"),
            (json!({"image_sensor": true}), "must be a string"),
            (json!({"motion_sensor": null}), "got null"),
            // One bad key refuses the whole body: nothing is half applied.
            (
                json!({"image_sensor": "broken", "motion_sensor": 1}),
                "motion_sensor must be a string",
            ),
            (json!({}), "at least one of image_sensor, motion_sensor"),
            (
                json!({"image_sensor": "ok", "lens": "ok"}),
                "unknown field 'lens' (known: image_sensor, motion_sensor)",
            ),
            (json!(["broken"]), "expected an object"),
        ] {
            let Err((status, Json(answer))) = sensor_body(&body) else {
                panic!("{body} accepted");
            };
            assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
            let msg = answer["error"].as_str().unwrap_or_default();
            assert!(msg.contains(says), "{body}: {msg}");
        }
    }

    #[test]
    fn five_pairing_tries_a_minute_then_refused_until_the_minute_passes() {
        let (tx, _rx) = mpsc::unbounded_channel();
        let shared = LocalShared::new("123456".into(), tx);
        let t0 = Instant::now();
        for i in 0..5 {
            assert!(shared.try_allowed(t0 + Duration::from_secs(i)), "try {i}");
        }
        assert!(!shared.try_allowed(t0 + Duration::from_secs(30)));
        assert!(shared.try_allowed(t0 + Duration::from_secs(61)));
    }
}
