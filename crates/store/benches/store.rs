//! `cargo bench -p watchlight-store --bench store`: what the store's guarantees cost,
//! as ratios against the bare operation they wrap, measured in the same run.
//!
//! - put_clip (temp file, hash, fsync, rename, dir fsync, index row) vs. writing the same
//!   bytes to a file with one fsync;
//! - insert_event (dedup, own transaction) vs. a bare INSERT on the same kind of connection;
//! - fsck (reads and hashes every file) vs. hashing the same bytes from memory;
//! - a small put with 50,000 clips indexed vs. the same put with 30 (the byte budget is
//!   a SUM over the index).

use sha2::{Digest, Sha256};
use std::io::Write;
use std::sync::Arc;
use std::time::{Duration, Instant};
use watchlight_protocol::EventKind;
use watchlight_protocol::messages::EventMsg;
use watchlight_store::{Sha256Hex, Store, SystemClock};

fn time<F: FnMut(usize)>(n: usize, mut f: F) -> Duration {
    let start = Instant::now();
    for i in 0..n {
        f(i);
    }
    start.elapsed()
}

fn main() {
    let video = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../../shared/data/video/highway-cctv-320x240-25fps.mp4"
    ))
    .expect("the shared footage at ../shared/data/video (see ../shared/data/SOURCES.md)");
    let digest = Sha256Hex::of(&video).to_string();
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), Arc::new(SystemClock)).unwrap();
    let n_clips = 30;

    let baseline_dir = dir.path().join("baseline");
    std::fs::create_dir_all(&baseline_dir).unwrap();
    let base = time(n_clips, |i| {
        let mut f = std::fs::File::create(baseline_dir.join(format!("{i}.mp4"))).unwrap();
        f.write_all(&video).unwrap();
        f.sync_all().unwrap();
    });
    let put = time(n_clips, |i| {
        store
            .put_clip("cam-bench", &format!("clip-{i}"), &digest, &video[..])
            .unwrap();
    });
    let mb = (video.len() * n_clips) as f64 / 1e6;
    println!(
        "put_clip {:.1} MB clips x{n_clips}: {:.1} ms each ({:.0} MB/s); baseline write+fsync {:.1} ms each; ratio {:.2}",
        video.len() as f64 / 1e6,
        put.as_secs_f64() * 1e3 / n_clips as f64,
        mb / put.as_secs_f64(),
        base.as_secs_f64() * 1e3 / n_clips as f64,
        put.as_secs_f64() / base.as_secs_f64()
    );

    let n_events = 2_000;
    let raw = rusqlite::Connection::open(dir.path().join("baseline.db")).unwrap();
    raw.execute_batch(
        "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL;
         CREATE TABLE e (device_id TEXT, seq INTEGER, ts_ms INTEGER, kind TEXT, data TEXT);",
    )
    .unwrap();
    let base = time(n_events, |i| {
        raw.execute(
            "INSERT INTO e VALUES ('cam-bench', ?1, ?1, 'motion_start', '{}')",
            [i as i64],
        )
        .unwrap();
    });
    let ev = time(n_events, |i| {
        let e = EventMsg {
            v: 1,
            ts: i as u64,
            seq: i as u64,
            event: EventKind::MotionStart,
            data: Default::default(),
        };
        store.insert_event("cam-bench", &e).unwrap();
    });
    println!(
        "insert_event x{n_events}: {:.0} µs each ({:.0}/s); baseline bare INSERT {:.0} µs each; ratio {:.2}",
        ev.as_secs_f64() * 1e6 / n_events as f64,
        n_events as f64 / ev.as_secs_f64(),
        base.as_secs_f64() * 1e6 / n_events as f64,
        ev.as_secs_f64() / base.as_secs_f64()
    );

    let base = time(n_clips, |_| {
        std::hint::black_box(Sha256::digest(&video));
    });
    let start = Instant::now();
    let report = store.fsck(false).unwrap();
    let fsck = start.elapsed();
    assert!(report.is_clean(), "{report}");
    println!(
        "fsck of {n_clips} clips ({mb:.0} MB): {:.0} ms ({:.0} MB/s); baseline SHA-256 in memory {:.0} ms; ratio {:.2}",
        fsck.as_secs_f64() * 1e3,
        mb / fsck.as_secs_f64(),
        base.as_secs_f64() * 1e3,
        fsck.as_secs_f64() / base.as_secs_f64()
    );

    let small = vec![7u8; 10_000];
    let small_digest = Sha256Hex::of(&small).to_string();
    let n_small = 20;
    let few = time(n_small, |i| {
        store
            .put_clip("cam-bench", &format!("few-{i}"), &small_digest, &small[..])
            .unwrap();
    });
    // 50,000 more indexed clips (rows only: the files do not matter for this cost).
    let conn = rusqlite::Connection::open(dir.path().join(watchlight_store::DB_FILE)).unwrap();
    conn.execute_batch(
        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 50000)
         INSERT INTO clips (device_id, clip_id, created_ms, sort_ts, video_bytes, video_sha256)
         SELECT 'cam-other', 'x' || i, i, i, 1000, printf('%064d', 0) FROM n;",
    )
    .unwrap();
    let many = time(n_small, |i| {
        store
            .put_clip("cam-bench", &format!("many-{i}"), &small_digest, &small[..])
            .unwrap();
    });
    println!(
        "put_clip 10 kB with 50,030 clips indexed: {:.1} ms each; with 30: {:.1} ms each; ratio {:.2}",
        many.as_secs_f64() * 1e3 / n_small as f64,
        few.as_secs_f64() * 1e3 / n_small as f64,
        many.as_secs_f64() / few.as_secs_f64()
    );
}
