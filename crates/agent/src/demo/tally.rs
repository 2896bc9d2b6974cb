//! What the story left behind, counted from the hub's API at the end (the one line of
//! JSON `--json` prints): cameras and their profiles, clips, events, and the events a
//! camera recorded that the hub does not have and no camera reported dropped (lost).

use super::Cam;
use crate::harness::HubProcess;
use serde::Serialize;
use serde_json::Value;
use std::collections::BTreeSet;
use std::path::Path;

/// A fault the story plays, and whether (and how) the hub saw it.
#[derive(Debug, Clone, Serialize)]
pub struct Fault {
    /// `wifi_password_mistyped`, `wifi_outage`, `battery_failing`.
    pub fault: &'static str,
    pub camera: String,
    pub detected: bool,
    /// What the hub's API showed.
    pub seen_as: String,
}

/// The events of one camera, accounted for.
#[derive(Debug, Default, Clone, Serialize)]
pub struct Ledger {
    /// Items the camera numbered (events and clips share one sequence).
    pub recorded: u64,
    /// Listed by the hub.
    pub delivered: u64,
    /// Named by a `clip_dropped` event.
    pub dropped: u64,
    /// Still in the camera's offline queue: late, not lost.
    pub queued: u64,
    /// None of the above.
    pub lost: Vec<u64>,
}

/// The seqs still in a camera's offline queue folder (`<seq>.item`).
fn queued_seqs(queue: &Path) -> BTreeSet<u64> {
    std::fs::read_dir(queue)
        .map(|entries| {
            entries
                .filter_map(|e| e.ok())
                .filter_map(|e| {
                    e.file_name()
                        .to_str()?
                        .strip_suffix(".item")?
                        .parse::<u64>()
                        .ok()
                })
                .collect()
        })
        .unwrap_or_default()
}

/// The next seq the camera would give (`queue/next_seq`); 1 before its first item.
fn next_seq(queue: &Path) -> u64 {
    std::fs::read_to_string(queue.join("next_seq"))
        .ok()
        .and_then(|t| t.trim().parse().ok())
        .unwrap_or(1)
}

/// Accounts for every item `cam` numbered against what the hub lists for it.
pub(crate) fn ledger(hub: &HubProcess, cam: &Cam) -> Ledger {
    let queue = cam.process.data.join(crate::persist::QUEUE_DIR);
    let events = hub.events(&cam.process.device_id);
    let listed: BTreeSet<u64> = events.iter().filter_map(|e| e["seq"].as_u64()).collect();
    let dropped: BTreeSet<u64> = events
        .iter()
        .filter(|e| e["event"] == "clip_dropped")
        .filter_map(|e| e["data"]["seq"].as_u64())
        .collect();
    let queued = queued_seqs(&queue);
    let mut ledger = Ledger {
        recorded: next_seq(&queue).saturating_sub(1),
        ..Ledger::default()
    };
    for seq in 1..=ledger.recorded {
        if listed.contains(&seq) {
            ledger.delivered += 1;
        } else if dropped.contains(&seq) {
            ledger.dropped += 1;
        } else if queued.contains(&seq) {
            ledger.queued += 1;
        } else {
            ledger.lost.push(seq);
        }
    }
    ledger
}

/// The line `--json` prints.
#[derive(Debug, Serialize)]
pub struct Summary {
    /// Cameras the hub lists.
    pub cameras: usize,
    /// Clips the hub lists, over every camera.
    pub clips: usize,
    /// Events the hub lists, over every camera.
    pub events: usize,
    /// Events a camera recorded that the hub does not have and no camera reported
    /// dropped.
    pub lost: u64,
    /// Faults of the story the hub saw.
    pub faults_detected: usize,
    /// Faults the story played.
    pub faults_played: usize,
    /// The profiles of the cameras the hub lists, each once.
    pub profiles: Vec<String>,
    /// Items the cameras numbered, over every camera.
    pub recorded: u64,
    /// Reported dropped (`clip_dropped`).
    pub dropped: u64,
    /// Still in a camera's queue at the end: late, not lost.
    pub queued: u64,
    /// `device#seq` of each lost item.
    pub lost_items: Vec<String>,
    pub faults: Vec<Fault>,
    /// The motion indicator's red flash was seen while the setting was on, and the
    /// setting was off again at the end.
    pub motion_indicator_flash_seen: bool,
    pub motion_indicator_off_again: bool,
    /// Live view: frames the viewer received, and whether the camera stopped
    /// streaming after the viewer left.
    pub live_frames: usize,
    pub live_stopped: bool,
    /// The story told again from a kept folder was not told: the home was resumed.
    pub resumed: bool,
    /// Seconds from start to this line.
    pub seconds: f64,
}

/// What the story saw along the way, for the summary.
#[derive(Debug, Default, Clone)]
pub struct Seen {
    pub faults: Vec<Fault>,
    pub flash_seen: bool,
    pub indicator_off_again: bool,
    pub live_frames: usize,
    pub live_stopped: bool,
}

pub(crate) fn summary(hub: &HubProcess, cams: &[Cam], seen: &Seen, resumed: bool) -> Summary {
    let listed: Vec<Value> = hub
        .api
        .get("/api/v1/cameras")
        .ok()
        .and_then(|v| v["cameras"].as_array().cloned())
        .unwrap_or_default();
    let profiles: BTreeSet<String> = listed
        .iter()
        .filter_map(|c| c["profile"].as_str().map(str::to_string))
        .collect();
    let (mut clips, mut events) = (0, 0);
    for c in &listed {
        if let Some(id) = c["id"].as_str() {
            clips += hub.clips(id).len();
            events += hub.events(id).len();
        }
    }
    let mut s = Summary {
        cameras: listed.len(),
        clips,
        events,
        lost: 0,
        faults_detected: seen.faults.iter().filter(|f| f.detected).count(),
        faults_played: seen.faults.len(),
        profiles: profiles.into_iter().collect(),
        recorded: 0,
        dropped: 0,
        queued: 0,
        lost_items: Vec::new(),
        faults: seen.faults.clone(),
        motion_indicator_flash_seen: seen.flash_seen,
        motion_indicator_off_again: seen.indicator_off_again,
        live_frames: seen.live_frames,
        live_stopped: seen.live_stopped,
        resumed,
        seconds: 0.0,
    };
    for cam in cams {
        let l = ledger(hub, cam);
        s.recorded += l.recorded;
        s.dropped += l.dropped;
        s.queued += l.queued;
        s.lost += l.lost.len() as u64;
        s.lost_items.extend(
            l.lost
                .iter()
                .map(|seq| format!("{}#{seq}", cam.process.device_id)),
        );
    }
    s
}
