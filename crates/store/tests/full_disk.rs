//! A full disk: nothing half-stored, every refusal recognisable as "full" (so the hub
//! answers 507 and does not acknowledge), the free-space reserve, and the same on a
//! real, small tmpfs when the machine lets the test mount one.

mod common;

use common::{T0, body, fixture, sha};
use serde_json::Map;
use watchlight_protocol::EventKind;
use watchlight_protocol::messages::EventMsg;
use watchlight_store::*;

fn event(seq: u64) -> EventMsg {
    EventMsg {
        v: 1,
        ts: T0 + seq,
        seq,
        event: EventKind::MotionStart,
        data: Map::new(),
    }
}

#[test]
fn with_the_disk_full_nothing_is_stored_and_every_refusal_says_full() {
    let f = fixture();
    let dev = f.add_device("F1");
    assert_eq!(
        f.store.insert_event(&dev, &event(1)).unwrap(),
        EventInsert::Inserted
    );
    f.store.inject_disk_full(true);
    let e = f.store.insert_event(&dev, &event(2)).unwrap_err();
    assert!(e.is_storage_full(), "{e}");
    assert!(e.to_string().contains("database or disk is full"), "{e}");
    let clip = body(1, 200_000);
    let out = f
        .store
        .put_clip(&dev, "cam-F1-1-0", &sha(&clip), &clip[..])
        .unwrap();
    assert!(
        matches!(&out, PutOutcome::StorageFull { reason } if reason.contains("disk is full")),
        "{out:?}"
    );
    assert!(f.files().is_empty(), "no file kept: {:?}", f.files());
    assert!(f.store.clip(&dev, "cam-F1-1-0").unwrap().is_none());
    let session = f
        .store
        .create_session(&TokenDigest::of_token("s"), 1000)
        .unwrap_err();
    assert!(session.is_storage_full());
    // Reads go on.
    assert_eq!(f.store.last_event_seq(&dev).unwrap(), Some(1));

    // Room again: the same event and clip are stored, once, with no gap.
    f.store.inject_disk_full(false);
    assert_eq!(
        f.store.insert_event(&dev, &event(2)).unwrap(),
        EventInsert::Inserted
    );
    let out = f
        .store
        .put_clip(&dev, "cam-F1-1-0", &sha(&clip), &clip[..])
        .unwrap();
    assert!(matches!(out, PutOutcome::Created { .. }), "{out:?}");
    let seqs: Vec<u64> = f
        .store
        .events(Some(&dev), 0, u64::MAX / 2, 100)
        .unwrap()
        .iter()
        .map(|e| e.seq)
        .collect();
    assert_eq!(seqs, vec![2, 1]);
}

#[test]
fn an_open_session_outlives_a_full_disk() {
    let f = fixture();
    let digest = TokenDigest::of_token("owner-session");
    f.store.create_session(&digest, 60_000).unwrap();
    f.store.inject_disk_full(true);
    assert!(
        f.store.check_session(&digest).unwrap().is_some(),
        "checking a session must not need a write"
    );
}

#[test]
fn freeing_space_deletes_the_oldest_clips_until_enough_is_free() {
    let f = fixture();
    let dev = f.add_device("F2");
    for i in 0..4u64 {
        let clip = body(i as u8, 10_000);
        f.clock.set(T0 + i * 1000);
        f.store
            .put_clip(&dev, &format!("cam-F2-{i}"), &sha(&clip), &clip[..])
            .unwrap();
    }
    let r = f.store.free_space(15_000, T0 + 10_000).unwrap();
    let gone: Vec<&str> = r.deleted.iter().map(|d| d.clip_id.as_str()).collect();
    assert_eq!(
        gone,
        vec!["cam-F2-0", "cam-F2-1"],
        "oldest first, just enough"
    );
    assert!(r.deleted.iter().all(|d| d.reason == DeletionReason::Space));
    assert_eq!(
        f.files(),
        vec![format!("{dev}/cam-F2-2.mp4"), format!("{dev}/cam-F2-3.mp4")]
    );
    assert!(
        r.notice_id.is_some(),
        "unseen clips deleted for space are told"
    );
    assert_eq!(f.store.free_space(0, T0).unwrap().deleted, vec![]);
}

/// A real full disk: a 4 MiB tmpfs filled to the brim. Mounting needs privileges a CI
/// runner may not have; then this test says so in one line and passes.
#[test]
fn a_real_full_tmpfs_gives_the_same_refusals() {
    let Some(mnt) = SmallTmpfs::mount(4) else {
        eprintln!(
            "skipped: cannot mount a tmpfs here (needs root); the injected disk-full path is tested above"
        );
        return;
    };
    let clock = ManualClock::new(T0);
    let store = Store::open(mnt.path(), clock.clone()).unwrap();
    let dev = "cam-T1";
    store
        .create_device(&NewDevice {
            id: dev.into(),
            serial: "T1".into(),
            name: "T1".into(),
            profile: watchlight_protocol::ProfileId::Indoor,
            token: TokenDigest::of_token("t"),
        })
        .unwrap();
    // Fill the rest of the disk.
    let filler = mnt.path().join("filler");
    {
        use std::io::Write;
        let mut file = std::fs::File::create(&filler).unwrap();
        let chunk = vec![0u8; 64 * 1024];
        while file.write_all(&chunk).is_ok() {}
        let _ = file.sync_all();
    }
    let clip = body(3, 300_000);
    let out = store
        .put_clip(dev, "cam-T1-1-0", &sha(&clip), &clip[..])
        .unwrap();
    assert!(matches!(out, PutOutcome::StorageFull { .. }), "{out:?}");
    // Events until SQLite needs a page it cannot get: refused as full, none half-kept.
    let mut refused = None;
    for seq in 1..5_000 {
        let mut e = event(seq);
        e.data.insert("pad".into(), "x".repeat(500).into());
        if let Err(err) = store.insert_event(dev, &e) {
            refused = Some((seq, err));
            break;
        }
    }
    let (seq, err) = refused.expect("a full disk refuses an event sooner or later");
    assert!(err.is_storage_full(), "{err}");
    assert_eq!(
        store.last_event_seq(dev).unwrap(),
        seq.checked_sub(1).filter(|&s| s > 0)
    );
    // Room again: the refused event goes in.
    std::fs::remove_file(&filler).unwrap();
    assert_eq!(
        store.insert_event(dev, &event(seq)).unwrap(),
        EventInsert::Inserted
    );
    drop(store);
}

/// A tmpfs of `mib` MiB on a fresh folder, unmounted when dropped.
struct SmallTmpfs {
    dir: tempfile::TempDir,
}

impl SmallTmpfs {
    fn mount(mib: u32) -> Option<SmallTmpfs> {
        let dir = tempfile::tempdir().ok()?;
        let ok = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={mib}m"), "tmpfs"])
            .arg(dir.path())
            .stderr(std::process::Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        ok.then_some(SmallTmpfs { dir })
    }

    fn path(&self) -> &std::path::Path {
        self.dir.path()
    }
}

impl Drop for SmallTmpfs {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount")
            .arg(self.dir.path())
            .status();
    }
}
