//! Carrying out the faults that hit the hub, and judging every fault: when the hub saw
//! it (its live stream) and what the doctor says of it (its live diagnosis endpoint).

use crate::hubproc::{Api, Hub, HubSpec};
use crate::observe::{HubCost, Stream};
use crate::report::{self, DoctorAnswer, FaultReport};
use crate::run::{Fleet, SimError, detection_bar_ms, run_err, start_hub};
use crate::scenario::{CameraSpec, FaultKind, PlannedFault};
use serde_json::Value;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;
use tokio::time::{Instant, sleep_until};

/// Kills (or stops) the hub, starts it again after `for_ms`, and waits until every
/// mains camera is connected and every queue empty. Returns the report and the window
/// in which events were held up.
pub(crate) async fn hub_fault(
    f: PlannedFault,
    spec: HubSpec,
    hub: Arc<Mutex<Option<Hub>>>,
    cost: Arc<HubCost>,
    api: Arc<RwLock<Api>>,
    fleet: Arc<Fleet>,
) -> Result<(FaultReport, Instant, Instant), SimError> {
    let start = Instant::now();
    cost.sample();
    let old = hub.lock().unwrap_or_else(|p| p.into_inner()).take();
    if let Some(mut h) = old {
        let kill = f.kind == FaultKind::HubKill;
        tokio::task::spawn_blocking(move || if kill { h.kill9() } else { h.stop() })
            .await
            .map_err(|e| run_err(e.to_string()))?;
    }
    sleep_until(start + Duration::from_millis(f.for_ms)).await;
    let restarted_at = Instant::now();
    let new = start_hub(&spec).await?;
    cost.pid.store(new.pid(), Ordering::Relaxed);
    let fresh = Api::login(&new.http_url, new.cert_pem.as_deref()).await?;
    *hub.lock().unwrap_or_else(|p| p.into_inner()) = Some(new);
    *api.write().unwrap_or_else(|p| p.into_inner()) = fresh;
    let up_s = restarted_at.elapsed().as_secs_f64();
    let by = Instant::now()
        + Duration::from_secs(120)
        + Duration::from_millis(30 * fleet.specs.len() as u64);
    while !fleet.all_connected(true) && Instant::now() < by {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let recovered = fleet
        .all_connected(true)
        .then(|| restarted_at.elapsed().as_secs_f64());
    while fleet.queued() > 0 && Instant::now() < by {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let drained = (fleet.queued() == 0).then(|| restarted_at.elapsed().as_secs_f64());
    let done = Instant::now();
    Ok((
        FaultReport {
            index: f.index + 1,
            kind: f.kind.as_str().into(),
            at_s: f.at_ms as f64 / 1000.0,
            cameras: 0,
            expect: None,
            detected: 0,
            detection_ms: report::Summary::default(),
            bar_ms: None,
            within_bar: true,
            doctor: Vec::new(),
            doctor_right: 0,
            hub_up_s: Some(up_s),
            recovery_s: recovered,
            drained_s: drained,
        },
        start,
        done,
    ))
}

/// At most this many cameras of one fault are asked about through the doctor.
const DOCTOR_SAMPLE: usize = 3;

pub(crate) async fn judge_link_fault(
    f: PlannedFault,
    start: Instant,
    specs: Vec<CameraSpec>,
    stream: Arc<Stream>,
    api: Arc<RwLock<Api>>,
) -> FaultReport {
    let bar = f
        .cameras
        .iter()
        .map(|&c| detection_bar_ms(&specs[c]))
        .max()
        .unwrap_or(0);
    // Wait for every camera's offline notice, up to twice the bar and the fault.
    let by = start + Duration::from_millis((2 * bar).min(f.for_ms.max(bar)) + 2_000);
    let mut latencies = Vec::new();
    let mut asked = Vec::new();
    let mut remaining: Vec<usize> = f.cameras.clone();
    while !remaining.is_empty() && Instant::now() < by {
        let mut still = Vec::new();
        for c in remaining {
            match stream.first(c, "offline", start) {
                Some(at) => {
                    latencies.push(at.duration_since(start).as_millis() as u64);
                    if asked.len() < DOCTOR_SAMPLE {
                        asked.push(c);
                    }
                }
                None => still.push(c),
            }
        }
        remaining = still;
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let a = api.read().unwrap_or_else(|p| p.into_inner()).clone();
    let doctor = ask_doctor(&a, &specs, &asked).await;
    let within = remaining.is_empty() && latencies.iter().all(|&l| l <= bar);
    finish_camera_fault(&f, latencies, Some(bar), within, doctor)
}

pub(crate) async fn judge_motion(
    f: PlannedFault,
    start: Instant,
    specs: Vec<CameraSpec>,
    api: Arc<RwLock<Api>>,
) -> FaultReport {
    // The doctor is asked once the motion's events are in.
    sleep_until(start + Duration::from_secs(6)).await;
    let a = api.read().unwrap_or_else(|p| p.into_inner()).clone();
    let asked: Vec<usize> = f.cameras.iter().copied().take(DOCTOR_SAMPLE).collect();
    let doctor = ask_doctor(&a, &specs, &asked).await;
    finish_camera_fault(&f, Vec::new(), None, true, doctor)
}

fn finish_camera_fault(
    f: &PlannedFault,
    latencies: Vec<u64>,
    bar: Option<u64>,
    within: bool,
    doctor: Vec<DoctorAnswer>,
) -> FaultReport {
    let expect = f.expect.map(|e| e.as_str().to_string());
    let right = doctor
        .iter()
        .filter(|d| Some(&d.top) == expect.as_ref())
        .count();
    FaultReport {
        index: f.index + 1,
        kind: f.kind.as_str().into(),
        at_s: f.at_ms as f64 / 1000.0,
        cameras: f.cameras.len(),
        expect,
        detected: latencies.len(),
        detection_ms: report::Summary::of(latencies),
        bar_ms: bar,
        within_bar: within,
        doctor,
        doctor_right: right,
        hub_up_s: None,
        recovery_s: None,
        drained_s: None,
    }
}

async fn ask_doctor(api: &Api, specs: &[CameraSpec], cameras: &[usize]) -> Vec<DoctorAnswer> {
    let mut out = Vec::new();
    for &c in cameras {
        let device = specs[c].device_id();
        match api
            .get(&format!("/api/v1/cameras/{device}/diagnosis"))
            .await
        {
            Ok(v) => {
                let top = &v["causes"][0];
                let step = &v["plan"][0];
                out.push(DoctorAnswer {
                    device,
                    top: top["id"].as_str().unwrap_or("").to_string(),
                    p: top["p"].as_f64().unwrap_or(0.0),
                    first_step: step["action"]
                        .as_str()
                        .or_else(|| step["question"].as_str())
                        .map(str::to_string)
                        .or_else(|| step.get("text").and_then(Value::as_str).map(str::to_string)),
                });
            }
            Err(e) => out.push(DoctorAnswer {
                device,
                top: format!("error: {e}"),
                p: 0.0,
                first_step: None,
            }),
        }
    }
    out
}
