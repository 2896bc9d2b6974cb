//! The decision of snapshots and live view (docs/contracts.md, "Snapshots and live
//! view"), without I/O: which frame goes to the live stream (one at a time, a frame that
//! comes while the previous one is on its way is skipped), which answers a snapshot,
//! when the watchdog stops a stream nobody answers, when a snapshot with no frame fails.
//! Times are the agent's monotonic ms. `crate::live` encodes and uploads.

/// Without a `200` from the hub for this long, a live stream stops.
pub const WATCHDOG_MS: u64 = 5_000;
/// A snapshot with no frame (or no upload) after this long fails.
pub const SNAPSHOT_WAIT_MS: u64 = 5_000;

#[derive(Debug, Clone, PartialEq, Eq)]
struct Run {
    id: u64,
    last_ok_at: u64,
    in_flight: bool,
}

/// What to do with the frame just read.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct FrameUse {
    /// Send it on the live stream of this run.
    pub stream: Option<u64>,
    /// Send it as the snapshot these commands asked for.
    pub snapshot_for: Vec<String>,
}

/// What time did.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct LiveTick {
    /// The watchdog stopped the stream.
    pub stopped: bool,
    /// Snapshot commands that got no frame in time.
    pub expired: Vec<String>,
}

/// The decisions, without I/O.
#[derive(Debug, Default)]
pub struct LivePlan {
    run: Option<Run>,
    runs: u64,
    /// Snapshot commands waiting for a frame, with when they were asked.
    waiting: Vec<(String, u64)>,
    /// Snapshot commands whose upload is on its way, with when they were asked.
    uploading: Vec<(String, u64)>,
    frames_sent: u64,
}

impl LivePlan {
    pub fn is_streaming(&self) -> bool {
        self.run.is_some()
    }

    /// Whether a battery camera must stay awake for this.
    pub fn is_busy(&self) -> bool {
        self.run.is_some() || !self.waiting.is_empty() || !self.uploading.is_empty()
    }

    pub fn frames_sent(&self) -> u64 {
        self.frames_sent
    }

    pub fn start(&mut self, now: u64) {
        if self.run.is_none() {
            self.runs += 1;
            self.run = Some(Run {
                id: self.runs,
                last_ok_at: now,
                in_flight: false,
            });
        }
    }

    /// Stops the stream; `true` if one was running.
    pub fn stop(&mut self) -> bool {
        self.run.take().is_some()
    }

    pub fn ask_snapshot(&mut self, cmd_id: &str, now: u64) {
        self.waiting.push((cmd_id.to_string(), now));
    }

    pub fn wants_frame(&self) -> bool {
        !self.waiting.is_empty() || self.run.as_ref().is_some_and(|r| !r.in_flight)
    }

    /// A frame was read: what it is for.
    pub fn on_frame(&mut self) -> FrameUse {
        let mut used = FrameUse::default();
        if let Some(run) = &mut self.run
            && !run.in_flight
        {
            run.in_flight = true;
            self.frames_sent += 1;
            used.stream = Some(run.id);
        }
        for (id, asked) in self.waiting.drain(..) {
            used.snapshot_for.push(id.clone());
            self.uploading.push((id, asked));
        }
        used
    }

    /// The hub answered a live frame; `true` when the stream stops because of it.
    pub fn frame_answered(&mut self, run_id: u64, now: u64, result: &Result<bool, String>) -> bool {
        let Some(run) = self.run.as_mut().filter(|r| r.id == run_id) else {
            return false; // an answer for a stream already stopped
        };
        run.in_flight = false;
        match result {
            Ok(true) => {
                run.last_ok_at = now;
                false
            }
            Ok(false) => {
                self.run = None;
                true
            }
            Err(_) => false,
        }
    }

    /// A snapshot upload finished: its commands are answered.
    pub fn snapshot_done(&mut self, cmd_ids: &[String]) {
        self.uploading.retain(|(id, _)| !cmd_ids.contains(id));
    }

    pub fn tick(&mut self, now: u64) -> LiveTick {
        let mut tick = LiveTick::default();
        if self
            .run
            .as_ref()
            .is_some_and(|r| now >= r.last_ok_at + WATCHDOG_MS)
        {
            self.run = None;
            tick.stopped = true;
        }
        self.waiting.retain(|(id, asked)| {
            let late = now >= asked + SNAPSHOT_WAIT_MS;
            if late {
                tick.expired.push(id.clone());
            }
            !late
        });
        tick
    }

    pub fn next_deadline(&self) -> Option<u64> {
        let watchdog = self.run.as_ref().map(|r| r.last_ok_at + WATCHDOG_MS);
        let snapshot = self.waiting.iter().map(|(_, t)| t + SNAPSHOT_WAIT_MS).min();
        watchdog.into_iter().chain(snapshot).min()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_frame_at_a_time_and_the_hubs_answers_keep_the_stream_going() {
        let mut p = LivePlan::default();
        assert!(!p.wants_frame());
        p.start(0);
        assert!(p.is_streaming() && p.wants_frame());
        let used = p.on_frame();
        let run = used.stream.expect("streams the first frame");
        assert!(!p.wants_frame(), "the previous frame is still on its way");
        assert_eq!(p.on_frame(), FrameUse::default(), "skipped, not queued");
        assert!(!p.frame_answered(run, 100, &Ok(true)));
        assert!(p.wants_frame());
        // Answers keep the watchdog fed.
        for t in (200..20_000).step_by(100) {
            assert_eq!(p.on_frame().stream, Some(run));
            assert!(!p.frame_answered(run, t, &Ok(true)));
            assert_eq!(p.tick(t), LiveTick::default(), "at {t}");
        }
        assert_eq!(p.frames_sent(), 199);
    }

    #[test]
    fn nobody_watching_stops_at_once_and_silence_stops_it_after_the_watchdog() {
        let mut p = LivePlan::default();
        p.start(0);
        let run = p.on_frame().stream.unwrap();
        assert!(p.frame_answered(run, 100, &Ok(false)), "410: stop");
        assert!(!p.is_streaming());
        assert!(
            !p.frame_answered(run, 150, &Ok(true)),
            "a late answer changes nothing"
        );

        p.start(1_000);
        let run = p.on_frame().stream.unwrap();
        assert!(!p.frame_answered(run, 1_200, &Ok(true)));
        for t in (1_300..1_200 + WATCHDOG_MS).step_by(100) {
            if let Some(r) = p.on_frame().stream {
                assert!(!p.frame_answered(r, t, &Err("connection refused".into())));
            }
            assert!(!p.tick(t).stopped, "at {t}");
        }
        assert_eq!(p.next_deadline(), Some(1_200 + WATCHDOG_MS));
        assert!(p.tick(1_200 + WATCHDOG_MS).stopped);
        assert!(!p.is_streaming() && !p.is_busy());
    }

    #[test]
    fn a_snapshot_takes_the_next_frame_or_fails_after_the_wait() {
        let mut p = LivePlan::default();
        p.ask_snapshot("c1", 0);
        p.ask_snapshot("c2", 10);
        assert!(p.wants_frame() && p.is_busy());
        let used = p.on_frame();
        assert_eq!(used.stream, None, "not streaming");
        assert_eq!(used.snapshot_for, ["c1", "c2"], "one picture answers both");
        assert!(!p.wants_frame());
        assert!(p.is_busy(), "awake until the upload is answered");
        p.snapshot_done(&used.snapshot_for);
        assert!(!p.is_busy());

        // No frame comes (a broken image sensor): the command fails after the wait.
        p.ask_snapshot("c3", 1_000);
        assert_eq!(p.tick(1_000 + SNAPSHOT_WAIT_MS - 1), LiveTick::default());
        let tick = p.tick(1_000 + SNAPSHOT_WAIT_MS);
        assert_eq!(tick.expired, ["c3"]);
        assert!(!p.is_busy());
    }

    #[test]
    fn a_snapshot_while_streaming_shares_the_frame() {
        let mut p = LivePlan::default();
        p.start(0);
        p.ask_snapshot("c1", 0);
        let used = p.on_frame();
        assert!(used.stream.is_some());
        assert_eq!(used.snapshot_for, ["c1"]);
    }
}
