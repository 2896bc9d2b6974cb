//! `watchlight demo`: a hub and four simulated cameras of different profiles on free
//! ports, and the story an owner should see, told through their lights and the hub's
//! API: setup (with a mistyped Wi-Fi password), motion and clips, a Wi-Fi outage and
//! recovery with the clip recorded meanwhile, the motion indicator turned on and off,
//! live view, a failing battery and fresh cells. Everything runs as real processes (the
//! same ones the end-to-end tests start, through [`crate::harness`]).
//!
//! Interactive (the default), each step says what to look at in the web app and the
//! demo stays up afterwards; headless (`--headless`, `--once`) it tells the same story
//! without pauses and ends, within a time limit if given (`--for`), and `--json` prints
//! one line of counts from the hub's API ([`tally::Summary`]).

mod story;
pub mod tally;
mod watch;

use crate::harness::{Api, CameraProcess, HarnessError, HubOptions, HubProcess, free_port};
use rand::Rng;
use rand::distributions::Alphanumeric;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use story::Story;
pub use tally::Summary;
use watch::{Console, Watcher, in_words};

#[derive(Debug, Clone)]
pub struct DemoOptions {
    /// The `watchlight` binary to start the hub and cameras with.
    pub bin: PathBuf,
    /// Keep the data here (default: a temporary folder removed at the end).
    pub data: Option<PathBuf>,
    /// Interactive: pauses for the person watching, then stay up after the story until
    /// interrupted. Otherwise headless: no pauses, and the demo ends after the story.
    pub keep_running: bool,
    /// Headless only: the story must end within this long (`--for`, as given and parsed).
    pub time_limit: Option<(String, Duration)>,
    /// The story's lines go to standard error (standard output is kept for the JSON).
    pub story_to_stderr: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    #[error(transparent)]
    Harness(#[from] HarnessError),
    #[error("demo: {0}")]
    Story(String),
    #[error(
        "demo: the story needs longer than --for {given}: the time was up in \"{chapter}\", waiting for {waiting_for}"
    )]
    TooLong {
        given: String,
        chapter: String,
        waiting_for: String,
    },
    #[error("demo data folder: {0}")]
    Io(#[from] std::io::Error),
}

const SSID: &str = "watchlight-demo";

/// The cameras: name, profile, serial. One mains camera beside battery ones.
const CAMERAS: [(&str, &str, &str); 4] = [
    ("front-door", "mini", "DEMO-FRONT"),
    ("garden", "outdoor", "DEMO-GARDEN"),
    ("garage", "xt2", "DEMO-GARAGE"),
    ("hallway", "indoor", "DEMO-HALL"),
];

/// Reads a duration as `--for` takes it: a number with `ms`, `s`, `m` or `h`
/// (`90s`, `3m`, `1h`), or several (`1m30s`).
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let bad = || {
        format!(
            "cannot read '{text}' as a duration: give a number with s, m or h, e.g. 90s, 3m or 1m30s"
        )
    };
    let mut rest = text.trim();
    if rest.is_empty() {
        return Err(bad());
    }
    let mut total = Duration::ZERO;
    while !rest.is_empty() {
        let digits = rest.find(|c: char| !c.is_ascii_digit()).ok_or_else(bad)?;
        if digits == 0 {
            return Err(bad());
        }
        let n: u64 = rest[..digits].parse().map_err(|_| bad())?;
        rest = &rest[digits..];
        let unit = rest
            .find(|c: char| c.is_ascii_digit())
            .unwrap_or(rest.len());
        let ms = match &rest[..unit] {
            "ms" => 1,
            "s" => 1_000,
            "m" => 60_000,
            "h" => 3_600_000,
            _ => return Err(bad()),
        };
        total += Duration::from_millis(n.checked_mul(ms).ok_or_else(bad)?);
        rest = &rest[unit..];
    }
    if total.is_zero() {
        return Err(bad());
    }
    Ok(total)
}

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

pub(crate) struct Cam {
    pub(crate) name: &'static str,
    pub(crate) process: CameraProcess,
}

fn random_string(n: usize) -> String {
    rand::thread_rng()
        .sample_iter(&Alphanumeric)
        .take(n)
        .map(char::from)
        .collect()
}

/// Tells the story (or resumes a kept home) and returns what the hub's API counts at
/// the end. Interactive, it stays up afterwards until interrupted.
pub fn run(options: DemoOptions) -> Result<Summary, DemoError> {
    let started = Instant::now();
    let console = Console {
        to_stderr: options.story_to_stderr,
    };
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
        return resume(&options, console, &root, &home, started);
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

    console.chapter("The hub");
    let hub = HubProcess::start_with(
        &options.bin,
        &root.join("hub"),
        &home.hub_options(),
        "owner",
        &password,
    )?;
    print_hub(console, &hub, &password, &root);

    console.chapter(&format!("{} cameras in their boxes", CAMERAS.len()));
    let cams = start_cameras(&options, &root, &wifi_pass)?;
    for cam in &cams {
        console.line(format_args!(
            "  {:<12} {:<8} serial {}, pairing code {} (printed on the camera), setup at {}",
            cam.name,
            cam.process.profile,
            cam.process.serial,
            cam.process.pairing_code,
            cam.process.local_url
        ));
    }
    let watch = watch(console, started, &hub, &cams);
    let mut story = story(console, &options, started, &hub, &cams, &watch, "");
    story.chapter("In their boxes: setup mode");
    for cam in &cams {
        story.wait_light(cam, "red_slow_blink", 30)?;
    }
    story.say(format_args!(
        "every camera shows {}",
        in_words("red_slow_blink")
    ));
    story.setup(&wifi_pass)?;
    home.save(&root)?;
    story.motion_and_outage()?;
    story.motion_indicator()?;
    story.live_view()?;
    story.failing_battery()?;

    story.chapter("The end");
    story.drain();
    story.closing()?;
    let mut summary = tally::summary(&hub, &cams, &story.seen, false);
    summary.seconds = (started.elapsed().as_secs_f64() * 10.0).round() / 10.0;
    console.line(format_args!(
        "  story told in {:.0} s: {} cameras ({}), {} clips, {} events at the hub, {} lost; {} of {} faults seen by the hub",
        summary.seconds,
        summary.cameras,
        summary.profiles.join(", "),
        summary.clips,
        summary.events,
        summary.lost,
        summary.faults_detected,
        summary.faults_played
    ));
    console.line(format_args!(
        "  the web app {}/ (owner / {password}): open a camera for its clips, live view, battery chart and settings",
        hub.http_url
    ));
    match &options.data {
        Some(kept) => console.line(format_args!(
            "  run 'watchlight demo --data {}' again to resume this home",
            kept.display()
        )),
        None => console.line("  (this home goes when the demo ends; 'watchlight demo --data DIR' keeps one to resume)"),
    }
    drop(watch);
    stay_up(console, &options);
    Ok(summary)
}

/// A second run on a kept folder: the same hub on the same addresses with a new owner
/// password, and the cameras waking up paired; the story is not told again.
fn resume(
    options: &DemoOptions,
    console: Console,
    root: &Path,
    home: &Home,
    started: Instant,
) -> Result<Summary, DemoError> {
    let password = random_string(20);
    console.chapter("The hub, resumed");
    let data = root.join("hub");
    HubProcess::reset_owner_password(&options.bin, &data, &password)?;
    let hub =
        HubProcess::restart_with(&options.bin, &data, &home.hub_options(), "owner", &password)?;
    print_hub(console, &hub, &password, root);

    console.chapter("The cameras wake up where they were");
    let cams = start_cameras(options, root, &home.wifi_pass)?;
    let watch = watch(console, started, &hub, &cams);
    let story = story(
        console,
        options,
        started,
        &hub,
        &cams,
        &watch,
        "The cameras wake up where they were",
    );
    for cam in &cams {
        story.wait_hub(cam, &["online", "sleeping"], 60)?;
    }
    for cam in &cams {
        story.wait_light(cam, "off", 20)?;
    }
    console.line(format_args!(
        "  all {} are back: {} for 5 s, then dark",
        cams.len(),
        in_words("blue_solid")
    ));
    console.chapter("The home, resumed");
    story.drain();
    story.closing()?;
    let mut summary = tally::summary(&hub, &cams, &story.seen, true);
    summary.seconds = (started.elapsed().as_secs_f64() * 10.0).round() / 10.0;
    console.line(format_args!(
        "  the hub's API {}/api/v1 (OpenAPI at /api/v1/openapi.json; owner / {password})",
        hub.http_url
    ));
    drop(watch);
    stay_up(console, options);
    Ok(summary)
}

fn print_hub(console: Console, hub: &HubProcess, password: &str, root: &Path) {
    let say = |t: std::fmt::Arguments| console.line(t);
    say(format_args!("  open the web app: {}/", hub.http_url));
    say(format_args!("  log in as:        owner / {password}"));
    say(format_args!(
        "  (the hub's certificate is self-signed: the browser asks once; accept it)"
    ));
    say(format_args!(
        "  keep the dashboard open: every light below appears on its camera's card as it happens"
    ));
    say(format_args!(
        "  OpenAPI:         {}/api/v1/openapi.json",
        hub.http_url
    ));
    say(format_args!("  MQTT broker:     {}", hub.mqtt_url));
    say(format_args!(
        "  certificate:     {} (self-signed; cameras pin it)",
        hub.data.join("hub-cert.pem").display()
    ));
    say(format_args!("  data:            {}", root.display()));
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

/// The story told on `hub` and `cams` from `chapter` on, within the run's time limit.
fn story<'a>(
    console: Console,
    options: &DemoOptions,
    started: Instant,
    hub: &'a HubProcess,
    cams: &'a [Cam],
    watch: &Watcher,
    chapter: &str,
) -> Story<'a> {
    Story {
        console,
        hub,
        cams,
        interactive: options.keep_running,
        limit: options
            .time_limit
            .as_ref()
            .map(|(given, d)| (given.clone(), started + *d)),
        chapter: chapter.into(),
        seen: Default::default(),
        printed: watch.printed.clone(),
    }
}

fn watch(console: Console, started: Instant, hub: &HubProcess, cams: &[Cam]) -> Watcher {
    Watcher::start(
        console,
        started,
        cams.iter()
            .map(|c| {
                (
                    c.name.to_string(),
                    Api::new(&c.process.local_url, None).expect("plain HTTP client"),
                    c.process.device_id.clone(),
                )
            })
            .collect(),
        hub.api.clone(),
    )
}

fn stay_up(console: Console, options: &DemoOptions) {
    if options.keep_running {
        console.line("  everything keeps running for the web app; press Ctrl-C to stop");
        loop {
            std::thread::sleep(Duration::from_secs(3600));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_as_the_flag_takes_them() {
        assert_eq!(parse_duration("90s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("3m"), Ok(Duration::from_secs(180)));
        assert_eq!(parse_duration("1m30s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("1h"), Ok(Duration::from_secs(3600)));
        assert_eq!(parse_duration("1500ms"), Ok(Duration::from_millis(1500)));
        for bad in [
            "",
            "3",
            "m",
            "3x",
            "-3m",
            "3 m",
            "0s",
            "1.5m",
            "99999999999999999h",
        ] {
            let e = parse_duration(bad).unwrap_err();
            assert!(e.contains(&format!("'{bad}'")), "{bad}: {e}");
        }
    }
}
