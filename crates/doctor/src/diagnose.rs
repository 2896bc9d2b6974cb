//! The doctor's answer (SPEC §8): causes ranked with reasons, a plan of steps with their
//! costs and chances, and the expected cost of repair.

use crate::case::Case;
use crate::evidence::{self, Feature};
use crate::ids::{ActionId, FaultId, QuestionId};
use crate::infer::{self, Belief};
use crate::kb::KnowledgeBase;
use crate::plan;
use crate::priors::Priors;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Cause {
    pub id: FaultId,
    pub p: f64,
    pub why: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StepKind {
    Repair,
    Question,
}

/// A step's id: an action for a repair, `ask_<field>` for a question.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StepAction {
    Repair(ActionId),
    Question(QuestionId),
}

impl StepAction {
    pub fn as_str(self) -> &'static str {
        match self {
            StepAction::Repair(a) => a.as_str(),
            StepAction::Question(q) => q.as_str(),
        }
    }
}

impl Serialize for StepAction {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for StepAction {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        if let Ok(a) = text.parse() {
            return Ok(StepAction::Repair(a));
        }
        text.parse()
            .map(StepAction::Question)
            .map_err(serde::de::Error::custom)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Step {
    /// Counts from 1.
    pub step: usize,
    pub kind: StepKind,
    pub action: StepAction,
    pub cost_min: f64,
    /// The chance this step ends the trouble given that the steps before it did not
    /// (0 for a question).
    pub p_fix: f64,
}

/// What the doctor says about a case.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Diagnosis {
    /// Every fault, most likely first, summing to 1.
    pub causes: Vec<Cause>,
    /// A question (when one is worth asking) and then the repairs, best first. After a
    /// question the repairs listed are those for the belief before its answer; the doctor
    /// re-plans once it has the answer.
    pub plan: Vec<Step>,
    /// The expected minutes until the trouble ends, following the plan (and re-planning
    /// after the question, if there is one).
    pub expected_cost_min: f64,
}

impl Diagnosis {
    pub fn top_cause(&self) -> FaultId {
        self.causes[0].id
    }

    pub fn first_step(&self) -> Option<StepAction> {
        self.plan.first().map(|s| s.action)
    }
}

/// Where a troubleshooting session stands: what was tried and what cannot be done.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Progress {
    /// Steps done that did not end the trouble, in order.
    pub failed: Vec<ActionId>,
    /// Steps the owner cannot do.
    pub unavailable: Vec<ActionId>,
    /// Questions asked that the owner could not answer.
    pub unanswered: Vec<QuestionId>,
}

/// The belief over faults for a case and a session's progress.
pub fn belief(kb: &KnowledgeBase, case: &Case, priors: &Priors, progress: &Progress) -> Belief {
    let mut b = infer::posterior(kb, case, priors);
    for a in &progress.failed {
        b = infer::after_failure(kb, &b, *a);
    }
    b
}

/// Repairs that may still be proposed.
pub fn available_actions(kb: &KnowledgeBase, case: &Case, progress: &Progress) -> Vec<ActionId> {
    ActionId::ALL
        .iter()
        .copied()
        .filter(|a| kb.applies(*a, case.profile))
        .filter(|a| !progress.failed.contains(a) && !progress.unavailable.contains(a))
        .collect()
}

/// Questions whose field the case does not fill yet and that were not asked already.
pub fn open_questions(case: &Case, progress: &Progress) -> Vec<QuestionId> {
    let known: Vec<Feature> = evidence::findings(case).iter().map(|f| f.feature).collect();
    let on_battery = case
        .profile
        .map(|p| p.profile().on_battery())
        .unwrap_or(true);
    QuestionId::ALL
        .iter()
        .copied()
        .filter(|q| !known.contains(&Feature::of_question(*q)))
        .filter(|q| !progress.unanswered.contains(q))
        .filter(|q| on_battery || *q != QuestionId::AskBatteryAgeMonths)
        .collect()
}

/// Diagnose a case with the shipped knowledge base and these learned priors.
pub fn diagnose(case: &Case, priors: &Priors) -> Diagnosis {
    diagnose_in(KnowledgeBase::shipped(), case, priors, &Progress::default())
}

/// Diagnose part-way through a session.
pub fn diagnose_in(
    kb: &KnowledgeBase,
    case: &Case,
    priors: &Priors,
    progress: &Progress,
) -> Diagnosis {
    let b = belief(kb, case, priors, progress);
    let mut causes: Vec<Cause> = FaultId::ALL
        .iter()
        .map(|f| {
            let mut why = infer::explain(kb, case, priors, *f, b[f.index()]);
            let ruled_down: Vec<&str> = progress
                .failed
                .iter()
                .filter(|a| kb.fixes(**a, *f) >= 0.5)
                .map(|a| a.as_str())
                .collect();
            if !ruled_down.is_empty() {
                why.pop();
                why.push_str(&format!("; {} did not fix it.", ruled_down.join(" and ")));
            }
            Cause {
                id: *f,
                p: b[f.index()],
                why,
            }
        })
        .collect();
    causes.sort_by(|a, b| b.p.total_cmp(&a.p).then(a.id.cmp(&b.id)));

    let (steps, expected) = plan_in(kb, case, progress, &b);
    Diagnosis {
        causes,
        plan: steps,
        expected_cost_min: expected,
    }
}

/// Steps under this chance of ending the trouble are left out of plans.
pub const MIN_STEP_CHANCE: f64 = 0.005;

/// What it will tell us if `action` does not end the trouble: which cause it rules out
/// and what is most likely then, in words.
pub fn if_not_fixed(
    kb: &KnowledgeBase,
    case: &Case,
    priors: &Priors,
    progress: &Progress,
    action: ActionId,
) -> Option<String> {
    let before = belief(kb, case, priors, progress);
    let mut tried = progress.clone();
    tried.failed.push(action);
    let after = belief(kb, case, priors, &tried);
    let (ruled, _) = FaultId::ALL
        .iter()
        .map(|f| (*f, before[f.index()] - after[f.index()]))
        .max_by(|a, b| a.1.total_cmp(&b.1))?;
    let next = FaultId::ALL
        .iter()
        .copied()
        .max_by(|a, b| after[a.index()].total_cmp(&after[b.index()]))?;
    if before[ruled.index()] < 0.01 {
        return None;
    }
    if next == ruled {
        return Some(format!(
            "If that does not help, it is less likely that {} ({:.0} % -> {:.0} %), though that stays the likeliest cause and the next step tests it further.",
            lower_first(infer::title(ruled)),
            before[ruled.index()] * 100.0,
            after[ruled.index()] * 100.0
        ));
    }
    Some(format!(
        "If that does not help, it is unlikely that {} ({:.0} % -> {:.0} %), and the likeliest cause becomes: {} ({:.0} %).",
        lower_first(infer::title(ruled)),
        before[ruled.index()] * 100.0,
        after[ruled.index()] * 100.0,
        lower_first(infer::title(next)),
        after[next.index()] * 100.0
    ))
}

fn lower_first(text: &str) -> String {
    let mut c = text.chars();
    match c.next() {
        Some(f) => f.to_lowercase().chain(c).collect(),
        None => String::new(),
    }
}

/// The plan and its expected cost for a belief, without the words for the causes.
pub fn plan_in(
    kb: &KnowledgeBase,
    case: &Case,
    progress: &Progress,
    b: &Belief,
) -> (Vec<Step>, f64) {
    let rb = plan::repair_belief(b);
    let actions = available_actions(kb, case, progress);
    let mut order = plan::greedy_order(kb, &rb, &actions);
    // A step with next to no chance of ending the trouble is not worth the owner's time
    // (nor a line in the plan).
    let (p_fix, _) = plan::evaluate(kb, &rb, &order);
    let mut keep = p_fix.iter().map(|p| *p >= MIN_STEP_CHANCE);
    order.retain(|_| keep.next().unwrap_or(false));
    let (p_fix, repair_ecr) = plan::evaluate(kb, &rb, &order);
    let mut steps = Vec::new();
    let mut expected = repair_ecr;
    if let Some((q, with, _)) =
        plan::best_question(kb, &rb, &actions, &open_questions(case, progress))
    {
        steps.push(Step {
            step: 1,
            kind: StepKind::Question,
            action: StepAction::Question(q),
            cost_min: kb.question_cost(q),
            p_fix: 0.0,
        });
        expected = with;
    }
    for (a, p) in order.iter().zip(p_fix) {
        steps.push(Step {
            step: steps.len() + 1,
            kind: StepKind::Repair,
            action: StepAction::Repair(*a),
            cost_min: kb.cost(*a),
            p_fix: p,
        });
    }
    (steps, expected)
}
