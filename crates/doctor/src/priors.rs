//! Learned priors: each fix an owner confirms adds a pseudo-count to the faults it
//! points at, per profile. The shipped priors count as `prior_strength` observations,
//! so a handful of confirmations nudge the ranking and many of them take it over.

use crate::case::Case;
use crate::ids::{ActionId, FAULT_COUNT, FaultId};
use crate::infer;
use crate::kb::KnowledgeBase;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use watchlight_protocol::ProfileId;

/// The key used for cases whose profile is not known.
pub const ANY_PROFILE: &str = "any";

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Priors {
    pub v: u32,
    /// Confirmed-fault pseudo-counts, by profile id (or `any`).
    #[serde(default)]
    pub counts: BTreeMap<String, BTreeMap<FaultId, f64>>,
}

impl Default for Priors {
    fn default() -> Self {
        Priors {
            v: 1,
            counts: BTreeMap::new(),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum PriorsError {
    #[error("priors file {path}: {message}")]
    Invalid { path: String, message: String },
}

fn key(profile: Option<ProfileId>) -> String {
    profile
        .map(|p| p.as_str().to_string())
        .unwrap_or_else(|| ANY_PROFILE.to_string())
}

impl Priors {
    /// Parse and check priors; `origin` names the file in errors.
    pub fn from_json(text: &str, origin: &str) -> Result<Priors, PriorsError> {
        let bad = |message: String| PriorsError::Invalid {
            path: origin.to_string(),
            message,
        };
        let mut de = serde_json::Deserializer::from_str(text);
        let priors: Priors = serde_path_to_error::deserialize(&mut de)
            .map_err(|e| bad(format!("field '{}': {}", e.path(), e.inner())))?;
        if priors.v != 1 {
            return Err(bad(format!(
                "version {} is not supported (only 1)",
                priors.v
            )));
        }
        for (profile, counts) in &priors.counts {
            if profile != ANY_PROFILE && profile.parse::<ProfileId>().is_err() {
                return Err(bad(format!("unknown profile '{profile}' in counts")));
            }
            for (fault, n) in counts {
                if !n.is_finite() || *n < 0.0 {
                    return Err(bad(format!(
                        "counts.{profile}.{fault} = {n} must be a count ≥ 0"
                    )));
                }
            }
        }
        Ok(priors)
    }

    /// The text [`Priors::from_json`] reads back bit for bit. Where it is kept is the
    /// owner of the file's business (the CLI's `--priors` file, the hub's SQLite).
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).expect("priors serialise")
    }

    /// Total confirmed pseudo-counts for a profile.
    pub fn total(&self, profile: Option<ProfileId>) -> f64 {
        self.counts
            .get(&key(profile))
            .map(|c| c.values().sum())
            .unwrap_or(0.0)
    }

    /// The prior the doctor uses: shipped priors worth `prior_strength` observations
    /// blended with the confirmed counts. A fault the shipped priors rule out for a
    /// profile (batteries on a mains camera) stays ruled out.
    pub fn effective(&self, kb: &KnowledgeBase, profile: Option<ProfileId>) -> [f64; FAULT_COUNT] {
        let shipped = kb.prior(profile);
        let Some(counts) = self.counts.get(&key(profile)) else {
            return shipped;
        };
        let mut p = [0.0; FAULT_COUNT];
        for f in FaultId::ALL {
            let n = if shipped[f.index()] > 0.0 {
                counts.get(f).copied().unwrap_or(0.0)
            } else {
                0.0
            };
            p[f.index()] = kb.prior_strength * shipped[f.index()] + n;
        }
        let sum: f64 = p.iter().sum();
        p.iter_mut().for_each(|x| *x /= sum);
        p
    }

    /// The owner (or support) confirmed the fault.
    pub fn confirm(&mut self, profile: Option<ProfileId>, fault: FaultId, weight: f64) {
        *self
            .counts
            .entry(key(profile))
            .or_default()
            .entry(fault)
            .or_default() += weight;
    }

    /// How likely each fault is given the case, the steps that failed and the one that
    /// fixed it (normalised; `None` if no fault is consistent with that fix).
    fn fix_weights(
        &self,
        kb: &KnowledgeBase,
        case: &Case,
        failed: &[ActionId],
        fixed_by: ActionId,
    ) -> Option<[f64; FAULT_COUNT]> {
        let mut belief = infer::posterior(kb, case, self);
        for a in failed {
            belief = infer::after_failure(kb, &belief, *a);
        }
        let mut w = [0.0; FAULT_COUNT];
        for f in FaultId::ALL {
            w[f.index()] = belief[f.index()] * kb.fixes(fixed_by, *f);
        }
        let sum: f64 = w.iter().sum();
        if sum <= 0.0 {
            return None;
        }
        w.iter_mut().for_each(|x| *x /= sum);
        Some(w)
    }

    /// The fault that `fixed_by` most likely cured, given the case and the steps that
    /// failed before it: what live mode reports to the hub as confirmed.
    pub fn fault_fixed_by(
        &self,
        kb: &KnowledgeBase,
        case: &Case,
        failed: &[ActionId],
        fixed_by: ActionId,
    ) -> Option<FaultId> {
        let w = self.fix_weights(kb, case, failed, fixed_by)?;
        FaultId::ALL
            .iter()
            .copied()
            .max_by(|a, b| w[a.index()].total_cmp(&w[b.index()]).then(b.cmp(a)))
    }

    /// The owner confirmed that `fixed_by` ended the trouble after `failed` did not:
    /// one pseudo-count shared among the faults in proportion to how likely each is
    /// given the case, the failures and that fix.
    pub fn learn_fix(
        &mut self,
        kb: &KnowledgeBase,
        case: &Case,
        failed: &[ActionId],
        fixed_by: ActionId,
    ) {
        let Some(w) = self.fix_weights(kb, case, failed, fixed_by) else {
            return;
        };
        for f in FaultId::ALL {
            let share = w[f.index()];
            if share > 1e-9 {
                self.confirm(case.profile, *f, share);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use watchlight_protocol::LightId;

    #[test]
    fn the_fault_a_fix_points_at_follows_the_evidence() {
        let kb = KnowledgeBase::shipped();
        let mut case = Case {
            profile: Some(ProfileId::Outdoor),
            ..Case::default()
        };
        case.observations.light = Some(LightId::RedFlashAfterRecording);
        case.telemetry.battery_loaded_mv = vec![2700.0, 2550.0];
        let priors = Priors::default();
        let fault = priors.fault_fixed_by(kb, &case, &[], ActionId::ReplaceBatteries);
        assert!(
            matches!(fault, Some(FaultId::BatteryLow | FaultId::BatteryDead)),
            "{fault:?}"
        );
        // Learning from it moves exactly that much weight, most of it onto that fault.
        let mut learned = Priors::default();
        learned.learn_fix(kb, &case, &[], ActionId::ReplaceBatteries);
        assert!((learned.total(case.profile) - 1.0).abs() < 1e-9);
        let counts = &learned.counts["outdoor"];
        let top = counts
            .iter()
            .max_by(|a, b| a.1.total_cmp(b.1))
            .map(|(f, _)| *f);
        assert_eq!(top, fault);
    }
}
