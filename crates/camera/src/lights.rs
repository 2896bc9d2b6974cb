//! Light arbitration (SPEC §3): at any moment the light of the highest-priority
//! condition that shows something.
//!
//! A condition can *hold* and yet be *quiet*: a low battery holds all the time but
//! shows its flash(3) only after a recording and once a minute; a camera offline for
//! more than 10 minutes shows its flash(1) once every 5 s. While quiet, lower conditions
//! show. A status check replays the most important condition that holds, quiet or not.

use crate::battery::BatteryLevel;
use crate::core::{CONNECTED_MS, Core, LONG_OFFLINE_FLASH_EVERY_MS, LONG_OFFLINE_MS};
use crate::core::{STATUS_CHECK_MS, WIFI_REJECTED_MS};
use watchlight_protocol::light_table::{TABLE, row};
use watchlight_protocol::{ConditionId, LifecycleState, Light};

/// A light and the time its pattern started.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shown {
    pub light: Light,
    pub since_ms: u64,
}

pub(crate) fn critical_light() -> Light {
    row(ConditionId::BatteryCritical).light
}

// What each condition shows is SPEC §3's table, read from its one definition.
const fn light_of(condition: ConditionId) -> Light {
    TABLE[condition as usize].light
}
const RESET_ARMED: Light = light_of(ConditionId::ResetArmed);
const BOOTING: Light = light_of(ConditionId::Booting);
const WIFI_REJECTED: Light = light_of(ConditionId::WifiRejected);
const SETUP: Light = light_of(ConditionId::Setup);
const JOINING: Light = light_of(ConditionId::Joining);
const MOTION: Light = light_of(ConditionId::Motion);
const RECORDING: Light = light_of(ConditionId::Recording);
const CONNECTION_LOST: Light = light_of(ConditionId::ConnectionLost);
const LONG_OFFLINE: Light = match TABLE[ConditionId::ConnectionLost as usize].later {
    Some(later) => later.light,
    None => panic!("connection_lost has a later light"),
};
const CONNECTED: Light = light_of(ConditionId::Connected);
const BATTERY_LOW: Light = light_of(ConditionId::BatteryLow);
const IDENTIFY: Light = light_of(ConditionId::Identify);
const IDLE_DIM: Light = match TABLE[ConditionId::Idle as usize].always_on {
    Some((light, _)) => light,
    None => panic!("idle has an always-on light"),
};

fn flash_ms(light: Light) -> u64 {
    light.pattern.flash_duration_ms().unwrap_or(0)
}

/// A flash that started at `since` shows until it has run its course.
fn flashing(light: Light, since: Option<u64>, now: u64) -> Option<Shown> {
    since
        .filter(|&s| now < s + flash_ms(light))
        .map(|since_ms| Shown { light, since_ms })
}

fn steady(light: Light, since_ms: u64) -> Option<Shown> {
    Some(Shown { light, since_ms })
}

impl Core {
    /// What `condition` shows now, or `None` if it does not hold or is quiet.
    pub fn showing(&self, condition: ConditionId) -> Option<Shown> {
        let now = self.now;
        let state_is = |s: LifecycleState| self.state == s;
        // Without power only the dark idle light; shut down, only the farewell.
        let allowed = match self.state {
            LifecycleState::Off | LifecycleState::Factory => condition == ConditionId::Idle,
            LifecycleState::Shutdown => {
                matches!(condition, ConditionId::Idle | ConditionId::BatteryCritical)
            }
            _ => true,
        };
        if !allowed {
            return None;
        }
        match condition {
            ConditionId::ResetArmed => self.reset_armed_since.and_then(|s| steady(RESET_ARMED, s)),
            ConditionId::BatteryCritical => self.critical_since.and_then(|s| {
                let end = s + flash_ms(critical_light());
                if now < end {
                    steady(critical_light(), s)
                } else {
                    steady(Light::OFF, end)
                }
            }),
            ConditionId::Booting => state_is(LifecycleState::Booting)
                .then_some(())
                .and_then(|_| steady(BOOTING, self.state_since)),
            ConditionId::WifiRejected => self
                .wifi_rejected_since
                .filter(|&s| now < s + WIFI_REJECTED_MS)
                .and_then(|s| steady(WIFI_REJECTED, s)),
            ConditionId::Setup => state_is(LifecycleState::Setup)
                .then_some(())
                .and_then(|_| steady(SETUP, self.state_since)),
            ConditionId::Joining => state_is(LifecycleState::Joining)
                .then_some(())
                .and_then(|_| steady(JOINING, self.state_since)),
            ConditionId::Motion => flashing(MOTION, self.motion_flash_since, now),
            ConditionId::Recording => {
                let rec = self
                    .recording
                    .as_ref()
                    .filter(|_| self.persisted.settings.recording_light)
                    .map(|r| r.started);
                let since = rec.into_iter().chain(self.live_since).min();
                since.and_then(|s| steady(RECORDING, s))
            }
            ConditionId::StatusCheck => self
                .status_check
                .filter(|&(s, _)| now < s + STATUS_CHECK_MS)
                .and_then(|(s, light)| match light.pattern.flash_duration_ms() {
                    Some(_) => flashing(light, Some(s), now),
                    None => steady(light, s),
                }),
            ConditionId::ConnectionLost => self.lost_since.and_then(|s| {
                let long_from = s + LONG_OFFLINE_MS;
                if now < long_from {
                    return steady(CONNECTION_LOST, s);
                }
                let k = (now - long_from) / LONG_OFFLINE_FLASH_EVERY_MS;
                let episode = long_from + k * LONG_OFFLINE_FLASH_EVERY_MS;
                flashing(LONG_OFFLINE, Some(episode), now)
            }),
            ConditionId::Connected => self
                .connected_since
                .filter(|&s| now < s + CONNECTED_MS)
                .and_then(|s| steady(CONNECTED, s)),
            ConditionId::BatteryLow => {
                if self.battery_level == BatteryLevel::Low {
                    flashing(BATTERY_LOW, self.low_flash_since, now)
                } else {
                    None
                }
            }
            ConditionId::Identify => flashing(IDENTIFY, self.identify_since, now),
            ConditionId::Idle => {
                let healthy = self.lost_since.is_none() && self.battery_level == BatteryLevel::Ok;
                let awake = !matches!(
                    self.state,
                    LifecycleState::Off | LifecycleState::Factory | LifecycleState::Shutdown
                );
                if healthy && awake && self.persisted.settings.status_light_always_on {
                    steady(IDLE_DIM, self.state_since)
                } else {
                    steady(Light::OFF, self.state_since)
                }
            }
        }
    }

    /// Whether `condition` holds now, quiet or not (what a status check looks at).
    pub fn holds(&self, condition: ConditionId) -> bool {
        match condition {
            ConditionId::ConnectionLost => self.lost_since.is_some(),
            ConditionId::BatteryLow => self.battery_level == BatteryLevel::Low,
            ConditionId::StatusCheck => self.status_check.is_some(),
            c => self.showing(c).is_some(),
        }
    }

    /// Every condition that holds now, highest priority first (`idle` always holds).
    pub fn conditions_holding(&self) -> Vec<ConditionId> {
        ConditionId::ALL
            .into_iter()
            .filter(|&c| self.holds(c))
            .collect()
    }

    /// The light to show: the highest-priority condition that shows something.
    pub(crate) fn top_light(&self) -> (ConditionId, Light, u64) {
        ConditionId::ALL
            .into_iter()
            .find_map(|c| self.showing(c).map(|s| (c, s.light, s.since_ms)))
            .unwrap_or((ConditionId::Idle, Light::OFF, self.now))
    }

    /// When the light shown now ends by itself if no input comes first (`connected`'s
    /// 5 s, a status check, a flash), and the condition and light that follow it. A
    /// battery camera asleep says nothing until its next check-in, so it reports both
    /// and its hub shows what the device shows meanwhile.
    pub fn light_ends(&self) -> Option<(u64, ConditionId, Light)> {
        let (condition, light, _) = self.shown;
        let timed = [
            self.wifi_rejected_since.map(|s| s + WIFI_REJECTED_MS),
            self.connected_since.map(|s| s + CONNECTED_MS),
            self.status_check.map(|(s, _)| s + STATUS_CHECK_MS),
        ];
        let mut ends: Vec<u64> = timed
            .into_iter()
            .flatten()
            .chain(self.next_visual_change())
            .filter(|&t| t > self.now)
            .collect();
        ends.sort_unstable();
        ends.into_iter().find_map(|at| {
            let mut later = self.clone();
            later.now = at;
            let (c, l, _) = later.top_light();
            (c != condition || l != light).then_some((at, c, l))
        })
    }

    /// The next time a light changes by itself (a flash ends, a long-offline flash is
    /// due), without any state changing.
    pub(crate) fn next_visual_change(&self) -> Option<u64> {
        let now = self.now;
        let flash_end = |light: Light, since: Option<u64>| since.map(|s| s + flash_ms(light));
        let status_flash_end = self
            .status_check
            .and_then(|(s, light)| light.pattern.flash_duration_ms().map(|d| s + d));
        let long_offline = self.lost_since.map(|s| {
            let long_from = s + LONG_OFFLINE_MS;
            if now < long_from {
                return long_from;
            }
            let k = (now - long_from) / LONG_OFFLINE_FLASH_EVERY_MS;
            let episode = long_from + k * LONG_OFFLINE_FLASH_EVERY_MS;
            if now < episode + flash_ms(LONG_OFFLINE) {
                episode + flash_ms(LONG_OFFLINE)
            } else {
                episode + LONG_OFFLINE_FLASH_EVERY_MS
            }
        });
        [
            self.critical_since.map(|s| s + flash_ms(critical_light())),
            flash_end(MOTION, self.motion_flash_since),
            status_flash_end,
            long_offline,
            flash_end(BATTERY_LOW, self.low_flash_since),
            flash_end(IDENTIFY, self.identify_since),
        ]
        .into_iter()
        .flatten()
        .filter(|&t| t > now)
        .min()
    }
}
