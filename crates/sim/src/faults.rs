//! Carrying out the faults that hit the hub, and judging every fault: when the hub saw
//! it (its live stream) and what the doctor says of it (its live diagnosis endpoint).

use crate::broker::{Mosquitto, MosquittoSpec};
use crate::camera::Control;
use crate::hubproc::{Api, Hub, HubSpec};
use crate::observe::{ProcessCost, Stream};
use crate::owner::ask_doctor;
use crate::report::{self, DoctorAnswer, FaultReport};
use crate::run::{Fleet, SimError, detection_bar_ms, run_err, start_hub};
use crate::scenario::{CameraSpec, FaultKind, PlannedFault};
use serde_json::json;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;
use tokio::time::{Instant, sleep_until};
use watchlight_protocol::{EventKind, ZoneGrid};

/// Kills (or stops) the hub, starts it again after `for_ms`, and waits until every
/// mains camera is connected and every queue empty. Returns the report and the window
/// in which events were held up.
pub(crate) async fn hub_fault(
    f: PlannedFault,
    spec: HubSpec,
    hub: Arc<Mutex<Option<Hub>>>,
    cost: Arc<ProcessCost>,
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
    Ok(recovery(&f, &fleet, start, restarted_at).await)
}

/// Stops the external broker (SIGTERM: it saves what it keeps), starts it again after
/// `for_ms`, and judges recovery as [`hub_fault`] does; the hub stays up throughout.
pub(crate) async fn broker_fault(
    f: PlannedFault,
    spec: MosquittoSpec,
    broker: Arc<Mutex<Option<Mosquitto>>>,
    cost: Arc<ProcessCost>,
    fleet: Arc<Fleet>,
) -> Result<(FaultReport, Instant, Instant), SimError> {
    let start = Instant::now();
    cost.sample();
    let old = broker.lock().unwrap_or_else(|p| p.into_inner()).take();
    if let Some(mut b) = old {
        tokio::task::spawn_blocking(move || b.stop())
            .await
            .map_err(|e| run_err(e.to_string()))?;
    }
    sleep_until(start + Duration::from_millis(f.for_ms)).await;
    let restarted_at = Instant::now();
    let new = tokio::task::spawn_blocking(move || spec.start())
        .await
        .map_err(|e| run_err(e.to_string()))??;
    cost.pid.store(new.pid(), Ordering::Relaxed);
    *broker.lock().unwrap_or_else(|p| p.into_inner()) = Some(new);
    Ok(recovery(&f, &fleet, start, restarted_at).await)
}

/// After a restart of the hub or the broker: how long until every mains camera is
/// connected again and every camera's queue is empty (bounded), and the window in which
/// events were held up.
async fn recovery(
    f: &PlannedFault,
    fleet: &Fleet,
    start: Instant,
    restarted_at: Instant,
) -> (FaultReport, Instant, Instant) {
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
    (
        FaultReport {
            index: f.index + 1,
            kind: f.kind.as_str().into(),
            at_s: f.at_ms as f64 / 1000.0,
            cameras: 0,
            detectable: 0,
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
    )
}

/// At most this many cameras of one fault are asked about through the doctor.
const DOCTOR_SAMPLE: usize = 3;
/// A `rssi_degrade` camera's signal.
const DEGRADED_RSSI_DBM: i32 = -80;
/// `battery_cold`: the frost, the cells' age and how much of the pack is used.
const COLD: (f64, f64, f64) = (-25.0, 12.0, 0.6);
/// How long after the hub noticed a camera gone the owner looks at it and asks the
/// doctor (at least three quarters into the fault, never after it ends).
const OWNER_LOOKS_AFTER: Duration = Duration::from_secs(10);
/// How long after a fault's motion the owner looks for clips and asks the doctor.
const LOOK_AFTER_MOTION: Duration = Duration::from_secs(8);
/// How long a camera may take to run settings the owner changed (a mains camera gets
/// them at once).
const SETTINGS_WAIT: Duration = Duration::from_secs(10);

/// Carries out a fault on cameras and judges it, in a task of its own. Also returns the
/// window in which the fault holds the cameras' events up on purpose, if it does.
pub(crate) fn camera_fault(
    f: PlannedFault,
    fleet: Arc<Fleet>,
    stream: Arc<Stream>,
    api: Arc<RwLock<Api>>,
) -> (tokio::task::JoinHandle<FaultReport>, Option<report::Window>) {
    let start = Instant::now();
    let send = |c: usize, ctl: Control| {
        let _ = fleet.controls[c].send(ctl);
    };
    let for_ms = f.for_ms;
    let mut held = true;
    for &c in &f.cameras {
        match f.kind {
            FaultKind::LinkCut | FaultKind::RouterDown => send(c, Control::LinkCut { for_ms }),
            FaultKind::LinkSilent => send(c, Control::LinkSilent { for_ms }),
            FaultKind::RssiDegrade => send(
                c,
                Control::RssiDegrade {
                    rssi_dbm: DEGRADED_RSSI_DBM,
                    for_ms,
                },
            ),
            FaultKind::WifiPasswordChange => send(c, Control::WifiPasswordChange { for_ms }),
            FaultKind::CameraHang => send(c, Control::Hang { for_ms }),
            FaultKind::BatteryDrain => send(c, Control::BatteryDrain { depth: 1.0 }),
            FaultKind::BatteryCold => send(
                c,
                Control::BatteryCold {
                    temp_c: COLD.0,
                    age_months: COLD.1,
                    depth: COLD.2,
                },
            ),
            FaultKind::SensorFail => send(c, Control::SensorFail),
            // Carried out through the owner's API in the judging task.
            FaultKind::Disarm | FaultKind::ZonesExclude | FaultKind::MotionIndicatorOn => {}
            FaultKind::Motion => send(c, Control::Motion),
            FaultKind::HubKill | FaultKind::HubRestart | FaultKind::BrokerRestart => {}
        }
        held &= matches!(
            f.kind,
            FaultKind::LinkCut
                | FaultKind::LinkSilent
                | FaultKind::RssiDegrade
                | FaultKind::RouterDown
                | FaultKind::WifiPasswordChange
                | FaultKind::CameraHang
        );
    }
    let window = (held && !f.cameras.is_empty()).then(|| report::Window {
        from: start,
        to: start + Duration::from_millis(f.for_ms + 30_000),
        cameras: Some(f.cameras.iter().copied().collect()),
    });
    let task = tokio::spawn(async move {
        match f.kind {
            FaultKind::BatteryDrain => {
                judge_event_fault(f, start, fleet, api, EventKind::BatteryCritical).await
            }
            FaultKind::BatteryCold => {
                judge_event_fault(f, start, fleet, api, EventKind::BatteryLow).await
            }
            FaultKind::SensorFail => {
                // Motion passes while the sensor is dead: no clip comes of it.
                for &c in &f.cameras {
                    let _ = fleet.controls[c].send(Control::Motion);
                }
                judge_event_fault(f, start, fleet, api, EventKind::SelfTestFailed).await
            }
            FaultKind::Disarm | FaultKind::ZonesExclude | FaultKind::MotionIndicatorOn => {
                settings_fault(f, fleet, api).await
            }
            FaultKind::Motion => judge_motion(f, start, fleet, api).await,
            _ => judge_link_fault(f, start, fleet, stream, api).await,
        }
    });
    (task, window)
}

async fn judge_link_fault(
    f: PlannedFault,
    start: Instant,
    fleet: Arc<Fleet>,
    stream: Arc<Stream>,
    api: Arc<RwLock<Api>>,
) -> FaultReport {
    let specs = &fleet.specs;
    // A battery camera asleep through an outage shorter than its bar never misses a
    // check-in: the hub cannot see it, and need not.
    let detectable: Vec<usize> = f
        .cameras
        .iter()
        .copied()
        .filter(|&c| {
            !specs[c].profile.profile().on_battery() || f.for_ms >= detection_bar_ms(&specs[c])
        })
        .collect();
    let bar = detectable
        .iter()
        .map(|&c| detection_bar_ms(&specs[c]))
        .max()
        .unwrap_or(0);
    // Wait for every camera's offline notice, up to twice the bar and the fault.
    let by = start + Duration::from_millis((2 * bar).min(f.for_ms.max(bar)) + 2_000);
    let mut latencies = Vec::new();
    let mut detected = Vec::new();
    let mut remaining: Vec<usize> = detectable.clone();
    while !remaining.is_empty() && Instant::now() < by {
        let mut still = Vec::new();
        for c in remaining {
            match stream.first(c, "offline", start) {
                Some(at) => {
                    latencies.push(at.duration_since(start).as_millis() as u64);
                    detected.push(c);
                }
                None => still.push(c),
            }
        }
        remaining = still;
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // The owner looks a while after the hub said so (walks up to the camera, watches
    // it drop again), while the fault still holds.
    let noticed = start + Duration::from_millis(latencies.iter().copied().max().unwrap_or(0));
    let ask_at = (noticed + OWNER_LOOKS_AFTER)
        .max(start + Duration::from_millis(f.for_ms * 3 / 4))
        .min(start + Duration::from_millis(f.for_ms.saturating_sub(1_000)));
    sleep_until(ask_at).await;
    let asked = spread(&detected, specs);
    let doctor = ask_doctor(&api, &fleet, &f, &asked, start).await;
    let within = remaining.is_empty() && latencies.iter().all(|&l| l <= bar);
    let mut r = finish_camera_fault(&f, latencies, Some(bar), within, doctor);
    r.detectable = detectable.len();
    r
}

/// Up to [`DOCTOR_SAMPLE`] of `cameras`, taken from each fleet group in turn (a fault
/// that hits the whole home is asked about on cameras of every kind).
fn spread(cameras: &[usize], specs: &[CameraSpec]) -> Vec<usize> {
    let mut groups: Vec<Vec<usize>> = Vec::new();
    for &c in cameras {
        let g = specs[c].group;
        if groups.len() <= g {
            groups.resize(g + 1, Vec::new());
        }
        groups[g].push(c);
    }
    let mut out = Vec::new();
    for round in 0.. {
        let before = out.len();
        for g in &groups {
            if let Some(&c) = g.get(round)
                && out.len() < DOCTOR_SAMPLE
            {
                out.push(c);
            }
        }
        if out.len() == before || out.len() == DOCTOR_SAMPLE {
            break;
        }
    }
    out
}

/// A fault the camera reports itself: detected when its event (`want`) is on the
/// hub's live stream.
async fn judge_event_fault(
    f: PlannedFault,
    start: Instant,
    fleet: Arc<Fleet>,
    api: Arc<RwLock<Api>>,
    want: EventKind,
) -> FaultReport {
    let by = start + Duration::from_millis(f.for_ms.max(30_000));
    let mut seen: Vec<(usize, u64)> = Vec::new();
    while seen.len() < f.cameras.len() && Instant::now() < by {
        seen = f
            .cameras
            .iter()
            .filter_map(|&c| first_on_stream(&fleet, c, want, start).map(|ms| (c, ms)))
            .collect();
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // The owner asks once the camera had time to show what it shows (a flash).
    tokio::time::sleep(Duration::from_secs(2)).await;
    let asked: Vec<usize> = seen.iter().map(|&(c, _)| c).take(DOCTOR_SAMPLE).collect();
    if f.kind.with_motion() {
        sleep_until(start + LOOK_AFTER_MOTION).await;
    }
    let doctor = ask_doctor(&api, &fleet, &f, &asked, start).await;
    let latencies: Vec<u64> = seen.iter().map(|&(_, ms)| ms).collect();
    let within = latencies.len() == f.cameras.len();
    finish_camera_fault(&f, latencies, None, within, doctor)
}

/// When camera `c`'s first `kind` event made since `from` reached the live stream, ms
/// after `from`.
fn first_on_stream(fleet: &Fleet, c: usize, kind: EventKind, from: Instant) -> Option<u64> {
    let ledger = fleet
        .shared
        .ledger
        .lock()
        .unwrap_or_else(|p| p.into_inner());
    ledger
        .events
        .iter()
        .filter(|((cam, _), r)| *cam == c && r.kind == kind && r.created >= from)
        .filter_map(|(_, r)| r.sse_at)
        .min()
        .map(|at| at.duration_since(from).as_millis() as u64)
}

/// The owner changes the cameras' settings in the app, waits until each runs them,
/// then motion passes.
async fn settings_fault(f: PlannedFault, fleet: Arc<Fleet>, api: Arc<RwLock<Api>>) -> FaultReport {
    let patch = match f.kind {
        FaultKind::Disarm => json!({"armed": false}),
        FaultKind::MotionIndicatorOn => json!({"motion_indicator": true}),
        // Only the top row watched (the road far off): where people pass is left out.
        _ => {
            let cells: Vec<bool> = (0..ZoneGrid::DEFAULT_ROWS)
                .flat_map(|r| (0..ZoneGrid::DEFAULT_COLS).map(move |_| r == 0))
                .collect();
            json!({"zones": {"cols": ZoneGrid::DEFAULT_COLS, "rows": ZoneGrid::DEFAULT_ROWS, "enabled": cells}})
        }
    };
    let a = api.read().unwrap_or_else(|p| p.into_inner()).clone();
    let mut versions = Vec::new();
    for &c in &f.cameras {
        let before = fleet.status[c].settings_version.load(Ordering::Relaxed);
        let device = fleet.specs[c].device_id();
        match a
            .patch(&format!("/api/v1/cameras/{device}/settings"), &patch)
            .await
        {
            Ok((200, _)) => {}
            Ok((status, body)) => tracing::warn!(device, status, %body, "settings refused"),
            Err(e) => tracing::warn!(device, "settings: {e}"),
        }
        versions.push((c, before));
    }
    let by = Instant::now() + SETTINGS_WAIT;
    while Instant::now() < by
        && versions
            .iter()
            .any(|&(c, v)| fleet.status[c].settings_version.load(Ordering::Relaxed) <= v)
    {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let moved = Instant::now();
    for &c in &f.cameras {
        let _ = fleet.controls[c].send(Control::Motion);
    }
    judge_motion(f, moved, fleet, api).await
}

async fn judge_motion(
    f: PlannedFault,
    start: Instant,
    fleet: Arc<Fleet>,
    api: Arc<RwLock<Api>>,
) -> FaultReport {
    // The doctor is asked once the motion's events are in.
    sleep_until(start + LOOK_AFTER_MOTION).await;
    let asked: Vec<usize> = f.cameras.iter().copied().take(DOCTOR_SAMPLE).collect();
    let doctor = ask_doctor(&api, &fleet, &f, &asked, start).await;
    let mut r = finish_camera_fault(&f, Vec::new(), None, true, doctor);
    // Nothing for the hub to detect: the camera does its job, or what the owner set.
    r.detectable = 0;
    r
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
        detectable: f.cameras.len(),
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
