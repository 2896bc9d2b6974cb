//! Inference: the probability of each fault from any subset of evidence (naive Bayes
//! under a single fault), and the words for what moved it.

use crate::case::Case;
use crate::evidence::{self, Feature, Finding};
use crate::ids::{ActionId, FAULT_COUNT, FaultId};
use crate::joint;
use crate::kb::KnowledgeBase;
use crate::priors::Priors;

/// A probability for each fault, indexed by [`FaultId::index`], summing to 1.
pub type Belief = [f64; FAULT_COUNT];

fn normalised(mut p: Belief, fallback: &Belief) -> Belief {
    let sum: f64 = p.iter().sum();
    if sum <= 0.0 || !sum.is_finite() {
        return *fallback;
    }
    p.iter_mut().for_each(|x| *x /= sum);
    p
}

/// Bayes' rule for one finding.
pub fn update(kb: &KnowledgeBase, belief: &Belief, finding: Finding) -> Belief {
    let mut p = *belief;
    for f in FaultId::ALL {
        p[f.index()] *= kb.likelihood(finding.feature, *f, finding.value);
    }
    normalised(p, belief)
}

/// The belief after an action was tried and the trouble remains.
pub fn after_failure(kb: &KnowledgeBase, belief: &Belief, action: ActionId) -> Belief {
    let mut p = *belief;
    for f in FaultId::ALL {
        p[f.index()] *= 1.0 - kb.fixes(action, *f);
    }
    normalised(p, belief)
}

/// P(fault | everything the case says). Each fault's forms are weighed apart (the
/// findings are independent given the fault *and its form*), then summed: a fault
/// whose forms leave opposite traces is not judged by a blurred average of them.
///
/// A link's drops follow its signal: for a fault whose drops are only its link's, the
/// drops counted are weighed given the signal band (when the case has both), so a far
/// camera with some other trouble is not taken for a weak link twice over.
pub fn posterior(kb: &KnowledgeBase, case: &Case, priors: &Priors) -> Belief {
    posterior_with(kb, case, priors, &joint::read(case))
}

/// [`posterior`] with the groups of findings given: those of [`joint::read`], or none
/// to see what the findings say one at a time.
pub fn posterior_with(
    kb: &KnowledgeBase,
    case: &Case,
    priors: &Priors,
    joints: &[joint::Joint],
) -> Belief {
    let prior = priors.effective(kb, case.profile);
    let findings = joint::remaining(&evidence::findings(case), joints);
    let joint_factor = joint::factor(joints);
    let signal = findings
        .iter()
        .find(|e| e.feature == Feature::Signal)
        .map(|e| e.value);
    let mut p = [0.0; FAULT_COUNT];
    for f in FaultId::ALL {
        if prior[f.index()] == 0.0 {
            continue;
        }
        let factor = |k: usize, e: &Finding| match (e.feature, signal) {
            (Feature::Reconnects, Some(s)) => kb
                .reconnects_given_signal(*f, s, e.value)
                .unwrap_or_else(|| kb.form_likelihood(e.feature, *f, k, e.value)),
            _ => kb.form_likelihood(e.feature, *f, k, e.value),
        };
        p[f.index()] = kb
            .form_shares(*f)
            .iter()
            .enumerate()
            .map(|(k, share)| {
                findings
                    .iter()
                    .fold(prior[f.index()] * share, |w, e| w * factor(k, e))
            })
            .sum::<f64>()
            * joint_factor[f.index()];
    }
    normalised(p, &prior)
}

/// How strongly a finding speaks for `fault` against the other faults as the prior
/// weighs them: P(e | fault) / P(e | not fault).
fn likelihood_ratio(kb: &KnowledgeBase, prior: &Belief, fault: FaultId, finding: Finding) -> f64 {
    let own = kb.likelihood(finding.feature, fault, finding.value);
    let (mut num, mut den) = (0.0, 0.0);
    for g in FaultId::ALL {
        if *g != fault {
            num += prior[g.index()] * kb.likelihood(finding.feature, *g, finding.value);
            den += prior[g.index()];
        }
    }
    if den <= 0.0 || num <= 0.0 {
        return 1.0;
    }
    own / (num / den)
}

/// Whether a finding is something the owner told us (quoted back as theirs).
fn said_by_owner(feature: Feature) -> bool {
    feature.question().is_some()
}

fn in_words(finding: &Finding, case: &Case) -> String {
    let text = evidence::describe(finding, case);
    if said_by_owner(finding.feature) && finding.feature != Feature::Light {
        format!("you said {text}")
    } else {
        text
    }
}

/// How a group of findings read together moves `fault` against the others as the prior
/// weighs them.
fn joint_ratio(prior: &Belief, fault: FaultId, j: &joint::Joint) -> f64 {
    let (mut num, mut den) = (0.0, 0.0);
    for g in FaultId::ALL {
        if *g != fault {
            num += prior[g.index()] * j.factor[g.index()];
            den += prior[g.index()];
        }
    }
    if den <= 0.0 || num <= 0.0 {
        return 1.0;
    }
    j.factor[fault.index()] / (num / den)
}

/// Why a fault got its probability, in words: the evidence that speaks most for it, and
/// what speaks against it (an owner's "no" included, quoted back).
pub fn explain(kb: &KnowledgeBase, case: &Case, priors: &Priors, fault: FaultId, p: f64) -> String {
    let prior = priors.effective(kb, case.profile);
    let title = title(fault);
    if prior[fault.index()] == 0.0 {
        let profile = case.profile.map(|p| p.as_str()).unwrap_or("this");
        return format!(
            "{title}: ruled out for a {profile} camera ({}).",
            kb.prior_why(case.profile, fault)
        );
    }
    let joints = joint::read(case);
    let findings = joint::remaining(&evidence::findings(case), &joints);
    // (strength, words): > 1 speaks for the fault, < 1 against.
    // How long it has been offline says what "offline" says, more precisely: one line.
    let has_offline_for = findings.iter().any(|f| f.feature == Feature::OfflineFor);
    let mut scored: Vec<(f64, String)> = findings
        .iter()
        .filter(|f| !(has_offline_for && f.feature == Feature::Availability))
        .map(|f| (likelihood_ratio(kb, &prior, fault, *f), in_words(f, case)))
        .collect();
    scored.extend(
        joints
            .iter()
            .filter(|j| j.factor.iter().any(|x| *x != 1.0))
            .map(|j| (joint_ratio(&prior, fault, j), j.words.clone())),
    );
    scored.sort_by(|a, b| b.0.total_cmp(&a.0));
    let support: Vec<String> = scored
        .iter()
        .filter(|(lr, _)| *lr >= 1.5)
        .take(3)
        .map(|(_, w)| w.clone())
        .collect();
    let against: Vec<String> = scored
        .iter()
        .rev()
        .filter(|(lr, _)| *lr <= 0.5)
        .take(if p >= 0.5 { 1 } else { 2 })
        .map(|(_, w)| w.clone())
        .collect();
    let mut text = title.to_string();
    if support.is_empty() {
        text.push_str(&format!(
            ": {:.0} % before evidence, {}",
            prior[fault.index()] * 100.0,
            kb.prior_why(case.profile, fault)
        ));
    } else {
        text.push_str(": ");
        text.push_str(&join_words(&support));
    }
    if !against.is_empty() {
        text.push_str(&format!("; against it: {}", join_words(&against)));
    }
    text.push('.');
    text
}

fn join_words(parts: &[String]) -> String {
    match parts {
        [] => String::new(),
        [one] => one.clone(),
        [init @ .., last] => format!("{} and {last}", init.join(", ")),
    }
}

/// A fault in a few plain words.
pub fn title(fault: FaultId) -> &'static str {
    match fault {
        FaultId::SetupInProgress => "Setup is still in progress",
        FaultId::WifiCredentialsRejected => "The Wi-Fi refuses the camera's password",
        FaultId::WifiSignalWeak => "The Wi-Fi signal at the camera is too weak",
        FaultId::NetworkDown => "The router or access point is down",
        FaultId::HubUnreachable => "The camera cannot reach the hub",
        FaultId::BatteryLow => "The batteries are low",
        FaultId::BatteryDead => "The batteries are exhausted",
        FaultId::MotionIndicator => "The motion indicator setting is on (this is normal)",
        FaultId::NotArmed => "The system is disarmed or motion detection is off",
        FaultId::ZonesExcludeMotion => "The activity zones leave the motion out",
        FaultId::StorageFull => "The hub's storage is full",
        FaultId::FirmwareFault => "The camera's firmware is stuck",
        FaultId::HardwareFault => "The camera's hardware is faulty",
        FaultId::NoFault => "Nothing is wrong: the camera behaves as designed",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::evidence::Feature;

    #[test]
    fn bayes_update_matches_a_hand_computation() {
        let kb = KnowledgeBase::shipped();
        let mut prior = [0.0; FAULT_COUNT];
        prior[FaultId::NetworkDown.index()] = 0.5;
        prior[FaultId::WifiSignalWeak.index()] = 0.5;
        // other_devices_online = no: 0.9 under network_down, 0.05 otherwise.
        let finding = Finding {
            feature: Feature::OtherDevicesOnline,
            value: 1,
        };
        let post = update(kb, &prior, finding);
        let expected = 0.5 * 0.9 / (0.5 * 0.9 + 0.5 * 0.05);
        assert!((post[FaultId::NetworkDown.index()] - expected).abs() < 1e-12);
    }

    #[test]
    fn failure_moves_belief_away_from_what_the_action_fixes() {
        let kb = KnowledgeBase::shipped();
        let mut prior = [0.0; FAULT_COUNT];
        prior[FaultId::NetworkDown.index()] = 0.5;
        prior[FaultId::HubUnreachable.index()] = 0.5;
        let post = after_failure(kb, &prior, ActionId::RestartRouter);
        // (1-0.85) vs (1-0.15)
        let expected = 0.5 * 0.15 / (0.5 * 0.15 + 0.5 * 0.85);
        assert!((post[FaultId::NetworkDown.index()] - expected).abs() < 1e-12);
    }
}
