//! How close the doctor is to the best any rule could do with the same evidence:
//! `--example ceiling -- [train_cases] [test_seed] [test_cases] [min_count]`.
//!
//! The Bayes-optimal diagnosis names, for each pattern of evidence (every finding the
//! case gives, in the doctor's bands, and which ones are missing), the fault the world
//! most often has behind that pattern. This estimates it by counting over a large
//! population drawn from seeds 1000 and up (never the report seed), then scores that
//! rule on a test seed, on the cases whose pattern was seen at least `min_count` times
//! (the rest are too rare to estimate and are scored with the doctor's own answer).
//! It prints both accuracies and the confusions the optimal rule itself cannot avoid.
//!
//! Full patterns are too many to count for most cases, so it also scores a reference
//! model fitted to the world itself: naive Bayes over (incident, fault) classes with the
//! world's own frequencies for every finding (whether the hub's telemetry is there at
//! all counted once). It knows the world's hidden incidents, which the doctor does not; its
//! accuracy is an estimate of the ceiling, not a proof.
use std::collections::HashMap;
use watchlight_doctor::eval::{self, rng::Rng, world};
use watchlight_doctor::evidence;
use watchlight_doctor::ids::FAULT_COUNT;
use watchlight_doctor::{FaultId, KnowledgeBase, Priors, infer};

fn signature(case: &watchlight_doctor::Case) -> Vec<u8> {
    let mut sig = vec![255u8; evidence::Feature::ALL.len() + 1];
    for f in evidence::findings(case) {
        sig[f.feature.index()] = f.value as u8;
    }
    // The profile matters (battery faults need batteries).
    sig[evidence::Feature::ALL.len()] = case.profile.map(|p| p as u8).unwrap_or(254);
    sig
}

/// Fitted class-conditional frequencies: `[class][feature slot][value]` with add-one
/// smoothing, classes being (incident, fault) pairs.
struct Oracle {
    classes: Vec<(world::Incident, FaultId)>,
    prior: Vec<f64>,
    counts: Vec<Vec<[f64; 256]>>,
    totals: Vec<f64>,
}

impl Oracle {
    fn class(&mut self, incident: world::Incident, fault: FaultId, slots: usize) -> usize {
        if let Some(i) = self.classes.iter().position(|c| *c == (incident, fault)) {
            return i;
        }
        self.classes.push((incident, fault));
        self.prior.push(0.0);
        self.counts.push(vec![[0.0; 256]; slots]);
        self.totals.push(0.0);
        self.classes.len() - 1
    }

    fn best(&self, sig: &[u8]) -> FaultId {
        let mut score = [f64::NEG_INFINITY; FAULT_COUNT];
        let mut per_fault = [0.0f64; FAULT_COUNT];
        let mut logs = Vec::with_capacity(self.classes.len());
        for (c, (_, fault)) in self.classes.iter().enumerate() {
            let mut l = (self.prior[c]).ln();
            for (slot, v) in sig.iter().enumerate() {
                // Missing telemetry goes missing all together (the hub is down): only
                // one slot's absence counts, or it would be counted fifteen times.
                if *v == 255 && slot != evidence::Feature::Availability.index() {
                    continue;
                }
                let seen = self.counts[c][slot].iter().sum::<f64>()
                    - if slot == evidence::Feature::Availability.index() {
                        0.0
                    } else {
                        self.counts[c][slot][255]
                    };
                l += ((self.counts[c][slot][*v as usize] + 0.5) / (seen + 1.0)).ln();
            }
            logs.push((l, *fault));
        }
        let top = logs.iter().map(|x| x.0).fold(f64::NEG_INFINITY, f64::max);
        for (l, f) in logs {
            per_fault[f.index()] += (l - top).exp();
        }
        for f in FaultId::ALL {
            score[f.index()] = per_fault[f.index()];
        }
        FaultId::ALL
            .iter()
            .copied()
            .max_by(|a, b| score[a.index()].total_cmp(&score[b.index()]))
            .expect("faults")
    }
}

/// The two groups where a few findings are all that differs between the incidents
/// behind them (every other reading is drawn the same way for both, in `world.rs`):
/// the hub cannot be asked (a router outage that took the hub's LAN, or a hub switched
/// off), and a camera the hub never saw (a setup under way, or a mistyped password).
/// Counting over those few findings gives the Bayes-optimal rule for the group exactly.
fn reduced(case: &watchlight_doctor::Case) -> Option<(usize, Vec<u8>)> {
    use evidence::Feature as F;
    let t = &case.telemetry;
    let all: Vec<_> = evidence::findings(case);
    let get = |f: F| {
        all.iter()
            .find(|x| x.feature == f)
            .map(|x| x.value as u8)
            .unwrap_or(255)
    };
    if t.availability.is_none() && t.rssi_dbm.is_empty() && t.settings.is_none() {
        return Some((
            0,
            vec![
                get(F::Light),
                get(F::When),
                get(F::OtherDevicesOnline),
                get(F::HubOnline),
                get(F::HubReporting),
                get(F::RouterAnswered),
            ],
        ));
    }
    if t.availability == Some(watchlight_doctor::SeenAvailability::NeverSeen) {
        return Some((
            1,
            vec![
                get(F::Light),
                get(F::When),
                get(F::SetupCompleted),
                get(F::Events),
            ],
        ));
    }
    None
}

fn main() {
    let mut args = std::env::args().skip(1);
    let train: usize = args
        .next()
        .and_then(|s| s.parse().ok())
        .unwrap_or(2_000_000);
    let test_seed: u64 = args.next().and_then(|s| s.parse().ok()).unwrap_or(5);
    let test_cases: usize = args.next().and_then(|s| s.parse().ok()).unwrap_or(20_000);
    let min_count: u32 = args.next().and_then(|s| s.parse().ok()).unwrap_or(20);
    let kb = KnowledgeBase::shipped();
    let mut table: HashMap<Vec<u8>, [u32; FAULT_COUNT]> = HashMap::new();
    let slots = evidence::Feature::ALL.len() + 1;
    let mut oracle = Oracle {
        classes: Vec::new(),
        prior: Vec::new(),
        counts: Vec::new(),
        totals: Vec::new(),
    };
    let chunk = 100_000;
    for (i, seed) in (1000u64..).enumerate() {
        if i * chunk >= train {
            break;
        }
        let mut rng = Rng::new(seed);
        for _ in 0..chunk {
            let truth = world::draw(&mut rng);
            let given = eval::observe(&truth, &mut rng);
            let sig = signature(&given);
            let c = oracle.class(truth.incident, truth.fault, slots);
            oracle.prior[c] += 1.0;
            oracle.totals[c] += 1.0;
            for (slot, v) in sig.iter().enumerate() {
                oracle.counts[c][slot][*v as usize] += 1.0;
            }
            table.entry(sig).or_insert([0; FAULT_COUNT])[truth.fault.index()] += 1;
        }
    }
    // Exact ceilings for the two groups.
    let mut reduced_table: [HashMap<Vec<u8>, [u32; FAULT_COUNT]>; 2] =
        [HashMap::new(), HashMap::new()];
    for seed in 5000u64..5040 {
        let mut rng = Rng::new(seed);
        for _ in 0..50_000 {
            let truth = world::draw(&mut rng);
            let given = eval::observe(&truth, &mut rng);
            if let Some((g, sig)) = reduced(&given) {
                reduced_table[g].entry(sig).or_insert([0; FAULT_COUNT])[truth.fault.index()] += 1;
            }
        }
    }
    let mut reduced_score = [[0usize; 3]; 2]; // cases, optimal right, doctor right
    // Where the doctor and the optimal rule part in the two groups: (group, pattern,
    // optimal, doctor) -> (cases the optimal gains over the doctor, cases).
    type Disagreement = (usize, Vec<u8>, FaultId, FaultId);
    let mut disagreements: HashMap<Disagreement, (i64, usize)> = HashMap::new();
    let mut rng = Rng::new(test_seed);
    let (mut seen, mut opt_right, mut doc_right_seen, mut doc_right, mut unseen) = (0, 0, 0, 0, 0);
    let mut oracle_right = 0;
    // By group: [no telemetry, never seen, the rest] x [cases, common, optimal right on
    // common, doctor right on common, doctor right].
    let mut groups = [[0usize; 5]; 3];
    let mut oracle_confusion: HashMap<(FaultId, FaultId), usize> = HashMap::new();
    let mut opt_confusion: HashMap<(FaultId, FaultId), usize> = HashMap::new();
    for _ in 0..test_cases {
        let truth = world::draw(&mut rng);
        let given = eval::observe(&truth, &mut rng);
        let doctor = eval::top_fault(&infer::posterior(kb, &given, &Priors::default()));
        if doctor == truth.fault {
            doc_right += 1;
        }
        if let Some((g, sig)) = reduced(&given) {
            reduced_score[g][0] += 1;
            reduced_score[g][2] += (doctor == truth.fault) as usize;
            if let Some(counts) = reduced_table[g].get(&sig) {
                let best = FaultId::ALL
                    .iter()
                    .copied()
                    .max_by_key(|f| counts[f.index()])
                    .expect("faults");
                reduced_score[g][1] += (best == truth.fault) as usize;
                if best != doctor {
                    let e = disagreements
                        .entry((g, sig.clone(), best, doctor))
                        .or_insert((0i64, 0usize));
                    e.0 += (best == truth.fault) as i64 - (doctor == truth.fault) as i64;
                    e.1 += 1;
                }
            }
        }
        let group = if given.telemetry.availability.is_none() {
            0
        } else if given.telemetry.availability
            == Some(watchlight_doctor::SeenAvailability::NeverSeen)
        {
            1
        } else {
            2
        };
        groups[group][0] += 1;
        if doctor == truth.fault {
            groups[group][4] += 1;
        }
        if let Some(counts) = table
            .get(&signature(&given))
            .filter(|c| c.iter().sum::<u32>() >= min_count)
        {
            groups[group][1] += 1;
            let best = FaultId::ALL
                .iter()
                .copied()
                .max_by_key(|f| counts[f.index()])
                .expect("faults");
            groups[group][2] += (best == truth.fault) as usize;
            groups[group][3] += (doctor == truth.fault) as usize;
        }
        let fitted = oracle.best(&signature(&given));
        if fitted == truth.fault {
            oracle_right += 1;
        } else {
            *oracle_confusion.entry((truth.fault, fitted)).or_default() += 1;
        }
        match table.get(&signature(&given)) {
            Some(counts) if counts.iter().sum::<u32>() >= min_count => {
                seen += 1;
                let best = FaultId::ALL
                    .iter()
                    .copied()
                    .max_by_key(|f| counts[f.index()])
                    .expect("faults");
                if best == truth.fault {
                    opt_right += 1;
                } else {
                    *opt_confusion.entry((truth.fault, best)).or_default() += 1;
                }
                if doctor == truth.fault {
                    doc_right_seen += 1;
                }
            }
            _ => {
                unseen += 1;
                if doctor == truth.fault {
                    opt_right += 1;
                }
            }
        }
    }
    let pct = |a: usize, n: usize| 100.0 * a as f64 / n.max(1) as f64;
    println!(
        "patterns learned from {train} cases: {}; test seed {test_seed}, {test_cases} cases",
        table.len()
    );
    println!("cases with a common pattern (seen >= {min_count} times): {seen}; rare: {unseen}");
    println!(
        "on common patterns: optimal rule {:.2} %, doctor {:.2} %",
        pct(opt_right - (doc_right - doc_right_seen), seen),
        pct(doc_right_seen, seen)
    );
    println!(
        "all cases: optimal rule (doctor on rare patterns) {:.2} %, doctor {:.2} %",
        pct(opt_right, test_cases),
        pct(doc_right, test_cases)
    );
    for (name, g) in [
        "hub not reachable (no telemetry)",
        "never seen (setup)",
        "the rest",
    ]
    .iter()
    .zip(groups)
    {
        println!(
            "{name}: {} cases ({:.1} % of all), doctor {:.2} %; common patterns {} ({:.0} %): optimal {:.2} %, doctor {:.2} %",
            g[0],
            pct(g[0], test_cases),
            pct(g[4], g[0]),
            g[1],
            pct(g[1], g[0]),
            pct(g[2], g[1]),
            pct(g[3], g[1])
        );
    }
    let mut lost = 0.0;
    for (name, r) in ["hub cannot be asked", "never seen by the hub"]
        .iter()
        .zip(reduced_score)
    {
        lost += (r[0] - r[1]) as f64;
        println!(
            "exact ceiling, {name}: {} cases ({:.1} % of all): optimal {:.2} %, doctor {:.2} %",
            r[0],
            pct(r[0], test_cases),
            pct(r[1], r[0]),
            pct(r[2], r[0])
        );
    }
    let mut worst: Vec<_> = disagreements.into_iter().collect();
    worst.sort_by_key(|e| std::cmp::Reverse(e.1.0));
    for ((g, sig, best, doctor), (gain, n)) in worst.iter().take(8) {
        println!(
            "  group {g}: pattern {sig:?} ({n} cases): optimal {best}, doctor {doctor}, optimal +{gain}"
        );
    }
    println!(
        "so no rule can exceed {:.2} % top-1 overall (those two groups' unavoidable errors alone)",
        100.0 - 100.0 * lost / test_cases as f64
    );
    println!(
        "reference model fitted to the world: {:.2} %",
        pct(oracle_right, test_cases)
    );
    let mut v: Vec<_> = oracle_confusion.into_iter().collect();
    v.sort_by_key(|e| std::cmp::Reverse(e.1));
    println!("confusions of the fitted reference (true -> named):");
    for ((t, p), n) in v.iter().take(14) {
        println!("  {n:5} {t} -> {p}");
    }
    let mut v: Vec<_> = opt_confusion.into_iter().collect();
    v.sort_by_key(|e| std::cmp::Reverse(e.1));
    println!("confusions the optimal rule keeps (true -> named):");
    for ((t, p), n) in v.iter().take(12) {
        println!("  {n:5} {t} -> {p}");
    }
}
