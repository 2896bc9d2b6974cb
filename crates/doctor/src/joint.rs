//! Evidence that only means something together: the feature groups naive Bayes cannot
//! weigh one finding at a time.
//!
//! Each [`Joint`] reads a group of findings together and, for the faults the group
//! speaks about, replaces the product of its members' separate likelihoods with one
//! factor for the group: the members it explains are dropped from the product
//! (`drops`), and `factor` multiplies each fault's weight. The groups come from the
//! SPEC and from how cameras behave, not from a world's draw rates:
//!
//! - **a light that cannot be what it claims** (§3): a light shown past its documented
//!   time (red solid lasts 10 s, green blink gives up after 60 s, the fast blink needs a
//!   hand on the button), or a light impossible in the state the hub sees (the
//!   connection-lost blink on a camera that is connected, a setup light on one that is
//!   online, the recording light on one silent for an hour, a low-battery flash from
//!   cells that read healthy or a camera with no battery): a camera stuck on its light;
//! - **a harmless explanation that does not explain the complaint**: the motion
//!   indicator or a normal light cannot be why clips stop coming or the hub is full, and
//!   a disarmed camera neither flashes nor records;
//! - **the battery read as one**: resting and loaded voltage, the cells' age and the
//!   temperature together (§6: cold lowers the loaded voltage; a sag on healthy resting
//!   cells is cold, age, or the camera's own power path);
//! - **drops read given the signal**: a link at a strong signal that drops is not weak;
//!   a connection-lost light seen now and then is a link that comes and goes, whichever of
//!   its two patterns the owner caught.

use crate::case::{Case, SeenAvailability, When};
use crate::evidence::{self, Feature, Finding};
use crate::ids::{FAULT_COUNT, FaultId};
use crate::words::light_phrase;
use watchlight_protocol::LightId;

/// One group of findings read together.
#[derive(Debug, Clone, PartialEq)]
pub struct Joint {
    pub kind: JointKind,
    /// Multiplies each fault's weight (indexed by [`FaultId::index`]).
    pub factor: [f64; FAULT_COUNT],
    /// Findings this group replaces in the product.
    pub drops: Vec<Feature>,
    /// What the group says, in the owner's words.
    pub words: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JointKind {
    StuckLight,
    HarmlessDoesNotExplain,
    DisarmedCannotFlash,
    ColdSag,
    SagOnFreshCells,
    SagOnAgedCells,
    StrongLinkDrops,
    LinkComesAndGoes,
    NotTheIndicatorsLight,
    IndicatorExplainsFlash,
    SteadyLight,
    NoFlashReported,
}

fn factors(default: f64, set: &[(FaultId, f64)]) -> [f64; FAULT_COUNT] {
    let mut f = [default; FAULT_COUNT];
    for (fault, v) in set {
        f[fault.index()] = *v;
    }
    f
}

/// The battery as one reading (SPEC §6 thresholds).
#[derive(Debug, Clone, Copy, PartialEq)]
enum Sag {
    Cold,
    FreshCells,
    AgedCells,
}

/// A loaded voltage under the `low` line while the resting voltage is healthy: the cells
/// hold charge but cannot deliver it. Why depends on temperature and age together.
fn sag(case: &Case) -> Option<(Sag, f64, f64)> {
    let t = &case.telemetry;
    let resting = *t.battery_resting_mv.last()?;
    let loaded = *t.battery_loaded_mv.last()?;
    if resting < 2900.0 || loaded >= 2600.0 {
        return None;
    }
    let kind = match (t.temperature_c, case.observations.battery_age_months) {
        (Some(c), _) if c <= 0.0 => Sag::Cold,
        (_, Some(m)) if m < 4.0 => Sag::FreshCells,
        _ => Sag::AgedCells,
    };
    Some((kind, resting, loaded))
}

fn indicator_off(case: &Case) -> bool {
    case.telemetry
        .settings
        .as_ref()
        .is_some_and(|s| s.motion_indicator == Some(false))
}

fn battery_reads_healthy(case: &Case) -> bool {
    let t = &case.telemetry;
    let resting = t.battery_resting_mv.last().copied();
    let loaded = t.battery_loaded_mv.last().copied();
    resting.is_some_and(|r| r >= 2900.0) && loaded.is_none_or(|l| l >= 2600.0)
}

/// The complaint is that clips do not come (or cannot be kept).
fn clips_missing(case: &Case) -> bool {
    let t = &case.telemetry;
    // Few clips count only against a usual day: a camera added today has none to miss.
    let usual = t.clips_per_day_usual.filter(|u| *u >= 1.0);
    case.observations.recording == Some(false)
        || (usual.is_some()
            && t.clips_last_day
                .is_some_and(|c| evidence::clips_band(c, usual) < 2))
        || t.hub_storage_free_pct
            .is_some_and(|p| p < evidence::STORAGE_FULL_PCT)
}

/// The hub hears from the camera now: connected and talking.
fn hub_hears_it(case: &Case) -> bool {
    let t = &case.telemetry;
    matches!(
        t.availability,
        Some(SeenAvailability::Online | SeenAvailability::Sleeping)
    ) && t.minutes_since_seen.is_none_or(|m| m < 2.0)
}

/// Silent for a while: offline for over half an hour, or connected but mute.
fn hub_long_silent(case: &Case) -> bool {
    let t = &case.telemetry;
    match t.availability {
        Some(SeenAvailability::Offline) => t.minutes_since_seen.is_some_and(|m| m >= 30.0),
        Some(SeenAvailability::Online) => t.minutes_since_seen.is_some_and(|m| m >= 2.0),
        _ => false,
    }
}

/// Why the light the owner reports cannot be the condition it stands for, if it cannot.
fn stuck_light(case: &Case) -> Option<String> {
    let o = &case.observations;
    let t = &case.telemetry;
    let light = o.light?;
    let lasting = o.when == Some(When::Continuous);
    let set_up = o.setup_completed == Some(true);
    let on_battery = case.profile.map(|p| p.profile().on_battery());
    let name = light_phrase(light);
    match light {
        LightId::RedSolid | LightId::GreenBlink if lasting && (set_up || hub_long_silent(case)) => {
            let limit = if light == LightId::RedSolid {
                "10 seconds"
            } else {
                "a minute"
            };
            Some(format!(
                "{name} that stays on, though it lasts at most {limit} before the camera moves on"
            ))
        }
        LightId::RedSolid | LightId::GreenBlink | LightId::RedSlowBlink if hub_hears_it(case) => {
            Some(format!(
                "{name} (a setup light) on a camera the hub sees connected"
            ))
        }
        LightId::RedFastBlink if o.when != Some(When::AfterReset) => Some(format!(
            "{name}, which only shows while the reset button is held"
        )),
        LightId::RedBlink | LightId::RedFlashEvery5s
            if lasting && hub_hears_it(case) && t.reconnects_last_hour.is_none_or(|r| r < 1.0) =>
        {
            Some(format!(
                "{name} (connection lost) all the time, while the hub sees the camera connected"
            ))
        }
        LightId::BlueSolid if lasting && (hub_long_silent(case) || o.recording == Some(false)) => {
            Some(format!(
                "{name} that stays on while the camera sends nothing and no clips come"
            ))
        }
        LightId::RedFlashAfterRecording | LightId::RedFlashThenDark
            if on_battery == Some(false) =>
        {
            Some(format!(
                "{name} (a battery warning) from a camera that has no battery"
            ))
        }
        // Owners place the motion indicator's flash after the recording now and then:
        // only with the indicator known off is a battery warning from healthy cells stuck.
        LightId::RedFlashAfterRecording | LightId::RedFlashThenDark
            if battery_reads_healthy(case) && indicator_off(case) =>
        {
            Some(format!(
                "{name} (a battery warning) while its cells read healthy"
            ))
        }
        _ => None,
    }
}

/// The groups this case's findings form.
pub fn read(case: &Case) -> Vec<Joint> {
    use FaultId::*;
    let mut out = Vec::new();
    let o = &case.observations;
    let t = &case.telemetry;

    if let Some(words) = stuck_light(case) {
        // The light is explained by a camera stuck on it (a frozen light is the
        // firmware's hallmark; a dead board more often goes dark); what it would mean
        // otherwise no longer counts.
        out.push(Joint {
            kind: JointKind::StuckLight,
            factor: factors(0.1, &[(FirmwareFault, 10.0), (HardwareFault, 0.3)]),
            drops: vec![Feature::Light, Feature::When],
            words,
        });
    }

    let indicator_on = t
        .settings
        .as_ref()
        .is_some_and(|s| s.motion_indicator == Some(true));
    let stuck = out.iter().any(|j| j.kind == JointKind::StuckLight);
    if let Some(light) = o.light {
        // The indicator is one red flash with motion; owners may call it a blink or place
        // it after the recording, but not a light of another colour, nor one that stays.
        let red_flash_like = matches!(
            light,
            LightId::RedFlashOnMotion
                | LightId::RedBlink
                | LightId::RedFlashAfterRecording
                | LightId::RedFlashEvery5s
        );
        let lasting = matches!(
            o.when,
            Some(When::Continuous | When::DuringSetup | When::AfterReset)
        );
        if stuck || !red_flash_like || lasting {
            // A light of another colour may be the recording light that follows the
            // flash; a light that stays cannot be a flash at all.
            let weight = if stuck || lasting { 0.03 } else { 0.1 };
            out.push(Joint {
                kind: JointKind::NotTheIndicatorsLight,
                factor: factors(1.0, &[(MotionIndicator, weight)]),
                drops: vec![],
                words: format!(
                    "the motion indicator is a single red flash with motion, and you see {}",
                    light_phrase(light)
                ),
            });
        } else if indicator_on && light == LightId::RedFlashOnMotion {
            // The setting flashes on motion whatever else is wrong, so the flash is
            // seen beside any fault that leaves the camera detecting motion; but an
            // owner with another trouble mostly reports that trouble, while one whose
            // trouble is the flash reports nothing else.
            out.push(Joint {
                kind: JointKind::IndicatorExplainsFlash,
                factor: factors(
                    0.3,
                    &[
                        (MotionIndicator, 1.0),
                        (SetupInProgress, 0.05),
                        (WifiCredentialsRejected, 0.1),
                        (NotArmed, 0.05),
                        (BatteryDead, 0.05),
                        (FirmwareFault, 0.1),
                        (HardwareFault, 0.2),
                    ],
                ),
                drops: vec![Feature::Light, Feature::When],
                words:
                    "the single red flash on motion is the motion indicator setting, which is on"
                        .into(),
            });
        }
        let steady_when = matches!(
            o.when,
            Some(When::Continuous | When::Intermittent | When::OnMotion)
        );
        if matches!(light, LightId::Off | LightId::BlueDim) && steady_when && !stuck {
            // A dark or dim light shows all the time by nature: "continuous" or "on
            // motion" adds nothing to it.
            out.push(Joint {
                kind: JointKind::SteadyLight,
                factor: [1.0; FAULT_COUNT],
                drops: vec![Feature::When],
                words: format!("{} shows all the time", light_phrase(light)),
            });
        }
    }

    if o.light.is_none() && !indicator_on {
        // The indicator's trouble is its flash: with no light reported and the setting
        // not known to be on, nothing points at it.
        out.push(Joint {
            kind: JointKind::NoFlashReported,
            factor: factors(1.0, &[(MotionIndicator, 0.1)]),
            drops: vec![],
            words: "no red flash was reported".into(),
        });
    }

    let disarmed = t
        .settings
        .as_ref()
        .is_some_and(|s| s.armed == Some(false) || s.motion_detection == Some(false));
    let motion_light = matches!(o.light, Some(LightId::RedFlashOnMotion))
        || (o.when == Some(When::OnMotion)
            && matches!(o.light, Some(LightId::BlueSolid | LightId::RedBlink)));
    if disarmed && motion_light {
        // A disarmed camera neither flashes nor records: the flash was seen while it
        // was armed (a schedule, a mode), or is remembered from before.
        out.push(Joint {
            kind: JointKind::DisarmedCannotFlash,
            factor: factors(1.0, &[(MotionIndicator, 0.3), (NoFault, 0.3)]),
            drops: vec![],
            words:
                "a light on motion was reported, but a disarmed camera neither flashes nor records"
                    .into(),
        });
    }
    if clips_missing(case) {
        out.push(Joint {
            kind: JointKind::HarmlessDoesNotExplain,
            factor: factors(1.0, &[(MotionIndicator, 0.03), (NoFault, 0.03)]),
            drops: vec![],
            words: "no clips come, which a harmless light or setting does not explain".into(),
        });
    }

    if let Some((kind, resting, loaded)) = sag(case) {
        let r = resting / 1000.0;
        let l = loaded / 1000.0;
        let (kind, factor, words) = match kind {
            Sag::Cold => (
                JointKind::ColdSag,
                factors(
                    0.1,
                    &[(BatteryLow, 1.0), (BatteryDead, 0.25), (HardwareFault, 0.1)],
                ),
                format!(
                    "at {} °C the cells rest at {r:.2} V but sag to {l:.2} V under load: cold, not empty cells (lithium cells hold up better; warm the batteries)",
                    t.temperature_c.unwrap_or(0.0)
                ),
            ),
            Sag::FreshCells => (
                JointKind::SagOnFreshCells,
                factors(
                    0.05,
                    &[(HardwareFault, 1.0), (BatteryLow, 0.1), (BatteryDead, 0.05)],
                ),
                format!(
                    "cells {} months old rest at {r:.2} V yet sag to {l:.2} V under load in the warm: the contacts or the camera's power path, not the cells",
                    o.battery_age_months.unwrap_or(0.0)
                ),
            ),
            Sag::AgedCells => (
                JointKind::SagOnAgedCells,
                factors(
                    0.1,
                    &[(BatteryLow, 1.0), (BatteryDead, 0.3), (HardwareFault, 0.15)],
                ),
                format!(
                    "the cells rest at {r:.2} V but sag to {l:.2} V under load: worn cells near their end"
                ),
            ),
        };
        // The sag explains the battery band and the camera's own battery warnings.
        let mut drops = vec![Feature::Battery];
        if t.recent_events.as_deref().is_some_and(|e| {
            e.iter().all(|k| {
                use watchlight_protocol::EventKind::*;
                !matches!(
                    k,
                    SelfTestFailed | WifiRejected | HubRejected | JoinTimeout | Reset
                )
            })
        }) {
            drops.push(Feature::Events);
        }
        out.push(Joint {
            kind,
            factor,
            drops,
            words,
        });
    }

    let signal = evidence::signal_band(&t.rssi_dbm);
    let drops = t.reconnects_last_hour.unwrap_or(0.0);
    if signal == Some(0) && drops >= 2.0 {
        out.push(Joint {
            kind: JointKind::StrongLinkDrops,
            factor: factors(1.0, &[(WifiSignalWeak, 0.1)]),
            drops: vec![],
            words: format!(
                "it dropped {drops} times in the hour at a strong {} dBm signal: not a weak link",
                t.rssi_dbm.last().copied().unwrap_or(0.0)
            ),
        });
    }

    if o.when == Some(When::Intermittent) && o.light == Some(LightId::RedFlashEvery5s) {
        // Which of the two connection-lost patterns the owner caught says how long the
        // drop had lasted, which "now and then" already says: read it as the blink.
        out.push(Joint {
            kind: JointKind::LinkComesAndGoes,
            factor: [1.0; FAULT_COUNT],
            drops: vec![],
            words: "the connection-lost light comes and goes".into(),
        });
    }
    out
}

/// The findings left for the product once the groups have taken theirs, with the light
/// read as the plain blink where [`JointKind::LinkComesAndGoes`] says so.
pub fn remaining(findings: &[Finding], joints: &[Joint]) -> Vec<Finding> {
    let blink = LightId::ALL
        .iter()
        .position(|l| *l == LightId::RedBlink)
        .unwrap_or(0);
    let as_blink = joints.iter().any(|j| j.kind == JointKind::LinkComesAndGoes);
    findings
        .iter()
        .filter(|f| !joints.iter().any(|j| j.drops.contains(&f.feature)))
        .map(|f| {
            if as_blink && f.feature == Feature::Light {
                Finding {
                    feature: Feature::Light,
                    value: blink,
                }
            } else {
                *f
            }
        })
        .collect()
}

/// The product of the groups' factors for each fault.
pub fn factor(joints: &[Joint]) -> [f64; FAULT_COUNT] {
    let mut f = [1.0; FAULT_COUNT];
    for j in joints {
        for (x, y) in f.iter_mut().zip(j.factor.iter()) {
            *x *= y;
        }
    }
    f
}
