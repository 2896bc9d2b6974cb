//! What the hub's messages mean: settings for the core, `cmd/ack` for the queue, and
//! commands — those the core acts on, and the agent's own (`time`, `snapshot`, `wifi`,
//! whose change of access point is undone when the new credentials do not work).

use super::{Machine, Output, REJOIN_AFTER_MS, WifiChange};
use serde_json::Value;
use watchlight_camera::{Command, Input as CoreInput};
use watchlight_protocol::messages::{Availability, CommandMsg, EventAckMsg, SettingsMsg, decode};

impl Machine {
    pub(super) fn on_message(&mut self, topic: &str, payload: &[u8]) {
        let Some(topics) = self.topics() else { return };
        if topic == topics.settings() {
            match decode::<SettingsMsg>(payload) {
                Ok(msg) => {
                    self.feed_core(CoreInput::Settings(Box::new(msg.settings)));
                    self.emit(Output::SettingsChanged);
                    // The state carries settings_version: the owner sees "applied".
                    self.publish_state();
                }
                Err(e) => tracing::warn!(reason = e.reason(), "dropped settings: {e}"),
            }
            return;
        }
        let Some(name) = topic
            .strip_prefix(&topics.prefix())
            .and_then(|r| r.strip_prefix("/cmd/"))
        else {
            return;
        };
        if name == watchlight_protocol::topics::EVENT_ACK {
            match decode::<EventAckMsg>(payload) {
                Ok(ack) => self.on_event_ack(ack.seq),
                Err(e) => tracing::warn!(reason = e.reason(), "dropped event ack: {e}"),
            }
            return;
        }
        let cmd = match decode::<CommandMsg>(payload) {
            Ok(c) => c,
            Err(e) => {
                tracing::warn!(reason = e.reason(), "dropped command: {e}");
                return;
            }
        };
        if name == "snapshot" {
            // Answered once the hub has the picture, or when none came.
            if self.expired(&cmd) {
                self.publish_result(&cmd.id, Some("expired".into()));
            } else {
                self.live.ask_snapshot(&cmd.id, self.now);
            }
            return;
        }
        if name == "wifi" {
            // Answered once the camera is back (see `WifiChange`), unless refused now.
            if let Err(e) = self.start_wifi_change(&cmd) {
                self.publish_result(&cmd.id, Some(e));
            }
            return;
        }
        let result = self.run_command(name, &cmd);
        self.publish_result(&cmd.id, result.err());
    }

    fn expired(&self, cmd: &CommandMsg) -> bool {
        cmd.expires_ts.is_some_and(|t| t < self.hub_time(self.now))
    }

    fn run_command(&mut self, name: &str, cmd: &CommandMsg) -> Result<(), String> {
        if name == "time" {
            let hub_now = cmd
                .args
                .get("now_ms")
                .and_then(Value::as_u64)
                .ok_or("time needs args.now_ms")?;
            self.hub_offset_ms = hub_now as i64 - self.now as i64;
            tracing::info!(hub_now, "clock set from the hub");
            // The light's end, said again in the hub's time.
            self.publish_state();
            return Ok(());
        }
        if self.expired(cmd) {
            return Err("expired".into());
        }
        let command = Command::parse(name).ok_or_else(|| format!("unknown command '{name}'"))?;
        match command {
            Command::LiveStart => self.live.start(self.now),
            Command::LiveStop | Command::Reboot | Command::FactoryReset => {
                self.live.stop();
            }
            Command::Identify | Command::Record => {}
        }
        self.feed_core(CoreInput::Command(command));
        Ok(())
    }

    /// "Reconnect Wi-Fi" (`cmd/wifi`, SPEC §4.2): keep the new credentials, then drop
    /// the link and rejoin with them. If the access point refuses them the camera goes
    /// back to the old ones, so a typo cannot strand it; the result says which happened.
    fn start_wifi_change(&mut self, cmd: &CommandMsg) -> Result<(), String> {
        if self.expired(cmd) {
            return Err("expired".into());
        }
        let field = |k: &str| cmd.args.get(k).and_then(Value::as_str).map(str::to_string);
        let (Some(ssid), Some(pass)) = (field("ssid"), field("passphrase")) else {
            return Err("wifi needs args.ssid and args.passphrase".into());
        };
        if ssid.is_empty() {
            return Err("wifi needs a non-empty args.ssid".into());
        }
        let creds = self.creds.as_mut().ok_or("not provisioned")?;
        let previous = (
            std::mem::replace(&mut creds.wifi_ssid, ssid),
            std::mem::replace(&mut creds.wifi_passphrase, pass),
        );
        let save = Output::SaveCredentials(Box::new(creds.clone()));
        self.emit(save);
        tracing::info!("new Wi-Fi credentials received: rejoining");
        self.wifi_change = Some(WifiChange {
            cmd_id: cmd.id.clone(),
            previous,
            error: None,
        });
        self.rejoin_at = Some(self.now + REJOIN_AFTER_MS);
        Ok(())
    }

    pub(super) fn revert_wifi_change(&mut self, why: &str) {
        let Some(change) = self.wifi_change.as_mut() else {
            return;
        };
        let Some(creds) = self.creds.as_mut() else {
            return;
        };
        tracing::warn!("the new Wi-Fi credentials do not work ({why}): back to the old ones");
        creds.wifi_ssid = change.previous.0.clone();
        creds.wifi_passphrase = change.previous.1.clone();
        change.error = Some(format!(
            "the access point refused the new credentials ({why}); the camera kept the old ones"
        ));
        let save = Output::SaveCredentials(Box::new(creds.clone()));
        self.emit(save);
    }

    /// Leaves the Wi-Fi on purpose to join it again with the credentials it now holds:
    /// says `offline` (so the hub records a goodbye, not a lost link) and hangs up.
    pub(super) fn rejoin(&mut self) {
        self.emit(Output::DropWifiLink);
        // Not connected: the next connection attempt uses the new credentials.
        if self.connected && self.hang_up(Availability::Offline) {
            self.rejoining = true;
        }
    }
}
