//! ARCHITECTURE.md's code map, enforced: which of our crates each crate may depend on, and
//! which crates must stay free of I/O stacks. The rules live here, once; ARCHITECTURE.md
//! points to this file, and its "may depend on" column is checked against them. A new
//! crate of ours fails this test until it has a row.

use std::collections::{BTreeMap, BTreeSet};
use std::process::Command;

/// Our crates and the crates of ours each may depend on (normal and build dependencies;
/// dev-dependencies may add test fixtures, listed in `TEST_ONLY`).
const MAY_DEPEND_ON: &[(&str, &[&str])] = &[
    ("watchlight-protocol", &[]),
    ("watchlight-hw", &["watchlight-protocol"]),
    (
        "watchlight-camera",
        &["watchlight-protocol", "watchlight-hw"],
    ),
    (
        "watchlight-motion",
        &["watchlight-protocol", "watchlight-hw"],
    ),
    ("watchlight-media", &["watchlight-hw"]),
    ("watchlight-doctor", &["watchlight-protocol"]),
    ("watchlight-broker", &["watchlight-protocol"]),
    ("watchlight-store", &["watchlight-protocol"]),
    ("watchlight-care", &["watchlight-protocol"]),
    ("watchlight-web", &["watchlight-protocol"]),
    (
        "watchlight-hub",
        &[
            "watchlight-protocol",
            "watchlight-store",
            "watchlight-broker",
            "watchlight-care",
            "watchlight-doctor",
            "watchlight-web",
        ],
    ),
    (
        "watchlight-agent",
        &[
            "watchlight-protocol",
            "watchlight-hw",
            "watchlight-camera",
            "watchlight-motion",
            "watchlight-media",
        ],
    ),
    (
        "watchlight-sim",
        &[
            "watchlight-protocol",
            "watchlight-hw",
            "watchlight-camera",
            "watchlight-media",
            "watchlight-doctor",
        ],
    ),
    (
        "watchlight",
        &[
            "watchlight-protocol",
            "watchlight-hw",
            "watchlight-camera",
            "watchlight-motion",
            "watchlight-media",
            "watchlight-doctor",
            "watchlight-broker",
            "watchlight-store",
            "watchlight-care",
            "watchlight-web",
            "watchlight-hub",
            "watchlight-agent",
            "watchlight-sim",
        ],
    ),
];

/// Extra crates of ours a crate's tests and benches may use.
const TEST_ONLY: &[(&str, &[&str])] = &[
    ("watchlight-media", &["watchlight-motion"]),
    ("watchlight-care", &["watchlight-hw"]),
    ("watchlight-doctor", &["watchlight-hw"]),
];

/// Crates the map calls sans-IO, and the I/O stacks they must not pull in.
const SANS_IO: &[&str] = &[
    "watchlight-protocol",
    "watchlight-hw",
    "watchlight-camera",
    "watchlight-care",
];
const IO_STACKS: &[&str] = &["tokio", "reqwest", "rusqlite", "axum", "rumqttc", "mqtt5"];

/// Nothing depends on these (SPEC: the processes sit at the top).
const TOP: &[&str] = &[
    "watchlight-agent",
    "watchlight-hub",
    "watchlight-sim",
    "watchlight",
];

struct Package {
    normal: BTreeSet<String>,
    dev: BTreeSet<String>,
}

fn workspace() -> BTreeMap<String, Package> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let out = Command::new(cargo)
        .args([
            "metadata",
            "--format-version",
            "1",
            "--no-deps",
            "--offline",
        ])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("cargo metadata runs");
    assert!(
        out.status.success(),
        "cargo metadata: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let meta: serde_json::Value = serde_json::from_slice(&out.stdout).expect("cargo metadata JSON");
    let mut map = BTreeMap::new();
    for p in meta["packages"].as_array().expect("packages") {
        let mut pkg = Package {
            normal: BTreeSet::new(),
            dev: BTreeSet::new(),
        };
        for d in p["dependencies"].as_array().expect("dependencies") {
            let name = d["name"].as_str().unwrap_or_default().to_string();
            match d["kind"].as_str() {
                Some("dev") => pkg.dev.insert(name),
                _ => pkg.normal.insert(name),
            };
        }
        map.insert(p["name"].as_str().unwrap_or_default().to_string(), pkg);
    }
    map
}

fn rule<'a>(table: &'a [(&str, &[&str])], name: &str) -> Option<&'a [&'a str]> {
    table
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, deps)| *deps)
}

#[test]
fn every_crate_depends_only_on_what_its_row_allows() {
    let mut wrong = Vec::new();
    for (name, pkg) in workspace() {
        let Some(allowed) = rule(MAY_DEPEND_ON, &name) else {
            wrong.push(format!(
                "{name} has no row in tests/architecture.rs (and ARCHITECTURE.md's code map)"
            ));
            continue;
        };
        let test_only = rule(TEST_ONLY, &name).unwrap_or(&[]);
        let ours = |d: &&String| d.starts_with("watchlight");
        for dep in pkg.normal.iter().filter(ours) {
            if !allowed.contains(&dep.as_str()) {
                wrong.push(format!(
                    "{name} depends on {dep}, which its row does not allow"
                ));
            }
        }
        for dep in pkg.dev.iter().filter(ours) {
            if !allowed.contains(&dep.as_str()) && !test_only.contains(&dep.as_str()) {
                wrong.push(format!(
                    "{name}'s tests use {dep}, which its row does not allow"
                ));
            }
        }
        if TOP.contains(&name.as_str()) {
            continue;
        }
        for top in TOP {
            if pkg.normal.contains(*top) {
                wrong.push(format!("{name} depends on {top}: nothing may"));
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "the code map is broken:\n{}",
        wrong.join("\n")
    );
}

#[test]
fn sans_io_crates_pull_in_no_io_stack() {
    let ws = workspace();
    let mut wrong = Vec::new();
    for name in SANS_IO {
        let pkg = ws
            .get(*name)
            .unwrap_or_else(|| panic!("{name} is in the workspace"));
        for stack in IO_STACKS {
            if pkg.normal.contains(*stack) {
                wrong.push(format!("{name} is sans-IO but depends on {stack}"));
            }
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

/// ARCHITECTURE.md's "may depend on (ours)" column, crate by crate: `crates/NAME` rows
/// name our crates without the `watchlight-` prefix, `nothing` for none, and those in
/// parentheses ("hw for tests") as test-only.
fn map_column() -> BTreeMap<String, (BTreeSet<String>, BTreeSet<String>)> {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/ARCHITECTURE.md");
    let text = std::fs::read_to_string(path).expect("ARCHITECTURE.md");
    let ours = |word: &str| format!("watchlight-{word}");
    let mut rows = BTreeMap::new();
    for line in text.lines() {
        let Some(rest) = line.strip_prefix("| `crates/") else {
            continue;
        };
        let Some((name, _)) = rest.split_once('`') else {
            continue;
        };
        let Some(column) = line.trim_end_matches('|').rsplit('|').next() else {
            continue;
        };
        let (mut normal, mut tests) = (BTreeSet::new(), BTreeSet::new());
        let (main, test_part) = match column.split_once('(') {
            Some((m, t)) => (m, Some(t)),
            None => (column, None),
        };
        for word in main.split(',').map(str::trim).filter(|w| !w.is_empty()) {
            if word != "nothing" {
                normal.insert(ours(word));
            }
        }
        if let Some(t) = test_part {
            let words = t.trim_end().trim_end_matches(')');
            // "hw for tests", "motion for benches only": the crate names come first.
            let names = words.split(" for ").next().unwrap_or_default();
            for word in names.split(',').map(str::trim).filter(|w| !w.is_empty()) {
                tests.insert(ours(word));
            }
        }
        rows.insert(ours(name), (normal, tests));
    }
    rows
}

#[test]
fn architecture_md_shows_the_same_rules() {
    let map = map_column();
    let mut wrong = Vec::new();
    for (name, allowed) in MAY_DEPEND_ON {
        if *name == "watchlight" {
            continue; // the binary's row says "everything"
        }
        let Some((normal, tests)) = map.get(*name) else {
            wrong.push(format!("{name} has no row in ARCHITECTURE.md's code map"));
            continue;
        };
        let want: BTreeSet<String> = allowed.iter().map(|d| d.to_string()).collect();
        if *normal != want {
            wrong.push(format!(
                "{name}: ARCHITECTURE.md says {normal:?}, tests/architecture.rs {want:?}"
            ));
        }
        let want_tests: BTreeSet<String> = rule(TEST_ONLY, name)
            .unwrap_or(&[])
            .iter()
            .map(|d| d.to_string())
            .collect();
        if *tests != want_tests {
            wrong.push(format!(
                "{name}'s tests: ARCHITECTURE.md says {tests:?}, tests/architecture.rs {want_tests:?}"
            ));
        }
    }
    for name in map.keys() {
        if rule(MAY_DEPEND_ON, name).is_none() {
            wrong.push(format!(
                "ARCHITECTURE.md maps {name}, which has no rule here"
            ));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}
