//! Where the doctor's top-1 goes wrong on a seed: `--example confusion -- seed cases`.
use std::collections::BTreeMap;
use watchlight_doctor::eval::{self, rng::Rng, world};
use watchlight_doctor::{KnowledgeBase, Priors, infer};
fn main() {
    let mut args = std::env::args().skip(1);
    let seed = args.next().and_then(|s| s.parse().ok()).unwrap_or(1);
    let cases: usize = args.next().and_then(|s| s.parse().ok()).unwrap_or(2000);
    let kb = KnowledgeBase::shipped();
    let mut rng = Rng::new(seed);
    let mut confusion: BTreeMap<(String, String, String), usize> = BTreeMap::new();
    let mut shown = 0;
    for _ in 0..cases {
        let truth = world::draw(&mut rng);
        let given = eval::observe(&truth, &mut rng);
        // WITH_HUB=1: only cases that carry the hub's telemetry.
        if std::env::var("WITH_HUB").is_ok() && given.telemetry.availability.is_none() {
            continue;
        }
        let top = if std::env::var("ALONE").is_ok() {
            eval::top_fault(&infer::posterior(kb, &given, &Priors::default()))
        } else {
            eval::doctor_session(kb, &truth, &given, &Priors::default(), &mut rng).1
        };
        if top != truth.fault {
            *confusion
                .entry((
                    truth.fault.to_string(),
                    format!("{:?}", truth.incident),
                    top.to_string(),
                ))
                .or_default() += 1;
            // AS=<fault>: only those shown as that fault.
            if shown < 6
                && std::env::var("SHOW").as_deref() == Ok(truth.fault.as_str())
                && std::env::var("AS").map_or(true, |a| a == top.as_str())
            {
                shown += 1;
                println!(
                    "{} -> {}: {}\n  TRUE {}",
                    truth.fault,
                    top,
                    serde_json::to_string(&given).unwrap(),
                    serde_json::to_string(&truth.case).unwrap()
                );
            }
        }
    }
    let mut v: Vec<_> = confusion.into_iter().collect();
    v.sort_by_key(|e| std::cmp::Reverse(e.1));
    for ((t, i, p), n) in v.iter().take(30) {
        println!("{n:4} {t} ({i}) -> {p}");
    }
}
