//! Where the knowledge base's likelihoods and the simulated world disagree, on a tuning
//! seed: `--example calibrate -- [seed] [cases] [min_ratio]`. Prints, per feature and
//! fault, the values whose frequency in the world differs from the knowledge base's
//! number by more than `min_ratio` (default 2). A guide for tuning on seed 1 only; the
//! reasons beside the numbers still have to be written by hand.
use watchlight_doctor::eval::{self, rng::Rng, world};
use watchlight_doctor::evidence::{self, Feature};
use watchlight_doctor::{FaultId, KnowledgeBase};

fn main() {
    let mut args = std::env::args().skip(1);
    let seed = args
        .next()
        .and_then(|s| s.parse().ok())
        .unwrap_or(eval::TUNING_SEED);
    let cases: usize = args.next().and_then(|s| s.parse().ok()).unwrap_or(20000);
    let min_ratio: f64 = args.next().and_then(|s| s.parse().ok()).unwrap_or(2.0);
    let kb = KnowledgeBase::shipped();
    let mut rng = Rng::new(seed);
    // counts[feature][fault][value]
    let mut counts = vec![vec![vec![0usize; 16]; FaultId::ALL.len()]; Feature::ALL.len()];
    for _ in 0..cases {
        let truth = world::draw(&mut rng);
        let given = eval::observe(&truth, &mut rng);
        for f in evidence::findings(&given) {
            counts[f.feature.index()][truth.fault.index()][f.value] += 1;
        }
    }
    for feature in Feature::ALL {
        for fault in FaultId::ALL {
            let row = &counts[feature.index()][fault.index()];
            let n: usize = row.iter().sum();
            if n < 30 {
                continue;
            }
            for (v, name) in feature.values().iter().enumerate() {
                let world_p = row[v] as f64 / n as f64;
                let kb_p = kb.likelihood(feature, *fault, v);
                let ratio = (world_p.max(0.005) / kb_p.max(0.005))
                    .max(kb_p.max(0.005) / world_p.max(0.005));
                if ratio >= min_ratio && (world_p >= 0.02 || kb_p >= 0.02) {
                    println!(
                        "{:<22} {:<26} {:<26} world {:.3} kb {:.3} (n {n})",
                        feature.as_str(),
                        fault.as_str(),
                        name,
                        world_p,
                        kb_p
                    );
                }
            }
        }
    }
}
