//! Arming schedules: the weekly schedule is stored in SQLite, the mode in force is
//! `hub_state` (which the owner's `/arm` and `/disarm` also write), and [`tick`] switches
//! it at each scheduled minute of the hub's clock. As in `watchlight_care::arming`,
//! whichever changed the mode last wins: arming by hand holds until the next switch.
//! Each switch goes through `HubState::apply_arming`, which publishes every camera's
//! `armed` setting.

use super::lock;
use crate::state::HubState;
use serde_json::{Value, json};
use watchlight_care::arming::{ArmingConfig, Schedule};
use watchlight_protocol::ArmMode;
use watchlight_store::{Store, StoreError};

/// The schedule in memory and the last switch already looked at.
#[derive(Debug, Default)]
pub struct Timer {
    schedule: Schedule,
    last_seen_switch: Option<u64>,
}

impl Timer {
    pub fn load(store: &Store) -> Result<Timer, StoreError> {
        let schedule = match store.arming_schedule()? {
            None => Schedule::default(),
            Some(doc) => serde_json::from_value(doc).map_err(|source| StoreError::CorruptJson {
                what: "arming schedule".into(),
                source,
            })?,
        };
        Ok(Timer {
            schedule,
            last_seen_switch: None,
        })
    }
}

/// The stored schedule.
pub fn schedule(hub: &HubState) -> Schedule {
    lock(&hub.care.arming).schedule.clone()
}

/// The home's UTC offset (the schedule's): the month boundary of reports uses it too.
pub fn utc_offset_minutes(hub: &HubState) -> i32 {
    lock(&hub.care.arming).schedule.utc_offset_minutes
}

/// Why a schedule was refused.
#[derive(Debug, thiserror::Error)]
pub enum ScheduleError {
    #[error(transparent)]
    Invalid(#[from] watchlight_care::arming::ArmingError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Replaces the schedule (checked first: nothing is written if it is invalid); the next
/// tick applies it.
pub fn set_schedule(hub: &HubState, schedule: Schedule) -> Result<(), ScheduleError> {
    schedule.validate()?;
    let doc = serde_json::to_value(&schedule).expect("schedules serialize");
    hub.store.set_arming_schedule(&doc)?;
    let mut t = lock(&hub.care.arming);
    t.schedule = schedule;
    t.last_seen_switch = None;
    Ok(())
}

/// Sets the mode by hand (the owner, Home Assistant) and publishes the settings.
pub async fn set_mode(hub: &HubState, mode: ArmMode) -> Result<(), StoreError> {
    hub.store.set_arm_mode(mode)?;
    hub.apply_arming().await
}

/// Switches the mode when the schedule's latest switch is newer than the last change.
pub async fn tick(hub: &HubState, now: u64) {
    let due = {
        let mut t = lock(&hub.care.arming);
        let last = t.schedule.last_switch(now);
        let at = last.map(|(at, _)| at);
        if at == t.last_seen_switch {
            None
        } else {
            t.last_seen_switch = at;
            last
        }
    };
    let Some((at, mode)) = due else {
        return;
    };
    let state = match hub.store.arming() {
        Ok(s) => s,
        Err(e) => {
            tracing::warn!("arming schedule: could not read the mode: {e}");
            return;
        }
    };
    if at > state.updated_ms && state.mode != mode {
        tracing::info!(mode = mode.as_str(), "arming schedule switches the mode");
        if let Err(e) = set_mode(hub, mode).await {
            tracing::warn!("arming schedule: could not switch: {e}");
        }
    }
}

/// Arming as the API shows it: the mode in force, the cameras `home` arms, the
/// schedule and its next switch.
pub fn json(hub: &HubState) -> Result<Value, StoreError> {
    let state = hub.store.arming()?;
    let schedule = schedule(hub);
    let config = ArmingConfig {
        manual_mode: state.mode,
        manual_at_ms: state.updated_ms,
        home_cameras: state.home_cameras.iter().cloned().collect(),
        schedule: schedule.clone(),
    };
    let now = hub.now();
    let next = schedule.next_switch(now);
    Ok(json!({
        "mode": config.mode_at(now).as_str(),
        "home_cameras": state.home_cameras,
        "updated_ms": state.updated_ms,
        "schedule": schedule,
        "next_switch": next.map(|(at, mode)| json!({"at_ms": at, "mode": mode.as_str()})),
    }))
}
