//! Monthly health reports: made when the home's local month turns on the hub's clock
//! (the offset is the arming schedule's) and on demand, from the store's history, and
//! stored with their JSON so the API serves them as JSON or text.

use super::{arming, battery, lock};
use crate::state::HubState;
use serde_json::{Value, json};
use watchlight_care::report::{self, CameraMonth, Finding, HealthReport, Period};
use watchlight_protocol::messages::Availability;
use watchlight_store::{Metric, ReportTrigger, Resolution, StoreError, StoredReport};

/// Makes the monthly report when the month turned.
pub(super) fn tick(hub: &HubState, now: u64) {
    let offset = arming::utc_offset_minutes(hub);
    let last = *lock(&hub.care.report_last_run);
    let Some(period) = report::due(last, now, offset) else {
        return;
    };
    // Marked first: a failing store is logged once a month, not every tick.
    *lock(&hub.care.report_last_run) = Some(now);
    match generate(hub, period, now, ReportTrigger::Monthly) {
        Ok(stored) => {
            tracing::info!(id = stored.id, month = %stored.month, "monthly report made");
            hub.emit(
                "report",
                None,
                json!({"id": stored.id, "month": stored.month}),
            );
        }
        Err(e) => tracing::warn!("could not make the monthly report: {e}"),
    }
}

/// The report of the current local month so far, stored.
pub fn on_demand(hub: &HubState) -> Result<StoredReport, StoreError> {
    let now = hub.now();
    let period = Period::containing(now, arming::utc_offset_minutes(hub));
    generate(hub, period, now, ReportTrigger::OnDemand)
}

/// Gathers every camera's month, builds the report and stores it.
pub fn generate(
    hub: &HubState,
    period: Period,
    now: u64,
    trigger: ReportTrigger,
) -> Result<StoredReport, StoreError> {
    let mut months = Vec::new();
    for d in hub.store.devices()? {
        let removed_before = d.removed_ms.is_some_and(|r| r < period.from_ms);
        if removed_before || d.created_ms >= period.to_ms {
            continue;
        }
        months.push(camera_month(hub, &d.id, &period, now)?);
    }
    let built = report::build(period.clone(), now, &months);
    let doc = serde_json::to_value(&built).expect("reports serialize");
    let id = hub.store.add_report(
        &period.month,
        period.from_ms,
        period.to_ms,
        now,
        trigger,
        &doc,
    )?;
    Ok(StoredReport {
        id,
        month: period.month,
        from_ms: period.from_ms,
        to_ms: period.to_ms,
        generated_ms: now,
        trigger: trigger.as_str().into(),
        doc,
    })
}

fn availability(s: &str) -> Option<Availability> {
    serde_json::from_value(Value::String(s.to_string())).ok()
}

fn camera_month(
    hub: &HubState,
    device: &str,
    period: &Period,
    now: u64,
) -> Result<CameraMonth, StoreError> {
    let store = &hub.store;
    let name = store.settings(device).map(|s| s.name).unwrap_or_default();
    let (from, to) = (period.from_ms, period.to_ms);

    let mut transitions = Vec::new();
    if let Some((at, a)) = store.availability_before(device, from)?
        && let Some(a) = availability(&a)
    {
        transitions.push((at, a));
    }
    let history = store.availability_history(device, from, to)?;
    let missed = history
        .iter()
        .filter(|c| c.reason == "checkin_missed")
        .count() as u32;
    transitions.extend(history.iter().map(|c| (c.ts_ms, c.availability)));

    // Signal: the raw samples still kept, and the summaries' means for older ones.
    // (Summaries only before the first raw sample, so none counts twice.)
    let raw = store.telemetry(device, from, to)?;
    let raw_from = raw.first().map(|t| t.ts).unwrap_or(to);
    let mut rssi: Vec<i32> = raw.iter().filter_map(|t| t.rssi_dbm).collect();
    for res in [Resolution::FiveMinutes, Resolution::Hourly] {
        rssi.extend(
            store
                .telemetry_summaries(device, res, from, raw_from)?
                .iter()
                .filter(|s| s.metric == Metric::RssiDbm)
                .map(|s| s.mean.round() as i32),
        );
    }

    let clips = store.list_clips(Some(device), from, to, 1_000_000)?;
    let clip_bytes = clips
        .iter()
        .map(|c| c.video.map(|v| v.bytes).unwrap_or(0) + c.thumbnail.map(|t| t.bytes).unwrap_or(0))
        .sum();
    let findings = store
        .findings(Some(device), from, to)?
        .into_iter()
        .map(|f| Finding {
            at_ms: f.at_ms,
            condition: f.condition,
            summary: f.summary,
        })
        .collect();
    Ok(CameraMonth {
        camera: device.into(),
        name,
        battery: battery::latest(hub, device, now.min(to)),
        rssi_dbm: rssi,
        availability: transitions,
        missed_checkins: missed,
        clips: clips.len() as u32,
        clip_bytes,
        findings,
        since_ms: store
            .device(device)?
            .map(|d| d.first_connected_ms.unwrap_or(d.created_ms)),
    })
}

/// A stored report as the API lists it (`with_doc`: with the report itself).
pub fn json(r: &StoredReport, with_doc: bool) -> Value {
    let mut v = json!({
        "id": r.id,
        "month": r.month,
        "from_ms": r.from_ms,
        "to_ms": r.to_ms,
        "generated_ms": r.generated_ms,
        "trigger": r.trigger,
    });
    if with_doc {
        v["report"] = r.doc.clone();
    }
    v
}

/// The report as the owner reads it.
pub fn text(r: &StoredReport) -> Result<String, serde_json::Error> {
    let report: HealthReport = serde_json::from_value(r.doc.clone())?;
    Ok(report.render_text())
}
