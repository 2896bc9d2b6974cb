//! Clip files and their index (SPEC §5, §7).
//!
//! Write path, in this order, so that a crash at any point leaves no partial file under
//! a final name and no index row without its file:
//!
//! 1. the body goes to `clips/<device>/.tmp-<clip>.<ext>.<pid>-<n>`, hashed as it is written;
//! 2. the temp file is fsynced and its digest compared with the one the camera sent;
//! 3. in one `BEGIN IMMEDIATE` transaction: re-check the index (a concurrent put of the
//!    same id wins or loses here), evict the oldest clips if the byte budget needs it,
//!    rename the temp file to `<clip>.<ext>`, fsync the folder, upsert the row, commit;
//! 4. the evicted clips' files are unlinked (they were recorded in `clip_garbage` by the
//!    same transaction that deleted their rows, so a crash here is finished at next open).
//!
//! A crash before the rename leaves a temp file (fsck deletes it); between the rename and
//! the commit, a complete file without a row (fsck adopts it; a retried upload replaces it).

use crate::devices::parse_json;
use crate::error::{Result, SqlContext, StoreError, io_err};
use crate::events::{add_notice_conn, notice_kind};
use crate::{RetentionPolicy, Sha256Hex, Store, check_clip_id, check_device_id, ms};
use rusqlite::{Connection, OptionalExtension, Transaction, params};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::fs::{File, OpenOptions};
use std::io::{ErrorKind, Read, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// Which file of a clip.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ClipKind {
    /// `<clip>.mp4`, H.264 in MP4.
    Video,
    /// `<clip>.jpg`, the frame with most motion.
    Thumbnail,
}

impl ClipKind {
    pub fn extension(self) -> &'static str {
        match self {
            ClipKind::Video => "mp4",
            ClipKind::Thumbnail => "jpg",
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            ClipKind::Video => "video",
            ClipKind::Thumbnail => "thumbnail",
        }
    }

    pub(crate) fn from_extension(ext: &str) -> Option<ClipKind> {
        match ext {
            "mp4" => Some(ClipKind::Video),
            "jpg" => Some(ClipKind::Thumbnail),
            _ => None,
        }
    }

    /// The (bytes, sha256) columns of this kind.
    pub(crate) fn columns(self) -> (&'static str, &'static str) {
        match self {
            ClipKind::Video => ("video_bytes", "video_sha256"),
            ClipKind::Thumbnail => ("thumb_bytes", "thumb_sha256"),
        }
    }
}

/// The `data` of a `clip_recorded` event (docs/contracts.md).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClipMeta {
    pub clip_id: String,
    /// Hub ms.
    pub start_ts: u64,
    pub end_ts: u64,
    /// `pir`, `pixel` or `manual`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trigger: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub peak_score: Option<f64>,
    /// `[x, y, w, h]`, normalised 0..1.
    #[serde(default)]
    pub boxes: Vec<[f64; 4]>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bytes: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sha256: Option<String>,
}

/// A file the store holds, as the index records it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StoredFile {
    pub bytes: u64,
    pub sha256: Sha256Hex,
}

/// One clip's row: whichever of video, thumbnail and metadata have arrived.
#[derive(Debug, Clone, PartialEq)]
pub struct ClipInfo {
    pub device_id: String,
    pub clip_id: String,
    /// When the hub first heard of it.
    pub created_ms: u64,
    /// What "oldest first" orders by: the clip's start when known, else `created_ms`.
    pub sort_ts: u64,
    pub video: Option<StoredFile>,
    pub thumbnail: Option<StoredFile>,
    pub meta: Option<ClipMeta>,
    /// Whether the owner has watched it (unseen clips deleted for space get a notice).
    pub seen: bool,
}

/// What a put did; each maps to one HTTP status (docs/contracts.md).
#[derive(Debug, Clone, PartialEq)]
pub enum PutOutcome {
    /// Stored (201). `evicted`: older clips deleted to make room for it.
    Created {
        bytes: u64,
        evicted: Vec<DeletedClip>,
    },
    /// This clip already has this file with this digest (200); the body was not kept.
    AlreadyHad,
    /// The body's digest is not the one announced (400); nothing was kept.
    DigestMismatch {
        expected: Sha256Hex,
        actual: Sha256Hex,
    },
    /// This clip already has this file with another digest (409).
    Conflict { existing: Sha256Hex },
    /// Cannot be stored (507): the disk is full, or the file is bigger than the whole
    /// byte budget. A `storage_full` notice says so.
    StorageFull { reason: String },
    /// Bigger than [`crate::StoreOptions`] allows (413); nothing was kept.
    TooLarge { limit: u64 },
}

/// A stored file opened for reading, for the hub to serve with byte ranges. Unix keeps
/// the bytes readable even if retention deletes the clip meanwhile.
#[derive(Debug)]
pub struct OpenedFile {
    pub file: File,
    pub len: u64,
    pub info: ClipInfo,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DeletionReason {
    /// Older than the retention policy's maximum age.
    Age,
    /// Deleted, oldest first, to keep within the byte budget.
    Space,
    /// The owner deleted it.
    Owner,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeletedClip {
    pub device_id: String,
    pub clip_id: String,
    /// Video and thumbnail bytes freed.
    pub bytes: u64,
    pub sort_ts: u64,
    pub seen: bool,
    pub reason: DeletionReason,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct RetentionReport {
    /// Oldest first.
    pub deleted: Vec<DeletedClip>,
    /// The `clips_deleted_for_space` notice, if unseen clips were deleted for space.
    pub notice_id: Option<i64>,
}

/// Reading, hashing and writing in chunks of this size.
const CHUNK: usize = 64 * 1024;

const CLIP_COLS: &str = "device_id, clip_id, created_ms, sort_ts, video_bytes, video_sha256, \
                         thumb_bytes, thumb_sha256, meta, seen";

impl Store {
    /// Stores a clip's video from `body` if its SHA-256 is `expected_sha256` (hex).
    /// Idempotent by `(device, clip_id)`; see the module docs for the crash guarantees.
    pub fn put_clip(
        &self,
        device: &str,
        clip_id: &str,
        expected_sha256: &str,
        body: impl Read,
    ) -> Result<PutOutcome> {
        self.put_file(ClipKind::Video, device, clip_id, expected_sha256, body)
    }

    /// Stores a clip's thumbnail; same rules as [`Store::put_clip`] (no eviction, but
    /// thumbnails count in the byte budget).
    pub fn put_thumbnail(
        &self,
        device: &str,
        clip_id: &str,
        expected_sha256: &str,
        body: impl Read,
    ) -> Result<PutOutcome> {
        self.put_file(ClipKind::Thumbnail, device, clip_id, expected_sha256, body)
    }

    fn put_file(
        &self,
        kind: ClipKind,
        device: &str,
        clip_id: &str,
        expected_sha256: &str,
        mut body: impl Read,
    ) -> Result<PutOutcome> {
        check_device_id(device)?;
        check_clip_id(clip_id)?;
        let expected = Sha256Hex::parse(expected_sha256)?;
        // Cheap answer for retries, without reading the body.
        {
            let conn = self.conn();
            if let Some(outcome) = existing_outcome(&conn, kind, device, clip_id, &expected)? {
                return Ok(outcome);
            }
        }
        let limit = match kind {
            ClipKind::Video => self.options.max_clip_bytes,
            ClipKind::Thumbnail => self.options.max_thumbnail_bytes,
        };

        let dir = self.device_dir(device);
        let temp = match self
            .ensure_device_dir(&dir)
            .and_then(|()| TempFile::create(self, &dir, clip_id, kind))
        {
            Ok(temp) => temp,
            Err(e) => return self.full_or(e, kind, device, clip_id),
        };
        let mut hasher = Sha256::new();
        let mut written: u64 = 0;
        let mut buf = vec![0u8; CHUNK];
        let mut file = &temp.file;
        loop {
            let n = match body.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                Err(source) => {
                    return Err(StoreError::Upload {
                        kind: kind.as_str(),
                        device: device.to_owned(),
                        clip: clip_id.to_owned(),
                        source,
                    });
                }
            };
            written += n as u64;
            if written > limit {
                return Ok(PutOutcome::TooLarge { limit });
            }
            hasher.update(&buf[..n]);
            let wrote = if self.disk_full_injected() {
                Err(std::io::Error::from(ErrorKind::StorageFull))
            } else {
                file.write_all(&buf[..n])
            };
            if let Err(e) = wrote {
                return self.write_failed(e, &temp.path, kind, device, clip_id);
            }
        }
        if let Err(e) = file.sync_all() {
            return self.write_failed(e, &temp.path, kind, device, clip_id);
        }
        let actual = Sha256Hex(hasher.finalize().into());
        if actual != expected {
            return Ok(PutOutcome::DigestMismatch { expected, actual });
        }

        let final_path = dir.join(format!("{clip_id}.{}", kind.extension()));
        match self.commit_file(
            kind,
            device,
            clip_id,
            &expected,
            written,
            &temp.path,
            &final_path,
        ) {
            Err(e) if e.is_storage_full() => {
                // Nothing is acknowledged: the camera keeps the clip and sends it again.
                // A file renamed before the commit failed has no row: not kept either.
                if final_path.exists()
                    && existing_outcome(&self.conn(), kind, device, clip_id, &expected)?.is_none()
                {
                    let _ = std::fs::remove_file(&final_path);
                }
                self.full_or(e, kind, device, clip_id)
            }
            other => other,
        }
    }

    /// Steps 3 and 4 of the module docs: the temp file becomes the clip's file and row.
    #[allow(clippy::too_many_arguments)]
    fn commit_file(
        &self,
        kind: ClipKind,
        device: &str,
        clip_id: &str,
        expected: &Sha256Hex,
        written: u64,
        temp_path: &Path,
        final_path: &Path,
    ) -> Result<PutOutcome> {
        let actual = *expected;
        let dir = self.device_dir(device);
        let now = self.now_ms();
        let mut conn = self.conn();
        let tx = conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .ctx(|| format!("start storing {device}/{clip_id}"))?;
        if let Some(outcome) = existing_outcome(&tx, kind, device, clip_id, expected)? {
            return Ok(outcome);
        }
        let mut evicted = Vec::new();
        if kind == ClipKind::Video {
            let policy = policy_tx(&tx)?;
            if written > policy.max_bytes {
                let reason = format!(
                    "clip {device}/{clip_id} of {written} bytes is larger than the whole clip budget \
                     of {} bytes",
                    policy.max_bytes
                );
                drop(tx);
                if let Err(e) = storage_full_notice(&conn, now, device, clip_id, &reason)
                    && !e.is_storage_full()
                {
                    return Err(e);
                }
                return Ok(PutOutcome::StorageFull { reason });
            }
            let used = used_bytes_tx(&tx)?;
            if used + written > policy.max_bytes {
                let need = used + written - policy.max_bytes;
                let victims = oldest_first_tx(&tx, Some((device, clip_id)))?;
                let mut freed = 0;
                for v in victims {
                    if freed >= need {
                        break;
                    }
                    freed += v.bytes;
                    evicted.push(DeletedClip {
                        reason: DeletionReason::Space,
                        ..v
                    });
                }
                delete_rows_tx(&tx, &evicted, now)?;
                space_notice_tx(&tx, now, &evicted)?;
            }
        }
        std::fs::rename(temp_path, final_path).map_err(io_err("rename into", final_path))?;
        sync_dir(&dir)?;
        self.check_room(|| format!("index {} {device}/{clip_id}", kind.as_str()))?;
        let (bytes_col, sha_col) = kind.columns();
        let stored_ms = (kind == ClipKind::Video).then(|| ms(now));
        tx.execute(
            &format!(
                "INSERT INTO clips (device_id, clip_id, created_ms, sort_ts, {bytes_col}, {sha_col}, video_stored_ms)
                 VALUES (?1, ?2, ?3, ?3, ?4, ?5, ?6)
                 ON CONFLICT (device_id, clip_id) DO UPDATE SET {bytes_col} = ?4, {sha_col} = ?5,
                     video_stored_ms = COALESCE(?6, video_stored_ms)"
            ),
            params![device, clip_id, ms(now), ms(written), actual.to_string(), stored_ms],
        )
        .ctx(|| format!("index {} {device}/{clip_id}", kind.as_str()))?;
        tx.commit()
            .ctx(|| format!("commit {} {device}/{clip_id}", kind.as_str()))?;
        collect_garbage_conn(&conn, self)?;
        Ok(PutOutcome::Created {
            bytes: written,
            evicted,
        })
    }

    fn write_failed(
        &self,
        e: std::io::Error,
        path: &Path,
        kind: ClipKind,
        device: &str,
        clip_id: &str,
    ) -> Result<PutOutcome> {
        self.full_or(
            StoreError::Io {
                op: "write",
                path: path.to_owned(),
                source: e,
            },
            kind,
            device,
            clip_id,
        )
    }

    /// A write that failed for lack of space is [`PutOutcome::StorageFull`], with a
    /// `storage_full` notice if the database can still take one (the hub keeps its own
    /// in memory); any other error stays an error.
    fn full_or(
        &self,
        e: StoreError,
        kind: ClipKind,
        device: &str,
        clip_id: &str,
    ) -> Result<PutOutcome> {
        if !e.is_storage_full() {
            return Err(e);
        }
        let reason = format!(
            "the disk is full: {} {device}/{clip_id} was not stored; lower the clip budget \
             or free space",
            kind.as_str()
        );
        let conn = self.conn();
        let noticed = self
            .check_room(|| "add a storage_full notice".into())
            .and_then(|()| storage_full_notice(&conn, self.now_ms(), device, clip_id, &reason));
        match noticed {
            Err(e) if !e.is_storage_full() => Err(e),
            _ => Ok(PutOutcome::StorageFull { reason }),
        }
    }

    /// Merges `clip_recorded` metadata into the clip's row (creating it if the video has
    /// not arrived yet). [`Store::insert_event`] does this by itself.
    pub fn record_clip_meta(&self, device: &str, meta: &ClipMeta) -> Result<()> {
        check_device_id(device)?;
        check_clip_id(&meta.clip_id)?;
        let conn = self.conn();
        merge_meta_conn(&conn, device, meta, self.now_ms())
    }

    /// One clip's row.
    pub fn clip(&self, device: &str, clip_id: &str) -> Result<Option<ClipInfo>> {
        let conn = self.conn();
        clip_tx(&conn, device, clip_id)
    }

    /// Clips with `from_ms <= sort_ts < to_ms`, of one device or all, newest first.
    pub fn list_clips(
        &self,
        device: Option<&str>,
        from_ms: u64,
        to_ms: u64,
        limit: usize,
    ) -> Result<Vec<ClipInfo>> {
        let conn = self.conn();
        // One camera's clips by its own index: `(?1 IS NULL OR device_id = ?1)` would walk
        // every camera's clips by time instead (see `Store::events`).
        let which = if device.is_some() {
            "device_id = ?1"
        } else {
            "?1 IS NULL"
        };
        let mut stmt = conn
            .prepare(&format!(
                "SELECT {CLIP_COLS} FROM clips
                 WHERE {which} AND sort_ts >= ?2 AND sort_ts < ?3
                 ORDER BY sort_ts DESC, device_id, clip_id LIMIT ?4"
            ))
            .ctx(|| "list clips".into())?;
        let rows = stmt
            .query_map(
                params![device, ms(from_ms), ms(to_ms), limit as i64],
                clip_row,
            )
            .and_then(|rows| rows.collect::<Result<Vec<_>, _>>())
            .ctx(|| "list clips".into())?;
        rows.into_iter().collect()
    }

    /// Marks a clip watched. Returns whether it exists.
    pub fn mark_clip_seen(&self, device: &str, clip_id: &str) -> Result<bool> {
        let n = self
            .conn()
            .execute(
                "UPDATE clips SET seen = 1 WHERE device_id = ?1 AND clip_id = ?2",
                params![device, clip_id],
            )
            .ctx(|| format!("mark {device}/{clip_id} seen"))?;
        Ok(n > 0)
    }

    /// Opens a clip's video; `None` if the store does not have it.
    pub fn open_clip(&self, device: &str, clip_id: &str) -> Result<Option<OpenedFile>> {
        self.open_file(ClipKind::Video, device, clip_id)
    }

    /// Opens a clip's thumbnail; `None` if the store does not have it.
    pub fn open_thumbnail(&self, device: &str, clip_id: &str) -> Result<Option<OpenedFile>> {
        self.open_file(ClipKind::Thumbnail, device, clip_id)
    }

    fn open_file(&self, kind: ClipKind, device: &str, clip_id: &str) -> Result<Option<OpenedFile>> {
        check_device_id(device)?;
        check_clip_id(clip_id)?;
        // Holding the lock: retention cannot unlink between the lookup and the open.
        let conn = self.conn();
        let Some(info) = clip_tx(&conn, device, clip_id)? else {
            return Ok(None);
        };
        let present = match kind {
            ClipKind::Video => info.video.is_some(),
            ClipKind::Thumbnail => info.thumbnail.is_some(),
        };
        if !present {
            return Ok(None);
        }
        let path = self.file_path(device, clip_id, kind);
        let file = File::open(&path).map_err(io_err("open", &path))?;
        let len = file.metadata().map_err(io_err("stat", &path))?.len();
        Ok(Some(OpenedFile { file, len, info }))
    }

    /// Deletes a clip (files and row). Returns what was deleted, `None` if unknown.
    pub fn delete_clip(&self, device: &str, clip_id: &str) -> Result<Option<DeletedClip>> {
        check_device_id(device)?;
        check_clip_id(clip_id)?;
        let now = self.now_ms();
        let mut conn = self.conn();
        let tx = conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .ctx(|| format!("start deleting {device}/{clip_id}"))?;
        let Some(info) = clip_tx(&tx, device, clip_id)? else {
            return Ok(None);
        };
        let deleted = DeletedClip {
            bytes: info.video.map_or(0, |f| f.bytes) + info.thumbnail.map_or(0, |f| f.bytes),
            device_id: info.device_id,
            clip_id: info.clip_id,
            sort_ts: info.sort_ts,
            seen: info.seen,
            reason: DeletionReason::Owner,
        };
        delete_rows_tx(&tx, std::slice::from_ref(&deleted), now)?;
        tx.commit()
            .ctx(|| format!("commit deleting {device}/{clip_id}"))?;
        collect_garbage_conn(&conn, self)?;
        Ok(Some(deleted))
    }

    /// Clips and bytes (videos + thumbnails) the index holds.
    pub fn clip_usage(&self) -> Result<(u64, u64)> {
        totals_tx(&self.conn())
    }

    /// Deletes clips older than the policy's maximum age, then the oldest clips until
    /// the rest fit the byte budget. Unseen clips deleted for space get a notice.
    pub fn retention(&self, now_ms: u64) -> Result<RetentionReport> {
        let mut conn = self.conn();
        let tx = conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .ctx(|| "start retention".into())?;
        let policy = policy_tx(&tx)?;
        let mut used = used_bytes_tx(&tx)?;
        let mut deleted = Vec::new();
        for v in oldest_first_tx(&tx, None)? {
            let too_old = policy
                .max_age_ms
                .is_some_and(|age| v.sort_ts.saturating_add(age) <= now_ms);
            let reason = if too_old {
                DeletionReason::Age
            } else if used > policy.max_bytes {
                DeletionReason::Space
            } else {
                // Oldest first: nothing newer is older than the age limit either.
                break;
            };
            used = used.saturating_sub(v.bytes);
            deleted.push(DeletedClip { reason, ..v });
        }
        delete_rows_tx(&tx, &deleted, now_ms)?;
        let notice_id = space_notice_tx(&tx, now_ms, &deleted)?;
        tx.commit().ctx(|| "commit retention".into())?;
        collect_garbage_conn(&conn, self)?;
        Ok(RetentionReport { deleted, notice_id })
    }

    /// Deletes the oldest clips until they free at least `need_bytes` (or none is left):
    /// how the hub keeps its free-space reserve before the disk is full. Unseen clips
    /// deleted get the same notice as retention's.
    pub fn free_space(&self, need_bytes: u64, now_ms: u64) -> Result<RetentionReport> {
        let mut conn = self.conn();
        let tx = conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .ctx(|| "start freeing space".into())?;
        let mut freed = 0;
        let mut deleted = Vec::new();
        for v in oldest_first_tx(&tx, None)? {
            if freed >= need_bytes {
                break;
            }
            freed += v.bytes;
            deleted.push(DeletedClip {
                reason: DeletionReason::Space,
                ..v
            });
        }
        if deleted.is_empty() {
            return Ok(RetentionReport::default());
        }
        delete_rows_tx(&tx, &deleted, now_ms)?;
        let notice_id = space_notice_tx(&tx, now_ms, &deleted)?;
        tx.commit().ctx(|| "commit freeing space".into())?;
        collect_garbage_conn(&conn, self)?;
        Ok(RetentionReport { deleted, notice_id })
    }

    /// Finishes deletions that a crash interrupted (rows gone, files maybe not).
    pub(crate) fn collect_garbage(&self) -> Result<()> {
        let conn = self.conn();
        collect_garbage_conn(&conn, self)
    }

    pub(crate) fn device_dir(&self, device: &str) -> PathBuf {
        self.clips_dir().join(device)
    }

    pub(crate) fn file_path(&self, device: &str, clip_id: &str, kind: ClipKind) -> PathBuf {
        self.device_dir(device)
            .join(format!("{clip_id}.{}", kind.extension()))
    }

    fn ensure_device_dir(&self, dir: &Path) -> Result<()> {
        if dir.is_dir() {
            return Ok(());
        }
        crate::private::create_private_dir(dir).map_err(io_err("create", dir))?;
        // The new folder's entry must be durable before files in it are relied on.
        sync_dir(&self.clips_dir())
    }
}

/// An upload in progress: removed (if still there) when dropped, so an error or early
/// return never leaves it behind; a crash does, and fsck removes it.
struct TempFile<'a> {
    store: &'a Store,
    path: PathBuf,
    file: File,
}

impl<'a> TempFile<'a> {
    fn create(store: &'a Store, dir: &Path, clip_id: &str, kind: ClipKind) -> Result<Self> {
        loop {
            // Unique among this process's handles; the pid separates processes, and a
            // name left by a crashed process that had our pid is skipped.
            let n = TEMP_COUNTER.fetch_add(1, Ordering::Relaxed);
            let path = dir.join(format!(
                ".tmp-{clip_id}.{}.{}-{n}",
                kind.extension(),
                std::process::id()
            ));
            store.in_flight_set().insert(path.clone());
            match OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(crate::private::FILE_MODE)
                .open(&path)
            {
                Ok(file) => return Ok(TempFile { store, path, file }),
                Err(e) => {
                    store.in_flight_set().remove(&path);
                    if e.kind() != ErrorKind::AlreadyExists {
                        return Err(StoreError::Io {
                            op: "create",
                            path,
                            source: e,
                        });
                    }
                }
            }
        }
    }
}

/// Numbers temp files across every [`Store`] of this process.
static TEMP_COUNTER: AtomicU64 = AtomicU64::new(0);

impl Drop for TempFile<'_> {
    fn drop(&mut self) {
        // After a successful rename this finds nothing, which is fine.
        let _ = std::fs::remove_file(&self.path);
        self.store.in_flight_set().remove(&self.path);
    }
}

pub(crate) fn sync_dir(dir: &Path) -> Result<()> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(io_err("fsync folder", dir))
}

/// What to answer if the index already has this file for this clip.
fn existing_outcome(
    conn: &Connection,
    kind: ClipKind,
    device: &str,
    clip_id: &str,
    expected: &Sha256Hex,
) -> Result<Option<PutOutcome>> {
    let (_, sha_col) = kind.columns();
    let existing: Option<Option<String>> = conn
        .query_row(
            &format!("SELECT {sha_col} FROM clips WHERE device_id = ?1 AND clip_id = ?2"),
            params![device, clip_id],
            |r| r.get(0),
        )
        .optional()
        .ctx(|| format!("look up {device}/{clip_id}"))?;
    match existing.flatten() {
        None => Ok(None),
        Some(hex) => {
            let existing = Sha256Hex::parse(&hex)?;
            Ok(Some(if existing == *expected {
                PutOutcome::AlreadyHad
            } else {
                PutOutcome::Conflict { existing }
            }))
        }
    }
}

fn policy_tx(conn: &Connection) -> Result<RetentionPolicy> {
    let doc: Option<String> = conn
        .query_row(
            "SELECT value FROM config WHERE key = 'retention_policy'",
            [],
            |r| r.get(0),
        )
        .optional()
        .ctx(|| "read the retention policy".into())?;
    match doc {
        None => Ok(RetentionPolicy::default()),
        Some(d) => parse_json(&d, || "retention policy".into()),
    }
}

/// Bytes (videos + thumbnails) the index holds, from the trigger-kept total.
pub(crate) fn used_bytes_tx(conn: &Connection) -> Result<u64> {
    Ok(totals_tx(conn)?.1)
}

/// (clips, bytes) from the trigger-kept totals.
pub(crate) fn totals_tx(conn: &Connection) -> Result<(u64, u64)> {
    conn.query_row(
        "SELECT clips, bytes FROM clip_totals WHERE id = 1",
        [],
        |r| {
            Ok((
                r.get::<_, i64>(0)?.max(0) as u64,
                r.get::<_, i64>(1)?.max(0) as u64,
            ))
        },
    )
    .ctx(|| "read the clip totals".into())
}

/// (clips, bytes) counted from the rows themselves: what fsck checks the totals against.
pub(crate) fn counted_totals_tx(conn: &Connection) -> Result<(u64, u64)> {
    conn.query_row(
        "SELECT COUNT(*), COALESCE(SUM(COALESCE(video_bytes, 0) + COALESCE(thumb_bytes, 0)), 0)
         FROM clips",
        [],
        |r| Ok((r.get::<_, i64>(0)? as u64, r.get::<_, i64>(1)? as u64)),
    )
    .ctx(|| "count clips and bytes".into())
}

/// Every clip, oldest first, as deletion candidates (reason filled in by the caller).
fn oldest_first_tx(conn: &Connection, except: Option<(&str, &str)>) -> Result<Vec<DeletedClip>> {
    let (ed, ec) = except.unwrap_or(("", ""));
    let mut stmt = conn
        .prepare(
            "SELECT device_id, clip_id, COALESCE(video_bytes, 0) + COALESCE(thumb_bytes, 0), sort_ts, seen
             FROM clips WHERE NOT (device_id = ?1 AND clip_id = ?2)
             ORDER BY sort_ts, created_ms, device_id, clip_id",
        )
        .ctx(|| "list clips oldest first".into())?;
    let rows = stmt
        .query_map(params![ed, ec], |r| {
            Ok(DeletedClip {
                device_id: r.get(0)?,
                clip_id: r.get(1)?,
                bytes: r.get::<_, i64>(2)? as u64,
                sort_ts: r.get::<_, i64>(3)? as u64,
                seen: r.get(4)?,
                reason: DeletionReason::Space,
            })
        })
        .and_then(|rows| rows.collect::<Result<Vec<_>, _>>())
        .ctx(|| "list clips oldest first".into())?;
    Ok(rows)
}

/// Deletes the rows and records their files as garbage, in the caller's transaction.
fn delete_rows_tx(tx: &Transaction<'_>, clips: &[DeletedClip], now: u64) -> Result<()> {
    for c in clips {
        for kind in [ClipKind::Video, ClipKind::Thumbnail] {
            tx.execute(
                "INSERT INTO clip_garbage (device_id, clip_id, file_name, since_ms) VALUES (?1, ?2, ?3, ?4)",
                params![c.device_id, c.clip_id, format!("{}.{}", c.clip_id, kind.extension()), ms(now)],
            )
            .ctx(|| format!("record {}/{} for deletion", c.device_id, c.clip_id))?;
        }
        tx.execute(
            "DELETE FROM clips WHERE device_id = ?1 AND clip_id = ?2",
            params![c.device_id, c.clip_id],
        )
        .ctx(|| format!("delete {}/{}", c.device_id, c.clip_id))?;
    }
    Ok(())
}

/// Most clips a `clips_deleted_for_space` notice lists by name (its count is exact).
const NOTICE_MAX_LISTED: usize = 100;

/// Tells the owner that unseen clips were deleted for space. While such a notice is
/// unread, later deletions are added to it rather than making a new notice per clip
/// (a full budget evicts one clip per new clip).
fn space_notice_tx(tx: &Transaction<'_>, now: u64, deleted: &[DeletedClip]) -> Result<Option<i64>> {
    let unseen: Vec<&DeletedClip> = deleted
        .iter()
        // A row with no files (metadata of a video that never came) frees nothing and
        // has nothing to watch: not worth telling.
        .filter(|d| d.reason == DeletionReason::Space && !d.seen && d.bytes > 0)
        .collect();
    if unseen.is_empty() {
        return Ok(None);
    }
    let previous = unread_notice_tx(tx, notice_kind::CLIPS_DELETED_FOR_SPACE, None)?;
    let (mut clips, mut count, mut bytes) = match &previous {
        Some((_, data)) => (
            data["clips"].as_array().cloned().unwrap_or_default(),
            data["count"].as_u64().unwrap_or(0),
            data["bytes"].as_u64().unwrap_or(0),
        ),
        None => (Vec::new(), 0, 0),
    };
    for d in &unseen {
        if clips.len() < NOTICE_MAX_LISTED {
            clips.push(serde_json::json!({
                "device_id": d.device_id, "clip_id": d.clip_id, "bytes": d.bytes
            }));
        }
        count += 1;
        bytes += d.bytes;
    }
    let message = format!(
        "{count} unseen clip{} deleted for space ({bytes} bytes), oldest first",
        if count == 1 { "" } else { "s" }
    );
    let data = serde_json::json!({ "clips": clips, "count": count, "bytes": bytes });
    match previous {
        Some((id, _)) => {
            update_notice_tx(tx, id, now, &message, &data)?;
            Ok(Some(id))
        }
        None => add_notice_conn(
            tx,
            now,
            notice_kind::CLIPS_DELETED_FOR_SPACE,
            None,
            &message,
            &data,
        )
        .map(Some),
    }
}

/// Tells the owner a file could not be stored; repeats while unread are counted in the
/// same notice.
fn storage_full_notice(
    conn: &Connection,
    now: u64,
    device: &str,
    clip_id: &str,
    reason: &str,
) -> Result<i64> {
    let previous = unread_notice_tx(conn, notice_kind::STORAGE_FULL, Some(device))?;
    let count = previous
        .as_ref()
        .and_then(|(_, d)| d["count"].as_u64())
        .unwrap_or(0)
        + 1;
    let data = serde_json::json!({ "clip_id": clip_id, "count": count });
    let message = if count == 1 {
        reason.to_owned()
    } else {
        format!("{reason} ({count} times since this notice was last read)")
    };
    match previous {
        Some((id, _)) => {
            update_notice_tx(conn, id, now, &message, &data)?;
            Ok(id)
        }
        None => add_notice_conn(
            conn,
            now,
            notice_kind::STORAGE_FULL,
            Some(device),
            &message,
            &data,
        ),
    }
}

fn unread_notice_tx(
    conn: &Connection,
    kind: &str,
    device: Option<&str>,
) -> Result<Option<(i64, serde_json::Value)>> {
    let row: Option<(i64, String)> = conn
        .query_row(
            "SELECT id, data FROM notices WHERE kind = ?1 AND read = 0 AND device_id IS ?2
             ORDER BY id DESC LIMIT 1",
            params![kind, device],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()
        .ctx(|| format!("look up an unread {kind} notice"))?;
    row.map(|(id, data)| Ok((id, parse_json(&data, || format!("data of notice {id}"))?)))
        .transpose()
}

fn update_notice_tx(
    conn: &Connection,
    id: i64,
    now: u64,
    message: &str,
    data: &serde_json::Value,
) -> Result<()> {
    conn.execute(
        "UPDATE notices SET ts_ms = ?2, message = ?3, data = ?4 WHERE id = ?1",
        params![id, ms(now), message, data.to_string()],
    )
    .ctx(|| format!("update notice {id}"))?;
    Ok(())
}

/// Unlinks the files of deleted rows, unless a newer upload of the same clip owns the
/// name again, then forgets them.
pub(crate) fn collect_garbage_conn(conn: &Connection, store: &Store) -> Result<()> {
    let mut stmt = conn
        .prepare("SELECT id, device_id, clip_id, file_name FROM clip_garbage ORDER BY id")
        .ctx(|| "list clip garbage".into())?;
    let rows = stmt
        .query_map([], |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, String>(3)?,
            ))
        })
        .and_then(|rows| rows.collect::<Result<Vec<_>, _>>())
        .ctx(|| "list clip garbage".into())?;
    if rows.is_empty() {
        return Ok(());
    }
    // With synchronous = NORMAL a commit reaches the WAL file but not the disk. The
    // deletions must be durable before the files go, or a power cut could bring back
    // rows whose files are gone: sync the WAL first (what synchronous = FULL would do at
    // every commit; a checkpoint in between has already synced the database file).
    let wal = store.data_dir.join(format!("{}-wal", crate::DB_FILE));
    match File::open(&wal) {
        Ok(f) => f.sync_all().map_err(io_err("fsync", &wal))?,
        Err(e) if e.kind() == ErrorKind::NotFound => {}
        Err(e) => {
            return Err(StoreError::Io {
                op: "open",
                path: wal,
                source: e,
            });
        }
    }
    let mut dirs = std::collections::BTreeSet::new();
    for (id, device, clip_id, file_name) in &rows {
        let kind = Path::new(file_name)
            .extension()
            .and_then(|e| e.to_str())
            .and_then(ClipKind::from_extension);
        let reowned = match (kind, clip_tx(conn, device, clip_id)?) {
            (Some(ClipKind::Video), Some(info)) => info.video.is_some(),
            (Some(ClipKind::Thumbnail), Some(info)) => info.thumbnail.is_some(),
            _ => false,
        };
        // Ids and names were checked before they were stored; check again before unlinking.
        if !reowned && check_device_id(device).is_ok() && !file_name.contains('/') {
            let dir = store.device_dir(device);
            let path = dir.join(file_name);
            match std::fs::remove_file(&path) {
                Ok(()) => {
                    dirs.insert(dir);
                }
                Err(e) if e.kind() == ErrorKind::NotFound => {}
                Err(e) => {
                    return Err(StoreError::Io {
                        op: "delete",
                        path,
                        source: e,
                    });
                }
            }
        }
        conn.execute("DELETE FROM clip_garbage WHERE id = ?1", params![id])
            .ctx(|| format!("forget deleted file {device}/{file_name}"))?;
    }
    for dir in dirs {
        sync_dir(&dir)?;
    }
    Ok(())
}

pub(crate) fn merge_meta_tx(
    tx: &Transaction<'_>,
    device: &str,
    meta: &ClipMeta,
    now: u64,
) -> Result<()> {
    merge_meta_conn(tx, device, meta, now)
}

fn merge_meta_conn(conn: &Connection, device: &str, meta: &ClipMeta, now: u64) -> Result<()> {
    let doc = serde_json::to_string(meta).expect("ClipMeta serializes");
    conn.execute(
        "INSERT INTO clips (device_id, clip_id, created_ms, sort_ts, meta) VALUES (?1, ?2, ?3, ?4, ?5)
         ON CONFLICT (device_id, clip_id) DO UPDATE SET meta = ?5, sort_ts = ?4",
        params![device, meta.clip_id, ms(now), ms(meta.start_ts), doc],
    )
    .ctx(|| format!("merge metadata of {device}/{}", meta.clip_id))?;
    Ok(())
}

pub(crate) fn clip_tx(conn: &Connection, device: &str, clip_id: &str) -> Result<Option<ClipInfo>> {
    conn.query_row(
        &format!("SELECT {CLIP_COLS} FROM clips WHERE device_id = ?1 AND clip_id = ?2"),
        params![device, clip_id],
        clip_row,
    )
    .optional()
    .ctx(|| format!("read clip {device}/{clip_id}"))?
    .transpose()
}

pub(crate) fn all_clips(conn: &Connection) -> Result<Vec<ClipInfo>> {
    let mut stmt = conn
        .prepare(&format!(
            "SELECT {CLIP_COLS} FROM clips ORDER BY device_id, clip_id"
        ))
        .ctx(|| "list all clips".into())?;
    let rows = stmt
        .query_map([], clip_row)
        .and_then(|rows| rows.collect::<Result<Vec<_>, _>>())
        .ctx(|| "list all clips".into())?;
    rows.into_iter().collect()
}

fn clip_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Result<ClipInfo>> {
    let device_id: String = r.get(0)?;
    let clip_id: String = r.get(1)?;
    let file = |bytes: Option<i64>, sha: Option<String>| -> Result<Option<StoredFile>> {
        match (bytes, sha) {
            (Some(b), Some(s)) => Ok(Some(StoredFile {
                bytes: b as u64,
                sha256: Sha256Hex::parse(&s)?,
            })),
            _ => Ok(None),
        }
    };
    let video = file(r.get(4)?, r.get(5)?);
    let thumbnail = file(r.get(6)?, r.get(7)?);
    let meta: Option<String> = r.get(8)?;
    let created_ms = r.get::<_, i64>(2)? as u64;
    let sort_ts = r.get::<_, i64>(3)? as u64;
    let seen: bool = r.get(9)?;
    Ok((|| {
        Ok(ClipInfo {
            meta: meta
                .map(|m| parse_json(&m, || format!("metadata of {device_id}/{clip_id}")))
                .transpose()?,
            video: video?,
            thumbnail: thumbnail?,
            device_id,
            clip_id,
            created_ms,
            sort_ts,
            seen,
        })
    })())
}
