//! A camera's recent readings for the app's battery and signal charts.

use super::ApiError;
use super::auth::Owner;
use super::cameras::known;
use crate::state::Shared;
use axum::Json;
use axum::extract::{Path, Query, State};
use serde::Deserialize;
use serde_json::{Value, json};
use watchlight_care::battery::charge_percent;

/// Most points a chart gets; longer histories are thinned evenly.
const MAX_POINTS: usize = 500;
/// The longest window the app may ask for (the raw readings' retention is shorter).
const MAX_HOURS: u64 = 31 * 24;

#[derive(Deserialize)]
pub struct HistoryQuery {
    hours: Option<u64>,
}

pub async fn telemetry(
    _: Owner,
    State(hub): State<Shared>,
    Path(id): Path<String>,
    Query(q): Query<HistoryQuery>,
) -> Result<Json<Value>, ApiError> {
    known(&hub, &id)?;
    let hours = q.hours.unwrap_or(48);
    if hours == 0 || hours > MAX_HOURS {
        return Err(ApiError::BadRequest(format!(
            "hours must be 1 to {MAX_HOURS}, got {hours}"
        )));
    }
    let now = hub.now();
    let rows = hub
        .store
        .telemetry(&id, now.saturating_sub(hours * 3600 * 1000), now + 1)?;
    let step = rows.len().div_ceil(MAX_POINTS).max(1);
    let readings: Vec<Value> = rows
        .iter()
        .step_by(step)
        .map(|t| {
            json!({
                "ts": t.ts,
                "rssi_dbm": t.rssi_dbm,
                "battery_resting_mv": t.battery_resting_mv,
                "battery_percent": t.battery_resting_mv.map(|mv| (charge_percent(mv) * 10.0).round() / 10.0),
                "temperature_c": t.temperature_c,
            })
        })
        .collect();
    Ok(Json(json!({"hours": hours, "readings": readings})))
}
