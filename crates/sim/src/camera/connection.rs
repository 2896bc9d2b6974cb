//! A simulated camera's connection: joining through the fleet's gate, its MQTT session
//! and what it says on connecting, reconnect backoff, a battery camera's goodbye and
//! sleep, and the hub's messages (settings, `cmd/ack`).

use super::{BACKOFF_MAX_MS, CONNECT_TIMEOUT, Camera, Conn, far};
use crate::shared::wall_ms;
use rumqttc::{
    AsyncClient, ConnectionError, Event, EventLoop, LastWill, MqttOptions, Packet, QoS,
    TlsConfiguration, Transport,
};
use std::sync::atomic::Ordering;
use std::time::Duration;
use tokio::time::Instant;
use watchlight_camera::Input;
use watchlight_protocol::LifecycleState;
use watchlight_protocol::messages::{
    Availability, AvailabilityMsg, EventAckMsg, SettingsMsg, decode, encode,
};
use watchlight_protocol::topics::DeviceTopic;

impl Camera {
    /// The connection is gone without a goodbye: the camera notices, and its core shows
    /// the connection lost.
    pub(super) fn lost(&mut self) {
        self.status.connected.store(false, Ordering::Relaxed);
        self.reconnects += 1;
        let now = self.ms(Instant::now());
        self.body.input(now, Input::LinkLost);
        self.act();
    }

    pub(super) fn try_connect(&mut self) {
        let now = Instant::now();
        let Some(token) = self.token.clone() else {
            self.conn = Conn::Down { retry_at: far() };
            return;
        };
        if self.faults.off {
            self.conn = Conn::Down { retry_at: far() };
            return;
        }
        let ms = self.ms(now);
        if !matches!(
            self.body.state(),
            LifecycleState::Joining
                | LifecycleState::Online
                | LifecycleState::Offline
                // The battery's last breath: what is queued (`battery_critical`) goes.
                | LifecycleState::Shutdown
        ) {
            // Booting, or back in setup: the core says when it joins.
            self.conn = Conn::Down {
                retry_at: now + Duration::from_millis(200),
            };
            return;
        }
        if let Some(until) = self.link_down_until {
            // A battery camera between check-ins believes itself online until it tries.
            if self.body.state() == LifecycleState::Online {
                self.body.input(ms, Input::LinkLost);
                self.act();
            }
            self.conn = Conn::Down { retry_at: until };
            return;
        }
        if self.faults.wifi_refuses(now) {
            // The access point refuses the passphrase the camera has.
            self.body.input(ms, Input::WifiRejected);
            self.act();
            self.failed_connect();
            return;
        }
        let Ok(permit) = self.shared.gate.clone().try_acquire_owned() else {
            // Others are logging in: come back shortly, spread out.
            let wait = self.rng.between(20, 200);
            self.conn = Conn::Down {
                retry_at: now + Duration::from_millis(wait),
            };
            return;
        };
        let (client, el) = self.session(&token);
        self.status.connects.fetch_add(1, Ordering::Relaxed);
        self.conn = Conn::Connecting {
            client,
            el,
            _permit: permit,
            by: now + CONNECT_TIMEOUT,
        };
    }

    pub(super) fn session(&self, token: &str) -> (AsyncClient, EventLoop) {
        let url = watchlight_protocol::mqtt_url::MqttUrl::parse(&self.shared.mqtt_url)
            .expect("the hub printed a valid MQTT URL");
        let device = self.spec.device_id();
        let mut o = MqttOptions::new(&device, url.host, url.port);
        o.set_credentials(&device, token);
        o.set_keep_alive(Duration::from_secs(self.keepalive_s.max(1)));
        o.set_clean_session(false);
        o.set_max_packet_size(128 * 1024, 128 * 1024);
        if !self.battery {
            let will = AvailabilityMsg {
                v: 1,
                ts: 0,
                availability: Availability::Offline,
            };
            o.set_last_will(LastWill::new(
                self.topics.topic(DeviceTopic::Availability),
                encode(&will),
                QoS::AtLeastOnce,
                true,
            ));
        }
        if let Some(tls) = &self.shared.tls {
            o.set_transport(Transport::tls_with_config(TlsConfiguration::Rustls(
                tls.clone(),
            )));
        }
        AsyncClient::new(o, 64)
    }

    pub(super) fn failed_connect(&mut self) {
        self.status.failed_connects.fetch_add(1, Ordering::Relaxed);
        let now = Instant::now();
        if self.body.state() == LifecycleState::Online {
            self.body.input(self.ms(now), Input::LinkLost);
            self.act();
        }
        // A battery camera that has joined waits for its next check-in; one still joining
        // (its credentials fresh: a broker that has not yet loaded them refuses it) keeps
        // trying within its join window, as a mains camera does.
        let joining = self.body.state() == LifecycleState::Joining;
        let retry_at = if self.battery && !joining {
            self.next_checkin = now + self.checkin_every;
            self.next_checkin
        } else {
            let b = self.backoff_ms;
            self.backoff_ms = (b * 2).min(BACKOFF_MAX_MS);
            now + Duration::from_millis(self.rng.between(b * 3 / 4, b * 5 / 4))
        };
        self.conn = Conn::Down { retry_at };
    }

    pub(super) fn on_conn(&mut self, ev: Result<Event, ConnectionError>) {
        let now = Instant::now();
        match ev {
            Ok(Event::Incoming(Packet::ConnAck(_))) => {
                let Conn::Connecting { client, el, .. } =
                    std::mem::replace(&mut self.conn, Conn::Down { retry_at: far() })
                else {
                    return;
                };
                self.backoff_ms = 1_000;
                self.body.input(self.ms(now), Input::HubConnected);
                self.status.connected.store(true, Ordering::Relaxed);
                self.status.ever_connected.store(true, Ordering::Relaxed);
                let _ = client.try_subscribe(self.topics.settings(), QoS::AtLeastOnce);
                let _ = client.try_subscribe(self.topics.cmd_filter(), QoS::AtLeastOnce);
                self.say_availability(&client, Availability::Online);
                let _ = client.try_publish(
                    self.topics.topic(DeviceTopic::State),
                    QoS::AtLeastOnce,
                    true,
                    encode(&self.state()),
                );
                let _ = client.try_publish(
                    self.topics.topic(DeviceTopic::Telemetry),
                    QoS::AtMostOnce,
                    false,
                    encode(&self.telemetry()),
                );
                self.requeue();
                self.conn = Conn::Up {
                    client,
                    el,
                    since: now,
                };
                self.act();
                self.deliver(now);
            }
            Ok(Event::Incoming(Packet::Publish(p))) => self.on_message(&p.topic, &p.payload),
            Ok(_) => {}
            Err(_) => match std::mem::replace(&mut self.conn, Conn::Down { retry_at: far() }) {
                Conn::Connecting { .. } => self.failed_connect(),
                Conn::Up { .. } => {
                    self.lost();
                    self.failed_connect();
                }
                Conn::Leaving { .. } => self.asleep(),
                other => self.conn = other,
            },
        }
    }

    pub(super) fn on_message(&mut self, topic: &str, payload: &[u8]) {
        if topic == self.topics.event_ack() {
            if let Ok(ack) = decode::<EventAckMsg>(payload) {
                self.on_event_ack(ack.seq);
            }
        } else if topic == self.topics.settings()
            && let Ok(s) = decode::<SettingsMsg>(payload)
        {
            self.keepalive_s = u64::from(s.settings.keepalive.max(1));
            self.checkin_every = Duration::from_secs(u64::from(s.settings.checkin_interval.max(1)));
            let now = self.ms(Instant::now());
            self.body.input(now, Input::Settings(Box::new(s.settings)));
            self.act();
        }
    }

    /// A battery camera's clean goodbye at the end of a check-in.
    pub(super) fn goodbye(&mut self) {
        let Conn::Up { client, el, .. } =
            std::mem::replace(&mut self.conn, Conn::Down { retry_at: far() })
        else {
            return;
        };
        self.say_availability(&client, Availability::Sleeping);
        let _ = client.try_disconnect();
        self.conn = Conn::Leaving {
            el,
            by: Instant::now() + Duration::from_secs(5),
        };
    }

    /// `availability`, retained, so the hub reads it even after the link is gone.
    pub(super) fn say_availability(&self, client: &AsyncClient, availability: Availability) {
        let msg = AvailabilityMsg {
            v: 1,
            ts: wall_ms(),
            availability,
        };
        let _ = client.try_publish(
            self.topics.topic(DeviceTopic::Availability),
            QoS::AtLeastOnce,
            true,
            encode(&msg),
        );
    }

    pub(super) fn asleep(&mut self) {
        self.status.connected.store(false, Ordering::Relaxed);
        let now = Instant::now();
        if self.faults.powering_off {
            self.faults.off = true;
            self.conn = Conn::Down { retry_at: far() };
            return;
        }
        self.next_checkin = now + self.checkin_every;
        self.conn = Conn::Down {
            retry_at: self.next_checkin,
        };
    }
}
