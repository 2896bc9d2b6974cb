//! Decision-theoretic troubleshooting (Heckerman, Breese & Rommelse, 1995): under a
//! single fault, repairs ordered by P(fixes it)/cost with the belief updated after each
//! failure; a question only when its expected saving beats its cost; the expected cost
//! of repair (ECR) of any order; and the exact optimum by dynamic programming over the
//! sets of steps already tried (the cost of an order depends on the prefix only through
//! its set, so this is exhaustive search over orders without enumerating them).
//!
//! Plans are made for the owner who still has trouble: the belief is conditioned on
//! there being a fault (`no_fault` is answered by the explanation, not by a repair).

use crate::evidence::{Feature, Finding};
use crate::ids::{ActionId, FAULT_COUNT, FaultId, QuestionId};
use crate::infer::{self, Belief};
use crate::kb::KnowledgeBase;

/// Below this, an action is not worth listing: it fixes nothing we still suspect.
const USEFUL: f64 = 1e-9;

/// The belief conditioned on there being something to repair.
pub fn repair_belief(belief: &Belief) -> Belief {
    let mut p = *belief;
    p[FaultId::NoFault.index()] = 0.0;
    let sum: f64 = p.iter().sum();
    if sum <= 0.0 {
        // Everything says "no fault": plan as if every fault were equally likely.
        let mut uniform = [1.0 / (FAULT_COUNT - 1) as f64; FAULT_COUNT];
        uniform[FaultId::NoFault.index()] = 0.0;
        return uniform;
    }
    p.iter_mut().for_each(|x| *x /= sum);
    p
}

/// P(the action ends the trouble) under a belief.
pub fn fix_probability(kb: &KnowledgeBase, belief: &Belief, action: ActionId) -> f64 {
    FaultId::ALL
        .iter()
        .map(|f| belief[f.index()] * kb.fixes(action, *f))
        .sum()
}

/// For each step of `order`: its cost, and the chance it ends the trouble given that the
/// steps before it did not. Also returns the ECR.
pub fn evaluate(kb: &KnowledgeBase, belief: &Belief, order: &[ActionId]) -> (Vec<f64>, f64) {
    // w[f] = P(f and every step so far failed)
    let mut w = *belief;
    let mut survive: f64 = w.iter().sum();
    let mut ecr = 0.0;
    let mut p_fix = Vec::with_capacity(order.len());
    for a in order {
        ecr += kb.cost(*a) * survive;
        let mut next = 0.0;
        for f in FaultId::ALL {
            w[f.index()] *= 1.0 - kb.fixes(*a, *f);
            next += w[f.index()];
        }
        p_fix.push(if survive > 0.0 {
            1.0 - next / survive
        } else {
            0.0
        });
        survive = next;
    }
    (p_fix, ecr)
}

/// Expected cost of repair of an order: Σ cost(step) · P(trouble remains before it).
pub fn ecr(kb: &KnowledgeBase, belief: &Belief, order: &[ActionId]) -> f64 {
    evaluate(kb, belief, order).1
}

/// The actions (of those available) that could fix a fault we still suspect.
pub fn useful_actions(
    kb: &KnowledgeBase,
    belief: &Belief,
    available: &[ActionId],
) -> Vec<ActionId> {
    available
        .iter()
        .copied()
        .filter(|a| fix_probability(kb, belief, *a) > USEFUL)
        .collect()
}

/// Repairs by efficiency P(fixes | what failed so far)/cost, re-ranked after each
/// failure; every useful action appears once.
pub fn greedy_order(kb: &KnowledgeBase, belief: &Belief, available: &[ActionId]) -> Vec<ActionId> {
    let mut remaining = useful_actions(kb, belief, available);
    let mut b = *belief;
    let mut order = Vec::with_capacity(remaining.len());
    while !remaining.is_empty() {
        let (i, _) = remaining
            .iter()
            .enumerate()
            .map(|(i, a)| (i, fix_probability(kb, &b, *a) / kb.cost(*a)))
            .fold(
                (0, f64::NEG_INFINITY),
                |best, x| if x.1 > best.1 { x } else { best },
            );
        let a = remaining.remove(i);
        b = infer::after_failure(kb, &b, a);
        order.push(a);
    }
    order
}

/// The order of the useful actions with the least ECR, by dynamic programming over
/// subsets (exact; 2^n states, n ≤ 13).
pub fn optimal_order(
    kb: &KnowledgeBase,
    belief: &Belief,
    available: &[ActionId],
) -> (Vec<ActionId>, f64) {
    let actions = useful_actions(kb, belief, available);
    let n = actions.len();
    let full = (1usize << n) - 1;
    // survive[mask] = P(trouble remains after every action in mask)
    let mut weights = vec![[0.0; FAULT_COUNT]; 1 << n];
    let mut survive = vec![0.0; 1 << n];
    weights[0] = *belief;
    survive[0] = belief.iter().sum();
    for mask in 1..=full {
        let low = mask.trailing_zeros() as usize;
        let prev = weights[mask & (mask - 1)];
        let mut w = prev;
        for f in FaultId::ALL {
            w[f.index()] *= 1.0 - kb.fixes(actions[low], *f);
        }
        weights[mask] = w;
        survive[mask] = w.iter().sum();
    }
    let mut best = vec![f64::INFINITY; 1 << n];
    let mut choice = vec![usize::MAX; 1 << n];
    best[full] = 0.0;
    for mask in (0..full).rev() {
        for (i, a) in actions.iter().enumerate() {
            if mask & (1 << i) == 0 {
                let cost = kb.cost(*a) * survive[mask] + best[mask | (1 << i)];
                if cost < best[mask] {
                    best[mask] = cost;
                    choice[mask] = i;
                }
            }
        }
    }
    let mut order = Vec::with_capacity(n);
    let mut mask = 0;
    while mask != full {
        let i = choice[mask];
        order.push(actions[i]);
        mask |= 1 << i;
    }
    (order, best[0])
}

/// The value of asking: the question's cost plus the expected ECR after its answer.
pub fn question_value(
    kb: &KnowledgeBase,
    belief: &Belief,
    available: &[ActionId],
    question: QuestionId,
) -> f64 {
    let feature = Feature::of_question(question);
    let mut value = kb.question_cost(question);
    for v in 0..feature.values().len() {
        let p_answer: f64 = FaultId::ALL
            .iter()
            .map(|f| belief[f.index()] * kb.likelihood(feature, *f, v))
            .sum();
        if p_answer <= 1e-12 {
            continue;
        }
        let after = infer::update(kb, belief, Finding { feature, value: v });
        value += p_answer * ecr(kb, &after, &greedy_order(kb, &after, available));
    }
    value
}

/// The best question to ask now, if any saves more than it costs: (question, the
/// expected cost with it, the expected cost without it).
pub fn best_question(
    kb: &KnowledgeBase,
    belief: &Belief,
    available: &[ActionId],
    questions: &[QuestionId],
) -> Option<(QuestionId, f64, f64)> {
    let without = ecr(kb, belief, &greedy_order(kb, belief, available));
    questions
        .iter()
        .map(|q| (*q, question_value(kb, belief, available, *q)))
        .filter(|(_, v)| *v < without - 1e-9)
        .min_by(|a, b| a.1.total_cmp(&b.1))
        .map(|(q, v)| (q, v, without))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn belief(pairs: &[(FaultId, f64)]) -> Belief {
        let mut b = [0.0; FAULT_COUNT];
        for (f, p) in pairs {
            b[f.index()] = *p;
        }
        b
    }

    #[test]
    fn ecr_matches_a_hand_computation() {
        let kb = KnowledgeBase::shipped();
        // network_down 0.6, battery_dead 0.4.
        let b = belief(&[(FaultId::NetworkDown, 0.6), (FaultId::BatteryDead, 0.4)]);
        // replace_batteries (5 min) fixes battery_dead 0.95, network_down 0;
        // restart_router (10 min) fixes network_down 0.85.
        // Order batteries, router: 5 + 10·(0.6 + 0.4·0.05) = 11.2
        let order = [ActionId::ReplaceBatteries, ActionId::RestartRouter];
        let (p_fix, cost) = evaluate(kb, &b, &order);
        assert!((cost - 11.2).abs() < 1e-9, "{cost}");
        assert!((p_fix[0] - 0.38).abs() < 1e-9);
        // second step: P(router fixes | batteries failed) = 0.6·0.85 / 0.62
        assert!((p_fix[1] - 0.51 / 0.62).abs() < 1e-9);
        // Other way round: 10 + 5·(0.6·0.15 + 0.4) = 12.45
        let cost = ecr(
            kb,
            &b,
            &[ActionId::RestartRouter, ActionId::ReplaceBatteries],
        );
        assert!((cost - 12.45).abs() < 1e-9, "{cost}");
    }

    #[test]
    fn greedy_orders_by_probability_over_cost() {
        let kb = KnowledgeBase::shipped();
        let b = belief(&[(FaultId::NetworkDown, 0.6), (FaultId::BatteryDead, 0.4)]);
        // P/C: batteries 0.38/5 = 0.076, router 0.51/10 = 0.051: batteries first
        // although the router is the likelier cause.
        let order = greedy_order(
            kb,
            &b,
            &[ActionId::RestartRouter, ActionId::ReplaceBatteries],
        );
        assert_eq!(
            order,
            vec![ActionId::ReplaceBatteries, ActionId::RestartRouter]
        );
        let b = belief(&[(FaultId::NetworkDown, 0.8), (FaultId::BatteryDead, 0.2)]);
        // router 0.68/10 = 0.068 > batteries 0.19/5 = 0.038
        let order = greedy_order(
            kb,
            &b,
            &[ActionId::RestartRouter, ActionId::ReplaceBatteries],
        );
        assert_eq!(
            order,
            vec![ActionId::RestartRouter, ActionId::ReplaceBatteries]
        );
    }

    #[test]
    fn actions_that_fix_nothing_suspected_are_left_out() {
        let kb = KnowledgeBase::shipped();
        let b = belief(&[(FaultId::NotArmed, 1.0)]);
        let order = greedy_order(kb, &b, ActionId::ALL);
        assert_eq!(order[0], ActionId::ArmOrEnableMotion);
        assert!(!order.contains(&ActionId::RestartRouter));
    }

    #[test]
    fn the_optimum_equals_brute_force_over_permutations() {
        let kb = KnowledgeBase::shipped();
        let b = repair_belief(&belief(&[
            (FaultId::NetworkDown, 0.3),
            (FaultId::FirmwareFault, 0.3),
            (FaultId::WifiCredentialsRejected, 0.2),
            (FaultId::SetupInProgress, 0.2),
        ]));
        let actions = useful_actions(kb, &b, ActionId::ALL);
        let mut best = f64::INFINITY;
        permute(&mut actions.clone(), 0, &mut |order| {
            best = best.min(ecr(kb, &b, order))
        });
        let (order, cost) = optimal_order(kb, &b, ActionId::ALL);
        assert!((cost - best).abs() < 1e-9, "{cost} vs {best}");
        assert!((ecr(kb, &b, &order) - cost).abs() < 1e-9);
        let greedy = ecr(kb, &b, &greedy_order(kb, &b, ActionId::ALL));
        assert!(greedy >= cost - 1e-9);
    }

    fn permute(items: &mut Vec<ActionId>, k: usize, visit: &mut dyn FnMut(&[ActionId])) {
        if k == items.len() {
            visit(items);
            return;
        }
        for i in k..items.len() {
            items.swap(k, i);
            permute(items, k + 1, visit);
            items.swap(k, i);
        }
    }

    #[test]
    fn a_question_is_asked_only_when_it_saves_more_than_it_costs() {
        let kb = KnowledgeBase::shipped();
        // Router down or hub down, evenly: whether the other devices are online tells
        // them apart, and costs half a minute against a 10-minute router restart.
        let b = belief(&[(FaultId::NetworkDown, 0.5), (FaultId::HubUnreachable, 0.5)]);
        let asked = best_question(kb, &b, ActionId::ALL, QuestionId::ALL);
        let (q, with, without) = asked.expect("a cheap, telling question is worth asking");
        assert!(with < without);
        assert!(
            matches!(
                q,
                QuestionId::AskOtherDevicesOnline | QuestionId::AskHubOnline
            ),
            "{q}"
        );
        // Certain of the cause: no question can save anything.
        let b = belief(&[(FaultId::NotArmed, 1.0)]);
        assert!(best_question(kb, &b, ActionId::ALL, QuestionId::ALL).is_none());
        // A question that cannot change the plan is not worth its cost.
        let b = belief(&[(FaultId::NetworkDown, 0.5), (FaultId::HubUnreachable, 0.5)]);
        assert!(best_question(kb, &b, ActionId::ALL, &[QuestionId::AskBatteryAgeMonths]).is_none());
    }
}
