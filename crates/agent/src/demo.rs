//! `watchlight demo`: a hub and three simulated cameras on free ports, and a short
//! story told through their lights: setup (with a mistyped Wi-Fi password), motion and
//! a clip, a Wi-Fi outage and recovery with the clip recorded meanwhile, a failing
//! battery and fresh cells. Everything runs as real processes (the same ones the
//! end-to-end tests start, through [`crate::harness`]).

use crate::harness::{
    Api, CameraProcess, HarnessError, HubOptions, HubProcess, free_port, wait_until,
};
use rand::Rng;
use rand::distributions::Alphanumeric;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

#[derive(Debug, Clone)]
pub struct DemoOptions {
    /// The `watchlight` binary to start the hub and cameras with.
    pub bin: PathBuf,
    /// Keep the data here (default: a temporary folder removed at the end).
    pub data: Option<PathBuf>,
    /// Stay up after the story until interrupted.
    pub keep_running: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    #[error(transparent)]
    Harness(#[from] HarnessError),
    #[error("demo: {0}")]
    Story(String),
    #[error("demo data folder: {0}")]
    Io(#[from] std::io::Error),
}

const SSID: &str = "watchlight-demo";

/// The cameras: name, profile, serial.
const CAMERAS: [(&str, &str, &str); 3] = [
    ("front-door", "mini", "DEMO-FRONT"),
    ("garden", "outdoor", "DEMO-GARDEN"),
    ("garage", "xt2", "DEMO-GARAGE"),
];

/// What a kept demo folder needs to resume its home: the hub's addresses (the cameras
/// know it by them) and the simulated access point's password (they joined with it).
/// Written once the cameras are set up; private to the user, like the rest of the folder.
#[derive(Serialize, Deserialize)]
struct Home {
    http: String,
    mqtt: String,
    wifi_pass: String,
}

const HOME_FILE: &str = "demo-home.json";

impl Home {
    fn load(root: &Path) -> Result<Option<Home>, DemoError> {
        let path = root.join(HOME_FILE);
        match std::fs::read(&path) {
            Ok(bytes) => serde_json::from_slice(&bytes)
                .map(Some)
                .map_err(|e| DemoError::Story(format!("{}: {e}", path.display()))),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    fn save(&self, root: &Path) -> Result<(), DemoError> {
        use std::io::Write;
        use std::os::unix::fs::OpenOptionsExt;
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(root.join(HOME_FILE))?;
        f.write_all(&serde_json::to_vec_pretty(self).expect("serializes"))?;
        Ok(())
    }

    fn hub_options(&self) -> HubOptions {
        HubOptions {
            http: Some(self.http.clone()),
            mqtt: Some(self.mqtt.clone()),
            ..HubOptions::default()
        }
    }
}

struct Cam {
    name: &'static str,
    process: CameraProcess,
}

/// Prints every light change of every camera, and the hub's view of each, as they happen.
struct Watcher {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Watcher {
    fn start(
        started: Instant,
        cams: Vec<(String, Api)>,
        hub: Api,
        devices: Vec<String>,
    ) -> Watcher {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let thread = std::thread::spawn(move || {
            let mut lights: Vec<String> = vec![String::new(); cams.len()];
            let mut avail: Vec<String> = vec![String::new(); devices.len()];
            let mut tick = 0u32;
            while !flag.load(Ordering::Relaxed) {
                for (i, (name, api)) in cams.iter().enumerate() {
                    if let Ok(s) = api.get("/sim/status") {
                        let id = s["light_id"].as_str().unwrap_or("?").to_string();
                        if id != lights[i] {
                            println!(
                                "  {:>6.1}s  {name:<12} light {:<26} {}",
                                started.elapsed().as_secs_f64(),
                                id,
                                s["meaning"].as_str().unwrap_or("")
                            );
                            lights[i] = id;
                        }
                    }
                }
                if tick.is_multiple_of(5) {
                    for (i, d) in devices.iter().enumerate() {
                        let a = hub
                            .get(&format!("/api/v1/cameras/{d}"))
                            .ok()
                            .and_then(|v| v["availability"].as_str().map(str::to_string))
                            .unwrap_or_else(|| "unknown".into());
                        if a != avail[i] {
                            println!(
                                "  {:>6.1}s  {:<12} hub says {a}",
                                started.elapsed().as_secs_f64(),
                                cams.get(i).map(|c| c.0.as_str()).unwrap_or(d)
                            );
                            avail[i] = a;
                        }
                    }
                }
                tick += 1;
                std::thread::sleep(Duration::from_millis(100));
            }
        });
        Watcher {
            stop,
            thread: Some(thread),
        }
    }
}

impl Drop for Watcher {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn chapter(title: &str) {
    println!("\n== {title} ==");
}

fn wait_light(cam: &Cam, light: &str, secs: u64) -> Result<(), DemoError> {
    wait_until(Duration::from_secs(secs), || {
        (cam.process.field("light_id").as_deref() == Some(light)).then_some(())
    })
    .ok_or_else(|| {
        DemoError::Story(format!(
            "{} did not show {light} within {secs} s (it shows {:?})",
            cam.name,
            cam.process.field("light_id")
        ))
    })
}

fn wait_hub(hub: &HubProcess, cam: &Cam, want: &[&str], secs: u64) -> Result<String, DemoError> {
    wait_until(Duration::from_secs(secs), || {
        hub.availability(&cam.process.device_id)
            .filter(|a| want.contains(&a.as_str()))
    })
    .ok_or_else(|| {
        DemoError::Story(format!(
            "the hub did not see {} as {want:?} within {secs} s",
            cam.name
        ))
    })
}

fn random_string(n: usize) -> String {
    rand::thread_rng()
        .sample_iter(&Alphanumeric)
        .take(n)
        .map(char::from)
        .collect()
}

pub fn run(options: DemoOptions) -> Result<(), DemoError> {
    let started = Instant::now();
    let temp;
    let root = match &options.data {
        Some(d) => {
            std::fs::create_dir_all(d)?;
            d.clone()
        }
        None => {
            temp = tempfile::Builder::new()
                .prefix("watchlight-demo-")
                .tempdir()?;
            temp.path().to_path_buf()
        }
    };
    if let Some(home) = Home::load(&root)? {
        return resume(&options, &root, &home, started);
    }
    if root.join("hub").exists() {
        return Err(DemoError::Story(format!(
            "{} holds a hub whose demo never finished setting up (no {HOME_FILE}); use an empty folder",
            root.display()
        )));
    }
    let password = random_string(20);
    let home = Home {
        http: format!("127.0.0.1:{}", free_port()?),
        mqtt: format!("127.0.0.1:{}", free_port()?),
        wifi_pass: random_string(12),
    };
    let wifi_pass = home.wifi_pass.clone();

    chapter("The hub");
    let hub = HubProcess::start_with(
        &options.bin,
        &root.join("hub"),
        &home.hub_options(),
        "owner",
        &password,
    )?;
    print_hub(&hub, &password, &root);

    chapter("Three cameras in their boxes");
    let cams = start_cameras(&options, &root, &wifi_pass)?;
    for cam in &cams {
        println!(
            "  {:<12} {:<8} serial {}, pairing code {} (printed on the camera), setup at {}",
            cam.name,
            cam.process.profile,
            cam.process.serial,
            cam.process.pairing_code,
            cam.process.local_url
        );
    }
    let _watch = watch(started, &hub, &cams);
    for cam in &cams {
        wait_light(cam, "red_slow_blink", 30)?;
    }

    chapter("Setup: the owner adds each camera in the app");
    let garage = &cams[2];
    println!("  garage: the owner mistypes the Wi-Fi password first");
    println!("  look: the garage card shows solid red and the words for it, then blinks green");
    let (status, body) = hub.pair(&garage.process, garage.name, SSID, "wrong-password")?;
    println!(
        "  POST /api/v1/cameras -> {status} {}",
        body["pairing"]["state"]
    );
    wait_light(garage, "red_solid", 20)?;
    std::thread::sleep(Duration::from_secs(2));
    let msg = hub
        .api
        .get(&format!("/api/v1/cameras/{}", garage.process.device_id))
        .ok()
        .and_then(|v| v["pairing"]["message"].as_str().map(str::to_string))
        .unwrap_or_default();
    println!("  the app says: {msg:?}; the owner tries again with the same pairing code");
    for cam in &cams {
        let (status, _) = hub.pair(&cam.process, cam.name, SSID, &wifi_pass)?;
        if status != 202 {
            return Err(DemoError::Story(format!(
                "pairing {} answered {status}",
                cam.name
            )));
        }
        wait_hub(&hub, cam, &["online", "sleeping"], 30)?;
    }
    for cam in &cams {
        wait_light(cam, "off", 20)?;
    }
    println!("  all three are set up: green blink, blue for 5 s, then dark");
    home.save(&root)?;

    chapter("Motion: someone walks up to the front door");
    let front = &cams[0];
    let (status, _) = hub.api.post("/api/v1/arm", &json!({"mode": "away"}))?;
    println!("  the owner arms the system (away) -> {status}");
    std::thread::sleep(Duration::from_secs(1));
    front.process.sim("motion", json!({}))?;
    wait_light(front, "blue_solid", 20)?;
    wait_light(front, "off", 60)?;
    let recorded_at = Instant::now();
    let clip = wait_until(Duration::from_secs(60), || {
        hub.clips(&front.process.device_id)
            .into_iter()
            .find(|c| !c["meta"].is_null())
    })
    .ok_or_else(|| DemoError::Story("no clip reached the hub".into()))?;
    print_clip(&hub, &clip);

    chapter("A Wi-Fi outage at the front door (the camera keeps recording)");
    front.process.sim("link", json!({"up": false}))?;
    let cut = Instant::now();
    wait_light(front, "red_blink", 10)?;
    wait_hub(&hub, front, &["offline"], 15)?;
    println!("  the hub knew after {:.1} s", cut.elapsed().as_secs_f64());
    println!(
        "  look: its card blinks red and leads the dashboard; \"Why is it flashing red?\" asks the doctor"
    );
    // A new recording may start once the retrigger cooldown (10 s) after the last one is over.
    let cooldown = Duration::from_secs(11).saturating_sub(recorded_at.elapsed());
    std::thread::sleep(cooldown.max(Duration::from_secs(1)));
    println!("  someone walks by while it is offline");
    front.process.sim("motion", json!({}))?;
    wait_light(front, "blue_solid", 20)?;
    wait_light(front, "red_blink", 60)?;
    let queued = front
        .process
        .status()?
        .get("queue_items")
        .and_then(Value::as_u64)
        .unwrap_or(0);
    println!("  {queued} item(s) wait in the camera's offline queue");
    front.process.sim("link", json!({"up": true}))?;
    println!("  the Wi-Fi is back; the camera retries with backoff");
    wait_hub(&hub, front, &["online"], 90)?;
    let clips = wait_until(Duration::from_secs(60), || {
        let c = hub.clips(&front.process.device_id);
        (c.len() >= 2 && c.iter().all(|c| !c["meta"].is_null())).then_some(c)
    })
    .ok_or_else(|| DemoError::Story("the clip recorded offline never arrived".into()))?;
    println!("  the clip recorded offline arrived:");
    if let Some(latest) = clips
        .iter()
        .max_by_key(|c| c["sort_ts"].as_u64().unwrap_or(0))
    {
        print_clip(&hub, latest);
    }

    chapter("A failing battery in the garden camera");
    let garden = &cams[1];
    garden.process.sim("battery", json!({"depth": 0.92}))?;
    wait_light(garden, "red_flash_after_recording", 20)?;
    println!("  low battery: three red flashes now and once a minute; the app reminds the owner");
    std::thread::sleep(Duration::from_secs(3));
    garden.process.sim("battery", json!({"depth": 0.995}))?;
    wait_light(garden, "red_flash_then_dark", 20)?;
    wait_light(garden, "off", 10)?;
    println!("  critical: it flashed red three times and shut down");
    std::thread::sleep(Duration::from_secs(2));
    garden.process.sim("battery", json!({"replace": true}))?;
    println!("  fresh batteries go in");
    wait_light(garden, "blue_solid", 30)?;
    wait_light(garden, "off", 20)?;

    chapter("The end");
    the_end(&hub, &cams);
    println!(
        "  story told in {:.0} s; the web app {}/ (owner / {password}): open a camera for its clips, battery chart and settings",
        started.elapsed().as_secs_f64(),
        hub.http_url
    );
    println!(
        "  run 'watchlight demo --data {}' again to resume this home",
        root.display()
    );
    stay_up(&options);
    Ok(())
}

/// A second run on a kept folder: the same hub on the same addresses with a new owner
/// password, and the cameras waking up paired; the story is not told again.
fn resume(
    options: &DemoOptions,
    root: &Path,
    home: &Home,
    started: Instant,
) -> Result<(), DemoError> {
    let password = random_string(20);
    chapter("The hub, resumed");
    let data = root.join("hub");
    HubProcess::reset_owner_password(&options.bin, &data, &password)?;
    let hub =
        HubProcess::restart_with(&options.bin, &data, &home.hub_options(), "owner", &password)?;
    print_hub(&hub, &password, root);

    chapter("The cameras wake up where they were");
    let cams = start_cameras(options, root, &home.wifi_pass)?;
    let _watch = watch(started, &hub, &cams);
    for cam in &cams {
        wait_hub(&hub, cam, &["online", "sleeping"], 60)?;
    }
    for cam in &cams {
        wait_light(cam, "off", 20)?;
    }
    println!("  all three are back: blue for 5 s, then dark");
    chapter("The home, resumed");
    the_end(&hub, &cams);
    println!(
        "  the hub's API {}/api/v1 (OpenAPI at /api/v1/openapi.json; owner / {password})",
        hub.http_url
    );
    stay_up(options);
    Ok(())
}

fn print_hub(hub: &HubProcess, password: &str, root: &Path) {
    println!("  open the web app: {}/", hub.http_url);
    println!("  log in as:        owner / {password}");
    println!("  (the hub's certificate is self-signed: the browser asks once; accept it)");
    println!(
        "  keep the dashboard open: every light below appears on its camera's card as it happens"
    );
    println!("  OpenAPI:         {}/api/v1/openapi.json", hub.http_url);
    println!("  MQTT broker:     {}", hub.mqtt_url);
    println!(
        "  certificate:     {} (self-signed; cameras pin it)",
        hub.data.join("hub-cert.pem").display()
    );
    println!("  data:            {}", root.display());
}

fn start_cameras(
    options: &DemoOptions,
    root: &Path,
    wifi_pass: &str,
) -> Result<Vec<Cam>, DemoError> {
    let mut cams = Vec::new();
    for (name, profile, serial) in CAMERAS {
        let process = CameraProcess::start(
            &options.bin,
            profile,
            serial,
            &root.join(serial),
            (SSID, wifi_pass),
            false,
        )?;
        cams.push(Cam { name, process });
    }
    Ok(cams)
}

fn watch(started: Instant, hub: &HubProcess, cams: &[Cam]) -> Watcher {
    Watcher::start(
        started,
        cams.iter()
            .map(|c| {
                (
                    c.name.to_string(),
                    Api::new(&c.process.local_url, None).expect("plain HTTP client"),
                )
            })
            .collect(),
        hub.api.clone(),
        cams.iter().map(|c| c.process.device_id.clone()).collect(),
    )
}

/// The light the hub reports for a camera (what the app shows).
fn hub_light(hub: &HubProcess, cam: &Cam) -> Option<String> {
    let v = hub
        .api
        .get(&format!("/api/v1/cameras/{}", cam.process.device_id))
        .ok()?;
    v["state"]["light"]["light_id"].as_str().map(str::to_string)
}

/// Each camera's light beside the hub's view of it. A light the camera just changed
/// reaches the hub within a moment (or, asleep, is the one it foresaw), so wait briefly
/// for the two to agree before printing.
fn the_end(hub: &HubProcess, cams: &[Cam]) {
    for cam in cams {
        let agreed = wait_until(Duration::from_secs(10), || {
            let seen = cam.process.field("light_id")?;
            (hub_light(hub, cam).as_deref() == Some(seen.as_str())).then_some(())
        });
        if agreed.is_none() {
            tracing::warn!(
                camera = cam.name,
                "the hub's light differs from the camera's"
            );
        }
        println!(
            "  {:<12} light {:<16} hub shows {:<16} hub says {}",
            cam.name,
            cam.process.field("light_id").unwrap_or_default(),
            hub_light(hub, cam).unwrap_or_default(),
            hub.availability(&cam.process.device_id).unwrap_or_default()
        );
    }
}

fn stay_up(options: &DemoOptions) {
    if options.keep_running {
        println!("  everything keeps running for the web app; press Ctrl-C to stop");
        loop {
            std::thread::sleep(Duration::from_secs(3600));
        }
    }
}

fn print_clip(hub: &HubProcess, clip: &Value) {
    let id = clip["clip_id"].as_str().unwrap_or("?");
    println!(
        "  clip {id}: {} bytes, trigger {}, video at {}/api/v1/clips/{id}/video",
        clip["video"]["bytes"], clip["meta"]["trigger"], hub.http_url
    );
}
