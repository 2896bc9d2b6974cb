//! A run: start the hub, pair the fleet, let it live for the scenario's duration with
//! its faults, drain every camera's queue, check every event in the API, report.

use crate::broker::MosquittoSpec;
use crate::camera::{Camera, Control, Ledger, Shared, Status};
use crate::hubproc::{Api, Hub, HubSpec};
use crate::observe::{self, ProcessCost, Stream};
use crate::provision::{self, Book, Entry};
use crate::report::{self, Report};
use crate::scenario::{BrokerKind, CameraSpec, FaultKind, Scenario};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;
use tokio::sync::{Semaphore, mpsc};
use tokio::time::{Instant, sleep_until};
use watchlight_protocol::Settings;

#[derive(Debug, thiserror::Error)]
pub enum SimError {
    #[error(transparent)]
    Hub(#[from] crate::hubproc::HubError),
    #[error("{0}")]
    Run(String),
}

pub(crate) fn run_err(msg: impl Into<String>) -> SimError {
    SimError::Run(msg.into())
}

pub struct Options {
    /// The `watchlight` binary (the hub is `watchlight hub`).
    pub bin: PathBuf,
    pub scenario: Scenario,
    /// Keep the hub's data (and its log, `<data>.log`) here; a temporary folder otherwise.
    pub data: Option<PathBuf>,
    /// Say what the run is doing on stderr.
    pub progress: bool,
}

/// How long the hub may take to mark a camera offline (SPEC §10): mains 1.5 keepalives
/// + 1 s; battery 2 check-ins + 10 s.
pub fn detection_bar_ms(spec: &CameraSpec) -> u64 {
    let s = Settings::default();
    if spec.profile.profile().on_battery() {
        2 * u64::from(s.checkin_interval) * 1000 + 10_000
    } else {
        u64::from(s.keepalive) * 1500 + 1000
    }
}

/// Raises this process's open-file limit to its hard limit (and the hard limit as far
/// as the system lets a privileged process); the hub started from here inherits it.
/// Returns the soft limit now.
pub fn raise_nofile() -> u64 {
    use rustix::process::{Resource, getrlimit, setrlimit};
    let mut lim = getrlimit(Resource::Nofile);
    let wanted = 1u64 << 20;
    let hard = lim.maximum.unwrap_or(wanted);
    if hard < wanted {
        let mut more = lim;
        more.maximum = Some(wanted);
        more.current = Some(wanted);
        if setrlimit(Resource::Nofile, more).is_ok() {
            return wanted;
        }
    }
    lim.current = Some(hard);
    let _ = setrlimit(Resource::Nofile, lim);
    getrlimit(Resource::Nofile).current.unwrap_or(0)
}

pub(crate) struct Fleet {
    pub(crate) specs: Vec<CameraSpec>,
    pub(crate) controls: Vec<mpsc::UnboundedSender<Control>>,
    pub(crate) status: Vec<Arc<Status>>,
    pub(crate) shared: Arc<Shared>,
}

impl Fleet {
    pub(crate) fn all_connected(&self, mains_only: bool) -> bool {
        self.specs.iter().zip(&self.status).all(|(c, s)| {
            (mains_only && c.profile.profile().on_battery()) || s.connected.load(Ordering::Relaxed)
        })
    }

    /// Cameras with motion or a recording under way (more events to come).
    pub(crate) fn busy(&self) -> usize {
        self.status
            .iter()
            .filter(|s| s.busy.load(Ordering::Relaxed))
            .count()
    }

    pub(crate) fn queued(&self) -> u64 {
        self.status
            .iter()
            .map(|s| s.queued.load(Ordering::Relaxed))
            .sum()
    }
}

fn say(progress: bool, t0: Instant, msg: &str) {
    if progress {
        eprintln!("[sim {:>7.1}s] {msg}", t0.elapsed().as_secs_f64());
    }
}

pub async fn run(opts: Options) -> Result<Report, SimError> {
    let t_start = Instant::now();
    let sc = &opts.scenario;
    let progress = opts.progress;
    let nofile = raise_nofile();
    // The clip every camera uploads, made once before anything starts.
    let sample = tokio::task::spawn_blocking(crate::clip::SampleClip::make)
        .await
        .map_err(|e| run_err(e.to_string()))?
        .map_err(|e| run_err(format!("making the sample clip: {e}")))?;
    let tmp;
    let data = match &opts.data {
        Some(d) => d.join("hub"),
        None => {
            tmp = tempfile::Builder::new()
                .prefix("watchlight-sim-")
                .tempdir()
                .map_err(|e| run_err(format!("temporary folder: {e}")))?;
            tmp.path().join("hub")
        }
    };
    let mut spec = HubSpec::new(&opts.bin, &data, sc.insecure)?;
    spec.create_owner()?;
    // An external broker starts first and outlives the hub's restarts.
    let (broker_spec, broker, broker_cost) = match sc.broker {
        BrokerKind::Embedded => (None, Arc::new(Mutex::new(None)), None),
        BrokerKind::Mosquitto => {
            let b = MosquittoSpec::configure(&spec)?;
            spec.broker_args = b.hub_args();
            let started = {
                let b = b.clone();
                tokio::task::spawn_blocking(move || b.start())
                    .await
                    .map_err(|e| run_err(e.to_string()))??
            };
            let cost = Arc::new(ProcessCost::default());
            cost.pid.store(started.pid(), Ordering::Relaxed);
            (Some(b), Arc::new(Mutex::new(Some(started))), Some(cost))
        }
    };
    let hub = Arc::new(Mutex::new(Some(start_hub(&spec).await?)));
    let (mqtt_url, http_url, cert) = {
        let h = hub.lock().unwrap_or_else(|p| p.into_inner());
        let h = h.as_ref().expect("started");
        (h.mqtt_url.clone(), h.http_url.clone(), h.cert_pem.clone())
    };
    let cost = Arc::new(ProcessCost::default());
    cost.pid.store(hub_pid(&hub), Ordering::Relaxed);
    let sampler = tokio::spawn(observe::sample_process(cost.clone()));
    let broker_sampler = broker_cost
        .clone()
        .map(|c| tokio::spawn(observe::sample_process(c)));
    let api = Api::login(&http_url, cert.as_deref()).await?;
    let api = Arc::new(RwLock::new(api));
    say(
        progress,
        t_start,
        &format!("hub up at {mqtt_url}; open files allowed: {nofile}"),
    );

    // The fleet.
    let specs = sc.cameras();
    let (probe_tx, probe_rx) = mpsc::unbounded_channel();
    let tls = cert
        .as_deref()
        .map(crate::hubproc::tls_config)
        .transpose()?;
    let uploader = crate::camera::Uploader::new(sample, &http_url, tls.clone())?;
    let shared = Arc::new(Shared {
        home: "home".into(),
        mqtt_url,
        tls,
        gate: Arc::new(Semaphore::new(sc.connect_concurrency)),
        telemetry_every: Duration::from_secs_f64(sc.telemetry_s),
        seed: sc.seed,
        ledger: Mutex::new(Ledger::default()),
        probe_tx,
        uploader,
    });
    let mut book = HashMap::new();
    let mut controls = Vec::new();
    let mut statuses = Vec::new();
    let mut tasks = Vec::new();
    for c in &specs {
        let (tx, rx) = mpsc::unbounded_channel();
        let status = Arc::new(Status::default());
        book.insert(
            c.serial.clone(),
            Entry {
                pairing_code: provision::pairing_code(&c.serial),
                control: tx.clone(),
                status: status.clone(),
            },
        );
        let cam = Camera::new(c.clone(), shared.clone(), status.clone());
        tasks.push(tokio::spawn(cam.run(rx)));
        controls.push(tx);
        statuses.push(status);
    }
    let fleet = Arc::new(Fleet {
        specs: specs.clone(),
        controls,
        status: statuses,
        shared: shared.clone(),
    });
    let book: Book = Arc::new(book);
    let provision_base = provision::serve(book)
        .await
        .map_err(|e| run_err(format!("provisioning endpoint: {e}")))?;
    let ids: Arc<HashMap<String, usize>> =
        Arc::new(specs.iter().map(|c| (c.device_id(), c.index)).collect());
    let device_ids: Arc<Vec<String>> = Arc::new(specs.iter().map(|c| c.device_id()).collect());
    let stream = Arc::new(Stream::default());
    let follower = tokio::spawn(observe::follow_stream(
        api.clone(),
        ids.clone(),
        shared.clone(),
        stream.clone(),
    ));
    let prober = tokio::spawn(observe::probe_api(
        api.clone(),
        device_ids.clone(),
        shared.clone(),
        probe_rx,
        sc.api_probe_per_s,
    ));

    // The home is armed (away) before pairing, so every camera is armed as it joins:
    // motion is then a camera doing its job, not a camera left off.
    let owner = api.read().unwrap_or_else(|p| p.into_inner()).clone();
    let (status, body) = owner.post("/api/v1/arm", &json!({"mode": "away"})).await?;
    if status != 200 {
        return Err(run_err(format!("arming the home: {status} {body}")));
    }
    // Pairing, a few at a time, each through the owner's API.
    let t_pair = Instant::now();
    pair_all(
        &api,
        &specs,
        &provision_base,
        sc.pair_concurrency,
        sc.pair_per_s,
    )
    .await?;
    let pair_s = t_pair.elapsed().as_secs_f64();
    say(
        progress,
        t_start,
        &format!("{} cameras paired in {pair_s:.1} s", specs.len()),
    );
    let online_by =
        Instant::now() + Duration::from_secs(60) + Duration::from_millis(20 * specs.len() as u64);
    while !specs
        .iter()
        .zip(&fleet.status)
        .all(|(_, s)| s.ever_connected.load(Ordering::Relaxed))
    {
        if Instant::now() > online_by {
            let missing = fleet
                .status
                .iter()
                .filter(|s| !s.ever_connected.load(Ordering::Relaxed))
                .count();
            return Err(run_err(format!(
                "{missing} cameras never reached the broker"
            )));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let online_s = t_pair.elapsed().as_secs_f64();
    say(
        progress,
        t_start,
        &format!("every camera connected {online_s:.1} s after pairing began"),
    );
    // Settled: what every camera queued while joining (`boot`, `provisioned`,
    // `connected`) is with the hub, so the run measures a hub at work, not the start.
    let t_settle = Instant::now();
    let settle_by = t_settle + Duration::from_secs(120);
    while fleet.queued() > 0 && Instant::now() < settle_by {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let settle_s = t_settle.elapsed().as_secs_f64();
    say(
        progress,
        t_start,
        &format!("the cameras' first events delivered in {settle_s:.1} s"),
    );
    let (setup_cpu_s, _, _) = cost.totals();
    let broker_setup_cpu_s = broker_cost.as_ref().map_or(0.0, |c| c.totals().0);

    // The run and its faults.
    let t0 = Instant::now();
    let plan = sc.plan();
    let mut fault_reports = Vec::new();
    // The start is not the run: events made before it are left out of the timings.
    let mut windows: Vec<report::Window> = vec![report::Window {
        from: t_start,
        to: t0,
        cameras: None,
    }];
    let mut restarts = 0u32;
    let mut pending = Vec::new();
    let mut hub_faults = Vec::new();
    for f in &plan {
        sleep_until(t0 + Duration::from_millis(f.at_ms)).await;
        say(
            progress,
            t_start,
            &format!(
                "fault {}: {} on {} cameras",
                f.index + 1,
                f.kind.as_str(),
                f.cameras.len()
            ),
        );
        match f.kind {
            FaultKind::HubKill | FaultKind::HubRestart => {
                restarts += 1;
                hub_faults.push(tokio::spawn(crate::faults::hub_fault(
                    f.clone(),
                    spec.clone(),
                    hub.clone(),
                    cost.clone(),
                    api.clone(),
                    fleet.clone(),
                )));
            }
            FaultKind::BrokerRestart => {
                let (Some(b), Some(c)) = (&broker_spec, &broker_cost) else {
                    return Err(run_err("broker_restart without an external broker"));
                };
                hub_faults.push(tokio::spawn(crate::faults::broker_fault(
                    f.clone(),
                    b.clone(),
                    broker.clone(),
                    c.clone(),
                    fleet.clone(),
                )));
            }
            _ => {
                let (judged, held) = crate::faults::camera_fault(
                    f.clone(),
                    fleet.clone(),
                    stream.clone(),
                    api.clone(),
                );
                windows.extend(held);
                pending.push(judged);
            }
        }
    }
    sleep_until(t0 + Duration::from_secs_f64(sc.duration_s)).await;
    for c in &fleet.controls {
        let _ = c.send(Control::Quiet);
    }
    for p in pending {
        if let Ok(r) = p.await {
            fault_reports.push(r);
        }
    }
    for h in hub_faults {
        let (r, from, to) = h.await.map_err(|e| run_err(e.to_string()))??;
        windows.push(report::Window {
            from,
            to,
            cameras: None,
        });
        fault_reports.push(r);
    }
    fault_reports.sort_by(|a, b| a.at_s.total_cmp(&b.at_s));

    // Drain: every queue empty (bounded), then a moment for the stream to catch up.
    say(progress, t_start, "draining the cameras' queues");
    let drain_by = Instant::now() + Duration::from_secs_f64(sc.drain_s);
    // Recordings under way end first: their `motion_end` is an event like any other.
    while (fleet.queued() > 0 || fleet.busy() > 0) && Instant::now() < drain_by {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let undelivered = fleet.queued();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let run_s = t0.elapsed().as_secs_f64();
    let n = specs.len().max(1) as u64;
    let hub_figures = report::ProcessFigures::of(&cost, setup_cpu_s, run_s, n);
    let broker_figures = broker_cost
        .as_ref()
        .map(|c| report::ProcessFigures::of(c, broker_setup_cpu_s, run_s, n));
    let connects: u64 = fleet
        .status
        .iter()
        .map(|s| s.connects.load(Ordering::Relaxed))
        .sum();
    let failed: u64 = fleet
        .status
        .iter()
        .map(|s| s.failed_connects.load(Ordering::Relaxed))
        .sum();

    // Every recorded event, checked in the API.
    say(progress, t_start, "checking every event in the API");
    let listed = list_events(&api, &fleet).await;
    let final_api = api.read().unwrap_or_else(|p| p.into_inner()).clone();
    let hub_dropped = final_api
        .get("/api/v1/hub")
        .await
        .ok()
        .and_then(|v| v.get("dropped_messages").cloned())
        .unwrap_or(Value::Null);
    let ledger = std::mem::take(&mut *shared.ledger.lock().unwrap_or_else(|p| p.into_inner()));
    let events = report::events(&ledger, &listed, &windows, undelivered, &specs);
    let clips = crate::clip::check(&final_api, &specs, &ledger, &shared.uploader.clip).await;

    for t in tasks {
        t.abort();
    }
    follower.abort();
    prober.abort();
    sampler.abort();
    if let Some(s) = broker_sampler {
        s.abort();
    }
    let last = hub.lock().unwrap_or_else(|p| p.into_inner()).take();
    if let Some(mut h) = last {
        tokio::task::spawn_blocking(move || h.stop()).await.ok();
    }
    let last = broker.lock().unwrap_or_else(|p| p.into_inner()).take();
    if let Some(mut b) = last {
        tokio::task::spawn_blocking(move || b.stop()).await.ok();
    }
    Ok(Report {
        cameras: specs.len(),
        seed: sc.seed,
        duration_s: sc.duration_s,
        pair_s,
        online_s,
        settle_s,
        faults: fault_reports,
        events,
        clips,
        hub: report::HubFigures {
            process: hub_figures,
            restarts,
            dropped: hub_dropped,
        },
        broker: broker_figures,
        connects,
        failed_connects: failed,
        stream_lagged: stream.lagged.load(Ordering::Relaxed),
        stream_opened: stream.opened.load(Ordering::Relaxed),
        open_files_allowed: nofile,
        sim_cpu_s: crate::hubproc::sample(std::process::id()).map_or(0.0, |s| s.cpu_s),
        lost_silently: false,
        doctor: Default::default(),
    }
    .judged())
}

pub(crate) async fn start_hub(spec: &HubSpec) -> Result<Hub, SimError> {
    let spec = spec.clone();
    tokio::task::spawn_blocking(move || spec.start())
        .await
        .map_err(|e| run_err(e.to_string()))?
        .map_err(SimError::from)
}

fn hub_pid(hub: &Arc<Mutex<Option<Hub>>>) -> u32 {
    hub.lock()
        .unwrap_or_else(|p| p.into_inner())
        .as_ref()
        .map_or(0, |h| h.pid())
}

async fn pair_all(
    api: &Arc<RwLock<Api>>,
    specs: &[CameraSpec],
    provision_base: &str,
    concurrency: usize,
    per_s: Option<f64>,
) -> Result<(), SimError> {
    let gate = Arc::new(Semaphore::new(concurrency));
    let mut jobs = Vec::new();
    let start = Instant::now();
    for (i, c) in specs.iter().enumerate() {
        if let Some(rate) = per_s {
            sleep_until(start + Duration::from_secs_f64(i as f64 / rate)).await;
        }
        let permit = gate.clone().acquire_owned().await.expect("never closed");
        let api = api.read().unwrap_or_else(|p| p.into_inner()).clone();
        let body = json!({
            "serial": c.serial,
            "pairing_code": provision::pairing_code(&c.serial),
            "name": c.serial,
            "profile": c.profile.as_str(),
            "wifi": {"ssid": "sim", "passphrase": "sim wifi passphrase"},
            "provision_url": format!("{provision_base}/cam/{}", c.serial),
        });
        let serial = c.serial.clone();
        jobs.push(tokio::spawn(async move {
            let _permit = permit;
            let mut last = String::new();
            for _ in 0..5 {
                match api.post("/api/v1/cameras", &body).await {
                    Ok((202, _)) => return Ok(()),
                    Ok((s, v)) => last = format!("{s} {v}"),
                    Err(e) => last = e.to_string(),
                }
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
            Err(run_err(format!("pairing {serial}: {last}")))
        }));
    }
    for j in jobs {
        j.await.map_err(|e| run_err(e.to_string()))??;
    }
    Ok(())
}

/// Every camera with events: how many times the API lists each of its seqs.
async fn list_events(api: &Arc<RwLock<Api>>, fleet: &Fleet) -> HashMap<(usize, u64), u32> {
    let cams: Vec<usize> = {
        let ledger = fleet
            .shared
            .ledger
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        let mut v: Vec<usize> = ledger.events.keys().map(|k| k.0).collect();
        v.sort_unstable();
        v.dedup();
        v
    };
    let a = api.read().unwrap_or_else(|p| p.into_inner()).clone();
    let gate = Arc::new(Semaphore::new(8));
    let mut jobs = Vec::new();
    for c in cams {
        let device = fleet.specs[c].device_id();
        let a = a.clone();
        let permit = gate.clone().acquire_owned().await.expect("never closed");
        jobs.push(tokio::spawn(async move {
            let _permit = permit;
            let mut seqs = Vec::new();
            for _ in 0..3 {
                if let Ok(v) = a.get(&format!("/api/v1/cameras/{device}/events")).await {
                    for e in v["events"].as_array().into_iter().flatten() {
                        if let Some(s) = e["seq"].as_u64() {
                            seqs.push(s);
                        }
                    }
                    break;
                }
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            (c, seqs)
        }));
    }
    let mut out: HashMap<(usize, u64), u32> = HashMap::new();
    for j in jobs {
        if let Ok((c, seqs)) = j.await {
            for s in seqs {
                *out.entry((c, s)).or_default() += 1;
            }
        }
    }
    out
}

/// [`run`] on a runtime of its own (two worker threads: the machine's cores).
pub fn run_blocking(opts: Options) -> Result<Report, SimError> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| run_err(format!("runtime: {e}")))?;
    rt.block_on(run(opts))
}
