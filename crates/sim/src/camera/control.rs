//! What the run tells a camera: its credential, motion, and the faults it takes
//! (`docs/sim.md`). A fault changes the camera's world — its radio, its access point,
//! its battery pack, its image sensor, its firmware — and the camera core answers as on
//! a real camera.

use super::{Camera, Conn, far};
use std::time::Duration;
use tokio::time::Instant;
use watchlight_camera::Input;
use watchlight_protocol::LifecycleState;

#[derive(Debug)]
pub enum Control {
    /// The camera's credential from pairing.
    Provisioned {
        token: String,
    },
    /// The access point is gone for `for_ms`.
    LinkCut {
        for_ms: u64,
    },
    /// The radio passes nothing, closes nothing, for `for_ms`.
    LinkSilent {
        for_ms: u64,
    },
    /// For `for_ms` the signal is down to `rssi_dbm` and the link drops for 2-4 s every
    /// 8-14 s (seeded).
    RssiDegrade {
        rssi_dbm: i32,
        for_ms: u64,
    },
    /// The Wi-Fi password changed: the access point refuses the camera's for `for_ms`,
    /// until the owner gives the camera the new one.
    WifiPasswordChange {
        for_ms: u64,
    },
    /// The battery pack is drained to `depth` (0..1) of its capacity.
    BatteryDrain {
        depth: f64,
    },
    /// A frost on a part-used pack: `temp_c`, cells `age_months` old, `depth` drawn.
    BatteryCold {
        temp_c: f64,
        age_months: f64,
        depth: f64,
    },
    /// The firmware hangs for `for_ms`: nothing moves, nothing is sent, the light
    /// freezes; then the owner power-cycles it and it boots again.
    Hang {
        for_ms: u64,
    },
    /// The image sensor dies: no frame from now on.
    SensorFail,
    Motion,
    /// No more motion of its own (the run is ending); what is under way finishes.
    Quiet,
}

/// The faults a camera is under.
#[derive(Default)]
pub(super) struct Faults {
    /// The battery went critical: the camera delivers what it holds, then goes dark.
    pub powering_off: bool,
    /// Dark until fresh batteries (none come in a run).
    pub off: bool,
    hung_until: Option<Instant>,
    wifi_refused_until: Option<Instant>,
    degraded: Option<Degraded>,
}

struct Degraded {
    until: Instant,
    rssi_dbm: i32,
    next_drop: Instant,
}

impl Faults {
    pub fn hung(&self) -> bool {
        self.hung_until.is_some()
    }

    pub fn wifi_refuses(&self, now: Instant) -> bool {
        self.wifi_refused_until.is_some_and(|u| now < u)
    }

    /// The signal the camera reports.
    pub fn rssi(&self, normal: i32) -> i32 {
        self.degraded.as_ref().map_or(normal, |d| d.rssi_dbm)
    }
}

impl Camera {
    pub(super) fn on_control(&mut self, c: Control) {
        let now = Instant::now();
        let ms = self.ms(now);
        if self.faults.hung() && !matches!(c, Control::Quiet) {
            return;
        }
        match c {
            Control::Provisioned { token } => {
                self.token = Some(token);
                if self.body.state() == LifecycleState::Setup {
                    self.body.input(ms, Input::Provisioned);
                    self.act();
                    self.conn = Conn::Down { retry_at: now };
                } else {
                    self.provision_pending = true;
                }
            }
            Control::LinkCut { for_ms } => self.cut_link(now, for_ms),
            Control::LinkSilent { for_ms } => {
                let until = now + Duration::from_millis(for_ms);
                self.link_down_until = Some(until);
                match std::mem::replace(&mut self.conn, Conn::Down { retry_at: until }) {
                    Conn::Up { client, el, .. } => {
                        self.conn = Conn::Silent {
                            _client: client,
                            _el: el,
                            until,
                        };
                        self.lost();
                    }
                    Conn::Connecting { .. } => self.lost(),
                    other => self.conn = other,
                }
            }
            Control::RssiDegrade { rssi_dbm, for_ms } => {
                let first = self.rng.between(500, 3_000);
                self.faults.degraded = Some(Degraded {
                    until: now + Duration::from_millis(for_ms),
                    rssi_dbm,
                    next_drop: now + Duration::from_millis(first),
                });
                // The signal has been this weak for a while when the drops begin: the
                // hub has it from the camera's telemetry.
                self.send_telemetry();
            }
            Control::WifiPasswordChange { for_ms } => {
                self.faults.wifi_refused_until = Some(now + Duration::from_millis(for_ms));
                // The access point drops everyone when its password changes.
                self.cut_link(now, 0);
            }
            Control::BatteryDrain { depth } => {
                self.body.drain_battery(ms, depth);
                self.act();
            }
            Control::BatteryCold {
                temp_c,
                age_months,
                depth,
            } => {
                self.body.chill_battery(ms, temp_c, age_months, depth);
                self.act();
            }
            Control::Hang { for_ms } => {
                let until = now + Duration::from_millis(for_ms);
                self.faults.hung_until = Some(until);
                self.status
                    .connected
                    .store(false, std::sync::atomic::Ordering::Relaxed);
                // The connection stays open and unanswered, as the process froze.
                self.conn = match std::mem::replace(&mut self.conn, Conn::Down { retry_at: far() })
                {
                    Conn::Up { client, el, .. } => Conn::Silent {
                        _client: client,
                        _el: el,
                        until,
                    },
                    _ => Conn::Down { retry_at: far() },
                };
            }
            Control::SensorFail => {
                self.body.break_image_sensor(ms);
                self.act();
            }
            Control::Motion => self.motion(),
            Control::Quiet => self.next_motion = None,
        }
    }

    /// The access point is gone for `for_ms`: the socket closes at once.
    fn cut_link(&mut self, now: Instant, for_ms: u64) {
        let until = now + Duration::from_millis(for_ms);
        self.link_down_until = Some(until);
        if matches!(self.conn, Conn::Up { .. } | Conn::Connecting { .. }) {
            self.lost();
        }
        self.conn = Conn::Down {
            retry_at: if self.battery {
                self.next_checkin.max(until)
            } else {
                until
            },
        };
    }

    /// When a fault has something to do next.
    pub(super) fn fault_wake(&self) -> Option<Instant> {
        let degraded = self
            .faults
            .degraded
            .as_ref()
            .map(|d| d.next_drop.min(d.until));
        [self.faults.hung_until, degraded]
            .into_iter()
            .flatten()
            .min()
    }

    /// Moves the faults on; true while the camera is hung (it does nothing else).
    pub(super) fn fault_timer(&mut self, now: Instant) -> bool {
        if let Some(until) = self.faults.hung_until {
            if now < until {
                return true;
            }
            self.faults.hung_until = None;
            // Power-cycled: the frozen connection is dropped, the camera boots again.
            self.conn = Conn::Down { retry_at: now };
            self.motion_end_at = None;
            self.body.reboot(self.ms(now));
            self.act();
        }
        if let Some(d) = &mut self.faults.degraded {
            if now >= d.until {
                self.faults.degraded = None;
            } else if now >= d.next_drop {
                let down = self.rng.between(2_000, 4_000);
                let gap = self.rng.between(8_000, 14_000);
                d.next_drop = now + Duration::from_millis(down + gap);
                self.cut_link(now, down);
            }
        }
        false
    }
}
