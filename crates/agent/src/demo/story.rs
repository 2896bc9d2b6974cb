//! The story's chapters, each waiting on what the owner would see (a camera's light,
//! the hub's view through its API), every wait bounded by its own limit and by the
//! run's time limit (`--for`).

mod live;

use super::tally::{Fault, Seen};
use super::watch::{Console, in_words};
use super::{Cam, DemoError, SSID};
use crate::harness::{HubProcess, wait_until};
use serde_json::{Value, json};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// A new recording may start once the retrigger cooldown after the last one is over.
const RETRIGGER_COOLDOWN: Duration = Duration::from_secs(10);

pub(crate) struct Story<'a> {
    pub(crate) console: Console,
    pub(crate) hub: &'a HubProcess,
    pub(crate) cams: &'a [Cam],
    /// Pauses for a person watching (none when headless).
    pub(crate) interactive: bool,
    /// The run's time limit, as given and as a deadline.
    pub(crate) limit: Option<(String, Instant)>,
    pub(crate) chapter: String,
    pub(crate) seen: Seen,
    /// The light the watcher last printed for each camera (in `cams`' order).
    pub(crate) printed: Arc<Mutex<Vec<String>>>,
}

impl<'a> Story<'a> {
    pub(super) fn say(&self, text: impl std::fmt::Display) {
        self.console.line(format_args!("  {text}"));
    }

    pub(crate) fn chapter(&mut self, title: &str) {
        self.chapter = title.to_string();
        self.console.chapter(title);
    }

    fn cam(&self, name: &str) -> &'a Cam {
        let cams: &'a [Cam] = self.cams;
        cams.iter()
            .find(|c| c.name == name)
            .expect("a camera of the story")
    }

    /// `secs`, or less if the run's time limit comes first.
    fn bounded(&self, secs: u64) -> Duration {
        let want = Duration::from_secs(secs);
        match &self.limit {
            Some((_, deadline)) => want.min(deadline.saturating_duration_since(Instant::now())),
            None => want,
        }
    }

    /// The error for a wait that ended without its condition: the time limit's, if
    /// that is what ended it.
    fn failed(&self, what: String) -> DemoError {
        match &self.limit {
            Some((given, deadline)) if Instant::now() >= *deadline => DemoError::TooLong {
                given: given.clone(),
                chapter: self.chapter.clone(),
                waiting_for: what,
            },
            _ => DemoError::Story(what),
        }
    }

    /// Waits for `f` up to `secs` (and the time limit).
    fn wait<T>(
        &self,
        secs: u64,
        what: impl FnOnce() -> String,
        f: impl FnMut() -> Option<T>,
    ) -> Result<T, DemoError> {
        if self.time_up() {
            return Err(self.failed(what()));
        }
        wait_until(self.bounded(secs), f).ok_or_else(|| self.failed(what()))
    }

    /// The run's time limit has passed.
    pub(super) fn time_up(&self) -> bool {
        self.limit
            .as_ref()
            .is_some_and(|(_, deadline)| Instant::now() >= *deadline)
    }

    /// A pause for the person watching; none when headless.
    fn pause(&self, secs: u64) {
        if self.interactive {
            std::thread::sleep(self.bounded(secs));
        }
    }

    pub(super) fn wait_light(&self, cam: &Cam, light: &str, secs: u64) -> Result<(), DemoError> {
        self.wait(
            secs,
            || {
                format!(
                    "{} showing {light} within {secs} s (it shows {:?})",
                    cam.name,
                    cam.process.field("light_id")
                )
            },
            || (cam.process.field("light_id").as_deref() == Some(light)).then_some(()),
        )?;
        // The story goes on once the watcher has printed the light too (it looks every
        // 100 ms), so the lines come in the order they happened.
        let index = self.cams.iter().position(|c| c.name == cam.name);
        wait_until(Duration::from_millis(500), || {
            let printed = self.printed.lock().unwrap_or_else(|p| p.into_inner());
            (index.and_then(|i| printed.get(i)).map(String::as_str) == Some(light)).then_some(())
        });
        Ok(())
    }

    pub(super) fn wait_hub(
        &self,
        cam: &Cam,
        want: &[&str],
        secs: u64,
    ) -> Result<String, DemoError> {
        self.wait(
            secs,
            || format!("the hub seeing {} as {want:?} within {secs} s", cam.name),
            || {
                self.hub
                    .availability(&cam.process.device_id)
                    .filter(|a| want.contains(&a.as_str()))
            },
        )
    }

    /// The camera as the hub's API shows it.
    fn hub_camera(&self, cam: &Cam) -> Option<Value> {
        self.hub
            .api
            .get(&format!("/api/v1/cameras/{}", cam.process.device_id))
            .ok()
    }

    /// A person walks through `cam`'s view until it records (a trigger in a retrigger
    /// cooldown or before the arming reached the camera starts nothing; walk again).
    fn motion_until_recording(&self, cam: &Cam) -> Result<(), DemoError> {
        let walks = std::cell::Cell::new(0);
        self.wait(
            60,
            || {
                format!(
                    "{} recording after {} walk(s) through its view",
                    cam.name,
                    walks.get()
                )
            },
            || {
                walks.set(walks.get() + 1);
                cam.process.sim("motion", json!({})).ok()?;
                wait_until(Duration::from_secs(6), || {
                    (cam.process.field("light_id").as_deref() == Some("blue_solid")).then_some(())
                })
            },
        )
    }

    fn print_clip(&self, clip: &Value) {
        let id = clip["clip_id"].as_str().unwrap_or("?");
        self.say(format_args!(
            "clip {id}: {} bytes, trigger {}, video at {}/api/v1/clips/{id}/video",
            clip["video"]["bytes"], clip["meta"]["trigger"], self.hub.http_url
        ));
    }

    /// Setup, with the garage's Wi-Fi password mistyped first.
    pub(crate) fn setup(&mut self, wifi_pass: &str) -> Result<(), DemoError> {
        self.chapter("Setup: the owner adds each camera in the app");
        let garage = self.cam("garage");
        self.say("garage: the owner mistypes the Wi-Fi password first");
        self.say(format_args!(
            "look: dashboard, the garage card: {}, then {}",
            in_words("red_solid"),
            in_words("green_blink")
        ));
        let (status, body) = self
            .hub
            .pair(&garage.process, garage.name, SSID, "wrong-password")?;
        self.say(format_args!(
            "POST /api/v1/cameras -> {status} {}",
            body["pairing"]["state"]
        ));
        self.wait_light(garage, "red_solid", 20)?;
        let pairing = self.wait(
            15,
            || "the hub telling the owner the Wi-Fi refused the password".into(),
            || {
                let v = self.hub_camera(garage)?;
                (v["pairing"]["state"] == "wifi_rejected").then_some(v["pairing"].clone())
            },
        )?;
        self.say(format_args!(
            "the app says: {}; the owner tries again with the same pairing code",
            pairing["message"]
        ));
        self.seen.faults.push(Fault {
            fault: "wifi_password_mistyped",
            camera: garage.name.into(),
            detected: true,
            seen_as: format!("pairing state wifi_rejected: {}", pairing["message"]),
        });
        self.pause(2);
        // Armed before the cameras first connect: a battery camera hears of a change
        // only at its next check-in (every 60 s by default).
        let (status, _) = self.hub.api.post("/api/v1/arm", &json!({"mode": "away"}))?;
        self.say(format_args!(
            "the owner arms the system (away) -> {status}; each camera is armed as it connects"
        ));
        for cam in self.cams {
            let (status, _) = self.hub.pair(&cam.process, cam.name, SSID, wifi_pass)?;
            if status != 202 {
                return Err(DemoError::Story(format!(
                    "pairing {} answered {status}",
                    cam.name
                )));
            }
            self.wait_hub(cam, &["online", "sleeping"], 30)?;
        }
        for cam in self.cams {
            self.wait_light(cam, "off", 20)?;
        }
        self.say(format_args!(
            "all {} are set up: {}, {} for 5 s, then {}",
            self.cams.len(),
            in_words("green_blink"),
            in_words("blue_solid"),
            in_words("off")
        ));
        self.say("look: dashboard, every card: its light, its state, its battery and signal");
        Ok(())
    }

    /// Motion at the front door and its clip, then a Wi-Fi outage with a clip recorded
    /// meanwhile and delivered after.
    pub(crate) fn motion_and_outage(&mut self) -> Result<(), DemoError> {
        self.chapter("Motion: someone walks up to the front door");
        let front = self.cam("front-door");
        self.say(format_args!(
            "look: dashboard, the front-door card: {} while it records",
            in_words("blue_solid")
        ));
        self.motion_until_recording(front)?;
        self.wait_light(front, "off", 60)?;
        let recorded_at = Instant::now();
        let clip = self.wait(
            60,
            || "the front door's clip reaching the hub".into(),
            || {
                self.hub
                    .clips(&front.process.device_id)
                    .into_iter()
                    .find(|c| !c["meta"].is_null())
            },
        )?;
        self.print_clip(&clip);
        self.say("look: the front-door camera page, Clips: the clip plays in the browser");
        self.pause(3);

        self.chapter("Motion in the hallway: a battery camera wakes on its motion sensor");
        let hallway = self.cam("hallway");
        self.say(
            "the hallway camera sleeps; its motion sensor wakes it, it checks the picture, records, then connects to hand the clip over",
        );
        self.motion_until_recording(hallway)?;
        self.say(format_args!(
            "look: dashboard, the hallway card: {} while it records",
            in_words("blue_solid")
        ));
        let clip = self.wait(
            90,
            || "the hallway's clip reaching the hub".into(),
            || {
                self.hub
                    .clips(&hallway.process.device_id)
                    .into_iter()
                    .find(|c| !c["meta"].is_null())
            },
        )?;
        self.print_clip(&clip);
        self.wait_light(hallway, "off", 60)?;
        self.say("look: the hallway camera page, Clips; the card says it is asleep again");
        self.pause(2);

        self.chapter("A Wi-Fi outage at the front door (the camera keeps recording)");
        front.process.sim("link", json!({"up": false}))?;
        let cut = Instant::now();
        self.wait_light(front, "red_blink", 10)?;
        self.wait_hub(front, &["offline"], 15)?;
        let after = cut.elapsed().as_secs_f64();
        self.say(format_args!("the hub knew after {after:.1} s"));
        self.seen.faults.push(Fault {
            fault: "wifi_outage",
            camera: front.name.into(),
            detected: true,
            seen_as: format!("availability offline after {after:.1} s"),
        });
        self.say(format_args!(
            "look: dashboard, the front-door card: {}; it leads the dashboard; \"Why is my camera flashing red?\" asks the doctor",
            in_words("red_blink")
        ));
        let cooldown = RETRIGGER_COOLDOWN.saturating_sub(recorded_at.elapsed());
        std::thread::sleep(self.bounded(cooldown.as_secs() + 1).min(cooldown));
        self.say("someone walks by while it is offline");
        self.motion_until_recording(front)?;
        self.wait_light(front, "red_blink", 60)?;
        let queued = front
            .process
            .status()?
            .get("queue_items")
            .and_then(Value::as_u64)
            .unwrap_or(0);
        self.say(format_args!(
            "{queued} item(s) wait in the camera's offline queue"
        ));
        front.process.sim("link", json!({"up": true}))?;
        self.say("the Wi-Fi is back; the camera retries with backoff");
        self.wait_hub(front, &["online"], 90)?;
        let clips = self.wait(
            60,
            || "the clip recorded offline reaching the hub".into(),
            || {
                let c = self.hub.clips(&front.process.device_id);
                (c.len() >= 2 && c.iter().all(|c| !c["meta"].is_null())).then_some(c)
            },
        )?;
        self.say("the clip recorded offline arrived:");
        if let Some(latest) = clips
            .iter()
            .max_by_key(|c| c["sort_ts"].as_u64().unwrap_or(0))
        {
            self.print_clip(latest);
        }
        self.say("look: the front-door camera page, Clips: both clips, nothing lost");
        Ok(())
    }

    /// `PATCH` the front door's settings and wait until the camera reports the version.
    fn set_motion_indicator(&self, cam: &Cam, on: bool) -> Result<(), DemoError> {
        let (status, settings) = self.hub.api.call(
            "PATCH",
            &format!("/api/v1/cameras/{}/settings", cam.process.device_id),
            Some(&json!({"motion_indicator": on})),
        )?;
        if status != 200 {
            return Err(DemoError::Story(format!(
                "PATCH settings of {} answered {status} {settings}",
                cam.name
            )));
        }
        let version = settings["version"].as_u64().unwrap_or(0);
        self.say(format_args!(
            "PATCH /api/v1/cameras/{}/settings {{\"motion_indicator\": {on}}} -> {status}, version {version}",
            cam.process.device_id
        ));
        self.wait(
            20,
            || format!("{} applying settings version {version}", cam.name),
            || {
                let v = self.hub_camera(cam)?;
                (v["state"]["settings_version"].as_u64()? >= version).then_some(())
            },
        )?;
        self.say(format_args!(
            "the camera applied it (the hub shows settings version {version} applied)"
        ));
        Ok(())
    }

    /// The motion indicator on, motion and its red flash, then off again.
    pub(crate) fn motion_indicator(&mut self) -> Result<(), DemoError> {
        self.chapter("The motion indicator: a red flash when the front door sees motion");
        let front = self.cam("front-door");
        self.say(
            "the owner opens the front-door camera page, Settings, and turns \"Motion indicator\" on",
        );
        self.set_motion_indicator(front, true)?;
        // The last recording ended; a new one may start after the cooldown.
        self.wait_light(front, "off", 30)?;
        let ended = Instant::now();
        let lines_before = front.process.lines().len();
        std::thread::sleep(
            self.bounded(11)
                .min(RETRIGGER_COOLDOWN.saturating_sub(ended.elapsed())),
        );
        self.say("someone walks up to the front door");
        self.motion_until_recording(front)?;
        let flash = self.wait(
            5,
            || {
                format!(
                    "{} flashing red_flash_on_motion before recording",
                    front.name
                )
            },
            || {
                front.process.lines()[lines_before..]
                    .iter()
                    .any(|l| l.contains("light=red_flash_on_motion"))
                    .then_some(())
            },
        );
        self.seen.flash_seen = flash.is_ok();
        flash?;
        self.say(format_args!(
            "it flashed {} for 300 ms, then {}",
            in_words("red_flash_on_motion"),
            in_words("blue_solid")
        ));
        self.say("look: the front-door card flashed red once, then turned blue while it records");
        self.wait_light(front, "off", 60)?;
        self.say("the owner turns the motion indicator off again");
        self.set_motion_indicator(front, false)?;
        let off = self
            .hub_camera(front)
            .map(|v| v["settings"]["motion_indicator"].clone());
        self.seen.indicator_off_again = off == Some(Value::Bool(false));
        self.say("from now on motion turns the light blue while it records, with no red flash");
        self.pause(3);
        Ok(())
    }

    /// A failing battery in the garden camera, and fresh cells.
    pub(crate) fn failing_battery(&mut self) -> Result<(), DemoError> {
        self.chapter("A failing battery in the garden camera");
        let garden = self.cam("garden");
        garden.process.sim("battery", json!({"depth": 0.92}))?;
        self.wait_light(garden, "red_flash_after_recording", 20)?;
        self.say(format_args!(
            "low: {}; three red flashes now, after each recording and once a minute",
            in_words("red_flash_after_recording")
        ));
        self.say(
            "the camera sleeps between recordings: the hub hears of it at its next check-in (every 60 s by default)",
        );
        let low = self.wait(
            90,
            || "the hub hearing of the garden's low battery".into(),
            || {
                self.hub
                    .events(&garden.process.device_id)
                    .into_iter()
                    .find(|e| e["event"] == "battery_low")
            },
        )?;
        self.say(format_args!(
            "the hub has the camera's battery_low event (seq {}); look: the garden card's battery, and Alerts",
            low["seq"]
        ));
        self.seen.faults.push(Fault {
            fault: "battery_failing",
            camera: garden.name.into(),
            detected: true,
            seen_as: format!("battery_low event seq {}", low["seq"]),
        });
        self.pause(3);
        garden.process.sim("battery", json!({"depth": 0.995}))?;
        self.wait_light(garden, "red_flash_then_dark", 20)?;
        self.wait_light(garden, "off", 10)?;
        self.say(format_args!(
            "critical: {}",
            in_words("red_flash_then_dark")
        ));
        self.pause(2);
        garden.process.sim("battery", json!({"replace": true}))?;
        self.say("fresh batteries go in");
        self.wait_light(garden, "blue_solid", 30)?;
        self.wait_light(garden, "off", 20)?;
        self.say(format_args!(
            "it boots, connects ({}) and goes dark: {}",
            in_words("blue_solid"),
            in_words("off")
        ));
        Ok(())
    }

    /// Every camera's queue delivered (bounded): what is left is counted as queued.
    pub(crate) fn drain(&self) {
        let _ = wait_until(self.bounded(30), || {
            self.cams
                .iter()
                .all(|c| {
                    c.process
                        .status()
                        .ok()
                        .and_then(|s| s["queue_items"].as_u64())
                        == Some(0)
                })
                .then_some(())
        });
    }
}

impl Story<'_> {
    /// The light the hub reports for a camera (what the app shows).
    fn hub_light(&self, cam: &Cam) -> Option<String> {
        self.hub_camera(cam)?["state"]["light"]["light_id"]
            .as_str()
            .map(str::to_string)
    }

    /// Each camera's light beside the hub's view of it. A light the camera just changed
    /// reaches the hub within a moment (or, asleep, is the one it foresaw), so wait
    /// briefly for the two to agree before printing. Within the time limit.
    pub(crate) fn closing(&self) -> Result<(), DemoError> {
        for cam in self.cams {
            let agreed = wait_until(self.bounded(10), || {
                let seen = cam.process.field("light_id")?;
                (self.hub_light(cam).as_deref() == Some(seen.as_str())).then_some(())
            });
            if agreed.is_none() {
                tracing::warn!(
                    camera = cam.name,
                    "the hub's light differs from the camera's"
                );
            }
            self.console.line(format_args!(
                "  {:<12} light {:<16} hub shows {:<16} hub says {}",
                cam.name,
                cam.process.field("light_id").unwrap_or_default(),
                self.hub_light(cam).unwrap_or_default(),
                self.hub
                    .availability(&cam.process.device_id)
                    .unwrap_or_default()
            ));
        }
        if self.time_up() {
            return Err(self.failed("the closing look at every camera".into()));
        }
        Ok(())
    }
}
