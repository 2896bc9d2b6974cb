//! The simulated owner in front of the doctor: what they tell it when they open it (the
//! light that worried them, and whether clips came when motion passed) and how they
//! answer its questions — truthfully, with only what an owner knows of the fault they
//! live through (they changed the Wi-Fi password; their phone has no network either;
//! the light blinks all the time or now and then). The doctor is asked through the
//! hub's live endpoint (`POST /api/v1/cameras/{id}/diagnosis`), as the app asks it.

use crate::hubproc::Api;
use crate::report::DoctorAnswer;
use crate::run::Fleet;
use crate::scenario::{FaultKind, PlannedFault};
use serde_json::{Map, Value, json};
use std::sync::RwLock;
use tokio::time::Instant;
use watchlight_protocol::{EventKind, LightId};

/// At most this many of the doctor's questions are answered before its answer counts.
const QUESTIONS: usize = 3;

/// What the owner says first about camera `c`, a fault that began at `since`: the light
/// that worried them (the last red or green one since, else the one shown now) and,
/// where motion passed as part of the fault, whether clips appeared in the app.
fn opening(fleet: &Fleet, f: &PlannedFault, c: usize, since: Instant) -> Map<String, Value> {
    let mut obs = Map::new();
    let seen = *fleet.status[c]
        .light
        .lock()
        .unwrap_or_else(|p| p.into_inner());
    if let Some(light) = seen.reported(since) {
        obs.insert("light".into(), json!(light.as_str()));
    }
    if f.kind.with_motion() {
        obs.insert("recording".into(), json!(clips_came(fleet, c, since)));
    }
    obs
}

/// Whether a recording of camera `c` started since `since` is in the app.
fn clips_came(fleet: &Fleet, c: usize, since: Instant) -> bool {
    let ledger = fleet
        .shared
        .ledger
        .lock()
        .unwrap_or_else(|p| p.into_inner());
    ledger.events.iter().any(|((cam, _), r)| {
        *cam == c
            && r.kind == EventKind::MotionStart
            && r.created >= since
            && (r.api_at.is_some() || r.sse_at.is_some())
    })
}

/// The owner's answer to the doctor's question about `field`, if an owner can give one.
fn answer(
    fleet: &Fleet,
    f: &PlannedFault,
    c: usize,
    since: Instant,
    obs: &Map<String, Value>,
    field: &str,
) -> Option<Value> {
    let on_battery = fleet.specs[c].profile.profile().on_battery();
    let light = obs
        .get("light")
        .and_then(Value::as_str)
        .and_then(LightId::parse);
    Some(match field {
        "wifi_password_changed" => json!(f.kind == FaultKind::WifiPasswordChange),
        // Their phone is on the same Wi-Fi as the cameras.
        "other_devices_online" => json!(f.kind != FaultKind::RouterDown),
        "setup_completed" => json!(true),
        "when" => json!(match light? {
            LightId::RedFlashOnMotion => "on_motion",
            LightId::RedFlashAfterRecording => "after_recording",
            _ if f.kind == FaultKind::RssiDegrade => "intermittent",
            _ => "continuous",
        }),
        // Only motion that passed tells an owner whether clips come.
        "recording" if f.kind.with_motion() => json!(clips_came(fleet, c, since)),
        // The pack's age as the owner remembers it: the frost's year-old cells, or
        // the few months an owner's pack has been in.
        "battery_age_months" if on_battery => json!(match f.kind {
            FaultKind::BatteryCold => 12,
            _ => 4,
        }),
        _ => return None,
    })
}

/// Asks the doctor about each of `cameras`, as the owner would: the opening words, then
/// up to [`QUESTIONS`] of its questions answered.
pub(crate) async fn ask_doctor(
    api: &RwLock<Api>,
    fleet: &Fleet,
    f: &PlannedFault,
    cameras: &[usize],
    since: Instant,
) -> Vec<DoctorAnswer> {
    let api = api.read().unwrap_or_else(|p| p.into_inner()).clone();
    let mut out = Vec::new();
    for &c in cameras {
        let device = fleet.specs[c].device_id();
        let mut obs = opening(fleet, f, c, since);
        let light = obs.get("light").and_then(Value::as_str).map(str::to_string);
        let mut case = api
            .get(&format!("/api/v1/cameras/{device}/case"))
            .await
            .unwrap_or(Value::Null);
        if let Some(slot) = case
            .as_object_mut()
            .map(|c| c.entry("observations").or_insert_with(|| json!({})))
            && let Some(o) = slot.as_object_mut()
        {
            o.extend(obs.clone());
        }
        let path = format!("/api/v1/cameras/{device}/diagnosis");
        let first = diagnose(&api, &path, &obs).await;
        let mut answer_row = DoctorAnswer {
            device: device.clone(),
            light,
            case,
            top: String::new(),
            p: 0.0,
            first_step: None,
            questions: Vec::new(),
            top_after_questions: None,
        };
        match first {
            Ok(v) => {
                let (top, p) = top_cause(&v);
                answer_row.top = top;
                answer_row.p = p;
                answer_row.first_step = first_step(&v);
                let mut v = v;
                for _ in 0..QUESTIONS {
                    let step = &v["plan"][0];
                    if step["kind"] != "question" {
                        break;
                    }
                    let Some(field) = step["field"].as_str().map(str::to_string) else {
                        break;
                    };
                    let Some(a) = answer(fleet, f, c, since, &obs, &field) else {
                        break;
                    };
                    answer_row.questions.push(format!("{field}={a}"));
                    obs.insert(field, a);
                    match diagnose(&api, &path, &obs).await {
                        Ok(next) => v = next,
                        Err(_) => break,
                    }
                }
                answer_row.top_after_questions = Some(top_cause(&v).0);
            }
            Err(e) => answer_row.top = format!("error: {e}"),
        }
        out.push(answer_row);
    }
    out
}

async fn diagnose(api: &Api, path: &str, obs: &Map<String, Value>) -> Result<Value, String> {
    match api.post(path, &json!({"observations": obs})).await {
        Ok((200, v)) => Ok(v),
        Ok((status, v)) => Err(format!("{status} {v}")),
        Err(e) => Err(e.to_string()),
    }
}

fn top_cause(v: &Value) -> (String, f64) {
    let top = &v["causes"][0];
    (
        top["id"].as_str().unwrap_or("").to_string(),
        top["p"].as_f64().unwrap_or(0.0),
    )
}

fn first_step(v: &Value) -> Option<String> {
    let step = &v["plan"][0];
    step["action"]
        .as_str()
        .or_else(|| step["question"].as_str())
        .map(str::to_string)
        .or_else(|| step.get("text").and_then(Value::as_str).map(str::to_string))
}
