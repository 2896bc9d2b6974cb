//! Run the doctor's evaluation: `cargo run -p watchlight-doctor --example eval -- [seed] [cases]`.
fn main() {
    let mut args = std::env::args().skip(1);
    let seed = args
        .next()
        .and_then(|s| s.parse().ok())
        .unwrap_or(watchlight_doctor::eval::TUNING_SEED);
    let cases = args.next().and_then(|s| s.parse().ok()).unwrap_or(2000);
    let report =
        watchlight_doctor::eval::run(watchlight_doctor::KnowledgeBase::shipped(), seed, cases);
    println!("{}", serde_json::to_string_pretty(&report).unwrap());
}
