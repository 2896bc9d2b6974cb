//! Crash consistency: whatever a crash leaves, fsck finds it and repair makes the store
//! consistent again, without losing a complete clip.

mod common;

use common::{T0, body, fixture, mkdir_as_hub, sha, write_as_hub};
use std::io::Read;
use std::process::Command;
use std::time::{Duration, Instant};
use watchlight_store::*;

const DEV: &str = "cam-A1";

/// A reader that yields `first` bytes, then signals and blocks forever: an upload that
/// is in the middle of its body when the hub is killed.
struct StallingBody {
    data: Vec<u8>,
    pos: usize,
    first: usize,
    marker: std::path::PathBuf,
}

impl Read for StallingBody {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.pos >= self.first {
            write_as_hub(&self.marker, b"stalled");
            loop {
                std::thread::sleep(Duration::from_secs(60));
            }
        }
        let n = buf.len().min(self.first - self.pos);
        buf[..n].copy_from_slice(&self.data[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

/// Runs in a child process (see the test below): stores one clip completely, then
/// starts a second upload and stalls in its middle until killed.
#[test]
#[ignore = "runs only as the child process of the kill -9 test"]
fn child_upload_that_gets_killed() {
    let dir = std::env::var("WL_STORE_CHILD_DIR").expect("set by the parent test");
    let store = Store::open(&dir, std::sync::Arc::new(SystemClock)).unwrap();
    let done = body(1, 50_000);
    store.put_clip(DEV, "done", &sha(&done), &done[..]).unwrap();
    let data = body(2, 1_000_000);
    let reader = StallingBody {
        first: 300_000,
        pos: 0,
        marker: std::path::Path::new(&dir).join("stalled"),
        data: data.clone(),
    };
    let _ = store.put_clip(DEV, "partial", &sha(&data), reader);
    unreachable!("the parent kills this process while the upload stalls");
}

#[test]
fn kill_9_mid_upload_leaves_no_visible_partial_clip_and_fsck_cleans_the_temp_file() {
    let f = fixture();
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "child_upload_that_gets_killed",
            "--ignored",
            "--nocapture",
        ])
        .env("WL_STORE_CHILD_DIR", f.dir.path())
        .spawn()
        .unwrap();
    let marker = f.dir.path().join("stalled");
    let deadline = Instant::now() + Duration::from_secs(30);
    while !marker.exists() {
        assert!(
            Instant::now() < deadline,
            "child never reached the middle of its upload"
        );
        assert!(child.try_wait().unwrap().is_none(), "child exited early");
        std::thread::sleep(Duration::from_millis(10));
    }
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();

    let store = f.reopen();
    assert!(store.clip(DEV, "done").unwrap().unwrap().video.is_some());
    assert!(
        store.clip(DEV, "partial").unwrap().is_none(),
        "no row for the partial upload"
    );
    assert!(store.open_clip(DEV, "partial").unwrap().is_none());
    assert!(
        !f.clip_path(DEV, "partial", "mp4").exists(),
        "no partial file under the final name"
    );

    let report = store.fsck(false).unwrap();
    assert_eq!(report.findings.len(), 1, "{report}");
    let FsckFinding::StrayTemp { path, bytes } = &report.findings[0] else {
        panic!("{report}")
    };
    assert!(
        path.file_name()
            .unwrap()
            .to_string_lossy()
            .starts_with(".tmp-partial.mp4.")
    );
    assert_eq!(*bytes, 300_000);
    assert!(report.to_string().contains("stray temp file"), "{report}");

    let repaired = store.fsck(true).unwrap();
    assert!(
        repaired.repaired && repaired.not_repaired.is_empty(),
        "{repaired}"
    );
    assert!(store.fsck(false).unwrap().is_clean());
    assert_eq!(f.files(), vec![format!("{DEV}/done.mp4")]);

    // The camera retries the upload after the restart: it arrives once.
    let data = body(2, 1_000_000);
    assert!(matches!(
        store
            .put_clip(DEV, "partial", &sha(&data), &data[..])
            .unwrap(),
        PutOutcome::Created { .. }
    ));
    assert_eq!(
        store
            .put_clip(DEV, "partial", &sha(&data), &data[..])
            .unwrap(),
        PutOutcome::AlreadyHad
    );
}

#[test]
fn a_file_whose_row_was_never_committed_is_adopted_and_a_retry_is_then_idempotent() {
    let f = fixture();
    // The crash window between rename and commit: a complete file, no row.
    let data = body(3, 40_000);
    mkdir_as_hub(f.clip_path(DEV, "x", "mp4").parent().unwrap());
    write_as_hub(f.clip_path(DEV, "orphan", "mp4"), &data);
    let report = f.store.fsck(false).unwrap();
    assert!(
        matches!(
            &report.findings[..],
            [FsckFinding::OrphanFile { clip_id, bytes: 40_000, .. }] if clip_id == "orphan"
        ),
        "{report}"
    );
    assert!(report.to_string().contains("file without row"), "{report}");
    assert!(
        f.store.clip(DEV, "orphan").unwrap().is_none(),
        "fsck without repair changes nothing"
    );

    f.store.fsck(true).unwrap();
    let adopted = f.store.clip(DEV, "orphan").unwrap().unwrap().video.unwrap();
    assert_eq!(adopted.sha256.to_string(), sha(&data));
    assert_eq!(
        f.store
            .put_clip(DEV, "orphan", &sha(&data), &data[..])
            .unwrap(),
        PutOutcome::AlreadyHad
    );
    assert!(f.store.fsck(false).unwrap().is_clean());
}

#[test]
fn a_row_without_its_file_is_found_and_forgotten_keeping_the_metadata() {
    let f = fixture();
    let data = body(4, 1_000);
    f.store
        .put_clip(DEV, "lost", &sha(&data), &data[..])
        .unwrap();
    f.store
        .record_clip_meta(
            DEV,
            &ClipMeta {
                clip_id: "lost".into(),
                start_ts: T0,
                end_ts: T0 + 5_000,
                trigger: Some("pir".into()),
                peak_score: None,
                boxes: vec![],
                bytes: Some(1_000),
                sha256: Some(sha(&data)),
            },
        )
        .unwrap();
    f.store
        .put_clip(DEV, "gone", &sha(&data), &data[..])
        .unwrap();
    std::fs::remove_file(f.clip_path(DEV, "lost", "mp4")).unwrap();
    std::fs::remove_file(f.clip_path(DEV, "gone", "mp4")).unwrap();
    let report = f.store.fsck(true).unwrap();
    assert_eq!(report.findings.len(), 2, "{report}");
    assert!(
        report
            .findings
            .iter()
            .all(|x| matches!(x, FsckFinding::MissingFile { .. }))
    );
    let lost = f.store.clip(DEV, "lost").unwrap().unwrap();
    assert!(
        lost.video.is_none() && lost.meta.is_some(),
        "the event's metadata stays"
    );
    assert!(
        f.store.clip(DEV, "gone").unwrap().is_none(),
        "an empty row goes"
    );
    assert!(f.store.fsck(false).unwrap().is_clean());
}

#[test]
fn corrupt_files_are_quarantined_not_deleted() {
    let f = fixture();
    let a = body(5, 10_000);
    let b = body(6, 10_000);
    f.store.put_clip(DEV, "flipped", &sha(&a), &a[..]).unwrap();
    f.store.put_clip(DEV, "short", &sha(&b), &b[..]).unwrap();
    let mut bad = a.clone();
    bad[5_000] ^= 0xff;
    std::fs::write(f.clip_path(DEV, "flipped", "mp4"), &bad).unwrap();
    std::fs::write(f.clip_path(DEV, "short", "mp4"), &b[..9_000]).unwrap();
    let report = f.store.fsck(true).unwrap();
    let text = report.to_string();
    assert!(
        text.contains("digest mismatch: cam-A1/flipped.mp4"),
        "{text}"
    );
    assert!(
        text.contains("size mismatch: cam-A1/short.mp4 is 9000 bytes, the index says 10000"),
        "{text}"
    );
    assert!(report.not_repaired.is_empty(), "{text}");
    let quarantined: Vec<_> = std::fs::read_dir(f.dir.path().join(QUARANTINE_DIR).join(DEV))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(quarantined.len(), 2, "{quarantined:?}");
    assert!(f.store.clip(DEV, "flipped").unwrap().is_none());
    assert!(f.store.fsck(false).unwrap().is_clean());
}

#[test]
fn an_interrupted_deletion_is_finished_at_the_next_open() {
    let f = fixture();
    let data = body(7, 2_000);
    f.store
        .put_clip(DEV, "doomed", &sha(&data), &data[..])
        .unwrap();
    // (another connection, as a crashed process would have had)
    // The deleting transaction committed, then the process died before unlinking.
    let conn = rusqlite::Connection::open(f.dir.path().join(DB_FILE)).unwrap();
    conn.execute_batch(
        "BEGIN;
         DELETE FROM clips WHERE clip_id = 'doomed';
         INSERT INTO clip_garbage (device_id, clip_id, file_name, since_ms)
             VALUES ('cam-A1', 'doomed', 'doomed.mp4', 0);
         COMMIT;",
    )
    .unwrap();
    drop(conn);
    assert!(f.clip_path(DEV, "doomed", "mp4").exists());
    let store = f.reopen();
    assert!(!f.clip_path(DEV, "doomed", "mp4").exists());
    assert!(store.fsck(false).unwrap().is_clean());
}

#[test]
fn unknown_files_are_reported_and_left_alone() {
    let f = fixture();
    let dir = f.dir.path().join("clips").join(DEV);
    mkdir_as_hub(&dir);
    write_as_hub(dir.join("notes.txt"), b"mine");
    let report = f.store.fsck(true).unwrap();
    assert!(
        matches!(&report.findings[..], [FsckFinding::UnknownFile { .. }]),
        "{report}"
    );
    assert_eq!(report.not_repaired.len(), 1);
    assert!(dir.join("notes.txt").exists());
}

#[test]
fn an_older_database_is_migrated_with_its_clips_counted() {
    let f = fixture();
    let a = body(1, 1_234);
    let b = body(2, 4_321);
    f.store.put_clip(DEV, "a", &sha(&a), &a[..]).unwrap();
    f.store.put_thumbnail(DEV, "a", &sha(&b), &b[..]).unwrap();
    // Take the database back to schema version 1, as an older build left it.
    let conn = rusqlite::Connection::open(f.dir.path().join(DB_FILE)).unwrap();
    conn.execute_batch(
        "DROP TRIGGER clip_totals_insert; DROP TRIGGER clip_totals_delete;
         DROP TRIGGER clip_totals_update; DROP TABLE clip_totals;
         DELETE FROM schema_migrations WHERE version > 1;",
    )
    .unwrap();
    // And without the tables of the migrations after 2 (care_*, doctor_*).
    let later: Vec<String> = conn
        .prepare(
            "SELECT name FROM sqlite_master WHERE type = 'table'
             AND (name LIKE 'care\\_%' ESCAPE '\\' OR name LIKE 'doctor\\_%' ESCAPE '\\')",
        )
        .unwrap()
        .query_map([], |row| row.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert!(!later.is_empty(), "migrations 3 and 4 create tables");
    for table in later {
        conn.execute_batch(&format!("DROP TABLE {table}")).unwrap();
    }
    drop(conn);
    let store = f.reopen();
    assert_eq!(store.schema_version().unwrap(), SCHEMA_VERSION);
    assert_eq!(store.clip_usage().unwrap(), (1, 1_234 + 4_321));
    assert!(store.fsck(false).unwrap().is_clean());
}

#[test]
fn drifted_totals_are_found_and_recounted() {
    let f = fixture();
    let a = body(1, 1_000);
    f.store.put_clip(DEV, "a", &sha(&a), &a[..]).unwrap();
    let conn = rusqlite::Connection::open(f.dir.path().join(DB_FILE)).unwrap();
    conn.execute("UPDATE clip_totals SET bytes = 99", [])
        .unwrap();
    let report = f.store.fsck(true).unwrap();
    assert!(
        report
            .to_string()
            .contains("recorded 1 clips / 99 bytes, the rows hold 1 / 1000"),
        "{report}"
    );
    assert_eq!(f.store.clip_usage().unwrap(), (1, 1_000));
    assert!(f.store.fsck(false).unwrap().is_clean());
}
