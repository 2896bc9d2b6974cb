//! The run's report (`--json` prints it): per fault, its detection and the doctor's
//! answer; in total, what happened to every event and every clip, and what the hub cost.

use crate::camera::Ledger;
use crate::clip::{Listed, SampleClip};
use crate::observe::ProcessCost;
use crate::scenario::CameraSpec;
use serde::Serialize;
use serde_json::Value;
use std::collections::{BTreeSet, HashMap};
use tokio::time::Instant;

/// A span in which events were held up on purpose (a fault); their latencies are
/// left out of the percentiles. `cameras: None` is the whole fleet.
pub struct Window {
    pub from: Instant,
    pub to: Instant,
    pub cameras: Option<BTreeSet<usize>>,
}

#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct Summary {
    pub n: usize,
    pub p50: Option<u64>,
    pub p99: Option<u64>,
    pub max: Option<u64>,
}

impl Summary {
    /// Nearest-rank percentiles of `values` (ms).
    pub fn of(mut values: Vec<u64>) -> Summary {
        values.sort_unstable();
        let rank = |p: f64| -> Option<u64> {
            if values.is_empty() {
                return None;
            }
            let i = ((p * values.len() as f64).ceil() as usize).clamp(1, values.len()) - 1;
            Some(values[i])
        };
        Summary {
            n: values.len(),
            p50: rank(0.50),
            p99: rank(0.99),
            max: values.last().copied(),
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct DoctorAnswer {
    pub device: String,
    /// The light the owner reported (what the camera showed).
    pub light: Option<String>,
    /// The case the hub built for the doctor (`GET .../case`) just before, with the
    /// owner's observations: what the doctor saw.
    pub case: Value,
    pub top: String,
    pub p: f64,
    pub first_step: Option<String>,
    /// The doctor's questions the owner answered, `field=answer`, in order.
    pub questions: Vec<String>,
    /// The top cause once those were answered.
    pub top_after_questions: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct FaultReport {
    pub index: usize,
    pub kind: String,
    pub at_s: f64,
    pub cameras: usize,
    /// Of those, the cameras the hub can be expected to see it on (a battery camera
    /// asleep through a short outage misses no check-in).
    pub detectable: usize,
    /// The SPEC §8 fault id the doctor should name.
    pub expect: Option<String>,
    /// Cameras the hub marked offline (live stream) after the fault began.
    pub detected: usize,
    pub detection_ms: Summary,
    pub bar_ms: Option<u64>,
    pub within_bar: bool,
    pub doctor: Vec<DoctorAnswer>,
    /// Doctor answers whose top cause is `expect`.
    pub doctor_right: usize,
    /// Hub faults: seconds from the restart until the hub printed its addresses.
    pub hub_up_s: Option<f64>,
    /// Hub faults: seconds from the restart until every mains camera was connected
    /// again (`None`: not within the wait).
    pub recovery_s: Option<f64>,
    /// Hub faults: seconds from the restart until every camera's queue was empty too
    /// (a battery camera that missed the hub retries at its next check-in).
    pub drained_s: Option<f64>,
}

#[derive(Debug, Clone, Serialize)]
pub struct EventFigures {
    /// Events the cameras made.
    pub recorded: usize,
    /// Listed once by the API at the end.
    pub delivered: usize,
    /// Listed more than once by the API, or sent more than once on the live stream.
    pub duplicated: usize,
    /// Reported dropped by a camera (`clip_dropped`): the simulated cameras keep every
    /// event until the hub acknowledges it, so only a full queue could.
    pub reported_dropped: usize,
    /// Acknowledged by the hub (so gone from the camera's queue) yet not listed, and
    /// not reported dropped: lost silently.
    pub lost: usize,
    /// Up to ten lost events, `device#seq kind`.
    pub lost_examples: Vec<String>,
    /// Still in a camera's queue when the drain ended: not lost, but the hub did not
    /// take them within the run.
    pub undelivered: u64,
    /// Events recorded on a live connection whose way no fault held up, timed: the
    /// hub's part (SPEC §10 "event to app").
    pub to_api_ms: Summary,
    pub to_sse_ms: Summary,
    /// Events recorded while the camera was asleep or reconnecting, to the live
    /// stream: the wake-up and the TLS handshake come first.
    pub to_sse_after_wake_ms: Summary,
    /// The live-stream way of the timed events in two: camera to the hub putting it on
    /// its stream, and the stream to the reader (wall clocks of one machine).
    pub to_hub_emit_ms: Summary,
    pub emit_to_reader_ms: Summary,
    /// Events that reached the live stream at all.
    pub on_stream: usize,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct ClipFigures {
    /// Clips the cameras made (recordings that ended with the image sensor working).
    pub recorded: usize,
    /// Listed once by the owner's API at the end (`GET /api/v1/cameras/{id}/clips`)
    /// with the video and thumbnail of the size and SHA-256 uploaded and the
    /// `clip_recorded` metadata: the owner can play them.
    pub delivered: usize,
    /// Listed more than once.
    pub duplicated: usize,
    /// Reported dropped by a camera (`clip_dropped`): the simulated cameras keep every
    /// clip until the hub has it, so none are.
    pub reported_dropped: usize,
    /// Gone from the camera's queue (the hub acknowledged its `clip_recorded`) yet not
    /// delivered, and not reported dropped: lost silently.
    pub lost: usize,
    /// Up to ten lost clips, `clip_id: why`.
    pub lost_examples: Vec<String>,
    /// Still in a camera's queue when the drain ended: not lost, but the hub did not
    /// take them within the run.
    pub undelivered: usize,
    /// Listed by the hub for a camera that did not record them.
    pub unknown: usize,
    /// Cameras whose clips the API would not list (their clips count as not delivered).
    pub unlisted_cameras: Vec<String>,
    /// Uploads that failed or were cut off by a lost link, each tried again.
    pub upload_failures: u64,
    /// Up to five of their errors.
    pub failure_examples: Vec<String>,
    /// From the end of the recording to the hub having video and thumbnail (a battery
    /// camera wakes and connects first; a hub fault holds some up).
    pub to_hub_ms: Summary,
    /// One delivered clip downloaded as the web app does: whether it is the uploaded
    /// MP4 and playable (`watchlight_media::probe_mp4`); `None` when none was delivered.
    pub played_back: Option<bool>,
    pub playback_error: Option<String>,
    /// The sample clip every camera uploads: its sizes and how long making it took.
    pub mp4_bytes: u64,
    pub thumbnail_bytes: u64,
    pub made_in_ms: u64,
}

/// What happened to every clip in `ledger`, against what the API listed.
pub fn clips(
    ledger: &Ledger,
    listed: &HashMap<(usize, String), Vec<Listed>>,
    sample: &SampleClip,
    specs: &[CameraSpec],
) -> ClipFigures {
    let mut f = ClipFigures {
        recorded: ledger.clips.len(),
        mp4_bytes: sample.mp4.len() as u64,
        thumbnail_bytes: sample.thumbnail.len() as u64,
        made_in_ms: sample.made_in_ms,
        ..ClipFigures::default()
    };
    let mut to_hub = Vec::new();
    for (key, r) in &ledger.clips {
        let listings = listed.get(key).map_or(0, Vec::len);
        let fault = match listed.get(key).map(Vec::as_slice) {
            Some([one]) => one.fault(sample),
            Some([_, _, ..]) => None,
            _ => Some("not listed".to_string()),
        };
        match fault {
            None if listings > 1 => f.duplicated += 1,
            None => f.delivered += 1,
            // Still in the camera's queue: late, not lost.
            Some(_) if r.acked.is_none() => f.undelivered += 1,
            Some(why) => {
                f.lost += 1;
                if f.lost_examples.len() < 10 {
                    f.lost_examples.push(format!(
                        "{} ({}#{}): {why}",
                        key.1,
                        specs[key.0].device_id(),
                        r.seq
                    ));
                }
            }
        }
        f.upload_failures += u64::from(r.failures);
        if let Some(e) = &r.last_error
            && f.failure_examples.len() < 5
        {
            f.failure_examples.push(e.clone());
        }
        if let Some(at) = r.uploaded {
            to_hub.push(at.duration_since(r.recorded).as_millis() as u64);
        }
    }
    f.unknown = listed
        .keys()
        .filter(|k| !ledger.clips.contains_key(k))
        .count();
    f.to_hub_ms = Summary::of(to_hub);
    f
}

/// What a process (the hub, an external broker) cost.
#[derive(Debug, Clone, Serialize)]
pub struct ProcessFigures {
    /// CPU seconds (user + system) over every life of the process, pairing included.
    pub cpu_s: f64,
    /// Of which while pairing and connecting the fleet.
    pub setup_cpu_s: f64,
    /// CPU seconds per second during the run (1.0 = one core busy).
    pub run_cpu_share: f64,
    pub peak_rss_mib: f64,
    /// Resident memory at the end over the cameras.
    pub rss_per_camera_kib: f64,
}

impl ProcessFigures {
    fn line(&self, what: &str) -> String {
        format!(
            "{what}: {:.1} CPU s ({:.2} cores during the run), peak RSS {:.0} MiB, {:.1} KiB per camera\n",
            self.cpu_s, self.run_cpu_share, self.peak_rss_mib, self.rss_per_camera_kib
        )
    }

    /// From the samples of `cost`, the CPU seconds spent before the run and the run's
    /// length, for `cameras` cameras.
    pub fn of(cost: &ProcessCost, setup_cpu_s: f64, run_s: f64, cameras: u64) -> ProcessFigures {
        let (cpu_s, peak_rss_kib, rss_kib) = cost.totals();
        ProcessFigures {
            cpu_s,
            setup_cpu_s,
            run_cpu_share: (cpu_s - setup_cpu_s) / run_s.max(1e-9),
            peak_rss_mib: peak_rss_kib as f64 / 1024.0,
            rss_per_camera_kib: rss_kib as f64 / cameras.max(1) as f64,
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct HubFigures {
    #[serde(flatten)]
    pub process: ProcessFigures,
    pub restarts: u32,
    /// The hub's own count of messages it dropped, by reason.
    pub dropped: Value,
}

#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub cameras: usize,
    pub seed: u64,
    pub duration_s: f64,
    pub pair_s: f64,
    pub online_s: f64,
    /// From every camera connected until every camera's first events were with the hub
    /// (the run and its timings start then).
    pub settle_s: f64,
    pub faults: Vec<FaultReport>,
    pub events: EventFigures,
    pub clips: ClipFigures,
    pub hub: HubFigures,
    /// The external broker's cost (`broker = "mosquitto"`).
    pub broker: Option<ProcessFigures>,
    pub connects: u64,
    pub failed_connects: u64,
    pub stream_lagged: u64,
    pub stream_opened: u64,
    pub open_files_allowed: u64,
    /// The simulator's own CPU seconds (it shares the machine's cores with the hub).
    pub sim_cpu_s: f64,
    /// An event or a clip that was recorded and is neither in the API nor reported
    /// dropped.
    pub lost_silently: bool,
    /// The doctor's top-1 on the injected faults, by the SPEC §8 id expected.
    pub doctor: DoctorFigures,
}

#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct DoctorFigures {
    pub asked: usize,
    pub right: usize,
    /// Right once the owner answered the doctor's questions.
    pub right_after_questions: usize,
    /// expected id -> (right, asked)
    pub by_fault: std::collections::BTreeMap<String, (usize, usize)>,
}

impl DoctorFigures {
    pub fn of(faults: &[FaultReport]) -> DoctorFigures {
        let mut d = DoctorFigures::default();
        for f in faults {
            let Some(expect) = &f.expect else { continue };
            for a in &f.doctor {
                let right = usize::from(&a.top == expect);
                let e = d.by_fault.entry(expect.clone()).or_default();
                e.0 += right;
                e.1 += 1;
                d.asked += 1;
                d.right += right;
                d.right_after_questions +=
                    usize::from(a.top_after_questions.as_ref() == Some(expect));
            }
        }
        d
    }
}

impl Report {
    pub fn judged(mut self) -> Report {
        self.lost_silently = self.events.lost > 0 || self.clips.lost > 0;
        self.doctor = DoctorFigures::of(&self.faults);
        self
    }

    /// A few lines for people.
    pub fn summary(&self) -> String {
        let ms = |v: Option<u64>| v.map_or("-".to_string(), |v| format!("{v} ms"));
        let mut out = format!(
            "{} cameras (seed {}), paired in {:.1} s, all connected after {:.1} s, first events in {:.1} s more\n",
            self.cameras, self.seed, self.pair_s, self.online_s, self.settle_s
        );
        for f in &self.faults {
            out.push_str(&format!("fault {} {} at {:.0} s", f.index, f.kind, f.at_s));
            if f.detectable > 0 {
                out.push_str(&format!(
                    ": {}/{} detected, p50 {} max {} (bar {}){}",
                    f.detected,
                    f.detectable,
                    ms(f.detection_ms.p50),
                    ms(f.detection_ms.max),
                    ms(f.bar_ms),
                    if f.within_bar { "" } else { " OVER THE BAR" },
                ));
            }
            if let Some(r) = f.recovery_s {
                out.push_str(&format!(
                    ": hub up in {:.1} s, mains cameras back in {r:.1} s, queues empty in {}",
                    f.hub_up_s.unwrap_or(0.0),
                    f.drained_s.map_or("-".into(), |d| format!("{d:.1} s"))
                ));
            }
            for d in &f.doctor {
                out.push_str(&format!(
                    "; doctor on {} ({}): {} {:.2}{} (expected {})",
                    d.device,
                    d.light.as_deref().unwrap_or("no light given"),
                    d.top,
                    d.p,
                    match &d.top_after_questions {
                        Some(t) if *t != d.top => format!(", {t} after {}", d.questions.join(", ")),
                        _ => String::new(),
                    },
                    f.expect.as_deref().unwrap_or("-")
                ));
            }
            out.push('\n');
        }
        if self.doctor.asked > 0 {
            out.push_str(&format!(
                "doctor: {}/{} named the injected fault first ({} once the owner answered its questions)",
                self.doctor.right, self.doctor.asked, self.doctor.right_after_questions
            ));
            for (id, (right, asked)) in &self.doctor.by_fault {
                out.push_str(&format!("; {id} {right}/{asked}"));
            }
            out.push('\n');
        }
        let e = &self.events;
        out.push_str(&format!(
            "events: {} recorded, {} delivered, {} duplicated, {} reported dropped, {} lost, {} still queued; to API p50 {} p99 {}; to live stream p50 {} p99 {} (recorded asleep or reconnecting: p50 {} p99 {})\n",
            e.recorded, e.delivered, e.duplicated, e.reported_dropped, e.lost, e.undelivered,
            ms(e.to_api_ms.p50), ms(e.to_api_ms.p99), ms(e.to_sse_ms.p50), ms(e.to_sse_ms.p99),
            ms(e.to_sse_after_wake_ms.p50), ms(e.to_sse_after_wake_ms.p99),
        ));
        let c = &self.clips;
        out.push_str(&format!(
            "clips: {} recorded, {} delivered, {} duplicated, {} reported dropped, {} lost, {} still queued; {} uploads retried; to the hub p50 {} p99 {}; one played back: {} ({} KiB MP4 + {} KiB JPEG, made in {} ms)\n",
            c.recorded, c.delivered, c.duplicated, c.reported_dropped, c.lost, c.undelivered,
            c.upload_failures, ms(c.to_hub_ms.p50), ms(c.to_hub_ms.p99),
            match (c.played_back, &c.playback_error) {
                (None, _) => "none delivered".to_string(),
                (Some(true), _) => "ok".to_string(),
                (Some(false), e) => format!("FAILED {}", e.as_deref().unwrap_or("")),
            },
            c.mp4_bytes / 1024, c.thumbnail_bytes / 1024, c.made_in_ms,
        ));
        out.push_str(&self.hub.process.line("hub"));
        if let Some(b) = &self.broker {
            out.push_str(&b.line("broker (Mosquitto)"));
        }
        out
    }

    /// Whether every fault was detected within its bar.
    pub fn faults_within_bars(&self) -> bool {
        self.faults.iter().all(|f| f.within_bar)
    }
}

fn disturbed(windows: &[Window], camera: usize, from: Instant, to: Instant) -> bool {
    windows.iter().any(|w| {
        from <= w.to && to >= w.from && w.cameras.as_ref().is_none_or(|c| c.contains(&camera))
    })
}

pub fn events(
    ledger: &Ledger,
    listed: &HashMap<(usize, u64), u32>,
    windows: &[Window],
    undelivered: u64,
    specs: &[CameraSpec],
) -> EventFigures {
    let (mut delivered, mut duplicated, mut lost, mut on_stream) = (0, 0, 0, 0);
    let mut lost_examples = Vec::new();
    let (mut to_api, mut to_sse, mut after_wake) = (Vec::new(), Vec::new(), Vec::new());
    let (mut to_emit, mut emit_to_reader) = (Vec::new(), Vec::new());
    for (key, r) in &ledger.events {
        match listed.get(key).copied().unwrap_or(0) {
            // Still in the camera's queue (never acknowledged): late, not lost.
            0 if r.acked.is_none() => {}
            0 => {
                lost += 1;
                if lost_examples.len() < 10 {
                    lost_examples.push(format!(
                        "{}#{} {:?} (acknowledged: {}, on the live stream: {}, made {} a connection)",
                        specs[key.0].device_id(),
                        key.1,
                        r.kind,
                        r.acked.is_some(),
                        r.sse_count,
                        if r.connected { "on" } else { "without" },
                    ));
                }
            }
            1 if r.sse_count <= 1 => delivered += 1,
            _ => duplicated += 1,
        }
        if let Some(at) = r.sse_at {
            on_stream += 1;
            let ms = at.duration_since(r.created).as_millis() as u64;
            if !disturbed(windows, key.0, r.created, at) {
                let bucket = if r.connected {
                    &mut to_sse
                } else {
                    &mut after_wake
                };
                bucket.push(ms);
                if r.connected
                    && let (Some(emit), Some(read)) = (r.hub_emit_wall_ms, r.sse_wall_ms)
                {
                    to_emit.push(emit.saturating_sub(r.created_wall_ms));
                    emit_to_reader.push(read.saturating_sub(emit));
                }
            }
        }
        if let Some(at) = r.api_at
            && r.connected
            && !disturbed(windows, key.0, r.created, at)
        {
            to_api.push(at.duration_since(r.created).as_millis() as u64);
        }
    }
    EventFigures {
        recorded: ledger.events.len(),
        delivered,
        duplicated,
        reported_dropped: 0,
        lost,
        lost_examples,
        undelivered,
        to_api_ms: Summary::of(to_api),
        to_sse_ms: Summary::of(to_sse),
        to_sse_after_wake_ms: Summary::of(after_wake),
        to_hub_emit_ms: Summary::of(to_emit),
        emit_to_reader_ms: Summary::of(emit_to_reader),
        on_stream,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_are_nearest_rank() {
        let s = Summary::of((1..=100).collect());
        assert_eq!(
            (s.n, s.p50, s.p99, s.max),
            (100, Some(50), Some(99), Some(100))
        );
        assert_eq!(Summary::of(vec![]).p50, None);
        assert_eq!(Summary::of(vec![7]).p99, Some(7));
    }
}
