//! The doctor scored on the independent world: top-1 as given, the cost of repair
//! against the guide's order, and the gap to the optimum order.

use super::{Scene, draw};
use crate::diagnose::{self, Progress};
use crate::eval::rng::Rng;
use crate::eval::{ESCALATION_MIN, owner_answer, top_fault};
use crate::ids::{ActionId, FaultId, GUIDE_ORDER};
use crate::infer;
use crate::kb::KnowledgeBase;
use crate::plan;
use crate::priors::Priors;
use crate::session::{Next, Outcome, Session};
use serde::Serialize;
use std::collections::BTreeMap;

/// The chance an action ends the trouble, judged from what each action does (SPEC §8),
/// not from the knowledge base's table.
pub fn true_fix(fault: FaultId, action: ActionId) -> f64 {
    use ActionId as A;
    use FaultId as F;
    match (fault, action) {
        (F::SetupInProgress, A::WaitForSetup) => 0.85,
        (F::SetupInProgress, A::ReconnectWifi) => 0.4,
        (F::WifiCredentialsRejected, A::ReconnectWifi) => 0.9,
        (F::WifiCredentialsRejected, A::FactoryReset) => 0.8,
        (F::WifiSignalWeak, A::MoveCloserOrExtender) => 0.85,
        (F::WifiSignalWeak, A::RestartRouter) => 0.1,
        (F::NetworkDown, A::RestartRouter) => 0.8,
        (F::HubUnreachable, A::CheckHub) => 0.85,
        (F::HubUnreachable, A::RestartRouter) => 0.15,
        (F::HubUnreachable, A::FactoryReset) => 0.5,
        (F::BatteryLow | F::BatteryDead, A::ReplaceBatteries) => 0.95,
        (F::MotionIndicator, A::DisableMotionIndicator) => 0.98,
        (F::NotArmed, A::ArmOrEnableMotion) => 0.97,
        (F::ZonesExcludeMotion, A::AdjustZones) => 0.9,
        (F::StorageFull, A::FreeStorage) => 0.95,
        (F::FirmwareFault, A::RebootCamera) => 0.6,
        (F::FirmwareFault, A::FactoryReset) => 0.85,
        (F::FirmwareFault, A::ContactSupport) => 0.9,
        (F::HardwareFault, A::ContactSupport) => 0.9,
        (F::NoFault, _) => 1.0,
        (_, A::ContactSupport) => 0.7,
        _ => 0.0,
    }
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct IndependentReport {
    pub world: &'static str,
    pub seed: u64,
    pub cases: usize,
    /// The first cause named for the case as given, before any question.
    pub top1_accuracy: f64,
    /// Top-1 on the cases typed by hand from what the owner says (no telemetry), and on
    /// those the hub filled in (or a live client that found no hub).
    pub top1_typed_by_hand: f64,
    pub top1_with_hub: f64,
    /// (cases, right) per true fault.
    pub by_fault: BTreeMap<String, (usize, usize)>,
    /// The largest confusions: "true -> named" and count.
    pub confusions: Vec<(String, usize)>,
    pub cost_cases: usize,
    pub mean_cost_doctor_min: f64,
    pub mean_cost_guide_min: f64,
    pub cost_ratio_vs_guide: f64,
    /// The doctor's repair order against the best order of the same repairs, under its
    /// own belief (mean ECR / mean optimal ECR − 1).
    pub gap_to_optimum: f64,
}

fn session_cost(kb: &KnowledgeBase, scene: &Scene, rng: &mut Rng) -> f64 {
    let priors = Priors::default();
    let mut session = Session::with_kb(kb, scene.given.clone(), priors);
    let (mut survive, mut cost) = (1.0f64, 0.0);
    for _ in 0..64 {
        match session.next() {
            Next::Ask(q) => {
                cost += survive * kb.question_cost(q);
                let answer = owner_answer(&scene.truth, q, rng);
                if session.answer(q, &answer).is_err() {
                    let _ = session.answer(q, "skip");
                }
            }
            Next::Repair(a) => {
                cost += survive * kb.cost(a);
                survive *= 1.0 - true_fix(scene.fault, a);
                session.outcome(a, Outcome::NotFixed);
            }
            Next::Exhausted | Next::Fixed(_) => break,
        }
        if survive < 1e-9 {
            break;
        }
    }
    cost + survive * ESCALATION_MIN
}

fn guide_cost(kb: &KnowledgeBase, scene: &Scene) -> f64 {
    let (mut survive, mut cost) = (1.0, 0.0);
    for a in GUIDE_ORDER
        .iter()
        .filter(|a| kb.applies(**a, scene.given.profile))
    {
        cost += survive * kb.cost(*a);
        survive *= 1.0 - true_fix(scene.fault, *a);
    }
    cost + survive * ESCALATION_MIN
}

/// Score the doctor on `cases` cameras of this world.
pub fn run(kb: &KnowledgeBase, seed: u64, cases: usize) -> IndependentReport {
    let priors = Priors::default();
    let mut rng = Rng::new(seed);
    let mut by_fault: BTreeMap<String, (usize, usize)> = BTreeMap::new();
    let mut confusions: BTreeMap<String, usize> = BTreeMap::new();
    let mut right = 0;
    let (mut by_hand, mut by_hand_right) = (0usize, 0usize);
    let (mut doctor, mut guide, mut cost_cases) = (0.0, 0.0, 0);
    let (mut plan_sum, mut opt_sum) = (0.0, 0.0);
    for _ in 0..cases {
        let scene = draw(&mut rng);
        let belief = infer::posterior(kb, &scene.given, &priors);
        let top = top_fault(&belief);
        let e = by_fault
            .entry(scene.fault.as_str().to_string())
            .or_default();
        e.0 += 1;
        let typed = scene.given.telemetry == Default::default();
        by_hand += usize::from(typed);
        if top == scene.fault {
            right += 1;
            by_hand_right += usize::from(typed);
            e.1 += 1;
        } else {
            *confusions
                .entry(format!("{} -> {}", scene.fault, top))
                .or_default() += 1;
        }
        if scene.fault == FaultId::NoFault {
            continue;
        }
        cost_cases += 1;
        doctor += session_cost(kb, &scene, &mut rng);
        guide += guide_cost(kb, &scene);
        let rb = plan::repair_belief(&belief);
        let actions = diagnose::available_actions(kb, &scene.given, &Progress::default());
        plan_sum += plan::ecr(kb, &rb, &plan::greedy_order(kb, &rb, &actions));
        opt_sum += plan::optimal_order(kb, &rb, &actions).1;
    }
    let mut confusions: Vec<(String, usize)> = confusions.into_iter().collect();
    confusions.sort_by_key(|c| std::cmp::Reverse(c.1));
    confusions.truncate(12);
    let n = cost_cases.max(1) as f64;
    IndependentReport {
        world: "independent",
        seed,
        cases,
        top1_accuracy: right as f64 / cases.max(1) as f64,
        top1_typed_by_hand: by_hand_right as f64 / by_hand.max(1) as f64,
        top1_with_hub: (right - by_hand_right) as f64 / (cases - by_hand).max(1) as f64,
        by_fault,
        confusions,
        cost_cases,
        mean_cost_doctor_min: doctor / n,
        mean_cost_guide_min: guide / n,
        cost_ratio_vs_guide: doctor / guide.max(1e-9),
        gap_to_optimum: plan_sum / opt_sum.max(1e-9) - 1.0,
    }
}
