//! The knowledge base: priors, evidence likelihoods, actions and questions, loaded from
//! the embedded `data/knowledge.toml` where every number has its reason beside it.

use crate::evidence::Feature;
use crate::ids::{ACTION_COUNT, ActionId, FAULT_COUNT, FaultId, QuestionId};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::sync::OnceLock;
use watchlight_protocol::ProfileId;

const SHIPPED: &str = include_str!("../data/knowledge.toml");

/// A number with the one-line reason for it.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Reasoned {
    pub v: f64,
    pub why: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawKb {
    meta: RawMeta,
    faults: BTreeMap<String, RawFault>,
    actions: BTreeMap<String, RawAction>,
    questions: BTreeMap<String, RawQuestion>,
    evidence: BTreeMap<String, RawEvidence>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawMeta {
    prior_strength: Reasoned,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFault {
    prior: Reasoned,
    #[serde(default)]
    by_profile: BTreeMap<String, Reasoned>,
    /// The distinct ways the fault arises, with the share of each (normalised). Evidence
    /// can differ by form: a password typo at setup and a router password changed later
    /// are one fault with opposite availability, events and timing.
    #[serde(default)]
    forms: BTreeMap<String, Reasoned>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAction {
    cost_min: Reasoned,
    #[serde(default)]
    money: Option<Reasoned>,
    #[serde(default)]
    battery_only: bool,
    #[serde(default)]
    fixes: BTreeMap<String, Reasoned>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawQuestion {
    cost_min: Reasoned,
}

type RawDist = BTreeMap<String, Reasoned>;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawEvidence {
    leak: Reasoned,
    #[serde(default)]
    default: Option<RawDist>,
    #[serde(default)]
    by_fault: BTreeMap<String, RawDist>,
    /// `by_form.<fault>.<form>`: a row for one form of a fault (else the fault's row).
    #[serde(default)]
    by_form: BTreeMap<String, BTreeMap<String, RawDist>>,
    /// Only for `reconnects`: `given_signal.<signal band>`, the drops a link makes at
    /// that signal. Faults without their own `reconnects` row drop as their link does,
    /// so for them the drops are judged given the signal, not as a second, independent
    /// sign of the same link.
    #[serde(default)]
    given_signal: BTreeMap<String, RawDist>,
    /// Only for `reconnects`: `given_signal_for.<fault>.<signal band>`, a fault's own
    /// drops at each signal band (a weak link and a healthy one at the same measured
    /// signal drop differently: the label itself is about the drops).
    #[serde(default)]
    given_signal_for: BTreeMap<String, BTreeMap<String, RawDist>>,
}

/// A knowledge base that cannot be used, and where.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum KbError {
    #[error("knowledge base does not parse: {0}")]
    Parse(String),
    #[error("knowledge base, {place}: {message}")]
    Invalid { place: String, message: String },
}

fn invalid(place: impl Into<String>, message: impl Into<String>) -> KbError {
    KbError::Invalid {
        place: place.into(),
        message: message.into(),
    }
}

/// The knowledge base in dense tables, ready for inference and planning.
#[derive(Debug, Clone)]
pub struct KnowledgeBase {
    /// How many confirmed fixes the shipped priors are worth when learned counts arrive.
    pub prior_strength: f64,
    /// Unnormalised priors: `[profile][fault]`, index `ProfileId::ALL.len()` = unknown profile.
    prior: Vec<[f64; FAULT_COUNT]>,
    prior_why: Vec<[String; FAULT_COUNT]>,
    action_cost: [f64; ACTION_COUNT],
    action_money: [f64; ACTION_COUNT],
    action_battery_only: [bool; ACTION_COUNT],
    action_cost_why: Vec<String>,
    fixes: [[f64; FAULT_COUNT]; ACTION_COUNT],
    fixes_why: Vec<Vec<String>>,
    question_cost: Vec<f64>,
    /// `[feature][fault][value]`, each row summing to 1: the fault's forms mixed by share.
    likelihood: Vec<Vec<Vec<f64>>>,
    /// `[fault]`: the forms' names (one unnamed form for a fault without forms).
    form_names: Vec<Vec<String>>,
    /// `[fault][form]`: each form's share of the fault, summing to 1.
    form_share: Vec<Vec<f64>>,
    /// `[feature][fault][form][value]`, each row summing to 1.
    form_likelihood: Vec<Vec<Vec<Vec<f64>>>>,
    /// `[feature][fault][value]`: the reason for that number (empty for leak values).
    likelihood_why: Vec<Vec<Vec<String>>>,
    /// `[signal band][reconnects value]`: drops in the last hour given the link's signal.
    reconnects_given_signal: Option<Vec<Vec<f64>>>,
    /// `[fault]`: whether the fault's drops are its link's (no `reconnects` row of its own).
    reconnects_follow_signal: [bool; FAULT_COUNT],
    /// `[fault]` → `[signal band][reconnects value]`: a fault's own drops given the signal.
    reconnects_given_signal_for: Vec<Option<Vec<Vec<f64>>>>,
}

fn profile_slot(profile: Option<ProfileId>) -> usize {
    match profile {
        Some(p) => ProfileId::ALL.iter().position(|x| *x == p).unwrap_or(0),
        None => ProfileId::ALL.len(),
    }
}

fn checked(place: &str, r: &Reasoned, lo: f64, hi: f64) -> Result<f64, KbError> {
    if r.why.trim().is_empty() {
        return Err(invalid(place, "number without a reason"));
    }
    if !r.v.is_finite() || r.v < lo || r.v > hi {
        return Err(invalid(place, format!("{} is outside {lo}..={hi}", r.v)));
    }
    Ok(r.v)
}

/// One row of an evidence table: listed values, the leak for the rest, normalised; and
/// the reasons beside the listed values.
fn row(
    feature: Feature,
    place: &str,
    dist: &RawDist,
    leak: f64,
) -> Result<(Vec<f64>, Vec<String>), KbError> {
    let mut row = vec![leak; feature.values().len()];
    let mut why = vec![String::new(); feature.values().len()];
    for (value, p) in dist {
        let i = feature.value_index(value).ok_or_else(|| {
            invalid(
                place,
                format!(
                    "unknown value '{value}' (known: {})",
                    feature.values().join(", ")
                ),
            )
        })?;
        row[i] = checked(&format!("{place}.{value}"), p, 0.0, 1.0)?;
        why[i] = p.why.clone();
    }
    let sum: f64 = row.iter().sum();
    if sum <= 0.0 {
        return Err(invalid(place, "row sums to zero"));
    }
    row.iter_mut().for_each(|x| *x /= sum);
    Ok((row, why))
}

impl KnowledgeBase {
    /// The knowledge base shipped inside the crate.
    pub fn shipped() -> &'static KnowledgeBase {
        static KB: OnceLock<KnowledgeBase> = OnceLock::new();
        KB.get_or_init(|| {
            KnowledgeBase::from_toml(SHIPPED).expect("shipped knowledge base is valid (tested)")
        })
    }

    /// Parse and check a knowledge base: every id known, every number in range and with
    /// a reason, every fault and feature covered.
    pub fn from_toml(text: &str) -> Result<KnowledgeBase, KbError> {
        let raw: RawKb = toml::from_str(text).map_err(|e| KbError::Parse(e.to_string()))?;
        let prior_strength = checked("meta.prior_strength", &raw.meta.prior_strength, 0.0, 1e6)?;

        let slots = ProfileId::ALL.len() + 1;
        let mut prior = vec![[0.0; FAULT_COUNT]; slots];
        let mut prior_why: Vec<[String; FAULT_COUNT]> =
            vec![std::array::from_fn(|_| String::new()); slots];
        for (name, fault) in &raw.faults {
            let id: FaultId = name
                .parse()
                .map_err(|e| invalid("faults", format!("{e}")))?;
            let place = format!("faults.{name}.prior");
            let base = checked(&place, &fault.prior, 0.0, 1.0)?;
            for slot in 0..slots {
                prior[slot][id.index()] = base;
                prior_why[slot][id.index()] = fault.prior.why.clone();
            }
            for (profile, value) in &fault.by_profile {
                let p: ProfileId = profile
                    .parse()
                    .map_err(|e| invalid(format!("faults.{name}.by_profile"), format!("{e}")))?;
                let v = checked(
                    &format!("faults.{name}.by_profile.{profile}"),
                    value,
                    0.0,
                    1.0,
                )?;
                prior[profile_slot(Some(p))][id.index()] = v;
                prior_why[profile_slot(Some(p))][id.index()] = value.why.clone();
            }
        }
        let mut form_names = vec![vec![String::new()]; FAULT_COUNT];
        let mut form_share = vec![vec![1.0]; FAULT_COUNT];
        for f in FaultId::ALL {
            let fault = raw
                .faults
                .get(f.as_str())
                .ok_or_else(|| invalid("faults", format!("fault '{f}' has no prior")))?;
            if fault.forms.is_empty() {
                continue;
            }
            let mut shares = Vec::new();
            for (form, share) in &fault.forms {
                shares.push(checked(
                    &format!("faults.{f}.forms.{form}"),
                    share,
                    0.0,
                    1.0,
                )?);
            }
            let sum: f64 = shares.iter().sum();
            if sum <= 0.0 {
                return Err(invalid(format!("faults.{f}.forms"), "shares sum to zero"));
            }
            form_share[f.index()] = shares.iter().map(|x| x / sum).collect();
            form_names[f.index()] = fault.forms.keys().cloned().collect();
        }

        let mut action_cost = [0.0; ACTION_COUNT];
        let mut action_money = [0.0; ACTION_COUNT];
        let mut action_battery_only = [false; ACTION_COUNT];
        let mut action_cost_why = vec![String::new(); ACTION_COUNT];
        let mut fixes = [[0.0; FAULT_COUNT]; ACTION_COUNT];
        let mut fixes_why = vec![vec![String::new(); FAULT_COUNT]; ACTION_COUNT];
        for (name, action) in &raw.actions {
            let a: ActionId = name
                .parse()
                .map_err(|e| invalid("actions", format!("{e}")))?;
            let i = a.index();
            action_cost[i] = checked(
                &format!("actions.{name}.cost_min"),
                &action.cost_min,
                0.01,
                1e4,
            )?;
            action_cost_why[i] = action.cost_min.why.clone();
            if let Some(m) = &action.money {
                action_money[i] = checked(&format!("actions.{name}.money"), m, 0.0, 1e6)?;
            }
            action_battery_only[i] = action.battery_only;
            for (fault, p) in &action.fixes {
                let f: FaultId = fault
                    .parse()
                    .map_err(|e| invalid(format!("actions.{name}.fixes"), format!("{e}")))?;
                fixes[i][f.index()] =
                    checked(&format!("actions.{name}.fixes.{fault}"), p, 0.0, 1.0)?;
                fixes_why[i][f.index()] = p.why.clone();
            }
        }
        for a in ActionId::ALL {
            if !raw.actions.contains_key(a.as_str()) {
                return Err(invalid("actions", format!("action '{a}' is missing")));
            }
        }

        let mut question_cost = vec![0.0; QuestionId::ALL.len()];
        for q in QuestionId::ALL {
            let raw_q = raw
                .questions
                .get(q.as_str())
                .ok_or_else(|| invalid("questions", format!("question '{q}' is missing")))?;
            question_cost[q.index()] = checked(
                &format!("questions.{q}.cost_min"),
                &raw_q.cost_min,
                0.0,
                1e4,
            )?;
        }
        if let Some(extra) = raw
            .questions
            .keys()
            .find(|k| k.parse::<QuestionId>().is_err())
        {
            return Err(invalid("questions", format!("unknown question '{extra}'")));
        }

        let mut likelihood = Vec::new();
        let mut likelihood_why = Vec::new();
        let mut form_likelihood = Vec::new();
        for feature in Feature::ALL {
            let name = feature.as_str();
            let ev = raw
                .evidence
                .get(name)
                .ok_or_else(|| invalid("evidence", format!("feature '{name}' is missing")))?;
            let leak = checked(&format!("evidence.{name}.leak"), &ev.leak, 0.0, 1.0)?;
            let mut rows = Vec::new();
            let mut rows_why = Vec::new();
            let mut rows_by_form = Vec::new();
            for f in FaultId::ALL {
                let fault_row = match ev.by_fault.get(f.as_str()) {
                    Some(d) => Some(row(
                        feature,
                        &format!("evidence.{name}.by_fault.{f}"),
                        d,
                        leak,
                    )?),
                    None => None,
                };
                let default_row = match &ev.default {
                    Some(d) => Some(row(feature, &format!("evidence.{name}.default"), d, leak)?),
                    None => None,
                };
                let by_form = ev.by_form.get(f.as_str());
                let mut form_rows = Vec::new();
                let mut mixed = vec![0.0; feature.values().len()];
                let mut why = vec![String::new(); feature.values().len()];
                for (k, form) in form_names[f.index()].iter().enumerate() {
                    let (r, w) = match by_form.and_then(|m| m.get(form)) {
                        Some(d) => row(
                            feature,
                            &format!("evidence.{name}.by_form.{f}.{form}"),
                            d,
                            leak,
                        )?,
                        None => fault_row
                            .clone()
                            .or_else(|| default_row.clone())
                            .ok_or_else(|| {
                                invalid(
                                    format!("evidence.{name}"),
                                    format!("no row for fault '{f}' and no default"),
                                )
                            })?,
                    };
                    let share = form_share[f.index()][k];
                    for (i, p) in r.iter().enumerate() {
                        mixed[i] += share * p;
                        if why[i].is_empty() {
                            why[i] = w[i].clone();
                        }
                    }
                    form_rows.push(r);
                }
                if let Some(extra) =
                    by_form.and_then(|m| m.keys().find(|k| !form_names[f.index()].contains(k)))
                {
                    return Err(invalid(
                        format!("evidence.{name}.by_form.{f}"),
                        format!("unknown form '{extra}' (declare it in faults.{f}.forms)"),
                    ));
                }
                rows.push(mixed);
                rows_why.push(why);
                rows_by_form.push(form_rows);
            }
            if let Some(extra) = ev.by_fault.keys().find(|k| k.parse::<FaultId>().is_err()) {
                return Err(invalid(
                    format!("evidence.{name}.by_fault"),
                    format!("unknown fault '{extra}'"),
                ));
            }
            if let Some(extra) = ev.by_form.keys().find(|k| k.parse::<FaultId>().is_err()) {
                return Err(invalid(
                    format!("evidence.{name}.by_form"),
                    format!("unknown fault '{extra}'"),
                ));
            }
            form_likelihood.push(rows_by_form);
            likelihood.push(rows);
            likelihood_why.push(rows_why);
            if (!ev.given_signal.is_empty() || !ev.given_signal_for.is_empty())
                && feature != Feature::Reconnects
            {
                return Err(invalid(
                    format!("evidence.{name}.given_signal"),
                    "only reconnects can be given the signal",
                ));
            }
        }
        let reconnects = &raw.evidence[Feature::Reconnects.as_str()];
        let mut reconnects_given_signal = None;
        let mut reconnects_follow_signal = [false; FAULT_COUNT];
        // Drops by signal band: a table whose rows are reconnects rows, one per band.
        let by_band = |place: &str, rows: &BTreeMap<String, RawDist>| {
            let mut table = Vec::new();
            for band in Feature::Signal.values() {
                let place = format!("{place}.{band}");
                let dist = rows
                    .get(*band)
                    .ok_or_else(|| invalid(&place, "missing: every signal band needs a row"))?;
                table.push(row(Feature::Reconnects, &place, dist, reconnects.leak.v)?.0);
            }
            match rows
                .keys()
                .find(|k| Feature::Signal.value_index(k).is_none())
            {
                Some(extra) => Err(invalid(place, format!("unknown signal band '{extra}'"))),
                None => Ok(table),
            }
        };
        let mut reconnects_given_signal_for = vec![None; FAULT_COUNT];
        for (fault, rows) in &reconnects.given_signal_for {
            let place = format!("evidence.reconnects.given_signal_for.{fault}");
            let f: FaultId = fault.parse().map_err(|e| invalid(&place, format!("{e}")))?;
            reconnects_given_signal_for[f.index()] = Some(by_band(&place, rows)?);
        }
        if !reconnects.given_signal.is_empty() {
            let table = by_band("evidence.reconnects.given_signal", &reconnects.given_signal)?;
            for f in FaultId::ALL {
                reconnects_follow_signal[f.index()] = !reconnects.by_fault.contains_key(f.as_str())
                    && !reconnects.by_form.contains_key(f.as_str());
            }
            reconnects_given_signal = Some(table);
        }
        if let Some(extra) = raw
            .evidence
            .keys()
            .find(|k| !Feature::ALL.iter().any(|f| f.as_str() == k.as_str()))
        {
            return Err(invalid("evidence", format!("unknown feature '{extra}'")));
        }

        Ok(KnowledgeBase {
            prior_strength,
            prior,
            prior_why,
            action_cost,
            action_money,
            action_battery_only,
            action_cost_why,
            fixes,
            fixes_why,
            question_cost,
            likelihood,
            likelihood_why,
            form_names,
            form_share,
            form_likelihood,
            reconnects_given_signal,
            reconnects_follow_signal,
            reconnects_given_signal_for,
        })
    }

    /// The shipped prior for a profile, normalised to sum to 1.
    pub fn prior(&self, profile: Option<ProfileId>) -> [f64; FAULT_COUNT] {
        let mut p = self.prior[profile_slot(profile)];
        let sum: f64 = p.iter().sum();
        p.iter_mut().for_each(|x| *x /= sum);
        p
    }

    pub fn prior_why(&self, profile: Option<ProfileId>, fault: FaultId) -> &str {
        &self.prior_why[profile_slot(profile)][fault.index()]
    }

    pub fn cost(&self, action: ActionId) -> f64 {
        self.action_cost[action.index()]
    }

    pub fn cost_why(&self, action: ActionId) -> &str {
        &self.action_cost_why[action.index()]
    }

    pub fn money(&self, action: ActionId) -> f64 {
        self.action_money[action.index()]
    }

    /// Whether the action can be done on a camera of this profile.
    pub fn applies(&self, action: ActionId, profile: Option<ProfileId>) -> bool {
        !self.action_battery_only[action.index()]
            || profile.map(|p| p.profile().on_battery()).unwrap_or(true)
    }

    /// P(the action ends the trouble | the fault).
    pub fn fixes(&self, action: ActionId, fault: FaultId) -> f64 {
        self.fixes[action.index()][fault.index()]
    }

    pub fn fixes_why(&self, action: ActionId, fault: FaultId) -> &str {
        &self.fixes_why[action.index()][fault.index()]
    }

    pub fn question_cost(&self, question: QuestionId) -> f64 {
        self.question_cost[question.index()]
    }

    /// P(the feature takes this value | the fault).
    pub fn likelihood(&self, feature: Feature, fault: FaultId, value: usize) -> f64 {
        self.likelihood[feature.index()][fault.index()][value]
    }

    /// Each form's share of the fault (one form of share 1 for most faults).
    pub fn form_shares(&self, fault: FaultId) -> &[f64] {
        &self.form_share[fault.index()]
    }

    /// The names of the fault's forms (one empty name for a fault without forms).
    pub fn form_names(&self, fault: FaultId) -> &[String] {
        &self.form_names[fault.index()]
    }

    /// P(the feature takes this value | the fault, in this form).
    pub fn form_likelihood(
        &self,
        feature: Feature,
        fault: FaultId,
        form: usize,
        value: usize,
    ) -> f64 {
        self.form_likelihood[feature.index()][fault.index()][form][value]
    }

    /// P(drops = `value` | the link's signal band, fault): the fault's own table if it has
    /// one (a weak or a healthy link), else the link's table for a fault whose drops are
    /// its link's; `None` for a fault with drops of its own whatever the signal (a router
    /// outage, a hang) or when the knowledge base has no table.
    pub fn reconnects_given_signal(
        &self,
        fault: FaultId,
        signal: usize,
        value: usize,
    ) -> Option<f64> {
        if let Some(own) = &self.reconnects_given_signal_for[fault.index()] {
            return Some(own[signal][value]);
        }
        if !self.reconnects_follow_signal[fault.index()] {
            return None;
        }
        self.reconnects_given_signal
            .as_ref()
            .map(|table| table[signal][value])
    }

    pub fn likelihood_why(&self, feature: Feature, fault: FaultId, value: usize) -> &str {
        &self.likelihood_why[feature.index()][fault.index()][value]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shipped_knowledge_base_is_valid_and_reasoned() {
        let kb = KnowledgeBase::from_toml(SHIPPED).unwrap();
        for profile in ProfileId::ALL.map(Some).into_iter().chain([None]) {
            let p = kb.prior(profile);
            assert!((p.iter().sum::<f64>() - 1.0).abs() < 1e-12);
        }
        assert_eq!(
            kb.prior(Some(ProfileId::Mini))[FaultId::BatteryDead.index()],
            0.0
        );
        for a in ActionId::ALL {
            assert!(kb.cost(*a) > 0.0);
            assert!(!kb.cost_why(*a).is_empty());
            assert!(
                FaultId::ALL.iter().any(|f| kb.fixes(*a, *f) > 0.0),
                "{a} fixes nothing"
            );
        }
    }

    #[test]
    fn every_number_needs_a_reason() {
        let text = SHIPPED.replacen(
            "prior = { v = 0.10, why = \"new cameras are added often and owners look at the light while the setup runs\" }",
            "prior = { v = 0.10, why = \" \" }",
            1,
        );
        assert_ne!(text, SHIPPED);
        let err = KnowledgeBase::from_toml(&text).unwrap_err();
        assert!(
            err.to_string().contains("faults.setup_in_progress.prior"),
            "{err}"
        );
    }

    #[test]
    fn drops_follow_the_signal_for_faults_without_drops_of_their_own() {
        let kb = KnowledgeBase::from_toml(SHIPPED).unwrap();
        let weak_band = Feature::Signal.value_index("weak").unwrap();
        let many = Feature::Reconnects.value_index("many").unwrap();
        // A disarmed camera far out drops as its link does...
        let given = kb
            .reconnects_given_signal(FaultId::NotArmed, weak_band, many)
            .unwrap();
        assert!(given > 0.9, "{given}");
        assert!(given > 10.0 * kb.likelihood(Feature::Reconnects, FaultId::NotArmed, many));
        // ...an outage and a hang keep their own drops whatever the signal...
        for own in [FaultId::NetworkDown, FaultId::FirmwareFault] {
            assert_eq!(
                kb.reconnects_given_signal(own, weak_band, many),
                None,
                "{own}"
            );
        }
        // ...and at the edge a weak link drops more than a healthy one.
        let edge = Feature::Signal.value_index("marginal").unwrap();
        let weak = kb.reconnects_given_signal(FaultId::WifiSignalWeak, edge, many);
        let healthy = kb.reconnects_given_signal(FaultId::NoFault, edge, many);
        assert!(
            weak.unwrap() > 3.0 * healthy.unwrap(),
            "{weak:?} {healthy:?}"
        );
        let unknown = SHIPPED.replace(
            "[evidence.reconnects.given_signal_for.no_fault.",
            "[evidence.reconnects.given_signal_for.no_such_fault.",
        );
        let err = KnowledgeBase::from_toml(&unknown).unwrap_err().to_string();
        assert!(err.contains("no_such_fault"), "{err}");
        // Every band needs its row, and only drops can be given the signal.
        let missing = SHIPPED.replacen(
            "[evidence.reconnects.given_signal.fair]",
            "[evidence.reconnects.given_signal.unheard_of]",
            1,
        );
        let err = KnowledgeBase::from_toml(&missing).unwrap_err().to_string();
        assert!(err.contains("given_signal.fair"), "{err}");
        let elsewhere = SHIPPED.replacen(
            "[evidence.hub_network]\n",
            "[evidence.hub_network]\ngiven_signal = { weak = { ok = { v = 1.0, why = \"x\" } } }\n",
            1,
        );
        assert_ne!(elsewhere, SHIPPED);
        let err = KnowledgeBase::from_toml(&elsewhere)
            .unwrap_err()
            .to_string();
        assert!(err.contains("only reconnects"), "{err}");
    }

    #[test]
    fn a_fault_with_forms_mixes_their_rows_by_share() {
        let kb = KnowledgeBase::from_toml(SHIPPED).unwrap();
        let f = FaultId::WifiCredentialsRejected;
        assert_eq!(kb.form_names(f), ["at_setup", "password_changed"]);
        let shares = kb.form_shares(f);
        assert!((shares.iter().sum::<f64>() - 1.0).abs() < 1e-12);
        for feature in Feature::ALL {
            for v in 0..feature.values().len() {
                let mixed: f64 = (0..shares.len())
                    .map(|k| shares[k] * kb.form_likelihood(feature, f, k, v))
                    .sum();
                assert!((mixed - kb.likelihood(feature, f, v)).abs() < 1e-12);
            }
        }
        // A fault without forms has one, equal to its row.
        assert_eq!(kb.form_shares(FaultId::StorageFull), [1.0]);
    }

    #[test]
    fn an_undeclared_form_is_named() {
        let text = format!(
            "{SHIPPED}\n[evidence.light.by_form.storage_full.gremlin]\noff = {{ v = 1.0, why = \"x\" }}\n"
        );
        let err = KnowledgeBase::from_toml(&text).unwrap_err();
        assert!(err.to_string().contains("gremlin"), "{err}");
        assert!(err.to_string().contains("storage_full"), "{err}");
    }

    #[test]
    fn unknown_ids_in_the_knowledge_base_are_named() {
        let text = SHIPPED.replacen(
            "[actions.free_storage.fixes]\n",
            "[actions.free_storage.fixes]\ndisk_gremlins = { v = 0.5, why = \"x\" }\n",
            1,
        );
        let err = KnowledgeBase::from_toml(&text).unwrap_err();
        assert!(err.to_string().contains("disk_gremlins"), "{err}");
        let text = SHIPPED.replacen("red_slow_blink = { v = 0.5,", "purple = { v = 0.5,", 1);
        let err = KnowledgeBase::from_toml(&text).unwrap_err();
        assert!(err.to_string().contains("purple"), "{err}");
    }
}
