//! The doctor under `/api/v1`: a camera's case, its diagnosis, and the
//! owner's confirmation of what fixed it.
//!
//! The diagnosis uses the shipped knowledge base and the priors the hub learned from
//! confirmed fixes (kept in SQLite, so they survive a restart). The case is built by
//! [`crate::doctor_case`]; the owner's answers come in the body of `POST .../diagnosis`.

use super::auth::Owner;
use super::cameras::known;
use super::{ApiError, JsonBody};
use crate::doctor_case;
use crate::state::{HubState, Shared};
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};
use watchlight_doctor::diagnose::{Progress, diagnose_in};
use watchlight_doctor::priors::ANY_PROFILE;
use watchlight_doctor::{ActionId, Case, FaultId, KnowledgeBase, Priors};
use watchlight_protocol::ProfileId;
use watchlight_store::{Device, DoctorConfirmation};

/// How much one owner confirmation weighs against the shipped priors (which count as
/// the knowledge base's `prior_strength` observations).
pub const CONFIRMATION_WEIGHT: f64 = 1.0;

pub(super) fn routes() -> Router<Shared> {
    Router::new()
        .route("/cameras/{id}/case", get(case))
        .route(
            "/cameras/{id}/diagnosis",
            get(diagnosis).post(diagnosis_with_answers),
        )
        .route("/cameras/{id}/diagnosis/confirm", post(confirm))
        .route("/doctor/priors", get(priors))
}

/// The camera's case as the hub sees it now.
fn case_of(hub: &HubState, device: &Device) -> Result<Case, ApiError> {
    Ok(doctor_case::case_now(hub, device, hub.now())?)
}

/// The priors learned from every confirmation so far. A row this build does not know
/// (a profile or fault id from elsewhere) is skipped with a warning, not trusted.
pub fn learned_priors(hub: &HubState) -> Result<Priors, ApiError> {
    let mut priors = Priors::default();
    for row in hub.store.doctor_prior_counts()? {
        let profile_ok = row.profile == ANY_PROFILE || row.profile.parse::<ProfileId>().is_ok();
        match row.fault.parse::<FaultId>() {
            Ok(fault) if profile_ok && row.count.is_finite() && row.count >= 0.0 => {
                priors
                    .counts
                    .entry(row.profile)
                    .or_default()
                    .insert(fault, row.count);
            }
            _ => tracing::warn!(
                profile = %row.profile,
                fault = %row.fault,
                "ignoring a learned prior this build does not know"
            ),
        }
    }
    Ok(priors)
}

pub async fn case(
    _: Owner,
    State(hub): State<Shared>,
    Path(id): Path<String>,
) -> Result<Json<Case>, ApiError> {
    let device = known(&hub, &id)?;
    Ok(Json(case_of(&hub, &device)?))
}

pub async fn diagnosis(
    _: Owner,
    State(hub): State<Shared>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let device = known(&hub, &id)?;
    let case = case_of(&hub, &device)?;
    let priors = learned_priors(&hub)?;
    Ok(Json(super::doctor_words::json(&diagnose_in(
        KnowledgeBase::shipped(),
        &case,
        &priors,
        &Progress::default(),
    ))))
}

/// What the owner adds: answers (the case file's `observations`), steps tried that did
/// not fix it, and steps they cannot do.
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct Answers {
    #[serde(default)]
    observations: Option<serde_json::Map<String, Value>>,
    #[serde(default)]
    failed: Vec<String>,
    #[serde(default)]
    unavailable: Vec<String>,
}

/// Parses action ids, naming every unknown one.
fn actions(field: &str, ids: &[String]) -> Result<Vec<ActionId>, ApiError> {
    let mut out = Vec::new();
    let mut bad = Vec::new();
    for id in ids {
        match id.parse::<ActionId>() {
            Ok(a) => out.push(a),
            Err(e) => bad.push(e.to_string()),
        }
    }
    if bad.is_empty() {
        Ok(out)
    } else {
        Err(ApiError::BadRequest(format!("{field}: {}", bad.join("; "))))
    }
}

pub async fn diagnosis_with_answers(
    _: Owner,
    State(hub): State<Shared>,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    let device = known(&hub, &id)?;
    let answers: Answers = if body.iter().all(u8::is_ascii_whitespace) {
        Answers::default()
    } else {
        serde_json::from_slice(&body)
            .map_err(|e| ApiError::BadRequest(format!("invalid JSON body: {e}")))?
    };
    let progress = Progress {
        failed: actions("failed", &answers.failed)?,
        unavailable: actions("unavailable", &answers.unavailable)?,
        unanswered: Vec::new(),
    };
    let case = case_of(&hub, &device)?;
    // Merge through the case file's own parser, so a bad answer is named exactly as a
    // bad case file would be (`observations.light`, the value, what is expected).
    let mut merged = serde_json::to_value(&case)
        .map_err(|e| ApiError::Internal(format!("case does not serialise: {e}")))?;
    if let Some(answers) = answers.observations {
        let slot = merged
            .as_object_mut()
            .expect("a case serialises to an object")
            .entry("observations")
            .or_insert_with(|| json!({}));
        if let Some(obs) = slot.as_object_mut() {
            obs.extend(answers);
        }
    }
    let case = Case::from_json(&merged.to_string())
        .map_err(|e| ApiError::BadRequest(e.to_string().replace("case file", "answer")))?;
    let priors = learned_priors(&hub)?;
    Ok(Json(super::doctor_words::json(&diagnose_in(
        KnowledgeBase::shipped(),
        &case,
        &priors,
        &progress,
    ))))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Confirmation {
    fault: String,
    action: String,
}

/// The owner says which step fixed the camera and what was wrong: the learned prior
/// of that fault for the camera's profile moves, persisted.
pub async fn confirm(
    _: Owner,
    State(hub): State<Shared>,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<Confirmation>,
) -> Result<Json<Value>, ApiError> {
    let device = known(&hub, &id)?;
    let fault = body.fault.parse::<FaultId>();
    let action = body.action.parse::<ActionId>();
    let (fault, action) = match (fault, action) {
        (Ok(f), Ok(a)) => (f, a),
        (f, a) => {
            let errors: Vec<String> = [f.err(), a.err()]
                .into_iter()
                .flatten()
                .map(|e| e.to_string())
                .collect();
            return Err(ApiError::BadRequest(errors.join("; ")));
        }
    };
    let stored = hub.store.record_doctor_confirmation(&DoctorConfirmation {
        device_id: device.id.clone(),
        profile: device.profile.as_str().to_string(),
        fault: fault.as_str().to_string(),
        action: action.as_str().to_string(),
        weight: CONFIRMATION_WEIGHT,
        ts_ms: 0,
    })?;
    let priors = learned_priors(&hub)?;
    let prior = priors.effective(KnowledgeBase::shipped(), Some(device.profile))[fault.index()];
    hub.emit(
        "doctor_confirmed",
        Some(&device.id),
        json!({"fault": fault, "action": action}),
    );
    Ok(Json(json!({
        "camera": device.id,
        "profile": device.profile,
        "fault": fault,
        "action": action,
        "ts": stored.ts_ms,
        "confirmed": priors.counts.get(device.profile.as_str()).and_then(|c| c.get(&fault)),
        "prior": prior,
    })))
}

/// The learned priors in the format of `watchlight doctor --priors FILE`.
pub async fn priors(_: Owner, State(hub): State<Shared>) -> Result<Json<Priors>, ApiError> {
    Ok(Json(learned_priors(&hub)?))
}
