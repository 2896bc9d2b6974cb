//! One simulated camera: a task with its own MQTT connection and credential, speaking
//! the camera's side of the protocol (docs/contracts.md, "MQTT") without a video
//! pipeline, with the camera core deciding its light, lifecycle, battery and triggers
//! ([`crate::body`]). It keeps its events and clips in a queue until the hub
//! acknowledges each on `cmd/ack` (sent again after 5 s, and on every new connection),
//! so a hub killed mid-write loses nothing the camera recorded ([`queue`]); a recording
//! that ends with the image sensor working is a real clip uploaded over HTTP before its
//! `clip_recorded` event goes ([`upload`]).
//!
//! - Mains (`mini`): connected all the time with the keepalive of its settings and a
//!   last will `offline`; telemetry every `telemetry_s`.
//! - Battery: wakes at each check-in (its settings' `checkin_interval`) and on what it
//!   records, connects, reports `online`, state and telemetry, delivers its queue,
//!   lingers 1.5 s, reports `sleeping` and disconnects cleanly.
//!
//! A link cut drops the socket (the broker sees it close); a silent link stops polling
//! the connection, so nothing crosses and nothing closes and the broker learns of it
//! only from the missing keepalives; a hung camera does the same and its light freezes.
//! Connection attempts pass a gate shared by the fleet ([`Shared::gate`]), which keeps
//! the cameras waiting for a CONNACK below the hub's per-address limit ([`connection`]).
//! The faults a camera takes are in [`control`].

mod connection;
mod control;
mod queue;
mod upload;

use crate::body::{Act, Body};
use crate::scenario::CameraSpec;
pub use crate::shared::{EventRecord, Ledger, Shared, Status, str_field, wall_ms};
pub use control::Control;
use queue::Queued;
use rumqttc::{AsyncClient, ConnectionError, Event, EventLoop, QoS};
use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;
use tokio::sync::{OwnedSemaphorePermit, mpsc};
use tokio::task::JoinHandle;
use tokio::time::{Instant, sleep_until};
use upload::UploadDone;
pub use upload::Uploader;
use watchlight_camera::Input;
use watchlight_camera::jitter::SplitMix64;
use watchlight_protocol::LifecycleState;
use watchlight_protocol::messages::{StateMsg, TelemetryMsg, encode};
use watchlight_protocol::topics::{DeviceTopic, DeviceTopics};

/// The hub's acknowledgement is awaited this long before an event is sent again.
const ACK_WAIT: Duration = Duration::from_secs(5);
/// A battery camera stays connected this long after its queue is empty, for commands.
const LINGER: Duration = Duration::from_millis(1_500);
/// A battery camera whose queue the hub does not take goes back to sleep after this.
const MAX_CHECKIN: Duration = Duration::from_secs(30);
/// A connection attempt that has no CONNACK by then has failed.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(15);
/// Reconnect backoff: from 1 s, doubling, at most this, with ±25 % seeded jitter.
const BACKOFF_MAX_MS: u64 = 16_000;
/// How long after `motion_start` a camera sends `motion_end`.
const MOTION_LASTS: Duration = Duration::from_secs(4);

enum Conn {
    /// Not connected; try again at `retry_at` (battery: the next check-in).
    Down { retry_at: Instant },
    Connecting {
        client: AsyncClient,
        el: EventLoop,
        _permit: OwnedSemaphorePermit,
        by: Instant,
    },
    Up {
        client: AsyncClient,
        el: EventLoop,
        since: Instant,
    },
    /// A battery camera said goodbye; waiting for the close.
    Leaving { el: EventLoop, by: Instant },
    /// The link went silent: the connection is kept, never polled.
    Silent {
        _client: AsyncClient,
        _el: EventLoop,
        until: Instant,
    },
}

pub struct Camera {
    spec: CameraSpec,
    shared: Arc<Shared>,
    status: Arc<Status>,
    topics: DeviceTopics,
    battery: bool,
    token: Option<String>,
    /// The credential came while the camera was still booting: it is taken once the
    /// camera is in setup mode, as a camera's provisioning endpoint opens only then.
    provision_pending: bool,
    conn: Conn,
    queue: VecDeque<Queued>,
    next_seq: u64,
    keepalive_s: u64,
    checkin_every: Duration,
    link_down_until: Option<Instant>,
    backoff_ms: u64,
    reconnects: u32,
    rng: SplitMix64,
    started: Instant,
    next_telemetry: Instant,
    next_motion: Option<Instant>,
    motion_end_at: Option<Instant>,
    next_checkin: Instant,
    body: Body,
    faults: control::Faults,
    /// The clip upload under way: its item's seq and task.
    upload: Option<(u64, JoinHandle<()>)>,
    upload_tx: mpsc::UnboundedSender<UploadDone>,
    upload_rx: Option<mpsc::UnboundedReceiver<UploadDone>>,
    /// Clips this camera has made (it names them), across reboots.
    clips_made: u64,
}

fn far() -> Instant {
    Instant::now() + Duration::from_secs(365 * 24 * 3600)
}

impl Camera {
    pub fn new(spec: CameraSpec, shared: Arc<Shared>, status: Arc<Status>) -> Camera {
        let mut rng =
            SplitMix64::new(shared.seed ^ (spec.index as u64).wrapping_mul(0x2545_f491_4f6c_dd1d));
        let now = Instant::now();
        let tel_ms = shared.telemetry_every.as_millis() as u64;
        let next_telemetry = now + Duration::from_millis(rng.between(0, tel_ms));
        let next_motion = spec.sees_motion.then(|| {
            now + Duration::from_millis(
                rng.between(spec.motion_every_ms / 2, spec.motion_every_ms * 3 / 2),
            )
        });
        // Where people pass in this camera's picture: the lower half, somewhere across.
        let motion_at = (
            rng.between(200, 800) as f32 / 1000.0,
            rng.between(550, 900) as f32 / 1000.0,
        );
        let battery = spec.profile.profile().on_battery();
        let body = Body::new(spec.profile, 0, motion_at);
        let (upload_tx, upload_rx) = mpsc::unbounded_channel();
        let mut camera = Camera {
            topics: DeviceTopics::new(shared.home.clone(), spec.device_id()),
            battery,
            token: None,
            provision_pending: false,
            conn: Conn::Down { retry_at: far() },
            queue: VecDeque::new(),
            next_seq: 1,
            keepalive_s: 5,
            checkin_every: Duration::from_secs(60),
            link_down_until: None,
            backoff_ms: 1_000,
            reconnects: 0,
            rng,
            started: now,
            next_telemetry,
            next_motion,
            motion_end_at: None,
            next_checkin: far(),
            body,
            faults: control::Faults::default(),
            upload: None,
            upload_tx,
            upload_rx: Some(upload_rx),
            clips_made: 0,
            spec,
            shared,
            status,
        };
        camera.act();
        camera
    }

    /// The camera's own clock (the body's), ms since it was made.
    fn ms(&self, at: Instant) -> u64 {
        at.saturating_duration_since(self.started).as_millis() as u64
    }

    fn at(&self, ms: u64) -> Instant {
        self.started + Duration::from_millis(ms)
    }

    pub async fn run(mut self, mut rx: mpsc::UnboundedReceiver<Control>) {
        let Some(mut uploads) = self.upload_rx.take() else {
            return;
        };
        loop {
            let timer = self.next_timer();
            tokio::select! {
                ev = poll(&mut self.conn) => self.on_conn(ev),
                ctl = rx.recv() => match ctl {
                    Some(c) => self.on_control(c),
                    None => return,
                },
                Some(done) = uploads.recv() => self.on_upload_done(done),
                _ = sleep_until(timer) => self.on_timer(),
            }
            // An upload goes over the camera's one link: it ends with the connection.
            if self.upload.is_some() && !matches!(self.conn, Conn::Up { .. }) {
                self.stop_upload();
            }
        }
    }

    fn next_timer(&self) -> Instant {
        let mut t = far();
        let mut at = |i: Instant| t = t.min(i);
        match &self.conn {
            Conn::Down { retry_at } => at(*retry_at),
            Conn::Connecting { by, .. } | Conn::Leaving { by, .. } => at(*by),
            Conn::Silent { until, .. } => at(*until),
            Conn::Up { since, .. } => {
                if let Some(d) = self.next_delivery(Instant::now()) {
                    at(d);
                }
                if self.battery {
                    at(*since + MAX_CHECKIN);
                    if self.queue.is_empty() {
                        at(*since + LINGER);
                    }
                }
            }
        }
        if !self.battery && self.token.is_some() {
            at(self.next_telemetry);
        }
        if let Some(m) = self.next_motion {
            at(m);
        }
        if let Some(m) = self.motion_end_at {
            at(m);
        }
        if let Some(w) = self.body.next_wake() {
            at(self.at(w));
        }
        if let Some(f) = self.fault_wake() {
            at(f);
        }
        t
    }

    fn on_timer(&mut self) {
        let now = Instant::now();
        if self.fault_timer(now) {
            // A hung camera does nothing else.
            return;
        }
        let ms = self.ms(now);
        self.body.tick(ms);
        if self.provision_pending && self.body.state() == LifecycleState::Setup {
            self.provision_pending = false;
            self.body.input(ms, Input::Provisioned);
            self.conn = Conn::Down { retry_at: now };
        }
        self.act();
        if self.link_down_until.is_some_and(|u| now >= u) {
            self.link_down_until = None;
        }
        if self.next_motion.is_some_and(|m| now >= m) {
            let every = self.spec.motion_every_ms;
            self.next_motion =
                Some(now + Duration::from_millis(self.rng.between(every / 2, every * 3 / 2)));
            self.motion();
        }
        if self.motion_end_at.is_some_and(|m| now >= m) {
            self.motion_end_at = None;
            self.body.motion_end(ms);
            self.act();
        }
        if !self.battery && self.token.is_some() && now >= self.next_telemetry {
            self.next_telemetry = now + self.shared.telemetry_every;
            self.send_telemetry();
        }
        match std::mem::replace(&mut self.conn, Conn::Down { retry_at: far() }) {
            Conn::Down { retry_at } if now >= retry_at => self.try_connect(),
            Conn::Connecting { by, .. } if now >= by => self.failed_connect(),
            Conn::Silent { until, .. } if now >= until => {
                // The radio is back: the old connection is dead to both sides.
                self.conn = Conn::Down { retry_at: now };
            }
            Conn::Leaving { by, .. } if now >= by => self.asleep(),
            Conn::Up { client, el, since } => {
                self.conn = Conn::Up { client, el, since };
                self.deliver(now);
                let done = self.queue.is_empty() && now >= since + LINGER;
                if (self.battery || self.faults.powering_off)
                    && (now >= since + MAX_CHECKIN || done)
                {
                    self.goodbye();
                }
            }
            other => self.conn = other,
        }
    }

    /// Motion in front of the camera, for [`MOTION_LASTS`]: what it records is the
    /// core's decision (armed, zones, the sensor working).
    fn motion(&mut self) {
        if self.faults.hung() {
            return;
        }
        // Motion again while motion is under way is another trigger: it extends.
        let now = Instant::now();
        self.body.motion_start(self.ms(now));
        self.motion_end_at = Some(now + MOTION_LASTS);
        self.act();
    }

    /// Telemetry now, when connected.
    fn send_telemetry(&mut self) {
        let telemetry = encode(&self.telemetry());
        if let Conn::Up { client, .. } = &self.conn {
            let _ = client.try_publish(
                self.topics.topic(DeviceTopic::Telemetry),
                QoS::AtMostOnce,
                false,
                telemetry,
            );
        }
    }

    /// Carries out what the body asks.
    fn act(&mut self) {
        // What the run reads of the camera follows every input.
        self.status.busy.store(
            self.motion_end_at.is_some() || self.body.is_recording(),
            Ordering::Relaxed,
        );
        self.status
            .settings_version
            .store(self.body.settings_version(), Ordering::Relaxed);
        while let Some(a) = self.body.next_act() {
            match a {
                Act::Event { kind, data } => self.record(kind, data),
                Act::Clip {
                    trigger,
                    started_ms,
                } => self.clip_recorded(trigger, started_ms),
                Act::StateChanged => self.light_changed(),
                Act::PowerOff => {
                    // The camera says what it has left to say, then goes dark.
                    self.faults.powering_off = true;
                }
                Act::Forget => {
                    self.token = None;
                    self.conn = Conn::Down { retry_at: far() };
                }
            }
        }
    }

    /// The light or state changed: the hub hears it at once when connected, and the
    /// run can read what an owner looking at the camera would see.
    fn light_changed(&mut self) {
        let light = self.body.light_id();
        let started = self.started;
        let alarming = self
            .body
            .last_alarming()
            .map(|(at, l)| (started + Duration::from_millis(at), l));
        {
            let mut seen = self.status.light.lock().unwrap_or_else(|p| p.into_inner());
            seen.now = Some(light);
            seen.last_alarming = alarming;
        }
        if let Conn::Up { client, .. } = &self.conn {
            let _ = client.try_publish(
                self.topics.topic(DeviceTopic::State),
                QoS::AtLeastOnce,
                true,
                encode(&self.state()),
            );
        }
    }

    fn state(&self) -> StateMsg {
        let now = Instant::now();
        StateMsg {
            v: 1,
            ts: wall_ms(),
            state: self.body.state(),
            light: self.body.light_report(self.ms(now), wall_ms()),
            profile: self.spec.profile,
            firmware: "sim".into(),
            settings_version: self.body.settings_version(),
        }
    }

    fn telemetry(&mut self) -> TelemetryMsg {
        let jitter = (self.rng.next_u64() % 5) as i32 - 2;
        let reading = self.body.battery_reading();
        TelemetryMsg {
            v: 1,
            ts: wall_ms(),
            battery_resting_mv: reading.map(|r| r.resting_mv),
            battery_loaded_mv: reading.map(|r| r.loaded_mv),
            temperature_c: Some(reading.map_or(21.0, |r| r.temp_c)),
            rssi_dbm: Some(self.faults.rssi(self.spec.rssi_dbm) + jitter),
            uptime_s: self.started.elapsed().as_secs(),
            queue_bytes: self.queue_bytes(),
            reconnects: self.reconnects,
        }
    }
}

/// The next thing the connection has to say; never, when there is no connection to poll.
async fn poll(conn: &mut Conn) -> Result<Event, ConnectionError> {
    match conn {
        Conn::Connecting { el, .. } | Conn::Up { el, .. } | Conn::Leaving { el, .. } => {
            el.poll().await
        }
        Conn::Down { .. } | Conn::Silent { .. } => {
            std::future::pending::<Result<Event, ConnectionError>>().await
        }
    }
}
