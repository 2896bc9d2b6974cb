//! Battery cameras: charge percent, days-left forecast from the stored telemetry and the
//! clips' duty, the replacement reminder when the forecast crosses 14 days.
//!
//! A forecast reads up to 14 days of history, so it is recomputed at most once an hour
//! of hub time per camera (telemetry arrives every 30 s; the forecast moves over days).

use super::{homeassistant, lock, notify};
use crate::state::HubState;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use watchlight_care::battery::{self, BatterySample, DailyUse, Forecast, PackSpec};
use watchlight_care::notify::CareEvent;
use watchlight_protocol::battery::{HYSTERESIS_MV, LOW_LOADED_MV, LOW_RESTING_MV};
use watchlight_protocol::messages::TelemetryMsg;

const DAY_MS: u64 = 86_400_000;
/// History the forecast reads.
const HISTORY_MS: u64 = 14 * DAY_MS;
/// Least hub time between two forecasts of one camera.
const RECOMPUTE_MS: u64 = 3_600_000;
/// Uplink speed assumed to turn clip bytes into seconds of transmission (1 Mbit/s).
const UPLINK_BYTES_PER_S: f64 = 125_000.0;

/// What the hub last knew of a camera's pack.
#[derive(Debug, Clone, Default)]
pub struct BatteryStatus {
    pub resting_mv: Option<u32>,
    pub loaded_mv: Option<u32>,
    pub temp_c: Option<f32>,
    pub at_ms: u64,
    pub forecast: Option<Forecast>,
    /// Why there is no forecast (e.g. too little history yet).
    pub forecast_error: Option<String>,
    pub forecast_ms: Option<u64>,
    /// Whether the reminder was sent for the current crossing under 14 days.
    pub reminded: bool,
}

fn on_battery(hub: &HubState, device: &str) -> bool {
    matches!(hub.store.device(device), Ok(Some(d)) if d.profile.profile().on_battery())
}

/// Whether the hub's latest reading of `device`, received after `ts`, is clear of the
/// low mark (SPEC §6, with its hysteresis): fresh batteries went in since.
pub fn replaced_since(hub: &HubState, device: &str, ts: u64) -> bool {
    lock(&hub.care.battery)
        .get(device)
        .is_some_and(|s| s.at_ms > ts && clear_of_low(s.resting_mv, s.loaded_mv))
}

fn clear_of_low(resting_mv: Option<u32>, loaded_mv: Option<u32>) -> bool {
    resting_mv.is_some_and(|mv| mv >= LOW_RESTING_MV + HYSTERESIS_MV)
        && loaded_mv.is_some_and(|mv| mv >= LOW_LOADED_MV + HYSTERESIS_MV)
}

/// Charge percent from the latest resting voltage, if known.
pub fn percent_now(hub: &HubState, device: &str) -> Option<f64> {
    let mv = lock(&hub.care.battery).get(device)?.resting_mv?;
    Some(battery::charge_percent(mv))
}

pub(super) async fn on_telemetry(hub: &HubState, device: &str, msg: &TelemetryMsg) {
    let (Some(resting), Some(loaded)) = (msg.battery_resting_mv, msg.battery_loaded_mv) else {
        return;
    };
    if !on_battery(hub, device) {
        return;
    }
    let now = hub.now();
    let (stale, replaced) = {
        let mut map = lock(&hub.care.battery);
        let s = map.entry(device.to_string()).or_default();
        let was_low = s.resting_mv.is_some_and(|mv| mv < LOW_RESTING_MV);
        let replaced = was_low && clear_of_low(Some(resting), Some(loaded));
        s.resting_mv = Some(resting);
        s.loaded_mv = Some(loaded);
        s.temp_c = msg.temperature_c.or(s.temp_c);
        s.at_ms = now;
        let stale = s
            .forecast_ms
            .is_none_or(|t| now.saturating_sub(t) >= RECOMPUTE_MS || now < t);
        (stale, replaced)
    };
    if replaced {
        lock(&hub.care.router).battery_replaced(device);
    }
    if stale {
        refresh(hub, device, now).await;
    }
    let status = lock(&hub.care.battery).get(device).cloned();
    if let Some(s) = status {
        homeassistant::update(hub, device, |h| {
            h.battery_percent = Some((battery::charge_percent(resting) * 10.0).round() / 10.0);
            h.battery_voltage = Some(f64::from(resting) / 1000.0);
            h.battery_days_left = s.forecast.as_ref().map(|f| f.days_left.round());
        })
        .await;
    }
}

/// Recomputes the forecast of `device` and sends the reminder on a crossing.
async fn refresh(hub: &HubState, device: &str, now: u64) {
    let result = compute(hub, device, now);
    let reminder = {
        let mut map = lock(&hub.care.battery);
        let s = map.entry(device.to_string()).or_default();
        s.forecast_ms = Some(now);
        match result {
            Ok(f) => {
                let crossing = f.needs_replacement_reminder && !s.reminded;
                s.reminded = f.needs_replacement_reminder;
                s.forecast_error = None;
                let event = crossing.then(|| CareEvent::BatteryForecast {
                    camera: device.into(),
                    days_left: (f.days_left * 10.0).round() / 10.0,
                    summary: f.summary.clone(),
                });
                s.forecast = Some(f);
                event
            }
            Err(e) => {
                s.forecast_error = Some(e);
                None
            }
        }
    };
    if let Some(event) = reminder {
        notify::notify(hub, event).await;
    }
}

/// The forecast from the last 14 days of readings and clips.
pub fn compute(hub: &HubState, device: &str, now: u64) -> Result<Forecast, String> {
    let from = now.saturating_sub(HISTORY_MS);
    let readings = hub
        .store
        .battery_readings(device, from, now + 1)
        .map_err(|e| e.to_string())?;
    let samples: Vec<BatterySample> = readings
        .iter()
        .map(|r| BatterySample {
            at_ms: r.at_ms,
            resting_mv: r.resting_mv,
            loaded_mv: r.loaded_mv,
            temp_c: r.temp_c.unwrap_or(20.0) as f32,
        })
        .collect();
    let first_day = samples.first().map(|s| s.at_ms / DAY_MS);
    let usage = first_day
        .map(|d| daily_use(hub, device, d, now))
        .unwrap_or_default();
    battery::forecast(&PackSpec::default(), &samples, &usage).map_err(|e| e.to_string())
}

/// Seconds recorded and transmitted per UTC day since `first_day`, from the clips; empty
/// when the camera recorded nothing (the forecast then reads the voltage trend).
fn daily_use(hub: &HubState, device: &str, first_day: u64, now: u64) -> Vec<DailyUse> {
    let from = first_day * DAY_MS;
    let clips = hub
        .store
        .list_clips(Some(device), from, now + 1, 100_000)
        .unwrap_or_default();
    if clips.is_empty() {
        return Vec::new();
    }
    let mut days: BTreeMap<u64, DailyUse> = (first_day..=now / DAY_MS)
        .map(|d| {
            (
                d,
                DailyUse {
                    recording_s: 0.0,
                    transmit_s: 0.0,
                },
            )
        })
        .collect();
    for c in clips {
        let day = days.entry(c.sort_ts / DAY_MS).or_insert(DailyUse {
            recording_s: 0.0,
            transmit_s: 0.0,
        });
        if let Some(m) = &c.meta {
            day.recording_s += m.end_ts.saturating_sub(m.start_ts) as f64 / 1000.0;
        }
        let bytes =
            c.video.map(|v| v.bytes).unwrap_or(0) + c.thumbnail.map(|t| t.bytes).unwrap_or(0);
        day.transmit_s += bytes as f64 / UPLINK_BYTES_PER_S;
    }
    days.into_values().collect()
}

/// The battery as the API shows it; `None` for mains cameras.
pub fn json(hub: &HubState, device: &str) -> Option<Value> {
    if !on_battery(hub, device) {
        return None;
    }
    let cached = lock(&hub.care.battery).get(device).cloned();
    let s = cached.unwrap_or_else(|| warm(hub, device));
    Some(json!({
        "percent": s.resting_mv.map(|mv| (battery::charge_percent(mv) * 10.0).round() / 10.0),
        "resting_mv": s.resting_mv,
        "loaded_mv": s.loaded_mv,
        "temperature_c": s.temp_c,
        "reported_ms": (s.at_ms > 0).then_some(s.at_ms),
        "days_left": s.forecast.as_ref().map(|f| (f.days_left * 10.0).round() / 10.0),
        "days_low": s.forecast.as_ref().map(|f| (f.days_low * 10.0).round() / 10.0),
        "days_high": s.forecast.as_ref().map(|f| (f.days_high * 10.0).round() / 10.0),
        "replace_soon": s.forecast.as_ref().map(|f| f.needs_replacement_reminder),
        "summary": s.forecast.as_ref().map(|f| f.summary.clone()),
        "forecast": s.forecast,
        "forecast_error": s.forecast_error,
        "forecast_ms": s.forecast_ms,
    }))
}

/// The status rebuilt from the store (after a restart, before the next telemetry).
fn warm(hub: &HubState, device: &str) -> BatteryStatus {
    let now = hub.now();
    let last = hub
        .store
        .battery_readings(device, now.saturating_sub(HISTORY_MS), now + 1)
        .ok()
        .and_then(|r| r.last().copied());
    let Some(last) = last else {
        return BatteryStatus::default();
    };
    let forecast = compute(hub, device, now);
    let status = BatteryStatus {
        resting_mv: Some(last.resting_mv),
        loaded_mv: Some(last.loaded_mv),
        temp_c: last.temp_c.map(|t| t as f32),
        at_ms: last.at_ms,
        // Told before the restart, most likely: not told again.
        reminded: forecast
            .as_ref()
            .is_ok_and(|f| f.needs_replacement_reminder),
        forecast_error: forecast.as_ref().err().cloned(),
        forecast: forecast.ok(),
        forecast_ms: Some(now),
    };
    lock(&hub.care.battery)
        .entry(device.to_string())
        .or_insert(status)
        .clone()
}

/// The latest forecast (for the monthly report), computing one if none is cached.
pub fn latest(hub: &HubState, device: &str, now: u64) -> Option<Forecast> {
    if !on_battery(hub, device) {
        return None;
    }
    if let Some(f) = lock(&hub.care.battery)
        .get(device)
        .and_then(|s| s.forecast.clone())
    {
        return Some(f);
    }
    compute(hub, device, now).ok()
}
