//! The driver's hardware: reading the image sensor and the PIR when the machine asks
//! (pixel motion, the clip recorder, frames for snapshots and live view), the battery
//! pack, and the simulator's controls from the local endpoint.

use super::{AgentError, Runtime};
use crate::config::AgentConfig;
use crate::live::LiveReport;
use crate::local::{BatteryBody, Control, ProvisionBody};
use crate::machine::Input;
use crate::persist::Credentials;
use watchlight_camera::Input as CoreInput;
use watchlight_hw::BatteryGauge;
use watchlight_hw::sim::SimWifi;
use watchlight_media::{ClipRecorder, MotionSample, RecorderConfig};
use watchlight_motion::{Detector, DetectorConfig};

impl Runtime {
    // ----- snapshots and live view -----------------------------------------------------

    /// Sends a frame to the live stream or as a snapshot; nothing gets through a silent
    /// radio (the hub's silence then stops the stream).
    pub(super) fn live_frame(&mut self, now: u64, frame: &watchlight_hw::Frame) {
        let Some(creds) = self.machine.credentials().cloned() else {
            return;
        };
        if self.radio.is_silent() || !self.link_up {
            return;
        }
        match self.http_client(&creds) {
            Ok(client) => {
                let used = self.machine.use_frame();
                let captured_at = self.machine.hub_time(now);
                self.live
                    .on_frame(used, frame, captured_at, &client, &creds);
            }
            Err(e) => tracing::warn!("live view: {e}"),
        }
    }

    pub(super) fn on_live(&mut self, report: LiveReport) {
        let now = self.mono();
        let input = match report {
            LiveReport::Frame { run, result } => Input::LiveFrameAnswered { run, result },
            LiveReport::Snapshot { cmd_ids, result } => Input::SnapshotUploaded { cmd_ids, result },
        };
        self.machine.handle_input(now, input);
    }

    pub(super) fn apply_settings_to_hardware(&mut self) {
        let settings = self.machine.core().settings().clone();
        let key = (settings.sensitivity, settings.zones.clone());
        if key != self.detector_key {
            let (w, h) = self.scene.size();
            match Detector::new(w, h, detector_config(&settings)) {
                Ok(d) => {
                    self.detector = d;
                    self.detector_key = key;
                }
                Err(e) => tracing::warn!("detector settings refused: {e}"),
            }
        }
        let pre_roll = pre_roll_ms(&self.config, &settings);
        if pre_roll != self.recorder_pre_roll_ms && !self.recorder.is_recording() {
            let (w, h) = self.scene.size();
            let fps = self.scene.fps().clamp(1.0, 30.0);
            if let Ok(r) = ClipRecorder::new(RecorderConfig::new(w, h, fps, pre_roll)) {
                self.recorder = r;
                self.recorder_pre_roll_ms = pre_roll;
            }
        }
    }

    // ----- hardware ------------------------------------------------------------------------

    /// Reads the image sensor and the PIR beside it for the machine; a frame that came
    /// goes to live view or a snapshot if wanted, through the detector (whose verdict the
    /// machine hears) and into the recorder's ring. A failed read is not fatal, and one
    /// part failing does not stop the other.
    pub(super) fn read_sensors(&mut self, now: u64) -> Result<(), AgentError> {
        let (frame, pir) = self.scene.next(now);
        let input = Input::SensorsRead {
            pir: pir.map_err(|e| e.to_string()),
            image: frame.as_ref().map(|_| ()).map_err(|e| e.to_string()),
        };
        self.machine.handle_input(now, input);
        let Ok(frame) = frame else {
            return Ok(());
        };
        if self.machine.live().wants_frame() {
            self.live_frame(now, &frame);
        }
        let verdict = self.detector.process(&frame.y)?;
        let (w, h) = (frame.width, frame.height);
        self.machine
            .handle_input(now, Input::PixelMotion(verdict.motion));
        let boxes = self
            .detector
            .boxes()
            .iter()
            .map(|b| MotionSample::normalise_box((b.x, b.y, b.width, b.height), w, h))
            .collect();
        let sample = MotionSample {
            score: verdict.score,
            boxes,
        };
        if let Err(e) = self.recorder.push_frame(&frame, &sample) {
            // One frame lost; the camera goes on (a clip that cannot be finished
            // becomes a clip_dropped event).
            tracing::warn!("clip recorder: {e}");
        }
        Ok(())
    }

    pub(super) fn read_battery(&mut self, now: u64, fresh_cells: bool) {
        if let Some(b) = &mut self.battery {
            let reading = b.read();
            self.machine.handle_input(
                now,
                Input::Battery {
                    reading,
                    fresh_cells,
                },
            );
        }
    }

    pub(super) fn on_control(&mut self, control: Control) -> Result<(), AgentError> {
        let now = self.mono();
        match control {
            Control::Provision(body) => self.provision(*body)?,
            Control::Link {
                up: false,
                silent: true,
            } => {
                tracing::info!("simulated radio: silent (packets dropped, sockets left open)");
                self.radio.set_silent(true);
                self.machine.handle_input(now, Input::RadioSilent(true));
            }
            Control::AccessPoint(ap) => {
                tracing::info!(ssid = %ap.ssid, "simulated access point reconfigured");
                let outage = !self.link_up;
                let mut wifi = SimWifi::new(&ap.ssid, &ap.passphrase, -55);
                wifi.set_outage(outage);
                self.wifi = Some(wifi);
                self.report_rssi(now);
            }
            Control::Link { up, .. } => {
                tracing::info!(up, "simulated Wi-Fi link");
                self.radio.set_silent(false);
                self.machine.handle_input(now, Input::RadioSilent(false));
                self.link_up = up;
                if let Some(w) = &mut self.wifi {
                    w.set_outage(!up);
                }
                self.report_rssi(now);
                if !up {
                    self.machine.handle_input(now, Input::LinkDown);
                }
            }
            Control::Motion => self.scene.walk(),
            Control::Battery(body) => self.battery_control(body, now),
            Control::Button { hold_ms } => {
                self.machine
                    .handle_input(now, Input::Core(CoreInput::ButtonDown));
                self.button_release_at = Some(now + hold_ms);
            }
            Control::Sensor { part, broken } => {
                tracing::info!(%part, broken, "simulated part");
                self.scene.set_broken(part, broken);
            }
        }
        Ok(())
    }

    pub(super) fn battery_control(&mut self, body: BatteryBody, now: u64) {
        let Some(b) = &mut self.battery else { return };
        if body.replace {
            b.replace();
        }
        if let Some(d) = body.depth {
            b.set_depth(d);
        }
        if let Some(t) = body.temp_c {
            b.set_temperature(t);
        }
        self.read_battery(now, body.replace);
    }

    pub(super) fn provision(&mut self, body: ProvisionBody) -> Result<(), AgentError> {
        let cert_pem = body.hub.cert_pem.filter(|p| !p.trim().is_empty());
        let creds = Credentials {
            wifi_ssid: body.wifi.ssid,
            wifi_passphrase: body.wifi.passphrase,
            home: body.home,
            device_id: body.device_id,
            token: body.token,
            mqtt_url: body.hub.mqtt_url,
            http_url: body.hub.http_url.trim_end_matches('/').to_string(),
            cert_pem,
            clips_made: 0,
        };
        tracing::info!(?creds, "provisioned");
        self.data.save_credentials(&creds)?;
        self.http = None;
        let now = self.mono();
        self.machine
            .handle_input(now, Input::Provisioned(Box::new(creds)));
        Ok(())
    }
}

pub(super) fn detector_config(settings: &watchlight_protocol::Settings) -> DetectorConfig {
    DetectorConfig {
        sensitivity: settings.sensitivity,
        zones: settings.zones.clone(),
        ..DetectorConfig::default()
    }
}

pub(super) fn pre_roll_ms(config: &AgentConfig, settings: &watchlight_protocol::Settings) -> u64 {
    if config.profile.profile().on_battery() {
        0
    } else {
        u64::from(settings.pre_roll) * 1000
    }
}
