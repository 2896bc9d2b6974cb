//! The doctor's top-1 errors split by what the case carries: with the hub's telemetry,
//! without it (the hub did not answer). `--example errors_by_group -- seed cases`.
use watchlight_doctor::eval::{self, rng::Rng, world};
use watchlight_doctor::{KnowledgeBase, Priors, infer};
fn main() {
    let mut args = std::env::args().skip(1);
    let seed = args.next().and_then(|s| s.parse().ok()).unwrap_or(1);
    let cases: usize = args.next().and_then(|s| s.parse().ok()).unwrap_or(20000);
    let kb = KnowledgeBase::shipped();
    let mut rng = Rng::new(seed);
    let (mut n_with, mut e_with, mut n_without, mut e_without) = (0, 0, 0, 0);
    for _ in 0..cases {
        let truth = world::draw(&mut rng);
        let given = eval::observe(&truth, &mut rng);
        let top = eval::top_fault(&infer::posterior(kb, &given, &Priors::default()));
        let wrong = (top != truth.fault) as usize;
        if given.telemetry.availability.is_some() {
            n_with += 1;
            e_with += wrong;
        } else {
            n_without += 1;
            e_without += wrong;
        }
    }
    let pct = |a: usize, n: usize| 100.0 * a as f64 / n.max(1) as f64;
    println!(
        "with telemetry: {n_with} cases, {e_with} wrong ({:.2} % of them, {:.2} % of all)",
        pct(e_with, n_with),
        pct(e_with, cases)
    );
    println!(
        "without: {n_without} cases, {e_without} wrong ({:.2} % of them, {:.2} % of all)",
        pct(e_without, n_without),
        pct(e_without, cases)
    );
}
