//! Property: whatever sequence of puts, deletes, retention runs and injected crashes, the
//! store's own operations never make the index and the files disagree, puts answer as a
//! model says, and one repairing fsck always brings it back to clean.

mod common;

use common::{body, fixture, mkdir_as_hub, sha, write_as_hub};
use proptest::prelude::*;
use std::collections::{BTreeMap, BTreeSet};
use std::io::Read;
use watchlight_store::*;

const DEV: &str = "cam-P1";

#[derive(Debug, Clone)]
enum Op {
    Put {
        id: u8,
        seed: u8,
        honest: bool,
    },
    Thumb {
        id: u8,
        seed: u8,
    },
    Delete {
        id: u8,
    },
    Retention {
        budget: u64,
    },
    /// A crash in the middle of writing: a temp file of a dead process.
    CrashMidWrite {
        id: u8,
    },
    /// A crash between rename and commit: a complete file, no row.
    CrashBeforeCommit {
        id: u8,
        seed: u8,
    },
    Repair,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (0..5u8, 0..3u8, prop::bool::weighted(0.85))
            .prop_map(|(id, seed, honest)| Op::Put { id, seed, honest }),
        1 => (0..5u8, 0..3u8).prop_map(|(id, seed)| Op::Thumb { id, seed }),
        2 => (0..5u8).prop_map(|id| Op::Delete { id }),
        1 => (0..6_000u64).prop_map(|budget| Op::Retention { budget }),
        1 => (0..5u8).prop_map(|id| Op::CrashMidWrite { id }),
        1 => (0..5u8, 0..3u8).prop_map(|(id, seed)| Op::CrashBeforeCommit { id, seed }),
        1 => Just(Op::Repair),
    ]
}

fn video(seed: u8) -> Vec<u8> {
    body(seed, 1_000 + usize::from(seed) * 100)
}

fn clip(id: u8) -> String {
    format!("c{id}")
}

proptest! {
    // 32 cases keep the suite fast; PROPTEST_CASES=500 for a deeper search.
    #![proptest_config(ProptestConfig {
        cases: std::env::var("PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(32),
        ..ProptestConfig::default()
    })]

    #[test]
    fn index_and_files_never_disagree(ops in prop::collection::vec(op(), 1..40)) {
        let f = fixture();
        let dir = f.dir.path().join("clips").join(DEV);
        mkdir_as_hub(&dir);
        let big = RetentionPolicy { max_bytes: u64::MAX, max_age_ms: None };
        f.store.set_retention_policy(&big).unwrap();
        // Model: the video seed each clip id holds; complete files left by crashes.
        let mut videos: BTreeMap<u8, u8> = BTreeMap::new();
        let mut orphans: BTreeMap<u8, u8> = BTreeMap::new();
        let mut injected = false;
        for (step, op) in ops.iter().enumerate() {
            f.clock.advance(1);
            match *op {
                Op::Put { id, seed, honest } => {
                    let data = video(seed);
                    let claim = if honest { sha(&data) } else { sha(b"lie") };
                    let out = f.store.put_clip(DEV, &clip(id), &claim, &data[..]).unwrap();
                    match videos.get(&id) {
                        Some(&s) if honest && s == seed => prop_assert_eq!(out, PutOutcome::AlreadyHad),
                        Some(_) if honest => prop_assert!(matches!(out, PutOutcome::Conflict { .. }), "{:?}", out),
                        // A known id answers from the index without reading the body.
                        Some(_) => prop_assert!(matches!(out, PutOutcome::Conflict { .. }), "{:?}", out),
                        None if !honest => prop_assert!(matches!(out, PutOutcome::DigestMismatch { .. }), "{:?}", out),
                        None => {
                            prop_assert!(matches!(out, PutOutcome::Created { .. }), "{:?}", out);
                            videos.insert(id, seed);
                            orphans.remove(&id); // the upload replaced the crash's file
                        }
                    }
                }
                Op::Thumb { id, seed } => {
                    let data = body(seed.wrapping_add(100), 50);
                    let out = f.store.put_thumbnail(DEV, &clip(id), &sha(&data), &data[..]).unwrap();
                    let refused = matches!(out, PutOutcome::DigestMismatch { .. } | PutOutcome::StorageFull { .. });
                    prop_assert!(!refused, "{:?}", out);
                }
                Op::Delete { id } => {
                    let had_row = f.store.clip(DEV, &clip(id)).unwrap().is_some();
                    let deleted = f.store.delete_clip(DEV, &clip(id)).unwrap();
                    prop_assert_eq!(deleted.is_some(), had_row);
                    if had_row {
                        // Deleting a clip deletes every file of that id, including a
                        // video a crash left unindexed.
                        videos.remove(&id);
                        orphans.remove(&id);
                    }
                }
                Op::Retention { budget } => {
                    f.store.set_retention_policy(&RetentionPolicy { max_bytes: budget, max_age_ms: None }).unwrap();
                    let before: BTreeMap<String, u64> = f.store.list_clips(Some(DEV), 0, u64::MAX, 100).unwrap()
                        .into_iter().map(|c| (c.clip_id, c.sort_ts)).collect();
                    let r = f.store.retention(f.clock.now_ms()).unwrap();
                    f.store.set_retention_policy(&big).unwrap();
                    let kept: BTreeSet<String> = f.store.list_clips(Some(DEV), 0, u64::MAX, 100).unwrap()
                        .into_iter().map(|c| c.clip_id).collect();
                    prop_assert!(f.store.clip_usage().unwrap().1 <= budget);
                    // Oldest first: nothing deleted is newer than anything kept.
                    let newest_deleted = r.deleted.iter().map(|d| d.sort_ts).max().unwrap_or(0);
                    let oldest_kept = kept.iter().map(|k| before[k]).min().unwrap_or(u64::MAX);
                    prop_assert!(newest_deleted <= oldest_kept);
                    videos.retain(|id, _| kept.contains(&clip(*id)));
                    orphans.retain(|id, _| !r.deleted.iter().any(|d| d.clip_id == clip(*id)));
                }
                Op::CrashMidWrite { id } => {
                    // pid 0 is never a live user process.
                    write_as_hub(dir.join(format!(".tmp-{}.mp4.0-{step}", clip(id))), b"half");
                    injected = true;
                }
                Op::CrashBeforeCommit { id, seed } => {
                    if !videos.contains_key(&id) {
                        write_as_hub(dir.join(format!("{}.mp4", clip(id))), video(seed));
                        orphans.insert(id, seed);
                        injected = true;
                    }
                }
                Op::Repair => {
                    f.store.fsck(true).unwrap();
                    videos.extend(std::mem::take(&mut orphans));
                    injected = false;
                }
            }
            let report = f.store.fsck(false).unwrap();
            let only_injected = report.findings.iter().all(|x| matches!(x,
                FsckFinding::StrayTemp { .. } | FsckFinding::OrphanFile { .. }));
            prop_assert!(only_injected, "after {:?}: {}", op, report);
            if !injected {
                prop_assert!(report.is_clean(), "after {:?}: {}", op, report);
            }
        }
        f.store.fsck(true).unwrap();
        videos.extend(orphans);
        prop_assert!(f.store.fsck(false).unwrap().is_clean());
        for (id, seed) in videos {
            let mut got = Vec::new();
            f.store.open_clip(DEV, &clip(id)).unwrap().expect("model says it is stored")
                .file.read_to_end(&mut got).unwrap();
            prop_assert_eq!(got, video(seed));
        }
    }
}
