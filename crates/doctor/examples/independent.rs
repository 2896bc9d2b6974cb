//! The doctor on the independent eval world: `--example independent -- [seed] [cases]`.
use watchlight_doctor::KnowledgeBase;
use watchlight_doctor::eval::independent;
fn main() {
    let mut args = std::env::args().skip(1);
    let seed = args
        .next()
        .and_then(|s| s.parse().ok())
        .unwrap_or(independent::SEED);
    let cases = args.next().and_then(|s| s.parse().ok()).unwrap_or(20000);
    // CEILING=1: the best any rule can do on the cases typed by hand (no telemetry),
    // counted over many draws: each pattern of answers named as its most frequent fault.
    if std::env::var("CEILING").is_ok() {
        use std::collections::HashMap;
        let mut rng = watchlight_doctor::eval::rng::Rng::new(seed);
        let mut counts: HashMap<String, HashMap<String, usize>> = HashMap::new();
        let (mut n, mut doctor) = (0usize, 0usize);
        for _ in 0..cases {
            let s = independent::draw(&mut rng);
            if s.given.telemetry != Default::default() {
                continue;
            }
            n += 1;
            let b = watchlight_doctor::infer::posterior(
                KnowledgeBase::shipped(),
                &s.given,
                &Default::default(),
            );
            doctor += usize::from(watchlight_doctor::eval::top_fault(&b) == s.fault);
            *counts
                .entry(serde_json::to_string(&s.given).unwrap())
                .or_default()
                .entry(s.fault.to_string())
                .or_default() += 1;
        }
        let best: usize = counts
            .values()
            .map(|m| m.values().copied().max().unwrap_or(0))
            .sum();
        println!(
            "hand-typed cases: {n}; best possible {:.1} %, doctor {:.1} %",
            100.0 * best as f64 / n as f64,
            100.0 * doctor as f64 / n as f64
        );
        return;
    }
    // SHOW=true->named: print a few such misses.
    if let Ok(show) = std::env::var("SHOW") {
        let mut rng = watchlight_doctor::eval::rng::Rng::new(seed);
        let mut shown = 0;
        let mut hub_conf: std::collections::BTreeMap<String, usize> = Default::default();
        for _ in 0..cases {
            let s = independent::draw(&mut rng);
            let b = watchlight_doctor::infer::posterior(
                KnowledgeBase::shipped(),
                &s.given,
                &Default::default(),
            );
            let top = watchlight_doctor::eval::top_fault(&b);
            if show == "hub" && top != s.fault && s.given.telemetry != Default::default() {
                *hub_conf.entry(format!("{}->{}", s.fault, top)).or_default() += 1;
            }
            if format!("{}->{}", s.fault, top) == show
                && shown < 8
                && (std::env::var("HUB").is_err() || s.given.telemetry != Default::default())
            {
                shown += 1;
                println!("{}", serde_json::to_string(&s.given).unwrap());
            }
        }
        let mut v: Vec<_> = hub_conf.into_iter().collect();
        v.sort_by_key(|e| std::cmp::Reverse(e.1));
        for (k, n) in v.iter().take(15) {
            println!("{n:5} {k}");
        }
        return;
    }
    let report = independent::run(KnowledgeBase::shipped(), seed, cases);
    println!("{}", serde_json::to_string_pretty(&report).unwrap());
}
