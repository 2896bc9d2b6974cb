//! Owner cases with the cause a support engineer expects (`tests/cases/*.jsonl`), and the
//! doctor's score on them: top-1 accuracy, per fault, with the confusions and the misses.
//!
//! The corpus was written apart from the knowledge base and the eval worlds, so its score
//! is a measure of accuracy, not of how well the knowledge base copies a world.

use crate::case::{Case, CaseError};
use crate::ids::FaultId;
use crate::infer;
use crate::kb::KnowledgeBase;
use crate::priors::Priors;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// One owner case and the answer expected of the doctor.
#[derive(Debug, Clone)]
pub struct OwnerCase {
    pub id: String,
    pub kind: String,
    pub decoy: Option<String>,
    /// Accepted top causes; the first is the one the case is filed under.
    pub expect: Vec<FaultId>,
    pub why: String,
    pub case: Case,
    /// Where it came from, `file:line`.
    pub origin: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Line {
    id: String,
    kind: String,
    #[serde(default)]
    decoy: Option<String>,
    expect: Vec<String>,
    why: String,
    case: serde_json::Value,
}

/// A corpus file or line that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum CorpusError {
    #[error("cannot read {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{origin}: {message}")]
    Line { origin: String, message: String },
    #[error("{origin}: {source}")]
    Case { origin: String, source: CaseError },
}

/// Every `*.jsonl` file in `dir`, in name order.
pub fn load(dir: &Path) -> Result<Vec<OwnerCase>, CorpusError> {
    let io = |source| CorpusError::Io {
        path: dir.to_path_buf(),
        source,
    };
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(io)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "jsonl"))
        .collect();
    files.sort();
    let mut cases = Vec::new();
    for file in files {
        let text = std::fs::read_to_string(&file).map_err(|source| CorpusError::Io {
            path: file.clone(),
            source,
        })?;
        let name = file.file_name().unwrap_or_default().to_string_lossy();
        for (n, raw) in text.lines().enumerate() {
            if raw.trim().is_empty() {
                continue;
            }
            let origin = format!("{name}:{}", n + 1);
            let bad = |message: String| CorpusError::Line {
                origin: origin.clone(),
                message,
            };
            let line: Line = serde_json::from_str(raw).map_err(|e| bad(e.to_string()))?;
            let expect = line
                .expect
                .iter()
                .map(|f| f.parse::<FaultId>().map_err(|e| bad(e.to_string())))
                .collect::<Result<Vec<_>, _>>()?;
            if expect.is_empty() {
                return Err(bad("`expect` names no fault".into()));
            }
            let case =
                Case::from_json(&line.case.to_string()).map_err(|source| CorpusError::Case {
                    origin: origin.clone(),
                    source,
                })?;
            cases.push(OwnerCase {
                id: line.id,
                kind: line.kind,
                decoy: line.decoy,
                expect,
                why: line.why,
                case,
                origin,
            });
        }
    }
    Ok(cases)
}

/// The corpus shipped with the crate.
pub fn shipped_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/cases")
}

/// A case the doctor got wrong.
#[derive(Debug, Clone)]
pub struct Miss {
    pub id: String,
    pub expect: Vec<FaultId>,
    pub got: FaultId,
    pub p: f64,
    pub why: String,
}

/// The doctor's score on a corpus.
#[derive(Debug, Clone, Default)]
pub struct Score {
    pub cases: usize,
    pub right: usize,
    /// Per expected fault (the first accepted): (cases, right).
    pub per_fault: BTreeMap<FaultId, (usize, usize)>,
    /// Per case kind: (cases, right).
    pub per_kind: BTreeMap<String, (usize, usize)>,
    /// (expected, named instead) → count.
    pub confusions: BTreeMap<(FaultId, FaultId), usize>,
    pub misses: Vec<Miss>,
}

impl Score {
    pub fn top1(&self) -> f64 {
        if self.cases == 0 {
            return 0.0;
        }
        self.right as f64 / self.cases as f64
    }

    /// A report for people: the figure, per fault, per kind, the confusions and misses.
    pub fn report(&self) -> String {
        let mut out = format!(
            "corpus top-1: {:.1} % ({} of {})\n\nper fault (expected → right):\n",
            self.top1() * 100.0,
            self.right,
            self.cases
        );
        for (f, (n, r)) in &self.per_fault {
            out.push_str(&format!(
                "  {:<28} {:>3}/{:<3} {:5.1} %\n",
                f.as_str(),
                r,
                n,
                100.0 * *r as f64 / *n as f64
            ));
        }
        out.push_str("\nper kind:\n");
        for (k, (n, r)) in &self.per_kind {
            out.push_str(&format!(
                "  {:<12} {:>3}/{:<3} {:5.1} %\n",
                k,
                r,
                n,
                100.0 * *r as f64 / *n as f64
            ));
        }
        let mut conf: Vec<_> = self.confusions.iter().collect();
        conf.sort_by_key(|c| std::cmp::Reverse(*c.1));
        out.push_str("\nconfusions (expected → named):\n");
        for ((e, g), n) in conf {
            out.push_str(&format!("  {n:>3}  {e} → {g}\n"));
        }
        out.push_str("\nmisses:\n");
        for m in &self.misses {
            let expect: Vec<&str> = m.expect.iter().map(|f| f.as_str()).collect();
            out.push_str(&format!(
                "  {}: expected {}, named {} ({:.0} %) — {}\n",
                m.id,
                expect.join("|"),
                m.got,
                m.p * 100.0,
                m.why
            ));
        }
        out
    }
}

/// The doctor's top cause on each case, as given (no questions), with shipped priors.
pub fn score(kb: &KnowledgeBase, cases: &[OwnerCase]) -> Score {
    let mut s = Score::default();
    for c in cases {
        let belief = infer::posterior(kb, &c.case, &Priors::default());
        let (got, p) = FaultId::ALL
            .iter()
            .map(|f| (*f, belief[f.index()]))
            .max_by(|a, b| a.1.total_cmp(&b.1))
            .unwrap_or((FaultId::NoFault, 0.0));
        let ok = c.expect.contains(&got);
        s.cases += 1;
        s.right += usize::from(ok);
        let pf = s.per_fault.entry(c.expect[0]).or_default();
        pf.0 += 1;
        pf.1 += usize::from(ok);
        let pk = s.per_kind.entry(c.kind.clone()).or_default();
        pk.0 += 1;
        pk.1 += usize::from(ok);
        if !ok {
            *s.confusions.entry((c.expect[0], got)).or_default() += 1;
            s.misses.push(Miss {
                id: c.id.clone(),
                expect: c.expect.clone(),
                got,
                p,
                why: c.why.clone(),
            });
        }
    }
    s
}
