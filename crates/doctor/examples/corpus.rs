//! The doctor's top-1 on the owner-case corpus (`tests/cases`), per fault, with the
//! confusions and the misses: `cargo run -p watchlight-doctor --example corpus [DIR]`.
use watchlight_doctor::{KnowledgeBase, corpus};
fn main() {
    let dir = std::env::args()
        .nth(1)
        .map(std::path::PathBuf::from)
        .unwrap_or_else(corpus::shipped_dir);
    match corpus::load(&dir) {
        Ok(cases) => print!(
            "{}",
            corpus::score(KnowledgeBase::shipped(), &cases).report()
        ),
        Err(e) => {
            eprintln!("error: {e}");
            std::process::exit(2);
        }
    }
}
