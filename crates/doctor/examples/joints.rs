//! Where the groups of findings read together (`src/joint.rs`) change the doctor's top
//! cause on the old world's cases: `--example joints -- SEED CASES`.
use std::collections::BTreeMap;
use watchlight_doctor::eval::{self, rng::Rng, world};
use watchlight_doctor::{KnowledgeBase, Priors, infer, joint};
fn main() {
    let mut args = std::env::args().skip(1);
    let seed = args.next().and_then(|s| s.parse().ok()).unwrap_or(2026);
    let cases: usize = args.next().and_then(|s| s.parse().ok()).unwrap_or(20000);
    let kb = KnowledgeBase::shipped();
    let mut rng = Rng::new(seed);
    // kind -> (fired, right with, right without)
    let mut lost: BTreeMap<String, usize> = BTreeMap::new();
    let mut by_kind: BTreeMap<String, (usize, usize, usize)> = BTreeMap::new();
    for _ in 0..cases {
        let truth = world::draw(&mut rng);
        let given = eval::observe(&truth, &mut rng);
        let joints = joint::read(&given);
        let with = eval::top_fault(&infer::posterior_with(
            kb,
            &given,
            &Priors::default(),
            &joints,
        ));
        let without = eval::top_fault(&infer::posterior_with(kb, &given, &Priors::default(), &[]));
        for j in &joints {
            if std::env::var("LOST").is_ok_and(|k| k == format!("{:?}", j.kind))
                && with != truth.fault
                && without == truth.fault
            {
                let words: String = j.words.chars().take(60).collect();
                *lost
                    .entry(format!("{} | {} -> {}", words, truth.fault, with))
                    .or_default() += 1;
            }
            let e = by_kind.entry(format!("{:?}", j.kind)).or_default();
            e.0 += 1;
            e.1 += usize::from(with == truth.fault);
            e.2 += usize::from(without == truth.fault);
        }
    }
    for (k, n) in &lost {
        println!("{n:5} {k}");
    }
    for (k, (n, w, wo)) in by_kind {
        println!("{k:<24} fired {n:6}  right with {w:6}  without {wo:6}");
    }
}
