//! The scenario file (TOML, `docs/sim.md`): the fleet, per group of cameras, and the timed
//! faults. Parsing checks everything a run would trip on later (an unknown profile, a
//! fault aimed at a group that is not there or at more cameras than it has, a fault id
//! that is not SPEC §8's), so a bad file is an error that names the problem before
//! any hub starts. [`Scenario::plan`] turns the file and its seed into the exact cameras
//! each fault hits: the same file and seed give the same run.

use rand::SeedableRng;
use rand::seq::SliceRandom;
use serde::Deserialize;
use std::collections::BTreeSet;
use watchlight_doctor::FaultId;
use watchlight_protocol::{ProfileId, Trigger};

#[derive(Debug, thiserror::Error)]
pub enum ScenarioError {
    #[error("scenario: {0}")]
    Parse(String),
    #[error("scenario: {0}")]
    Invalid(String),
}

fn invalid(msg: impl Into<String>) -> ScenarioError {
    ScenarioError::Invalid(msg.into())
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    /// Seeds the choice of cameras per fault, the phases of telemetry and motion, and
    /// the cameras' backoff jitter.
    #[serde(default)]
    pub seed: u64,
    /// How long the fleet runs once every camera is online, in seconds. Fault times
    /// count from that moment.
    pub duration_s: f64,
    /// Plain MQTT and HTTP (`watchlight hub --insecure`); TLS with the pinned hub
    /// certificate otherwise.
    #[serde(default)]
    pub insecure: bool,
    /// The hub's embedded broker, or a Mosquitto beside it (`watchlight hub --mqtt-url`,
    /// configured by `watchlight hub mosquitto-config`).
    #[serde(default)]
    pub broker: BrokerKind,
    /// Seconds between a mains camera's telemetry messages.
    #[serde(default = "default_telemetry_s")]
    pub telemetry_s: f64,
    /// Cameras waiting for the broker's CONNACK at once. The hub lets at most 64
    /// connections per source address wait to log in, and every simulated camera comes
    /// from 127.0.0.1, so this stays below that.
    #[serde(default = "default_connect_concurrency")]
    pub connect_concurrency: usize,
    /// Pairing requests (`POST /api/v1/cameras`) under way at once.
    #[serde(default = "default_pair_concurrency")]
    pub pair_concurrency: usize,
    /// Pairings started per second at most (none: as fast as the hub takes them). A
    /// camera that has never joined gives up after 60 s (SPEC §3 `joining`), so a fleet
    /// paired faster than the broker lets cameras in loses some to setup mode.
    #[serde(default)]
    pub pair_per_s: Option<f64>,
    /// At the end, how long to wait for every camera's queue to empty before anything
    /// still in one counts as lost.
    #[serde(default = "default_drain_s")]
    pub drain_s: f64,
    /// Events checked in the API as they are made (their event-to-API latency), at most
    /// this many per second (each is a polled `GET`).
    #[serde(default = "default_api_probe_per_s")]
    pub api_probe_per_s: f64,
    pub fleet: Vec<Group>,
    #[serde(default, rename = "fault")]
    pub faults: Vec<Fault>,
}

/// Which MQTT broker the cameras and the hub meet on.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BrokerKind {
    /// The broker inside the hub process.
    #[default]
    Embedded,
    /// Mosquitto in a process of its own, restartable alone (`broker_restart`).
    Mosquitto,
}

fn default_telemetry_s() -> f64 {
    30.0
}
fn default_connect_concurrency() -> usize {
    48
}
fn default_pair_concurrency() -> usize {
    8
}
fn default_drain_s() -> f64 {
    60.0
}
fn default_api_probe_per_s() -> f64 {
    5.0
}

/// Cameras alike.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Group {
    /// What faults name it by; the profile's id by default.
    #[serde(default)]
    pub name: Option<String>,
    /// A SPEC §2 profile: `mini` is on mains, the others on batteries.
    pub profile: String,
    pub count: usize,
    /// The Wi-Fi signal the cameras report.
    #[serde(default = "default_rssi")]
    pub rssi_dbm: i32,
    /// Share (0..1) of the group that sees motion.
    #[serde(default)]
    pub motion_share: f64,
    /// A camera that sees motion does so about this often (seeded jitter ±50 %).
    #[serde(default = "default_motion_every_s")]
    pub motion_every_s: f64,
}

fn default_rssi() -> i32 {
    -55
}
fn default_motion_every_s() -> f64 {
    60.0
}

impl Group {
    pub fn name(&self) -> &str {
        self.name.as_deref().unwrap_or(&self.profile)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FaultKind {
    /// The cameras' access point is gone: their sockets close at once.
    LinkCut,
    /// The cameras' radio passes nothing and closes nothing: only keepalives tell.
    LinkSilent,
    /// The signal falls to -80 dBm and the link drops for a few seconds every 8-14 s.
    RssiDegrade,
    /// The home's router: every camera's link is cut at once.
    RouterDown,
    /// The Wi-Fi password changed: the access point refuses every camera's until the
    /// fault ends (the owner gives them the new one).
    WifiPasswordChange,
    /// The battery pack runs empty: critical, the farewell flash, dark.
    BatteryDrain,
    /// A frost (-25 °C) on a part-used, year-old pack: it sags under load.
    BatteryCold,
    /// The firmware hangs: nothing sent, the light frozen; power-cycled after `for_s`.
    CameraHang,
    /// The image sensor dies (and motion passes in front of the camera).
    SensorFail,
    /// The owner turns the cameras' arming off (and motion passes).
    Disarm,
    /// The owner's activity zones leave out where people pass (and motion passes).
    ZonesExclude,
    /// The owner turns the motion indicator on (and motion passes).
    MotionIndicatorOn,
    /// `kill -9` of the hub, then a restart after `for_s`.
    HubKill,
    /// SIGTERM to the hub, then a restart after `for_s` (the embedded broker restarts
    /// with it).
    HubRestart,
    /// SIGTERM to the external broker (`broker = "mosquitto"`), then a restart after
    /// `for_s`; the hub stays up.
    BrokerRestart,
    /// A burst of motion on the cameras: what a camera doing its job records.
    Motion,
}

impl FaultKind {
    pub fn as_str(self) -> &'static str {
        match self {
            FaultKind::LinkCut => "link_cut",
            FaultKind::LinkSilent => "link_silent",
            FaultKind::RssiDegrade => "rssi_degrade",
            FaultKind::RouterDown => "router_down",
            FaultKind::WifiPasswordChange => "wifi_password_change",
            FaultKind::BatteryDrain => "battery_drain",
            FaultKind::BatteryCold => "battery_cold",
            FaultKind::CameraHang => "camera_hang",
            FaultKind::SensorFail => "sensor_fail",
            FaultKind::Disarm => "disarm",
            FaultKind::ZonesExclude => "zones_exclude",
            FaultKind::MotionIndicatorOn => "motion_indicator_on",
            FaultKind::HubKill => "hub_kill",
            FaultKind::HubRestart => "hub_restart",
            FaultKind::BrokerRestart => "broker_restart",
            FaultKind::Motion => "motion",
        }
    }

    /// The SPEC §8 fault a kind produces unless the file says otherwise. A camera
    /// whose link drops alone is at the edge of the Wi-Fi; the hub's faults are judged
    /// on recovery and loss, not diagnosed.
    pub fn default_expect(self) -> Option<FaultId> {
        Some(match self {
            FaultKind::LinkCut | FaultKind::LinkSilent | FaultKind::RssiDegrade => {
                FaultId::WifiSignalWeak
            }
            FaultKind::RouterDown => FaultId::NetworkDown,
            FaultKind::WifiPasswordChange => FaultId::WifiCredentialsRejected,
            FaultKind::BatteryDrain => FaultId::BatteryDead,
            FaultKind::BatteryCold => FaultId::BatteryLow,
            FaultKind::CameraHang => FaultId::FirmwareFault,
            FaultKind::SensorFail => FaultId::HardwareFault,
            FaultKind::Disarm => FaultId::NotArmed,
            FaultKind::ZonesExclude => FaultId::ZonesExcludeMotion,
            FaultKind::MotionIndicatorOn => FaultId::MotionIndicator,
            FaultKind::Motion => FaultId::NoFault,
            FaultKind::HubKill | FaultKind::HubRestart | FaultKind::BrokerRestart => return None,
        })
    }

    /// Whether the kind hits the hub or its broker rather than chosen cameras.
    pub fn is_hub(self) -> bool {
        matches!(
            self,
            FaultKind::HubKill | FaultKind::HubRestart | FaultKind::BrokerRestart
        )
    }

    /// Whether the kind hits every camera of the home's Wi-Fi: the access point going
    /// down, its password changing under the cameras.
    pub fn hits_the_home(self) -> bool {
        matches!(self, FaultKind::RouterDown | FaultKind::WifiPasswordChange)
    }

    /// Whether the kind needs cameras on batteries.
    pub fn needs_battery(self) -> bool {
        matches!(self, FaultKind::BatteryDrain | FaultKind::BatteryCold)
    }

    /// Whether motion passes in front of the cameras as part of the fault, so the
    /// owner can say whether clips appeared.
    pub fn with_motion(self) -> bool {
        matches!(
            self,
            FaultKind::Motion
                | FaultKind::SensorFail
                | FaultKind::Disarm
                | FaultKind::ZonesExclude
                | FaultKind::MotionIndicatorOn
        )
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Fault {
    pub kind: FaultKind,
    /// Seconds after the fleet is online.
    pub at_s: f64,
    /// How long the fault lasts (the link stays down, the hub stays dead).
    #[serde(default = "default_for_s")]
    pub for_s: f64,
    /// The group whose cameras it hits (camera faults); any group when absent.
    #[serde(default)]
    pub group: Option<String>,
    /// How many cameras it hits (camera faults; `router_down` and
    /// `wifi_password_change` hit them all).
    #[serde(default = "default_cameras")]
    pub cameras: usize,
    /// The SPEC §8 fault id the doctor should name ([`FaultKind::default_expect`]).
    #[serde(default)]
    pub expect: Option<String>,
}

fn default_for_s() -> f64 {
    20.0
}
fn default_cameras() -> usize {
    1
}

/// A fault with its cameras chosen.
#[derive(Debug, Clone)]
pub struct PlannedFault {
    pub index: usize,
    pub kind: FaultKind,
    pub at_ms: u64,
    pub for_ms: u64,
    /// Indexes into the fleet ([`Scenario::cameras`]).
    pub cameras: Vec<usize>,
    pub expect: Option<FaultId>,
}

/// One simulated camera of the fleet.
#[derive(Debug, Clone)]
pub struct CameraSpec {
    pub index: usize,
    pub group: usize,
    pub serial: String,
    pub profile: ProfileId,
    pub rssi_dbm: i32,
    pub sees_motion: bool,
    pub motion_every_ms: u64,
}

impl CameraSpec {
    pub fn device_id(&self) -> String {
        format!("cam-{}", self.serial)
    }
}

impl Scenario {
    pub fn parse(text: &str) -> Result<Scenario, ScenarioError> {
        let s: Scenario = toml::from_str(text).map_err(|e| ScenarioError::Parse(e.to_string()))?;
        s.check()?;
        Ok(s)
    }

    /// Checks the scenario as [`Scenario::parse`] does (after a field was overridden).
    pub fn check(&self) -> Result<(), ScenarioError> {
        let positive = |name: &str, v: f64| {
            if v.is_finite() && v > 0.0 {
                Ok(())
            } else {
                Err(invalid(format!(
                    "{name} must be a positive number, not {v}"
                )))
            }
        };
        positive("duration_s", self.duration_s)?;
        positive("telemetry_s", self.telemetry_s)?;
        positive("drain_s", self.drain_s)?;
        if !(self.api_probe_per_s.is_finite() && self.api_probe_per_s >= 0.0) {
            return Err(invalid("api_probe_per_s must be 0 or more"));
        }
        if !(1..=63).contains(&self.connect_concurrency) {
            return Err(invalid(
                "connect_concurrency must be 1 to 63 (the hub lets 64 connections per address wait to log in)",
            ));
        }
        if let Some(rate) = self.pair_per_s {
            positive("pair_per_s", rate)?;
        }
        if self.broker == BrokerKind::Embedded
            && self
                .faults
                .iter()
                .any(|f| f.kind == FaultKind::BrokerRestart)
        {
            return Err(invalid(
                "broker_restart needs broker = \"mosquitto\" (the embedded broker restarts with the hub: use hub_restart)",
            ));
        }
        if self.pair_concurrency == 0 {
            return Err(invalid("pair_concurrency must be at least 1"));
        }
        if self.fleet.is_empty() || self.fleet.iter().all(|g| g.count == 0) {
            return Err(invalid(
                "the fleet has no cameras ([[fleet]] with count > 0)",
            ));
        }
        let mut names = BTreeSet::new();
        for g in &self.fleet {
            g.profile
                .parse::<ProfileId>()
                .map_err(|e| invalid(format!("fleet group '{}': {e}", g.name())))?;
            if !names.insert(g.name().to_string()) {
                return Err(invalid(format!(
                    "two fleet groups are named '{}' (give one a name)",
                    g.name()
                )));
            }
            if !(0.0..=1.0).contains(&g.motion_share) {
                return Err(invalid(format!(
                    "fleet group '{}': motion_share must be 0 to 1",
                    g.name()
                )));
            }
            positive(
                &format!("fleet group '{}': motion_every_s", g.name()),
                g.motion_every_s,
            )?;
            if !(-100..=0).contains(&g.rssi_dbm) {
                return Err(invalid(format!(
                    "fleet group '{}': rssi_dbm must be -100 to 0",
                    g.name()
                )));
            }
        }
        for (i, f) in self.faults.iter().enumerate() {
            let what = format!("fault {} ({})", i + 1, f.kind.as_str());
            if !(f.at_s.is_finite() && f.at_s >= 0.0 && f.at_s < self.duration_s) {
                return Err(invalid(format!(
                    "{what}: at_s must be within 0..duration_s"
                )));
            }
            positive(&format!("{what}: for_s"), f.for_s)?;
            if let Some(e) = &f.expect {
                e.parse::<FaultId>()
                    .map_err(|err| invalid(format!("{what}: expect: {err}")))?;
            }
            if f.kind.is_hub() || f.kind.hits_the_home() {
                if f.group.is_some() {
                    return Err(invalid(format!("{what}: hits every camera; drop 'group'")));
                }
                continue;
            }
            let group =
                match &f.group {
                    Some(name) => Some(self.fleet.iter().find(|g| g.name() == name).ok_or_else(
                        || invalid(format!("{what}: no fleet group named '{name}'")),
                    )?),
                    None => None,
                };
            let profile = |g: &Group| g.profile.parse::<ProfileId>().expect("checked above");
            if f.kind.needs_battery() && !group.is_some_and(|g| profile(g).profile().on_battery()) {
                return Err(invalid(format!(
                    "{what}: needs 'group' naming a group of battery cameras"
                )));
            }
            if f.kind == FaultKind::ZonesExclude
                && group.is_none_or(|g| profile(g).profile().trigger == Trigger::Pir)
            {
                return Err(invalid(format!(
                    "{what}: needs 'group' naming cameras whose picture decides what they record \
                     (not a 'pir'-trigger profile such as xt: zones do not apply to it)"
                )));
            }
            let available: usize = match group {
                Some(g) => g.count,
                None => self.fleet.iter().map(|g| g.count).sum(),
            };
            if f.cameras == 0 || f.cameras > available {
                return Err(invalid(format!(
                    "{what}: cameras must be 1 to {available} (the cameras it can hit)"
                )));
            }
        }
        Ok(())
    }

    /// Every camera of the fleet, in order; serials `sim-<group>-<n>`.
    pub fn cameras(&self) -> Vec<CameraSpec> {
        let mut rng = rand::rngs::StdRng::seed_from_u64(self.seed);
        let mut out = Vec::new();
        for (gi, g) in self.fleet.iter().enumerate() {
            let profile = g.profile.parse().expect("checked at parse");
            let moving = (g.count as f64 * g.motion_share).round() as usize;
            let mut sees: Vec<bool> = (0..g.count).map(|i| i < moving).collect();
            sees.shuffle(&mut rng);
            for (n, sees_motion) in sees.into_iter().enumerate() {
                out.push(CameraSpec {
                    index: out.len(),
                    group: gi,
                    serial: format!("sim{gi}-{n:05}"),
                    profile,
                    rssi_dbm: g.rssi_dbm,
                    sees_motion,
                    motion_every_ms: (g.motion_every_s * 1000.0) as u64,
                });
            }
        }
        out
    }

    /// The faults with their cameras chosen by the seed. A camera fault takes cameras
    /// no earlier camera fault took, when there are enough, so each detection is
    /// attributed to one fault.
    pub fn plan(&self) -> Vec<PlannedFault> {
        let cameras = self.cameras();
        let mut rng = rand::rngs::StdRng::seed_from_u64(self.seed ^ 0x5eed_fa17);
        let mut used = BTreeSet::new();
        let mut out = Vec::new();
        for (index, f) in self.faults.iter().enumerate() {
            let hits = if f.kind.is_hub() {
                Vec::new()
            } else if f.kind.hits_the_home() {
                (0..cameras.len()).collect()
            } else {
                let group = f
                    .group
                    .as_ref()
                    .and_then(|n| self.fleet.iter().position(|g| g.name() == n));
                let mut pool: Vec<usize> = cameras
                    .iter()
                    .filter(|c| group.is_none_or(|g| c.group == g))
                    .map(|c| c.index)
                    .collect();
                pool.shuffle(&mut rng);
                let (fresh, taken): (Vec<usize>, Vec<usize>) =
                    pool.into_iter().partition(|i| !used.contains(i));
                let chosen: Vec<usize> = fresh.into_iter().chain(taken).take(f.cameras).collect();
                used.extend(chosen.iter().copied());
                chosen
            };
            out.push(PlannedFault {
                index,
                kind: f.kind,
                at_ms: (f.at_s * 1000.0) as u64,
                for_ms: (f.for_s * 1000.0) as u64,
                cameras: hits,
                expect: f
                    .expect
                    .as_ref()
                    .map(|e| e.parse().expect("checked at parse"))
                    .or_else(|| f.kind.default_expect()),
            });
        }
        out.sort_by_key(|f| (f.at_ms, f.index));
        out
    }

    /// The same scenario with every group scaled so the fleet has `n` cameras (the
    /// scale curve runs one file at several sizes); faults keep their camera counts.
    pub fn scaled_to(mut self, n: usize) -> Result<Scenario, ScenarioError> {
        let total = self.camera_count() as f64;
        let mut left = n;
        let groups = self.fleet.len();
        for (i, g) in self.fleet.iter_mut().enumerate() {
            let count = if i + 1 == groups {
                left
            } else {
                ((g.count as f64 / total) * n as f64).round() as usize
            };
            g.count = count.min(left);
            left -= g.count;
        }
        self.check()?;
        Ok(self)
    }

    pub fn camera_count(&self) -> usize {
        self.fleet.iter().map(|g| g.count).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SMALL: &str = r#"
        seed = 3
        duration_s = 60
        [[fleet]]
        profile = "mini"
        count = 10
        rssi_dbm = -80
        motion_share = 0.5
        [[fleet]]
        profile = "outdoor"
        count = 4
        [[fault]]
        kind = "link_cut"
        at_s = 5
        group = "mini"
        cameras = 2
        [[fault]]
        kind = "link_silent"
        at_s = 5
        group = "mini"
        cameras = 2
        [[fault]]
        kind = "hub_kill"
        at_s = 30
        for_s = 5
    "#;

    #[test]
    fn a_scenario_plans_the_same_cameras_for_the_same_seed_and_spreads_faults() {
        let s = Scenario::parse(SMALL).unwrap();
        assert_eq!(s.camera_count(), 14);
        let cams = s.cameras();
        assert_eq!(cams.iter().filter(|c| c.sees_motion).count(), 5);
        assert!(cams[10].profile.profile().on_battery());
        let a = s.plan();
        let b = Scenario::parse(SMALL).unwrap().plan();
        assert_eq!(
            a.iter().map(|f| f.cameras.clone()).collect::<Vec<_>>(),
            b.iter().map(|f| f.cameras.clone()).collect::<Vec<_>>()
        );
        let (cut, silent) = (&a[0].cameras, &a[1].cameras);
        assert_eq!(cut.len(), 2);
        assert!(cut.iter().all(|c| !silent.contains(c) && *c < 10));
        assert_eq!(a[0].expect, Some(FaultId::WifiSignalWeak));
        assert!(a[2].cameras.is_empty() && a[2].expect.is_none());
    }

    #[test]
    fn scaling_keeps_the_mix() {
        let s = Scenario::parse(SMALL).unwrap().scaled_to(140).unwrap();
        assert_eq!(s.fleet[0].count, 100);
        assert_eq!(s.camera_count(), 140);
    }

    #[test]
    fn bad_scenarios_name_the_problem() {
        for (text, needle) in [
            ("duration_s = 1\nfleet = []", "no cameras"),
            (
                "duration_s = 9\n[[fleet]]\nprofile = \"nope\"\ncount = 1",
                "nope",
            ),
            (
                "duration_s = 9\n[[fleet]]\nprofile = \"mini\"\ncount = 1\n[[fault]]\nkind = \"link_cut\"\nat_s = 1\ncameras = 2",
                "cameras must be 1 to 1",
            ),
            (
                "duration_s = 9\n[[fleet]]\nprofile = \"mini\"\ncount = 1\n[[fault]]\nkind = \"link_cut\"\nat_s = 1\nexpect = \"gremlins\"",
                "gremlins",
            ),
            (
                "duration_s = 9\n[[fleet]]\nprofile = \"mini\"\ncount = 1\n[[fault]]\nkind = \"melt\"\nat_s = 1",
                "melt",
            ),
            (
                "duration_s = 9\n[[fleet]]\nprofile = \"mini\"\ncount = 1\n[[fault]]\nkind = \"broker_restart\"\nat_s = 1",
                "broker_restart needs broker = \"mosquitto\"",
            ),
            (
                "duration_s = 9\nbroker = \"rabbit\"\n[[fleet]]\nprofile = \"mini\"\ncount = 1",
                "rabbit",
            ),
            (
                "duration_s = 9\nconnect_concurrency = 64\n[[fleet]]\nprofile = \"mini\"\ncount = 1",
                "connect_concurrency",
            ),
            (
                "duration_s = 9\n[[fleet]]\nprofile = \"mini\"\ncount = 1\n[[fault]]\nkind = \"battery_drain\"\nat_s = 1\ngroup = \"mini\"",
                "battery cameras",
            ),
            (
                "duration_s = 9\n[[fleet]]\nprofile = \"xt\"\ncount = 1\n[[fault]]\nkind = \"zones_exclude\"\nat_s = 1\ngroup = \"xt\"",
                "zones do not apply",
            ),
        ] {
            let err = Scenario::parse(text).unwrap_err().to_string();
            assert!(err.contains(needle), "{err} should name {needle}");
        }
    }
}
