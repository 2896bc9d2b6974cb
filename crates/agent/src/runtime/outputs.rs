//! Carrying out the machine's outputs: the MQTT session, the disk queue, the data
//! folder, the Wi-Fi and battery simulations, the recorder, and what people watching see.

use super::{AgentError, Runtime};
use crate::machine::{Input, Output, Qos};
use crate::session::{self, Session, SessionConfig, SessionEvent};
use rumqttc::QoS;
use watchlight_camera::RecordTrigger;
use watchlight_hw::sim::SimWifi;
use watchlight_hw::{WifiCredentials, WifiLink};
use watchlight_media::ClipTrigger;
use watchlight_protocol::LightId;

impl Runtime {
    pub(super) fn perform(&mut self, output: Output) -> Result<(), AgentError> {
        let now = self.mono();
        match output {
            Output::JoinWifi { ssid, passphrase } => {
                let link_up = self.link_up;
                let wifi = self
                    .wifi
                    .get_or_insert_with(|| SimWifi::new(&ssid, &passphrase, -55));
                wifi.set_outage(!link_up);
                let result = wifi.join(&WifiCredentials { ssid, passphrase });
                let rssi_dbm = wifi.rssi_dbm();
                self.machine
                    .handle_input(now, Input::WifiJoined { result, rssi_dbm });
            }
            Output::DropWifiLink => {
                if let Some(w) = &mut self.wifi {
                    w.drop_link();
                }
                self.report_rssi(now);
            }
            Output::Connect {
                session,
                keepalive_s,
                last_will,
            } => self.start_session(now, session, keepalive_s, last_will),
            Output::Subscribe { filter } => {
                if let Some(s) = &self.session {
                    s.subscribe(filter);
                }
            }
            Output::Publish {
                topic,
                payload,
                qos,
                retain,
                tag,
            } => {
                let qos = match qos {
                    Qos::AtMostOnce => QoS::AtMostOnce,
                    Qos::AtLeastOnce => QoS::AtLeastOnce,
                };
                let sent = self
                    .session
                    .as_ref()
                    .is_some_and(|s| s.publish(topic, qos, retain, payload, tag));
                if let (false, Some(tag)) = (sent, tag) {
                    self.machine.handle_input(now, Input::PublishFailed { tag });
                }
            }
            Output::Disconnect => {
                if let Some(s) = &self.session {
                    s.disconnect();
                }
            }
            Output::DropSession => {
                if let Some(s) = self.session.take() {
                    s.abort();
                }
            }
            Output::PeekQueue => {
                let head = self.peek_oldest()?;
                self.machine.handle_input(now, Input::Oldest(head));
            }
            Output::Upload { seq } => self.upload(seq)?,
            Output::Enqueue(event) => {
                self.queue.push_event(&event)?;
                self.queue_changed(now);
            }
            Output::DeleteItem { seq } => {
                if self.queue.seqs().contains(&seq) {
                    self.queue.ack(seq)?;
                    self.delivered += 1;
                    self.queue_changed(now);
                }
            }
            Output::ClearQueue => {
                for seq in self.queue.seqs() {
                    self.queue.ack(seq)?;
                }
                self.queue_changed(now);
            }
            Output::SaveState(state) => self.data.save_core(&state)?,
            Output::SaveCredentials(creds) => {
                if let Err(e) = self.data.save_credentials(&creds) {
                    tracing::error!("could not save the Wi-Fi credentials: {e}");
                }
            }
            Output::ForgetCredentials => self.data.forget_credentials()?,
            Output::ReadSensors => self.read_sensors(now)?,
            Output::ReadBattery => self.read_battery(now, false),
            Output::BatteryLoad(load) => {
                if let Some(b) = &mut self.battery {
                    b.set_load(load);
                }
            }
            Output::StartRecording { t_ms, trigger } => {
                let trigger = match trigger {
                    RecordTrigger::Pir => ClipTrigger::Pir,
                    RecordTrigger::Pixel => ClipTrigger::Pixel,
                    RecordTrigger::Manual => ClipTrigger::Manual,
                };
                let start_ts = self.machine.hub_time(t_ms);
                if let Err(e) = self.recorder.start(trigger, start_ts) {
                    // Recording goes on with the clip already under way.
                    tracing::warn!("clip recorder: {e}");
                }
                self.recording_start_ts = start_ts;
            }
            // Queued after the events of this turn (motion_end comes first).
            Output::StopRecording => self.clip_due = true,
            Output::SettingsChanged => self.apply_settings_to_hardware(),
            Output::Light {
                t_ms,
                condition,
                light,
            } => {
                let id = LightId::of(condition, light);
                if self.config.print_lights {
                    println!(
                        "light t={:.1}s condition={} light={} meaning=\"{}\"",
                        t_ms as f64 / 1000.0,
                        condition.as_str(),
                        id.as_str(),
                        id.meaning()
                    );
                }
                tracing::info!(condition = condition.as_str(), light = id.as_str(), "light");
            }
            Output::State { t_ms, state } => {
                tracing::info!(state = state.as_str(), "lifecycle");
                if self.config.print_lights {
                    println!(
                        "state t={:.1}s state={}",
                        t_ms as f64 / 1000.0,
                        state.as_str()
                    );
                }
            }
            Output::LastError(error) => self.shared.update(|s| s.last_error = error),
        }
        Ok(())
    }

    pub(super) fn report_rssi(&mut self, now: u64) {
        let rssi = self.wifi.as_ref().and_then(|w| w.rssi_dbm());
        self.machine.handle_input(now, Input::Rssi(rssi));
    }

    pub(super) fn queue_changed(&mut self, now: u64) {
        let (items, bytes) = (self.queue.len(), self.queue.bytes_used());
        self.machine
            .handle_input(now, Input::Queue { items, bytes });
    }

    // ----- the session -------------------------------------------------------------------

    pub(super) fn start_session(
        &mut self,
        now: u64,
        id: u64,
        keepalive_s: u64,
        last_will: Option<(String, Vec<u8>)>,
    ) {
        let Some(creds) = self.machine.credentials().cloned() else {
            self.machine
                .handle_input(now, Input::SessionFailed { session: id });
            return;
        };
        let tls = match &creds.cert_pem {
            Some(pem) => match session::pinned_tls(pem) {
                Ok(t) => Some(t),
                Err(e) => {
                    tracing::error!("{e}");
                    None
                }
            },
            None => None,
        };
        let config = SessionConfig {
            url: creds.mqtt_url.clone(),
            client_id: creds.device_id.clone(),
            username: creds.device_id.clone(),
            password: creds.token.clone(),
            keepalive_s,
            last_will,
            tls,
            allow_plain: self.config.insecure,
            radio: Some(self.radio.clone()),
        };
        match Session::start(id, &config, self.session_tx.clone()) {
            Ok(s) => self.session = Some(s),
            Err(e) => {
                tracing::error!("cannot connect to the hub: {e}");
                self.machine
                    .handle_input(now, Input::SessionFailed { session: id });
            }
        }
    }

    pub(super) fn on_session(&mut self, event: SessionEvent) {
        let now = self.mono();
        let input = match event {
            SessionEvent::Connected { session } => Input::Connected { session },
            SessionEvent::Refused { session, reason } => Input::Refused { session, reason },
            SessionEvent::Closed { session, reason } => Input::Closed { session, reason },
            SessionEvent::Message {
                session,
                topic,
                payload,
            } => Input::Message {
                session,
                topic,
                payload,
            },
            SessionEvent::Acked { session, tag } => Input::Acked { session, tag },
        };
        self.machine.handle_input(now, input);
    }
}
