//! Clip files: idempotent digest-checked puts, metadata merge, serving, deletion and
//! retention.

mod common;

use common::{T0, body, fixture, sha};
use serde_json::json;
use std::io::Read;
use watchlight_protocol::EventKind;
use watchlight_protocol::messages::EventMsg;
use watchlight_store::*;

const DEV: &str = "cam-A1";

fn shared_video(name: &str) -> Vec<u8> {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/data/video/");
    let path = format!("{path}{name}");
    std::fs::read(&path).unwrap_or_else(|e| {
        panic!(
            "missing {path} ({e}): the tests read real footage from ../shared/data beside the repository (not in it; see ../shared/data/SOURCES.md and the README's Tests section)"
        )
    })
}

#[test]
fn a_real_mp4_is_stored_served_whole_and_idempotent() {
    let f = fixture();
    let mp4 = shared_video("highway-cctv-320x240-25fps.mp4");
    let digest = sha(&mp4);
    let clip = "cam-A1-1767225600000-1";
    let out = f.store.put_clip(DEV, clip, &digest, &mp4[..]).unwrap();
    assert_eq!(
        out,
        PutOutcome::Created {
            bytes: mp4.len() as u64,
            evicted: vec![]
        }
    );
    // A retry: same id, same digest (upper case even): 200, body not needed.
    let out = f
        .store
        .put_clip(DEV, clip, &digest.to_uppercase(), &b"ignored"[..])
        .unwrap();
    assert_eq!(out, PutOutcome::AlreadyHad);
    assert_eq!(f.files(), vec![format!("{DEV}/{clip}.mp4")]);

    let mut opened = f.store.open_clip(DEV, clip).unwrap().unwrap();
    assert_eq!(opened.len, mp4.len() as u64);
    assert_eq!(opened.info.video.unwrap().sha256.to_string(), digest);
    let mut back = Vec::new();
    opened.file.read_to_end(&mut back).unwrap();
    assert_eq!(back, mp4);
    assert!(f.store.open_thumbnail(DEV, clip).unwrap().is_none());
    assert!(f.store.open_clip(DEV, "cam-A1-0-0").unwrap().is_none());
    assert!(f.store.fsck(false).unwrap().is_clean());
}

#[test]
fn a_digest_mismatch_keeps_nothing() {
    let f = fixture();
    let data = body(1, 100_000);
    let wrong = sha(b"something else");
    let out = f.store.put_clip(DEV, "c1", &wrong, &data[..]).unwrap();
    assert!(
        matches!(out, PutOutcome::DigestMismatch { actual, .. } if actual.to_string() == sha(&data))
    );
    assert!(f.files().is_empty(), "{:?}", f.files());
    assert!(f.store.clip(DEV, "c1").unwrap().is_none());
    // The right body afterwards is accepted.
    let out = f.store.put_clip(DEV, "c1", &sha(&data), &data[..]).unwrap();
    assert!(matches!(out, PutOutcome::Created { .. }));
}

#[test]
fn the_same_id_with_another_digest_conflicts() {
    let f = fixture();
    let a = body(1, 5_000);
    let b = body(2, 5_000);
    f.store.put_clip(DEV, "c1", &sha(&a), &a[..]).unwrap();
    let out = f.store.put_clip(DEV, "c1", &sha(&b), &b[..]).unwrap();
    assert!(matches!(out, PutOutcome::Conflict { existing } if existing.to_string() == sha(&a)));
    let mut back = Vec::new();
    f.store
        .open_clip(DEV, "c1")
        .unwrap()
        .unwrap()
        .file
        .read_to_end(&mut back)
        .unwrap();
    assert_eq!(back, a);
}

#[test]
fn bad_ids_digests_and_bodies_are_refused_with_errors_that_name_them() {
    let f = fixture();
    let d = sha(b"x");
    for (dev, clip) in [
        ("../x", "c"),
        (DEV, "../../etc/passwd"),
        (DEV, "a.b"),
        (DEV, ""),
    ] {
        let err = f.store.put_clip(dev, clip, &d, &b"x"[..]).unwrap_err();
        assert!(
            matches!(
                err,
                StoreError::InvalidDeviceId(_) | StoreError::InvalidClipId(_)
            ),
            "{err}"
        );
    }
    let err = f.store.put_clip(DEV, "c", "abc", &b"x"[..]).unwrap_err();
    assert!(err.to_string().contains("64 hex digits"), "{err}");

    struct Broken;
    impl Read for Broken {
        fn read(&mut self, _: &mut [u8]) -> std::io::Result<usize> {
            Err(std::io::Error::new(
                std::io::ErrorKind::ConnectionReset,
                "peer went away",
            ))
        }
    }
    let err = f.store.put_clip(DEV, "c", &d, Broken).unwrap_err();
    let msg = err.to_string();
    assert!(
        msg.contains("cam-A1/c") && msg.contains("peer went away"),
        "{msg}"
    );
    assert!(
        f.files().is_empty(),
        "a failed upload leaves no temp file: {:?}",
        f.files()
    );
}

#[test]
fn an_upload_over_the_size_limit_is_refused_and_leaves_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let opts = StoreOptions {
        max_clip_bytes: 1_000,
        ..Default::default()
    };
    let store = Store::open_with(dir.path(), ManualClock::new(T0), opts).unwrap();
    let data = body(3, 1_001);
    let out = store.put_clip(DEV, "c", &sha(&data), &data[..]).unwrap();
    assert_eq!(out, PutOutcome::TooLarge { limit: 1_000 });
    assert_eq!(
        std::fs::read_dir(dir.path().join("clips").join(DEV))
            .unwrap()
            .count(),
        0
    );
}

#[test]
fn concurrent_puts_of_one_id_store_it_once() {
    let f = fixture();
    let data = body(9, 300_000);
    let digest = sha(&data);
    let other = f.reopen();
    let outcomes: Vec<PutOutcome> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..6)
            .map(|i| {
                let store = if i % 2 == 0 { &f.store } else { &other };
                let (data, digest) = (&data, &digest);
                s.spawn(move || store.put_clip(DEV, "same", digest, &data[..]).unwrap())
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let created = outcomes
        .iter()
        .filter(|o| matches!(o, PutOutcome::Created { .. }))
        .count();
    let had = outcomes
        .iter()
        .filter(|o| **o == PutOutcome::AlreadyHad)
        .count();
    assert_eq!((created, had), (1, 5), "{outcomes:?}");
    assert_eq!(f.files(), vec![format!("{DEV}/same.mp4")]);

    // Two different bodies racing for one id: one wins, the other is told of the conflict.
    let a = body(1, 200_000);
    let b = body(2, 200_000);
    let outcomes: Vec<PutOutcome> = std::thread::scope(|s| {
        let ha = s.spawn(|| f.store.put_clip(DEV, "race", &sha(&a), &a[..]).unwrap());
        let hb = s.spawn(|| other.put_clip(DEV, "race", &sha(&b), &b[..]).unwrap());
        vec![ha.join().unwrap(), hb.join().unwrap()]
    });
    assert_eq!(
        outcomes
            .iter()
            .filter(|o| matches!(o, PutOutcome::Created { .. }))
            .count(),
        1
    );
    assert_eq!(
        outcomes
            .iter()
            .filter(|o| matches!(o, PutOutcome::Conflict { .. }))
            .count(),
        1
    );
    let stored = f.store.clip(DEV, "race").unwrap().unwrap().video.unwrap();
    let mut back = Vec::new();
    f.store
        .open_clip(DEV, "race")
        .unwrap()
        .unwrap()
        .file
        .read_to_end(&mut back)
        .unwrap();
    assert_eq!(Sha256Hex::of(&back), stored.sha256);
    assert!(f.store.fsck(false).unwrap().is_clean());
}

fn clip_recorded(seq: u64, clip: &str, start: u64, bytes: &[u8]) -> EventMsg {
    EventMsg {
        v: 1,
        ts: start + 10_000,
        seq,
        event: EventKind::ClipRecorded,
        data: json!({
            "clip_id": clip, "start_ts": start, "end_ts": start + 10_000, "trigger": "pixel",
            "peak_score": 0.8, "boxes": [[0.1, 0.2, 0.3, 0.4]], "bytes": bytes.len(),
            "sha256": sha(bytes)
        })
        .as_object()
        .cloned()
        .unwrap(),
    }
}

#[test]
fn metadata_merges_whichever_arrives_first() {
    let f = fixture();
    let a = body(1, 1_000);
    let b = body(2, 1_000);
    // Video first, then the event.
    f.store.put_clip(DEV, "va", &sha(&a), &a[..]).unwrap();
    f.store
        .insert_event(DEV, &clip_recorded(1, "va", T0 - 60_000, &a))
        .unwrap();
    // Event first, then video and thumbnail.
    f.store
        .insert_event(DEV, &clip_recorded(2, "vb", T0 - 30_000, &b))
        .unwrap();
    let pending = f.store.clip(DEV, "vb").unwrap().unwrap();
    assert!(pending.video.is_none() && pending.meta.is_some());
    assert!(f.store.open_clip(DEV, "vb").unwrap().is_none());
    f.store.put_clip(DEV, "vb", &sha(&b), &b[..]).unwrap();
    let jpg = body(7, 300);
    f.store
        .put_thumbnail(DEV, "vb", &sha(&jpg), &jpg[..])
        .unwrap();

    for (clip, start) in [("va", T0 - 60_000), ("vb", T0 - 30_000)] {
        let c = f.store.clip(DEV, clip).unwrap().unwrap();
        let meta = c.meta.expect("metadata merged");
        assert_eq!((meta.start_ts, c.sort_ts), (start, start));
        assert_eq!(meta.trigger.as_deref(), Some("pixel"));
        assert_eq!(meta.boxes, vec![[0.1, 0.2, 0.3, 0.4]]);
        assert!(c.video.is_some());
    }
    let listed = f.store.list_clips(Some(DEV), 0, u64::MAX, 10).unwrap();
    assert_eq!(
        listed
            .iter()
            .map(|c| c.clip_id.as_str())
            .collect::<Vec<_>>(),
        vec!["vb", "va"]
    );
    assert_eq!(
        f.store
            .list_clips(Some(DEV), 0, T0 - 30_000, 10)
            .unwrap()
            .len(),
        1
    );
    let thumb = f.store.open_thumbnail(DEV, "vb").unwrap().unwrap();
    assert_eq!(thumb.len, 300);
}

#[test]
fn delete_removes_file_and_row_and_a_deleted_file_stays_readable_while_open() {
    let f = fixture();
    let a = body(1, 10_000);
    let jpg = body(2, 100);
    f.store.put_clip(DEV, "c1", &sha(&a), &a[..]).unwrap();
    f.store
        .put_thumbnail(DEV, "c1", &sha(&jpg), &jpg[..])
        .unwrap();
    let mut open = f.store.open_clip(DEV, "c1").unwrap().unwrap();
    let gone = f.store.delete_clip(DEV, "c1").unwrap().unwrap();
    assert_eq!((gone.bytes, gone.reason), (10_100, DeletionReason::Owner));
    assert!(f.files().is_empty());
    assert!(f.store.clip(DEV, "c1").unwrap().is_none());
    assert!(f.store.delete_clip(DEV, "c1").unwrap().is_none());
    let mut back = Vec::new();
    open.file.read_to_end(&mut back).unwrap();
    assert_eq!(back, a, "a download in progress finishes");
    assert!(f.store.fsck(false).unwrap().is_clean());
}

fn put_at(f: &common::Fixture, clip: &str, start: u64, len: usize) {
    let data = body(start as u8, len);
    f.store
        .insert_event(DEV, &clip_recorded(start, clip, start, &data))
        .unwrap();
    let out = f.store.put_clip(DEV, clip, &sha(&data), &data[..]).unwrap();
    assert!(matches!(out, PutOutcome::Created { .. }), "{out:?}");
}

#[test]
fn retention_by_age_deletes_the_old_clips_without_a_space_notice() {
    let f = fixture();
    let day = 24 * 3600 * 1000;
    f.store
        .set_retention_policy(&RetentionPolicy {
            max_bytes: u64::MAX,
            max_age_ms: Some(7 * day),
        })
        .unwrap();
    put_at(&f, "old", T0 - 8 * day, 100);
    put_at(&f, "edge", T0 - 7 * day, 100);
    put_at(&f, "young", T0 - 7 * day + 1, 100);
    let r = f.store.retention(T0).unwrap();
    assert_eq!(
        r.deleted
            .iter()
            .map(|d| (d.clip_id.as_str(), d.reason))
            .collect::<Vec<_>>(),
        vec![("old", DeletionReason::Age), ("edge", DeletionReason::Age)]
    );
    assert_eq!(r.notice_id, None);
    assert_eq!(f.files(), vec![format!("{DEV}/young.mp4")]);
    assert!(f.store.retention(T0).unwrap().deleted.is_empty());
}

#[test]
fn retention_by_bytes_deletes_oldest_first_and_notices_unseen_ones() {
    let f = fixture();
    f.store
        .set_retention_policy(&RetentionPolicy {
            max_bytes: 1_000_000,
            max_age_ms: None,
        })
        .unwrap();
    for (i, clip) in ["c1", "c2", "c3", "c4"].iter().enumerate() {
        put_at(&f, clip, T0 + i as u64 * 1_000, 200_000);
    }
    f.store.mark_clip_seen(DEV, "c2").unwrap();
    // The owner lowers the budget: the two oldest must go.
    f.store
        .set_retention_policy(&RetentionPolicy {
            max_bytes: 450_000,
            max_age_ms: None,
        })
        .unwrap();
    let r = f.store.retention(T0 + 10_000).unwrap();
    assert_eq!(
        r.deleted
            .iter()
            .map(|d| (d.clip_id.as_str(), d.reason, d.seen))
            .collect::<Vec<_>>(),
        vec![
            ("c1", DeletionReason::Space, false),
            ("c2", DeletionReason::Space, true)
        ]
    );
    let notice = &f.store.notices(10, true).unwrap()[0];
    assert_eq!(Some(notice.id), r.notice_id);
    assert_eq!(notice.kind, notice_kind::CLIPS_DELETED_FOR_SPACE);
    assert!(
        notice
            .message
            .starts_with("1 unseen clip deleted for space"),
        "{}",
        notice.message
    );
    assert_eq!(notice.data["clips"][0]["clip_id"], "c1");
    assert_eq!(f.store.clip_usage().unwrap(), (2, 400_000));
    assert_eq!(
        f.files(),
        vec![format!("{DEV}/c3.mp4"), format!("{DEV}/c4.mp4")]
    );
}

#[test]
fn a_put_over_the_budget_evicts_the_oldest_and_a_clip_bigger_than_the_budget_is_storage_full() {
    let f = fixture();
    f.store
        .set_retention_policy(&RetentionPolicy {
            max_bytes: 500_000,
            max_age_ms: None,
        })
        .unwrap();
    put_at(&f, "c1", T0, 200_000);
    put_at(&f, "c2", T0 + 1, 200_000);
    let data = body(5, 200_000);
    let out = f.store.put_clip(DEV, "c3", &sha(&data), &data[..]).unwrap();
    let PutOutcome::Created { evicted, .. } = out else {
        panic!("{out:?}")
    };
    assert_eq!(
        evicted
            .iter()
            .map(|d| d.clip_id.as_str())
            .collect::<Vec<_>>(),
        vec!["c1"]
    );
    assert!(
        f.store.notices(10, true).unwrap()[0]
            .message
            .contains("deleted for space")
    );
    assert_eq!(f.store.clip_usage().unwrap().1, 400_000);

    let huge = body(6, 600_000);
    let out = f.store.put_clip(DEV, "c4", &sha(&huge), &huge[..]).unwrap();
    let PutOutcome::StorageFull { reason } = out else {
        panic!("{out:?}")
    };
    assert!(
        reason.contains("larger than the whole clip budget"),
        "{reason}"
    );
    let notice = &f.store.notices(1, true).unwrap()[0];
    assert_eq!(notice.kind, notice_kind::STORAGE_FULL);
    assert_eq!(
        f.store.clip_usage().unwrap().1,
        400_000,
        "nothing was evicted for it"
    );
    assert!(
        !f.files().iter().any(|p| p.contains("c4")),
        "{:?}",
        f.files()
    );
}

#[test]
fn repeated_evictions_gather_in_one_unread_notice() {
    let f = fixture();
    f.store
        .set_retention_policy(&RetentionPolicy {
            max_bytes: 2_000,
            max_age_ms: None,
        })
        .unwrap();
    for (i, clip) in ["c1", "c2", "c3", "c4"].iter().enumerate() {
        f.clock.advance(1_000);
        put_at(&f, clip, T0 + i as u64, 1_000);
    }
    let unread = f.store.notices(10, true).unwrap();
    assert_eq!(unread.len(), 1, "{unread:?}");
    assert_eq!(
        unread[0].message,
        "2 unseen clips deleted for space (2000 bytes), oldest first"
    );
    assert_eq!(unread[0].data["count"], 2);
    assert_eq!(unread[0].data["clips"][1]["clip_id"], "c2");
    assert_eq!(
        unread[0].ts_ms,
        T0 + 4_000,
        "the notice moves to the latest deletion"
    );

    f.store.mark_notice_read(unread[0].id).unwrap();
    put_at(&f, "c5", T0 + 5, 1_000);
    let unread = f.store.notices(10, true).unwrap();
    assert_eq!(unread.len(), 1);
    assert!(
        unread[0].message.starts_with("1 unseen clip deleted"),
        "{}",
        unread[0].message
    );

    let huge = body(1, 3_000);
    for clip in ["h1", "h2"] {
        let out = f.store.put_clip(DEV, clip, &sha(&huge), &huge[..]).unwrap();
        assert!(matches!(out, PutOutcome::StorageFull { .. }));
    }
    let full: Vec<_> = f
        .store
        .notices(10, true)
        .unwrap()
        .into_iter()
        .filter(|n| n.kind == notice_kind::STORAGE_FULL)
        .collect();
    assert_eq!(full.len(), 1);
    assert!(
        full[0]
            .message
            .ends_with("(2 times since this notice was last read)"),
        "{}",
        full[0].message
    );
    assert_eq!(full[0].device_id.as_deref(), Some(DEV));
}

#[test]
fn metadata_without_video_is_cleared_by_retention_but_not_announced() {
    let f = fixture();
    let never = body(9, 500);
    // A clip_recorded event whose video never arrived (the camera dropped it).
    f.store
        .insert_event(DEV, &clip_recorded(1, "ghost", T0 - 10_000, &never))
        .unwrap();
    put_at(&f, "c1", T0 - 5_000, 1_000);
    put_at(&f, "c2", T0, 1_000);
    f.store
        .set_retention_policy(&RetentionPolicy {
            max_bytes: 1_500,
            max_age_ms: None,
        })
        .unwrap();
    let r = f.store.retention(T0).unwrap();
    assert_eq!(
        r.deleted
            .iter()
            .map(|d| (d.clip_id.as_str(), d.bytes))
            .collect::<Vec<_>>(),
        vec![("ghost", 0), ("c1", 1_000)]
    );
    let notice = &f.store.notices(1, true).unwrap()[0];
    assert_eq!(notice.data["count"], 1, "{notice:?}");
    assert_eq!(notice.data["clips"][0]["clip_id"], "c1");
}
