//! The doctor, unasked: when a camera's offline notice goes out (past the router's hold,
//! so not for a flap) or it reports a telling event, the hub
//! diagnoses that camera's case (the one `GET /cameras/{id}/diagnosis` shows) and, when it
//! is sure, tells the owner the cause and the first repair as a `doctor_finding`.
//!
//! The decision ([`finding`]) is a pure function of the case and the priors; [`check`]
//! reads the case from the hub and sends, unless the same finding was told within the
//! router's repeat window (so the hub may check on every occasion).

use crate::doctor_case;
use crate::state::HubState;
use watchlight_care::notify::RouterConfig;
use watchlight_doctor::diagnose::StepKind;
use watchlight_doctor::infer::title;
use watchlight_doctor::session::action_text;
use watchlight_doctor::{Case, FaultId, Priors, StepAction, diagnose};
use watchlight_store::FindingRow;

/// How sure the doctor must be of its top cause to tell the owner without being asked.
/// A push that is wrong costs the owner's trust in every later one (and may send them to
/// buy batteries or call support for nothing); below this the owner who asks gets the
/// ranking and the questions that settle it, which is the better answer then.
pub const UNASKED_MIN_P: f64 = 0.8;

/// What to tell the owner about the camera named `name`, if the doctor is sure enough of
/// a fault in `case`: the fault and one or two plain sentences (the cause, how sure, why,
/// and the first repair with its cost). `None` when the top cause is `no_fault` or its
/// probability is under [`UNASKED_MIN_P`].
pub fn finding(case: &Case, priors: &Priors, name: &str) -> Option<(FaultId, String)> {
    let diagnosis = diagnose(case, priors);
    let top = diagnosis.causes.first()?;
    if top.id == FaultId::NoFault || top.p.is_nan() || top.p < UNASKED_MIN_P {
        return None;
    }
    let cause = title(top.id);
    // The doctor's reason starts with the same title ("<title>: <findings>."): say the
    // title once.
    let reasons = top
        .why
        .strip_prefix(cause)
        .and_then(|rest| rest.strip_prefix(": "))
        .map(|rest| rest.trim_end_matches('.').to_string());
    let pct = (top.p * 100.0).floor();
    let mut summary = match reasons {
        Some(r) if !r.is_empty() => format!("{name}: {cause} ({pct:.0} % sure): {r}."),
        _ => format!("{name}: {cause} ({pct:.0} % sure). {}", top.why),
    };
    let first_repair = diagnosis
        .plan
        .iter()
        .find_map(|s| match (s.kind, s.action) {
            (StepKind::Repair, StepAction::Repair(a)) => Some((a, s.cost_min)),
            _ => None,
        });
    if let Some((action, minutes)) = first_repair {
        summary.push_str(&format!(
            " First step (about {minutes:.0} min): {}",
            action_text(action)
        ));
    }
    Some((top.id, summary))
}

/// Runs the doctor on `camera`'s case as the hub sees it now and sends a
/// `doctor_finding` when [`finding`] has one. Never fails its caller: a camera that is
/// gone or a store that cannot be read is logged and the check skipped.
pub async fn check(hub: &HubState, camera: &str) {
    let device = match hub.store.device(camera) {
        Ok(Some(d)) if d.removed_ms.is_none() => d,
        Ok(_) => {
            tracing::debug!(
                camera,
                "doctor: no such camera (removed?), nothing to check"
            );
            return;
        }
        Err(e) => {
            tracing::warn!(camera, "doctor: could not read the camera: {e}");
            return;
        }
    };
    let now = hub.now();
    let case = match doctor_case::case_now(hub, &device, now) {
        Ok(case) => case,
        Err(e) => {
            tracing::warn!(camera, "doctor: could not gather the case: {e}");
            return;
        }
    };
    let priors = crate::api::learned_priors(hub).unwrap_or_else(|e| {
        tracing::warn!(
            camera,
            "doctor: learned priors unreadable, using the shipped ones: {e:?}"
        );
        Priors::default()
    });
    // A camera paired without a name is called by its id.
    let name = if device.name.trim().is_empty() {
        &device.id
    } else {
        &device.name
    };
    let Some((fault, summary)) = finding(&case, &priors, name) else {
        tracing::debug!(camera, "doctor: not sure enough to tell the owner");
        return;
    };
    if told_lately(hub, camera, fault, now) {
        tracing::debug!(
            camera,
            fault = fault.as_str(),
            "doctor: the owner was told lately"
        );
        return;
    }
    tracing::info!(camera, fault = fault.as_str(), "doctor: telling the owner");
    super::doctor_finding(hub, camera, fault.as_str(), &summary).await;
}

/// Faults of the home rather than of one camera, told once for the home: a router that
/// is down takes every camera with it, and a finding per camera would be the storm the
/// router's single `network_down` notice is there to prevent.
const HOME_FAULTS: [FaultId; 2] = [FaultId::NetworkDown, FaultId::StorageFull];

/// Whether the same finding (about `camera`, or about any camera for a [`HOME_FAULTS`]
/// fault) is already stored from the last [`RouterConfig::repeat_ms`]. The router would
/// drop a repeat for the same camera anyway, but `doctor_finding` stores every call (the
/// monthly report lists each row), and a camera that drops every hour would fill the
/// owner's report with one cause; the stored rows also outlive a restart, which the
/// router's memory does not. A store that cannot be read does not stop the finding.
fn told_lately(hub: &HubState, camera: &str, fault: FaultId, now: u64) -> bool {
    let repeat_ms = RouterConfig::new(hub.home.as_str()).repeat_ms;
    match hub
        .store
        .findings(None, now.saturating_sub(repeat_ms), now + 1)
    {
        Ok(rows) => already_told(&rows, camera, fault),
        Err(e) => {
            tracing::warn!(camera, "doctor: could not read earlier findings: {e}");
            false
        }
    }
}

/// Whether `rows` (the findings of the repeat window) tell `fault` about `camera`
/// already: the same condition about the same camera, or about any camera for a fault of
/// the home.
fn already_told(rows: &[FindingRow], camera: &str, fault: FaultId) -> bool {
    let home = HOME_FAULTS.contains(&fault);
    rows.iter()
        .any(|r| r.condition == fault.as_str() && (home || r.camera == camera))
}

#[cfg(test)]
mod tests {
    use super::*;
    use watchlight_doctor::{ActionId, CaseSettings, HubNetwork, SeenAvailability};
    use watchlight_protocol::{EventKind, ProfileId};

    /// An armed camera the hub hears well, nothing reported.
    fn healthy(profile: ProfileId) -> Case {
        let mut c = Case {
            profile: Some(profile),
            ..Case::default()
        };
        let t = &mut c.telemetry;
        t.availability = Some(SeenAvailability::Online);
        t.minutes_since_seen = Some(0.5);
        t.rssi_dbm = vec![-58.0, -60.0, -59.0];
        t.reconnects_last_hour = Some(0.0);
        t.hub_answered = Some(true);
        t.hub_network = Some(HubNetwork::Ok);
        t.fleet_offline_fraction = Some(0.0);
        t.hub_storage_free_pct = Some(60.0);
        t.clips_last_day = Some(9.0);
        t.clips_per_day_usual = Some(10.0);
        t.settings = Some(CaseSettings {
            armed: Some(true),
            motion_detection: Some(true),
            motion_indicator: Some(false),
        });
        t.recent_events = Some(Vec::new());
        c
    }

    /// Gone a few minutes ago right after reporting a critical battery.
    fn battery_gone(loaded_mv: Option<f64>) -> Case {
        let mut c = healthy(ProfileId::Outdoor);
        let t = &mut c.telemetry;
        t.availability = Some(SeenAvailability::Offline);
        t.minutes_since_seen = Some(3.0);
        t.clips_last_day = None;
        t.clips_per_day_usual = None;
        t.recent_events = Some(vec![EventKind::BatteryLow, EventKind::BatteryCritical]);
        if let Some(mv) = loaded_mv {
            t.battery_resting_mv = vec![2700.0, 2650.0];
            t.battery_loaded_mv = vec![2450.0, mv];
        }
        c
    }

    #[test]
    fn a_dead_battery_is_told_with_the_replacement_first() {
        let (fault, summary) =
            finding(&battery_gone(Some(2300.0)), &Priors::default(), "Porch").expect("sure");
        assert_eq!(fault, FaultId::BatteryDead);
        assert!(
            summary.starts_with("Porch: The batteries are exhausted (")
                && summary.contains("% sure): ")
                && summary.contains("2.30 V under load"),
            "{summary}"
        );
        assert!(
            summary.ends_with(&format!(
                "First step (about 5 min): {}",
                action_text(ActionId::ReplaceBatteries)
            )),
            "{summary}"
        );
        // The title is said once, not again from the doctor's reason.
        assert_eq!(
            summary.matches("The batteries are exhausted").count(),
            1,
            "{summary}"
        );
    }

    #[test]
    fn a_camera_behaving_as_designed_is_not_news_however_sure() {
        let c = healthy(ProfileId::Mini);
        let d = diagnose(&c, &Priors::default());
        assert_eq!(d.causes[0].id, FaultId::NoFault, "{:?}", d.causes[0]);
        assert!(d.causes[0].p >= UNASKED_MIN_P, "{:?}", d.causes[0]);
        assert_eq!(finding(&c, &Priors::default(), "Hall"), None);
    }

    #[test]
    fn under_the_threshold_the_owner_is_not_told_even_of_the_top_cause() {
        let c = battery_gone(None);
        let sure = diagnose(&c, &Priors::default());
        assert_eq!(sure.causes[0].id, FaultId::BatteryDead);
        assert!(sure.causes[0].p >= UNASKED_MIN_P, "{:?}", sure.causes[0]);
        assert!(finding(&c, &Priors::default(), "Porch").is_some());
        // This home's owners confirmed stuck firmware on outdoor cameras often: the same
        // case still ranks the batteries first, but no longer surely.
        let mut learned = Priors::default();
        learned.confirm(Some(ProfileId::Outdoor), FaultId::FirmwareFault, 40.0);
        let unsure = diagnose(&c, &learned);
        assert_eq!(unsure.causes[0].id, FaultId::BatteryDead);
        assert!(unsure.causes[0].p < UNASKED_MIN_P, "{:?}", unsure.causes[0]);
        assert_eq!(finding(&c, &learned, "Porch"), None);
    }

    #[test]
    fn a_told_finding_is_not_told_again_and_a_home_fault_once_for_the_home() {
        let row = |camera: &str, condition: &str| FindingRow {
            id: 1,
            at_ms: 0,
            camera: camera.into(),
            condition: condition.into(),
            summary: String::new(),
        };
        let rows = [row("cam-a", "battery_dead"), row("cam-a", "network_down")];
        assert!(already_told(&rows, "cam-a", FaultId::BatteryDead));
        // Another camera's batteries are news; another cause of this camera too.
        assert!(!already_told(&rows, "cam-b", FaultId::BatteryDead));
        assert!(!already_told(&rows, "cam-a", FaultId::HardwareFault));
        // The router down is the home's: told for one camera, told for all.
        assert!(already_told(&rows, "cam-b", FaultId::NetworkDown));
        assert!(!already_told(&rows, "cam-b", FaultId::StorageFull));
        assert!(already_told(
            &[row("cam-a", "storage_full")],
            "cam-b",
            FaultId::StorageFull
        ));
    }
}
