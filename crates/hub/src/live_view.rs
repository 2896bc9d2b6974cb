//! Live view on the hub (SPEC §9): who watches which camera, when the camera is asked
//! to stream and to stop, and the relay of its frames to every viewer.
//!
//! [`LiveSession`] is the decision, sans-IO: viewers join and leave, frames arrive,
//! the owner extends a battery camera's cap, time passes; it answers with
//! [`LiveAction`]s (send `live_start`, send `live_stop`). [`LiveViews`] keeps one
//! session per camera with a `tokio::sync::broadcast` of its frames: every viewer has
//! its own receiver, so a slow viewer skips frames (it lags) and never holds up the
//! camera or the other viewers.

use bytes::Bytes;
use serde::Serialize;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use tokio::sync::broadcast;

/// The default session cap of a battery camera (SPEC §9).
pub const DEFAULT_CAP_MS: u64 = 5 * 60 * 1000;
/// A camera that was streaming and sent nothing for this long is asked again (it may
/// have stopped on its own watchdog while its link was down).
pub const RESTART_AFTER_MS: u64 = 10_000;
/// Frames held for a viewer that is behind; older ones are skipped.
const VIEWER_BACKLOG: usize = 4;

/// What the hub must do for a session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LiveAction {
    /// Send the camera `cmd/live_start`.
    Start,
    /// Send the camera `cmd/live_stop`.
    Stop,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Idle,
    /// Asked the camera; no frame yet (a battery camera waits for its check-in).
    Starting,
    Streaming {
        started_at: u64,
        last_frame_at: u64,
    },
}

/// Why a cap cannot be extended.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ExtendError {
    #[error("mains cameras have no live view cap")]
    NoCap,
    #[error("nobody is watching this camera")]
    NotLive,
    #[error("the camera has not sent its first frame yet; the cap starts with it")]
    NotStreaming,
}

/// One camera's live view, as a state machine on the hub's clock.
#[derive(Debug, Clone)]
pub struct LiveSession {
    phase: Phase,
    viewers: u32,
    /// `None`: mains (no cap).
    cap_ms: Option<u64>,
    ends_at: Option<u64>,
    last_start_at: u64,
}

/// What `GET /api/v1/cameras/{id}/live` shows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LiveStatus {
    /// `idle`, `starting` or `streaming`.
    pub state: &'static str,
    pub viewers: u32,
    /// When the first frame arrived (hub ms).
    pub started_at_ms: Option<u64>,
    /// The session cap of a battery camera, seconds; `None` for mains.
    pub cap_s: Option<u64>,
    /// When a battery camera's stream ends unless extended (hub ms).
    pub ends_at_ms: Option<u64>,
}

impl LiveSession {
    pub fn new(cap_ms: Option<u64>) -> LiveSession {
        LiveSession {
            phase: Phase::Idle,
            viewers: 0,
            cap_ms,
            ends_at: None,
            last_start_at: 0,
        }
    }

    pub fn is_idle(&self) -> bool {
        self.phase == Phase::Idle
    }

    /// A viewer opened the stream; the first one asks the camera to stream.
    pub fn join(&mut self, now: u64) -> Option<LiveAction> {
        self.viewers += 1;
        if self.phase == Phase::Idle {
            self.phase = Phase::Starting;
            self.last_start_at = now;
            return Some(LiveAction::Start);
        }
        None
    }

    /// A viewer went away; after the last one the camera is told to stop.
    pub fn leave(&mut self) -> Option<LiveAction> {
        self.viewers = self.viewers.saturating_sub(1);
        if self.viewers == 0 && self.phase != Phase::Idle {
            self.end();
            return Some(LiveAction::Stop);
        }
        None
    }

    /// A frame arrived from the camera; `false`: nobody watches, it should stop.
    pub fn frame(&mut self, now: u64) -> bool {
        match self.phase {
            Phase::Idle => false,
            Phase::Starting => {
                self.phase = Phase::Streaming {
                    started_at: now,
                    last_frame_at: now,
                };
                self.ends_at = self.cap_ms.map(|cap| now + cap);
                true
            }
            Phase::Streaming { started_at, .. } => {
                self.phase = Phase::Streaming {
                    started_at,
                    last_frame_at: now,
                };
                true
            }
        }
    }

    /// Another cap for a battery camera's stream; the new end.
    pub fn extend(&mut self) -> Result<u64, ExtendError> {
        let cap = self.cap_ms.ok_or(ExtendError::NoCap)?;
        match (self.phase, self.ends_at) {
            (Phase::Idle, _) => Err(ExtendError::NotLive),
            (Phase::Starting, _) | (_, None) => Err(ExtendError::NotStreaming),
            (Phase::Streaming { .. }, Some(end)) => {
                let end = end + cap;
                self.ends_at = Some(end);
                Ok(end)
            }
        }
    }

    /// Time passed. At the cap the session ends (the viewers' streams close: the
    /// caller drops them when this answers `Stop` with no viewers left); a camera that
    /// went quiet while streaming is asked again.
    pub fn tick(&mut self, now: u64) -> Option<LiveAction> {
        let Phase::Streaming { last_frame_at, .. } = self.phase else {
            return None;
        };
        if self.ends_at.is_some_and(|end| now >= end) {
            self.viewers = 0;
            self.end();
            return Some(LiveAction::Stop);
        }
        if now >= last_frame_at + RESTART_AFTER_MS && now >= self.last_start_at + RESTART_AFTER_MS {
            self.last_start_at = now;
            return Some(LiveAction::Start);
        }
        None
    }

    pub fn status(&self) -> LiveStatus {
        let (state, started_at_ms) = match self.phase {
            Phase::Idle => ("idle", None),
            Phase::Starting => ("starting", None),
            Phase::Streaming { started_at, .. } => ("streaming", Some(started_at)),
        };
        LiveStatus {
            state,
            viewers: self.viewers,
            started_at_ms,
            cap_s: self.cap_ms.map(|c| c / 1000),
            ends_at_ms: self.ends_at,
        }
    }

    fn end(&mut self) {
        self.phase = Phase::Idle;
        self.ends_at = None;
    }
}

/// One JPEG of a live stream, with when the camera captured it (hub ms).
#[derive(Debug)]
pub struct LiveFrame {
    pub jpeg: Bytes,
    pub captured_at_ms: u64,
}

struct Entry {
    session: LiveSession,
    frames: broadcast::Sender<Arc<LiveFrame>>,
    /// Bumped when the cap closes every stream, so their late goodbyes count for nothing.
    generation: u64,
    /// A task ticks this session (`tick` says when it may stop).
    supervised: bool,
}

/// A viewer's place in a session: receive its frames; drop it (through
/// [`LiveViews::leave`]) when the viewer goes.
pub struct Viewer {
    pub frames: broadcast::Receiver<Arc<LiveFrame>>,
    pub generation: u64,
    /// Whether the caller must start a task that ticks the session.
    pub supervise: bool,
    pub action: Option<LiveAction>,
}

/// Every camera's live session.
pub struct LiveViews {
    cap_ms: u64,
    sessions: Mutex<HashMap<String, Entry>>,
}

impl LiveViews {
    /// `cap_ms`: a battery camera's session cap.
    pub fn new(cap_ms: u64) -> LiveViews {
        LiveViews {
            cap_ms: cap_ms.max(1000),
            sessions: Mutex::default(),
        }
    }

    pub fn cap_ms(&self) -> u64 {
        self.cap_ms
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Entry>> {
        self.sessions.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn entry<'a>(
        map: &'a mut HashMap<String, Entry>,
        device: &str,
        cap: Option<u64>,
    ) -> &'a mut Entry {
        map.entry(device.to_string()).or_insert_with(|| Entry {
            session: LiveSession::new(cap),
            frames: broadcast::channel(VIEWER_BACKLOG).0,
            generation: 0,
            supervised: false,
        })
    }

    fn cap_for(&self, battery: bool) -> Option<u64> {
        battery.then_some(self.cap_ms)
    }

    pub fn join(&self, device: &str, battery: bool, now: u64) -> Viewer {
        let cap = self.cap_for(battery);
        let mut map = self.lock();
        let e = Self::entry(&mut map, device, cap);
        e.session.cap_ms = cap;
        let action = e.session.join(now);
        let supervise = !std::mem::replace(&mut e.supervised, true);
        Viewer {
            frames: e.frames.subscribe(),
            generation: e.generation,
            supervise,
            action,
        }
    }

    /// A viewer of `generation` went away.
    pub fn leave(&self, device: &str, generation: u64) -> Option<LiveAction> {
        let mut map = self.lock();
        let e = map.get_mut(device)?;
        if e.generation != generation {
            return None;
        }
        e.session.leave()
    }

    /// A frame from the camera: relayed to every viewer; `false` when nobody watches.
    pub fn frame(&self, device: &str, frame: LiveFrame, now: u64) -> bool {
        let mut map = self.lock();
        let Some(e) = map.get_mut(device) else {
            return false;
        };
        if !e.session.frame(now) {
            return false;
        }
        // No receiver left is fine: the goodbyes are on their way.
        let _ = e.frames.send(Arc::new(frame));
        true
    }

    pub fn extend(&self, device: &str, battery: bool) -> Result<u64, ExtendError> {
        let cap = self.cap_for(battery);
        let mut map = self.lock();
        match map.get_mut(device) {
            Some(e) => e.session.extend(),
            None => LiveSession::new(cap).extend(),
        }
    }

    /// Ticks a session: the action to take and whether its task should go on.
    pub fn tick(&self, device: &str, now: u64) -> (Option<LiveAction>, bool) {
        let mut map = self.lock();
        let Some(e) = map.get_mut(device) else {
            return (None, false);
        };
        let action = e.session.tick(now);
        if action == Some(LiveAction::Stop) {
            // The cap: every open stream ends (dropping the sender closes them).
            e.generation += 1;
            e.frames = broadcast::channel(VIEWER_BACKLOG).0;
        }
        let go_on = !e.session.is_idle();
        if !go_on {
            e.supervised = false;
        }
        (action, go_on)
    }

    pub fn status(&self, device: &str, battery: bool) -> LiveStatus {
        let cap = self.cap_for(battery);
        match self.lock().get(device) {
            Some(e) => e.session.status(),
            None => LiveSession::new(cap).status(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CAP: u64 = 60_000;

    #[test]
    fn the_first_viewer_starts_the_camera_and_the_last_one_stops_it() {
        let mut s = LiveSession::new(None);
        assert_eq!(s.join(0), Some(LiveAction::Start));
        assert_eq!(s.status().state, "starting");
        assert_eq!(s.join(100), None, "a second viewer shares the stream");
        assert!(s.frame(900));
        let st = s.status();
        assert_eq!((st.state, st.viewers), ("streaming", 2));
        assert_eq!(st.started_at_ms, Some(900));
        assert_eq!((st.cap_s, st.ends_at_ms), (None, None), "mains: no cap");
        assert_eq!(s.leave(), None);
        assert_eq!(s.leave(), Some(LiveAction::Stop));
        assert_eq!(s.status().state, "idle");
        assert!(!s.frame(1000), "frames after the last viewer are refused");
        assert_eq!(s.leave(), None, "an extra goodbye changes nothing");
    }

    #[test]
    fn a_battery_cameras_stream_ends_at_its_cap_unless_extended() {
        let mut s = LiveSession::new(Some(CAP));
        assert_eq!(s.extend(), Err(ExtendError::NotLive));
        s.join(0);
        assert_eq!(s.extend(), Err(ExtendError::NotStreaming));
        // The camera wakes at its check-in; the cap counts from its first frame.
        assert!(s.frame(30_000));
        assert_eq!(s.status().ends_at_ms, Some(30_000 + CAP));
        assert_eq!(s.status().cap_s, Some(60));
        for t in (31_000..30_000 + CAP).step_by(1000) {
            assert!(s.frame(t));
            assert_eq!(s.tick(t), None, "at {t}");
        }
        assert_eq!(s.extend(), Ok(30_000 + 2 * CAP));
        assert_eq!(s.tick(30_000 + CAP), None, "extended");
        let end = 30_000 + 2 * CAP;
        assert!(s.frame(end - 1));
        assert_eq!(s.tick(end), Some(LiveAction::Stop));
        let st = s.status();
        assert_eq!((st.state, st.viewers, st.ends_at_ms), ("idle", 0, None));
        assert_eq!(
            s.leave(),
            None,
            "the closed streams' goodbyes send nothing more"
        );
    }

    #[test]
    fn a_camera_that_goes_quiet_while_streaming_is_asked_again() {
        let mut s = LiveSession::new(None);
        s.join(0);
        assert_eq!(s.tick(RESTART_AFTER_MS * 3), None, "still starting: waits");
        assert!(s.frame(40_000));
        assert_eq!(s.tick(40_000 + RESTART_AFTER_MS - 1), None);
        assert_eq!(s.tick(40_000 + RESTART_AFTER_MS), Some(LiveAction::Start));
        assert_eq!(
            s.tick(40_000 + RESTART_AFTER_MS + 1),
            None,
            "not again at once"
        );
        assert_eq!(
            s.tick(40_000 + 2 * RESTART_AFTER_MS),
            Some(LiveAction::Start)
        );
    }

    #[test]
    fn mains_cameras_cannot_be_extended() {
        let mut s = LiveSession::new(None);
        s.join(0);
        s.frame(10);
        assert_eq!(s.extend(), Err(ExtendError::NoCap));
    }

    #[tokio::test]
    async fn views_relay_each_frame_to_every_viewer_and_the_cap_closes_their_streams() {
        let views = LiveViews::new(CAP);
        let mut a = views.join("cam-a", true, 0);
        assert_eq!(a.action, Some(LiveAction::Start));
        assert!(a.supervise);
        let mut b = views.join("cam-a", true, 10);
        assert_eq!(b.action, None);
        assert!(!b.supervise, "one task ticks a session");
        let frame = |t| LiveFrame {
            jpeg: Bytes::from_static(b"\xff\xd8jpeg\xff\xd9"),
            captured_at_ms: t,
        };
        assert!(views.frame("cam-a", frame(100), 100));
        assert!(!views.frame("cam-b", frame(100), 100), "nobody watches b");
        assert_eq!(a.frames.recv().await.unwrap().captured_at_ms, 100);
        assert_eq!(b.frames.recv().await.unwrap().captured_at_ms, 100);
        // A slow viewer skips frames; the others do not wait for it.
        for t in 200..220 {
            assert!(views.frame("cam-a", frame(t), t));
        }
        assert!(matches!(
            b.frames.recv().await,
            Err(broadcast::error::RecvError::Lagged(_))
        ));
        assert_eq!(
            views.tick("cam-a", 200 + CAP),
            (Some(LiveAction::Stop), false)
        );
        // a's stream ends: after what it had, the channel is closed.
        while !matches!(
            a.frames.recv().await,
            Err(broadcast::error::RecvError::Closed)
        ) {}
        assert_eq!(views.leave("cam-a", a.generation), None);
        assert_eq!(views.status("cam-a", true).state, "idle");
        let again = views.join("cam-a", true, 300 + CAP);
        assert_eq!(again.action, Some(LiveAction::Start));
        assert!(again.supervise, "the old task stopped, a new one ticks");
    }
}
