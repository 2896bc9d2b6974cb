//! Where the story is told (the console), and the watcher that prints every light
//! change of every camera and the hub's view of each as they happen.

use crate::harness::Api;
use std::fmt::Display;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};
use watchlight_protocol::light::LightId;

/// Where the story's lines go: standard output, or standard error when standard
/// output is kept for the one line of JSON (`--json`).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Console {
    pub(crate) to_stderr: bool,
}

impl Console {
    pub(crate) fn line(self, text: impl Display) {
        if self.to_stderr {
            eprintln!("{text}");
        } else {
            println!("{text}");
        }
    }

    pub(crate) fn chapter(self, title: &str) {
        self.line(format_args!("\n== {title} =="));
    }
}

/// A light id with its meaning in the owner's words (`protocol::light`, the one place
/// they are kept).
pub(crate) fn in_words(light_id: &str) -> String {
    match LightId::parse(light_id) {
        Some(l) => format!("{light_id} (\"{}\")", l.meaning()),
        None => light_id.to_string(),
    }
}

pub(crate) struct Watcher {
    /// The light last printed for each camera, in the order they were given.
    pub(crate) printed: Arc<Mutex<Vec<String>>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Watcher {
    /// Watches `cams` (name, its local endpoint, its device id) and the hub's view.
    pub(crate) fn start(
        console: Console,
        started: Instant,
        cams: Vec<(String, Api, String)>,
        hub: Api,
    ) -> Watcher {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let printed = Arc::new(Mutex::new(vec![String::new(); cams.len()]));
        let lights = printed.clone();
        let thread = std::thread::spawn(move || {
            let mut avail: Vec<String> = vec![String::new(); cams.len()];
            let mut tick = 0u32;
            while !flag.load(Ordering::Relaxed) {
                for (i, (name, api, _)) in cams.iter().enumerate() {
                    if let Ok(s) = api.get("/sim/status") {
                        let id = s["light_id"].as_str().unwrap_or("?").to_string();
                        let mut lights = lights.lock().unwrap_or_else(|p| p.into_inner());
                        if id != lights[i] {
                            console.line(format_args!(
                                "  {:>6.1}s  {name:<12} light {:<26} {}",
                                started.elapsed().as_secs_f64(),
                                id,
                                s["meaning"].as_str().unwrap_or("")
                            ));
                            lights[i] = id;
                        }
                    }
                }
                if tick.is_multiple_of(5) {
                    for (i, (name, _, device)) in cams.iter().enumerate() {
                        let a = hub
                            .get(&format!("/api/v1/cameras/{device}"))
                            .ok()
                            .and_then(|v| v["availability"].as_str().map(str::to_string))
                            .unwrap_or_else(|| "unknown".into());
                        // Not yet paired: nothing to say.
                        if a != avail[i] && !(avail[i].is_empty() && a == "unknown") {
                            console.line(format_args!(
                                "  {:>6.1}s  {name:<12} hub says {a}",
                                started.elapsed().as_secs_f64(),
                            ));
                            avail[i] = a;
                        }
                    }
                }
                tick += 1;
                std::thread::sleep(Duration::from_millis(100));
            }
        });
        Watcher {
            printed,
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
