//! Top-1 as given with the shipped priors and with priors learned from confirmed fixes
//! (the hub's learning loop, SPEC §8): `--example learned -- [confirmations] [seed]`.
//! The confirmations come from another seed's population (each owner confirms the fault
//! the world had), the score from `seed`'s 100 000 cases.
use watchlight_doctor::eval::{self, rng::Rng, world};
use watchlight_doctor::{KnowledgeBase, Priors, infer};

fn main() {
    let mut args = std::env::args().skip(1);
    let confirmations: usize = args.next().and_then(|s| s.parse().ok()).unwrap_or(1000);
    let seed: u64 = args
        .next()
        .and_then(|s| s.parse().ok())
        .unwrap_or(eval::REPORT_SEED);
    let kb = KnowledgeBase::shipped();
    let mut learned = Priors::default();
    let mut rng = Rng::new(4242);
    for _ in 0..confirmations {
        let truth = world::draw(&mut rng);
        let given = eval::observe(&truth, &mut rng);
        learned.confirm(given.profile, truth.fault, 1.0);
    }
    for (label, priors) in [("shipped", Priors::default()), ("learned", learned)] {
        let mut rng = Rng::new(seed);
        let cases = 100_000;
        let mut right = 0;
        for _ in 0..cases {
            let truth = world::draw(&mut rng);
            let given = eval::observe(&truth, &mut rng);
            let top = eval::top_fault(&infer::posterior(kb, &given, &priors));
            right += (top == truth.fault) as usize;
        }
        println!(
            "{label} priors: top-1 as given {:.2} %",
            100.0 * right as f64 / cases as f64
        );
    }
}
