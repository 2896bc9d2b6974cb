//! Why the doctor ranks two faults as it does for one case: each finding's likelihood
//! under both, and the running log-odds. `--example explain_case -- FILE FAULT_A FAULT_B`.
use watchlight_doctor::evidence;
use watchlight_doctor::{Case, FaultId, KnowledgeBase, Priors, infer};

fn main() {
    let mut args = std::env::args().skip(1);
    let path = args.next().expect("case file");
    let a: FaultId = args.next().expect("fault a").parse().expect("fault a");
    let b: FaultId = args.next().expect("fault b").parse().expect("fault b");
    let text = std::fs::read_to_string(&path).expect("read case");
    let case = Case::from_json(&text).expect("case");
    let kb = KnowledgeBase::shipped();
    let prior = Priors::default().effective(kb, case.profile);
    let mut odds = (prior[a.index()] / prior[b.index()]).ln();
    println!("prior log-odds {a} : {b} = {odds:+.2}");
    for f in evidence::findings(&case) {
        let la = kb.likelihood(f.feature, a, f.value);
        let lb = kb.likelihood(f.feature, b, f.value);
        odds += (la / lb).ln();
        println!(
            "{:<22} {:<24} {:.3} vs {:.3}  -> {odds:+.2}",
            f.feature.as_str(),
            f.value_str(),
            la,
            lb
        );
    }
    let post = infer::posterior(kb, &case, &Priors::default());
    println!(
        "posterior (with forms): {a} {:.3}, {b} {:.3}",
        post[a.index()],
        post[b.index()]
    );
}
