//! The driver's hardware: the frame loop (image sensor, PIR, pixel motion, the clip
//! recorder, frames for snapshots and live view), the battery pack, and the simulator's
//! controls from the local endpoint.

use super::{AgentError, PIR_EVERY_MS, Runtime};
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
use watchlight_protocol::Part;

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

    /// Tells the core whether `part` answered this read (its self-test counts on it),
    /// logging a failure once per run of failures and the recovery after one.
    pub(super) fn part_read(
        &mut self,
        now: u64,
        part: Part,
        failure: Option<&impl std::fmt::Display>,
    ) {
        let failing = match part {
            Part::ImageSensor => &mut self.sensor_failing,
            Part::MotionSensor => &mut self.pir_failing,
        };
        let input = match failure {
            None => {
                if std::mem::take(failing) {
                    tracing::info!(%part, "answers again");
                }
                CoreInput::SensorOk(part)
            }
            Some(e) => {
                if !std::mem::replace(failing, true) {
                    tracing::warn!(%part, "{e}");
                }
                CoreInput::SensorFailed {
                    part,
                    reason: e.to_string(),
                }
            }
        };
        self.machine.handle_input(now, Input::Core(input));
    }

    /// One read of the image sensor and the PIR beside it. Every read tells the core
    /// whether each part answered, for its self-test; a failed read is not fatal, and
    /// one part failing does not stop the other (a broken PIR: no PIR motion, pixels
    /// still watched; a broken image sensor: the PIR still triggers).
    pub(super) fn frame(&mut self, now: u64) -> Result<(), AgentError> {
        let (frame, pir) = self.scene.next(now);
        self.part_read(now, Part::MotionSensor, pir.as_ref().err());
        if pir.unwrap_or(false) && self.last_pir_at.is_none_or(|t| now >= t + PIR_EVERY_MS) {
            self.last_pir_at = Some(now);
            self.machine.handle_input(now, Input::Core(CoreInput::Pir));
        }
        self.part_read(now, Part::ImageSensor, frame.as_ref().err());
        let Ok(frame) = frame else {
            // No frames, no pixel motion.
            if std::mem::take(&mut self.motion_on) {
                self.machine
                    .handle_input(now, Input::Core(CoreInput::MotionEnd));
            }
            return Ok(());
        };
        if self.machine.live().wants_frame() {
            self.live_frame(now, &frame);
        }
        let verdict = self.detector.process(&frame.y)?;
        let (w, h) = (frame.width, frame.height);
        if verdict.motion != self.motion_on {
            self.motion_on = verdict.motion;
            let input = if verdict.motion {
                CoreInput::MotionStart
            } else {
                CoreInput::MotionEnd
            };
            self.machine.handle_input(now, Input::Core(input));
        }
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
        let was_off = self.machine.is_powered_off();
        self.read_battery(now, body.replace);
        if was_off && body.replace {
            self.next_frame_at = now;
        }
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

/// When the frame after one due at `scheduled` (read at `now`) is due: one period later,
/// never in the millisecond just read (so a clock that stalls after a lag cannot give
/// two frames the same time), and, when the camera is more than five frames behind (a
/// busy machine), one period from now rather than a burst to catch up.
pub(super) fn next_frame_at(scheduled: u64, every_ms: u64, now: u64) -> u64 {
    let next = scheduled + every_ms;
    if next + 5 * every_ms < now {
        now + every_ms
    } else {
        next.max(now + 1)
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

#[cfg(test)]
mod tests {
    use super::*;

    /// The frame schedule on a virtual clock that stalls: however often the loop wakes in
    /// the same millisecond, at most one frame is read in it, so no two frames share a time.
    #[test]
    fn a_stalled_clock_never_gives_two_frames_the_same_time() {
        let every = 66;
        let mut due = 0;
        let mut frames = Vec::new();
        // Runs normally, lags 200 ms, then the clock stalls at 5006 for ten wake-ups.
        let clock = (0..70u64)
            .map(|i| i * 66)
            .chain([4_800])
            .chain(std::iter::repeat_n(5_006, 10))
            .chain([5_007, 5_070, 5_140]);
        for now in clock {
            if due <= now {
                frames.push(now);
                due = next_frame_at(due, every, now);
            }
        }
        for pair in frames.windows(2) {
            assert!(pair[1] > pair[0], "frames at {} then {}", pair[0], pair[1]);
        }
        assert_eq!(frames.iter().filter(|&&t| t == 5_006).count(), 1);
    }

    #[test]
    fn far_behind_the_schedule_restarts_instead_of_bursting() {
        assert_eq!(next_frame_at(1_000, 66, 2_000), 2_066);
        assert_eq!(next_frame_at(1_000, 66, 1_000), 1_066);
    }
}
