//! Joining the Wi-Fi and connecting (with jitter on the core's backoff), what the
//! session's ends mean, and a battery camera's check-in: read the pack, connect, say
//! what it has to say, linger for commands and its queue, then hang up `sleeping`.

use super::{
    CHECKIN_LINGER_MS, HANG_UP_LINGER_MS, InFlight, JOIN_RETRY_MS, LINGER_STEP_MS, MAX_CHECKIN_MS,
    Machine, Output,
};
use watchlight_camera::Input as CoreInput;
use watchlight_hw::sim::Load;
use watchlight_hw::{BatteryReading, WifiError};
use watchlight_protocol::LifecycleState;
use watchlight_protocol::messages::{Availability, AvailabilityMsg, encode};
use watchlight_protocol::topics::DeviceTopic;

impl Machine {
    /// Connection attempt `attempt` (0: the first, no jitter): joins the Wi-Fi first.
    pub(super) fn connect(&mut self, attempt: u32) {
        if self.powered_off
            || self.session.is_some()
            || self.pending_connect_at.is_some()
            || self.joining_wifi.is_some()
        {
            return;
        }
        let Some(creds) = &self.creds else { return };
        let (ssid, passphrase) = (creds.wifi_ssid.clone(), creds.wifi_passphrase.clone());
        self.joining_wifi = Some(attempt);
        self.emit(Output::JoinWifi { ssid, passphrase });
    }

    pub(super) fn wifi_joined(&mut self, result: Result<(), WifiError>) {
        let Some(attempt) = self.joining_wifi.take() else {
            return;
        };
        match result {
            Ok(()) => {
                // Jitter on retries, so a houseful of cameras does not reconnect in lockstep.
                let jitter = if attempt > 0 {
                    let spread = self.core.backoff_ms(attempt) / 5;
                    self.rng.up_to(spread)
                } else {
                    0
                };
                self.pending_connect_at = Some(self.now + jitter);
            }
            Err(e) if self.wifi_change.as_ref().is_some_and(|c| c.error.is_none()) => {
                // The new credentials do not work here: back to the ones that did.
                self.revert_wifi_change(&e.to_string());
                self.connect(attempt);
            }
            Err(WifiError::Rejected) => {
                tracing::warn!("the access point refused the passphrase");
                self.emit(Output::LastError(Some("wifi_rejected".into())));
                self.feed_core(CoreInput::WifiRejected);
            }
            Err(e) => {
                tracing::info!("Wi-Fi: {e}");
                self.connect_failed();
            }
        }
    }

    /// A connection attempt failed before reaching the hub.
    pub(super) fn connect_failed(&mut self) {
        match self.core.state() {
            LifecycleState::Joining => self.join_retry_at = Some(self.now + JOIN_RETRY_MS),
            // A battery camera between check-ins believes itself online until it tries.
            LifecycleState::Online => self.feed_core(CoreInput::LinkLost),
            _ => {}
        }
    }

    pub(super) fn start_session(&mut self) {
        if self.session.is_some() {
            return;
        }
        let Some(topics) = self.topics() else { return };
        let last_will = (!self.on_battery).then(|| {
            let will = AvailabilityMsg {
                v: 1,
                ts: 0,
                availability: Availability::Offline,
            };
            (topics.topic(DeviceTopic::Availability), encode(&will))
        });
        self.sessions_made += 1;
        self.session = Some(self.sessions_made);
        self.closing = false;
        self.emit(Output::Connect {
            session: self.sessions_made,
            keepalive_s: u64::from(self.core.settings().keepalive.max(1)),
            last_will,
        });
    }

    /// Drops the session at once (a lost link, power off, forgetting the hub). An event
    /// in flight is sent again on the next connection.
    pub(super) fn drop_session(&mut self) {
        if self.session.take().is_some() {
            self.emit(Output::DropSession);
        }
        self.connected = false;
        self.closing = false;
        self.linger_until = None;
        self.pending_connect_at = None;
        self.forget_publish_in_flight();
    }

    fn forget_publish_in_flight(&mut self) {
        if matches!(self.in_flight, Some(InFlight::Publishing { .. })) {
            self.in_flight = None;
            self.hub_ack_by = None;
        }
    }

    pub(super) fn on_connected(&mut self) {
        if self.ever_connected {
            self.reconnects += 1;
        }
        self.ever_connected = true;
        self.connected = true;
        self.emit(Output::LastError(None));
        let topics = self.topics().expect("a session has credentials");
        self.emit(Output::Subscribe {
            filter: topics.settings(),
        });
        self.emit(Output::Subscribe {
            filter: topics.cmd_filter(),
        });
        self.emit_load(Load::Transmitting);
        self.feed_core(CoreInput::HubConnected);
        self.publish_availability(Availability::Online);
        self.publish_state();
        self.publish_telemetry();
        if let Some(change) = self.wifi_change.take() {
            self.publish_result(&change.cmd_id, change.error);
        }
        if self.on_battery {
            self.linger_until = Some(self.now + CHECKIN_LINGER_MS);
            self.checkin_since = Some(self.now);
        }
    }

    pub(super) fn on_refused(&mut self, reason: &str) {
        tracing::warn!("the hub refused the device credential: {reason}");
        self.session = None;
        self.emit(Output::DropSession);
        self.connected = false;
        self.feed_core(CoreInput::HubRejected);
        if self.core.state() == LifecycleState::Joining {
            self.join_retry_at = Some(self.now + JOIN_RETRY_MS);
        }
    }

    pub(super) fn on_closed(&mut self, reason: &str) {
        let was_connected = self.connected;
        let on_purpose = self.closing;
        let rejoin = std::mem::take(&mut self.rejoining);
        self.session = None;
        self.emit(Output::DropSession);
        self.connected = false;
        self.closing = false;
        self.linger_until = None;
        self.forget_publish_in_flight();
        self.emit_load(Load::Idle);
        if on_purpose && rejoin {
            tracing::info!("rejoining the Wi-Fi with the new credentials");
            self.connect(0);
        } else if on_purpose {
            tracing::debug!("check-in over");
        } else if was_connected {
            tracing::warn!("connection to the hub lost: {reason}");
            self.feed_core(CoreInput::LinkLost);
        } else {
            tracing::info!("could not reach the hub: {reason}");
            self.connect_failed();
        }
    }

    /// The core's check-in: a mains camera sends telemetry; a battery camera reads its
    /// pack first, then sends it if connected or connects.
    pub(super) fn check_in(&mut self) {
        if !self.on_battery {
            self.publish_telemetry();
            return;
        }
        self.checkin_after_reading = true;
        self.emit(Output::ReadBattery);
    }

    fn check_in_with_reading(&mut self) {
        if self.connected {
            self.publish_telemetry();
            self.linger_until = Some(self.now + CHECKIN_LINGER_MS);
            return;
        }
        if self.core.state() == LifecycleState::Online {
            self.connect(0);
        }
    }

    pub(super) fn on_battery_reading(&mut self, reading: BatteryReading, fresh_cells: bool) {
        self.feed_core(CoreInput::Battery(reading));
        if fresh_cells && self.powered_off {
            self.powered_off = false;
            self.next_frame_at = self.now;
        }
        if std::mem::take(&mut self.checkin_after_reading) {
            self.check_in_with_reading();
        }
    }

    /// The linger after a check-in (or a goodbye) is over.
    pub(super) fn linger_over(&mut self) {
        if self.closing {
            // The goodbye was not answered: hang up anyway.
            let rejoin = std::mem::take(&mut self.rejoining);
            self.drop_session();
            if rejoin {
                self.connect(0);
            }
        } else if self.connected {
            let overdue = self
                .checkin_since
                .is_some_and(|t| self.now >= t + MAX_CHECKIN_MS);
            let done = self.in_flight.is_none() && self.queue_items == 0;
            if (done || overdue) && !self.live.is_busy() {
                self.sleep_now();
            } else {
                self.linger_until = Some(self.now + LINGER_STEP_MS);
            }
        }
    }

    /// A battery camera's check-in is done: say it sleeps and hang up.
    fn sleep_now(&mut self) {
        // The light it goes to sleep with (and when that ends) is the last the hub hears.
        self.publish_state();
        self.hang_up(Availability::Sleeping);
    }

    /// Says `availability` (retained, so the hub reads it even after the link is gone)
    /// and hangs up, lingering until the session has sent it. False when there is no
    /// session to hang up.
    pub(super) fn hang_up(&mut self, availability: Availability) -> bool {
        let (Some(_), Some(topics)) = (self.session, self.topics()) else {
            return false;
        };
        let msg = AvailabilityMsg {
            v: 1,
            ts: self.hub_time(self.now),
            availability,
        };
        self.emit(Output::Publish {
            topic: topics.topic(DeviceTopic::Availability),
            payload: encode(&msg),
            qos: super::Qos::AtLeastOnce,
            retain: true,
            tag: None,
        });
        self.emit(Output::Disconnect);
        self.closing = true;
        self.linger_until = Some(self.now + HANG_UP_LINGER_MS);
        true
    }
}
