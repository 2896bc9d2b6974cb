//! `watchlight hub fsck`: the database against the files.
//!
//! Checking reads every file without holding the write lock; repairing then takes it
//! (`BEGIN IMMEDIATE`) and re-checks each finding before acting, so fsck can run beside a
//! live hub. What repair does:
//!
//! | finding | repair |
//! |---|---|
//! | row, no file | the row forgets that file (and goes if nothing is left) |
//! | size or digest differs | file moved to `quarantine/`, row forgets it |
//! | file, no row | adopted: indexed with its measured size and digest |
//! | stray temp file | deleted (unless an upload of a live process owns it) |
//! | interrupted deletion | finished |
//! | running totals drifted | recounted |
//! | a folder or file others may read | made private (0700 / 0600, [`crate::private`]) |
//! | SQLite integrity problem | reported only |

use crate::clips::{
    ClipInfo, ClipKind, all_clips, clip_tx, collect_garbage_conn, counted_totals_tx, sync_dir,
    totals_tx,
};
use crate::error::{Result, SqlContext, StoreError, io_err};
use crate::{QUARANTINE_DIR, Sha256Hex, Store, StoredFile, check_clip_id, check_device_id, ms};
use rusqlite::params;
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::fmt;
use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};

/// One inconsistency.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FsckFinding {
    /// The index has the file, the folder does not.
    MissingFile {
        device_id: String,
        clip_id: String,
        kind: ClipKind,
    },
    SizeMismatch {
        device_id: String,
        clip_id: String,
        kind: ClipKind,
        indexed: u64,
        on_disk: u64,
    },
    DigestMismatch {
        device_id: String,
        clip_id: String,
        kind: ClipKind,
        indexed: Sha256Hex,
        on_disk: Sha256Hex,
    },
    /// A complete clip file the index does not know (a crash after rename, before commit).
    OrphanFile {
        device_id: String,
        clip_id: String,
        kind: ClipKind,
        bytes: u64,
        sha256: Sha256Hex,
    },
    /// An upload's temp file left by a crash.
    StrayTemp { path: PathBuf, bytes: u64 },
    /// Something in the clips folder that is not ours; never touched.
    UnknownFile { path: PathBuf },
    /// Deletions recorded but not finished.
    PendingDeletions { count: u64 },
    /// The running clip totals disagree with the rows (repair: recounted).
    TotalsDrift {
        recorded: (u64, u64),
        counted: (u64, u64),
    },
    /// A folder or file in the data folder that its group or others may use.
    OpenToOthers { path: PathBuf, mode: u32 },
    /// `PRAGMA integrity_check` / `foreign_key_check` said something.
    Database { message: String },
}

impl fmt::Display for FsckFinding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use FsckFinding::*;
        match self {
            MissingFile {
                device_id,
                clip_id,
                kind,
            } => write!(
                f,
                "missing file: {device_id}/{clip_id}.{} is indexed but not on disk",
                kind.extension()
            ),
            SizeMismatch {
                device_id,
                clip_id,
                kind,
                indexed,
                on_disk,
            } => write!(
                f,
                "size mismatch: {device_id}/{clip_id}.{} is {on_disk} bytes, the index says {indexed}",
                kind.extension()
            ),
            DigestMismatch {
                device_id,
                clip_id,
                kind,
                indexed,
                on_disk,
            } => write!(
                f,
                "digest mismatch: {device_id}/{clip_id}.{} has SHA-256 {on_disk}, the index says {indexed}",
                kind.extension()
            ),
            OrphanFile {
                device_id,
                clip_id,
                kind,
                bytes,
                ..
            } => write!(
                f,
                "file without row: {device_id}/{clip_id}.{} ({bytes} bytes) is not indexed",
                kind.extension()
            ),
            StrayTemp { path, bytes } => {
                write!(f, "stray temp file: {} ({bytes} bytes)", path.display())
            }
            UnknownFile { path } => write!(f, "unknown file (left alone): {}", path.display()),
            PendingDeletions { count } => write!(f, "{count} interrupted file deletion(s)"),
            TotalsDrift { recorded, counted } => write!(
                f,
                "clip totals drifted: recorded {} clips / {} bytes, the rows hold {} / {}",
                recorded.0, recorded.1, counted.0, counted.1
            ),
            OpenToOthers { path, mode } => write!(
                f,
                "readable by others: {} has mode {mode:04o}, should be {:04o}",
                path.display(),
                if path.is_dir() {
                    crate::private::DIR_MODE
                } else {
                    crate::private::FILE_MODE
                }
            ),
            Database { message } => write!(f, "database: {message}"),
        }
    }
}

/// What fsck found (and, if asked, repaired).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FsckReport {
    pub clips_checked: u64,
    pub files_checked: u64,
    pub bytes_checked: u64,
    pub findings: Vec<FsckFinding>,
    /// Whether repairs were made (`fsck(true)`); findings list what was found before.
    pub repaired: bool,
    /// Findings a repair could not act on (changed meanwhile, or not repairable).
    pub not_repaired: Vec<FsckFinding>,
}

impl FsckReport {
    pub fn is_clean(&self) -> bool {
        self.findings.is_empty()
    }
}

impl fmt::Display for FsckReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "fsck: {} clips, {} files, {} bytes checked: ",
            self.clips_checked, self.files_checked, self.bytes_checked
        )?;
        if self.is_clean() {
            return writeln!(f, "clean");
        }
        writeln!(
            f,
            "{} problem(s){}",
            self.findings.len(),
            if self.repaired {
                format!(
                    ", {} repaired",
                    self.findings.len() - self.not_repaired.len()
                )
            } else {
                " (run with --repair to fix)".to_owned()
            }
        )?;
        for finding in &self.findings {
            writeln!(f, "  {finding}")?;
        }
        for finding in &self.not_repaired {
            writeln!(f, "  not repaired: {finding}")?;
        }
        Ok(())
    }
}

type FileKey = (String, String, ClipKind);

/// Clip files by key, stray temp files, unknown entries.
type Scan = (
    BTreeMap<FileKey, PathBuf>,
    Vec<FsckFinding>,
    Vec<FsckFinding>,
);

impl Store {
    /// Checks the index against the clip files; with `repair`, fixes what it found
    /// (see the module table). Reads every stored byte to check digests.
    pub fn fsck(&self, repair: bool) -> Result<FsckReport> {
        self.fsck_with(repair, true)
    }

    /// [`Store::fsck`] that checks sizes but reads no stored file (only files without a
    /// row are hashed): what a crash can leave, found in milliseconds — for the hub to run
    /// at every start. Silent corruption needs the full [`Store::fsck`].
    pub fn fsck_quick(&self, repair: bool) -> Result<FsckReport> {
        self.fsck_with(repair, false)
    }

    fn fsck_with(&self, repair: bool, verify_digests: bool) -> Result<FsckReport> {
        let mut report = FsckReport::default();
        let (rows, garbage, db_messages, totals) = {
            let conn = self.conn();
            let totals = (totals_tx(&conn)?, counted_totals_tx(&conn)?);
            let rows = all_clips(&conn)?;
            let garbage: i64 = conn
                .query_row("SELECT COUNT(*) FROM clip_garbage", [], |r| r.get(0))
                .ctx(|| "count clip garbage".into())?;
            (rows, garbage as u64, database_checks(&conn)?, totals)
        };
        if totals.0 != totals.1 {
            report.findings.push(FsckFinding::TotalsDrift {
                recorded: totals.0,
                counted: totals.1,
            });
        }
        report.clips_checked = rows.len() as u64;
        for message in db_messages {
            report.findings.push(FsckFinding::Database { message });
        }
        if garbage > 0 {
            report
                .findings
                .push(FsckFinding::PendingDeletions { count: garbage });
        }

        let (mut files, strays, unknown) = self.scan_clip_files()?;
        for row in &rows {
            for (kind, stored) in [
                (ClipKind::Video, row.video),
                (ClipKind::Thumbnail, row.thumbnail),
            ] {
                let Some(stored) = stored else { continue };
                let key = (row.device_id.clone(), row.clip_id.clone(), kind);
                let Some(path) = files.remove(&key) else {
                    report.findings.push(FsckFinding::MissingFile {
                        device_id: row.device_id.clone(),
                        clip_id: row.clip_id.clone(),
                        kind,
                    });
                    continue;
                };
                let (bytes, sha) = if verify_digests {
                    measure(&path)?
                } else {
                    let len = std::fs::metadata(&path)
                        .map_err(io_err("stat", &path))?
                        .len();
                    (len, stored.sha256)
                };
                report.files_checked += 1;
                if verify_digests {
                    report.bytes_checked += bytes;
                }
                if bytes != stored.bytes {
                    report.findings.push(FsckFinding::SizeMismatch {
                        device_id: row.device_id.clone(),
                        clip_id: row.clip_id.clone(),
                        kind,
                        indexed: stored.bytes,
                        on_disk: bytes,
                    });
                } else if sha != stored.sha256 {
                    report.findings.push(FsckFinding::DigestMismatch {
                        device_id: row.device_id.clone(),
                        clip_id: row.clip_id.clone(),
                        kind,
                        indexed: stored.sha256,
                        on_disk: sha,
                    });
                }
            }
        }
        for ((device_id, clip_id, kind), path) in files {
            let (bytes, sha256) = measure(&path)?;
            report.files_checked += 1;
            report.bytes_checked += bytes;
            report.findings.push(FsckFinding::OrphanFile {
                device_id,
                clip_id,
                kind,
                bytes,
                sha256,
            });
        }
        report.findings.extend(strays);
        report.findings.extend(unknown);
        report.findings.extend(
            crate::private::open_to_others(&self.data_dir)
                .into_iter()
                .map(|(path, mode)| FsckFinding::OpenToOthers { path, mode }),
        );

        if repair && !report.is_clean() {
            report.not_repaired = self.repair(&report.findings)?;
            report.repaired = true;
        }
        Ok(report)
    }

    /// Clip files by (device, clip, kind), stray temp files and unknown entries.
    fn scan_clip_files(&self) -> Result<Scan> {
        let mut files = BTreeMap::new();
        let mut strays = Vec::new();
        let mut unknown = Vec::new();
        let clips_dir = self.clips_dir();
        for dev_entry in read_dir_sorted(&clips_dir)? {
            let name = dev_entry
                .file_name()
                .unwrap_or_default()
                .to_string_lossy()
                .into_owned();
            if !dev_entry.is_dir() || check_device_id(&name).is_err() {
                unknown.push(FsckFinding::UnknownFile { path: dev_entry });
                continue;
            }
            for path in read_dir_sorted(&dev_entry)? {
                let file_name = path
                    .file_name()
                    .unwrap_or_default()
                    .to_string_lossy()
                    .into_owned();
                if file_name.starts_with(".tmp-") && path.is_file() {
                    if self.temp_is_live(&path) {
                        continue;
                    }
                    let bytes = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
                    strays.push(FsckFinding::StrayTemp { path, bytes });
                    continue;
                }
                let parsed = file_name
                    .rsplit_once('.')
                    .and_then(|(stem, ext)| Some((stem, ClipKind::from_extension(ext)?)))
                    .filter(|(stem, _)| check_clip_id(stem).is_ok());
                match parsed {
                    Some((stem, kind)) if path.is_file() => {
                        files.insert((name.clone(), stem.to_owned(), kind), path);
                    }
                    _ => unknown.push(FsckFinding::UnknownFile { path }),
                }
            }
        }
        Ok((files, strays, unknown))
    }

    /// Whether a temp file belongs to an upload in progress: ours in flight, or named
    /// with the pid of another live process.
    fn temp_is_live(&self, path: &Path) -> bool {
        if self.in_flight_set().contains(path) {
            return true;
        }
        let name = path.file_name().unwrap_or_default().to_string_lossy();
        let pid = name
            .rsplit_once('.')
            .and_then(|(_, tail)| tail.split_once('-'))
            .and_then(|(pid, _)| pid.parse::<u32>().ok());
        match pid {
            Some(pid) if pid == std::process::id() => false,
            Some(pid) => Path::new(&format!("/proc/{pid}")).exists(),
            None => false,
        }
    }

    /// Acts on findings under the write lock, re-checking each; returns those it did not fix.
    fn repair(&self, findings: &[FsckFinding]) -> Result<Vec<FsckFinding>> {
        let now = self.now_ms();
        let mut not_repaired = Vec::new();
        let mut conn = self.conn();
        let tx = conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .ctx(|| "start fsck repairs".into())?;
        let mut touched_dirs = std::collections::BTreeSet::new();
        for finding in findings {
            let fixed = match finding {
                FsckFinding::MissingFile {
                    device_id,
                    clip_id,
                    kind,
                } => {
                    let path = self.file_path(device_id, clip_id, *kind);
                    let still =
                        indexed(&tx, device_id, clip_id, *kind)?.is_some() && !path.exists();
                    if still {
                        forget_file(&tx, device_id, clip_id, *kind)?;
                    }
                    still
                }
                FsckFinding::SizeMismatch {
                    device_id,
                    clip_id,
                    kind,
                    ..
                }
                | FsckFinding::DigestMismatch {
                    device_id,
                    clip_id,
                    kind,
                    ..
                } => {
                    let path = self.file_path(device_id, clip_id, *kind);
                    let still = match (indexed(&tx, device_id, clip_id, *kind)?, path.exists()) {
                        (Some(stored), true) => measure(&path)? != (stored.bytes, stored.sha256),
                        _ => false,
                    };
                    if still {
                        let qdir = self.data_dir.join(QUARANTINE_DIR).join(device_id);
                        crate::private::create_private_dir(&qdir)
                            .map_err(io_err("create", &qdir))?;
                        let target = qdir.join(format!("{clip_id}.{}.{now}", kind.extension()));
                        std::fs::rename(&path, &target).map_err(io_err("quarantine", &path))?;
                        sync_dir(&qdir)?;
                        touched_dirs.insert(self.device_dir(device_id));
                        forget_file(&tx, device_id, clip_id, *kind)?;
                    }
                    still
                }
                FsckFinding::OrphanFile {
                    device_id,
                    clip_id,
                    kind,
                    ..
                } => {
                    let path = self.file_path(device_id, clip_id, *kind);
                    let still = indexed(&tx, device_id, clip_id, *kind)?.is_none() && path.exists();
                    if still {
                        // Measure again under the lock: this is what gets indexed.
                        let (bytes, sha) = measure(&path)?;
                        let (bytes_col, sha_col) = kind.columns();
                        tx.execute(
                            &format!(
                                "INSERT INTO clips (device_id, clip_id, created_ms, sort_ts, {bytes_col}, {sha_col})
                                 VALUES (?1, ?2, ?3, ?3, ?4, ?5)
                                 ON CONFLICT (device_id, clip_id) DO UPDATE SET {bytes_col} = ?4, {sha_col} = ?5"
                            ),
                            params![device_id, clip_id, ms(now), ms(bytes), sha.to_string()],
                        )
                        .ctx(|| format!("adopt {device_id}/{clip_id}.{}", kind.extension()))?;
                    }
                    still
                }
                FsckFinding::StrayTemp { path, .. } => {
                    let still = path.exists() && !self.temp_is_live(path);
                    if still {
                        std::fs::remove_file(path).map_err(io_err("delete", path))?;
                        if let Some(dir) = path.parent() {
                            touched_dirs.insert(dir.to_owned());
                        }
                    }
                    still
                }
                FsckFinding::OpenToOthers { path, .. } => crate::private::restrict(path)
                    .map_err(io_err("restrict permissions of", path))?,
                FsckFinding::PendingDeletions { .. } => true, // finished after the commit
                FsckFinding::TotalsDrift { .. } => true,      // recounted below
                FsckFinding::UnknownFile { .. } | FsckFinding::Database { .. } => false,
            };
            if !fixed {
                not_repaired.push(finding.clone());
            }
        }
        // Recount last, after the repairs above changed rows.
        tx.execute(
            "UPDATE clip_totals SET (clips, bytes) = (SELECT COUNT(*),
                 COALESCE(SUM(COALESCE(video_bytes, 0) + COALESCE(thumb_bytes, 0)), 0) FROM clips)
             WHERE id = 1",
            [],
        )
        .ctx(|| "recount the clip totals".into())?;
        tx.commit().ctx(|| "commit fsck repairs".into())?;
        collect_garbage_conn(&conn, self)?;
        for dir in touched_dirs {
            sync_dir(&dir)?;
        }
        Ok(not_repaired)
    }
}

fn indexed(
    conn: &rusqlite::Connection,
    device: &str,
    clip_id: &str,
    kind: ClipKind,
) -> Result<Option<StoredFile>> {
    Ok(
        clip_tx(conn, device, clip_id)?.and_then(|c: ClipInfo| match kind {
            ClipKind::Video => c.video,
            ClipKind::Thumbnail => c.thumbnail,
        }),
    )
}

/// Clears a file's columns; drops the row if nothing (video, thumbnail, metadata) is left.
fn forget_file(
    conn: &rusqlite::Connection,
    device: &str,
    clip_id: &str,
    kind: ClipKind,
) -> Result<()> {
    let (bytes_col, sha_col) = kind.columns();
    conn.execute(
        &format!(
            "UPDATE clips SET {bytes_col} = NULL, {sha_col} = NULL WHERE device_id = ?1 AND clip_id = ?2"
        ),
        params![device, clip_id],
    )
    .ctx(|| format!("forget {device}/{clip_id}.{}", kind.extension()))?;
    conn.execute(
        "DELETE FROM clips WHERE device_id = ?1 AND clip_id = ?2
         AND video_sha256 IS NULL AND thumb_sha256 IS NULL AND meta IS NULL",
        params![device, clip_id],
    )
    .ctx(|| format!("drop the empty row {device}/{clip_id}"))?;
    Ok(())
}

fn database_checks(conn: &rusqlite::Connection) -> Result<Vec<String>> {
    let mut messages = Vec::new();
    let mut stmt = conn
        .prepare("PRAGMA integrity_check")
        .ctx(|| "run integrity_check".into())?;
    let rows = stmt
        .query_map([], |r| r.get::<_, String>(0))
        .and_then(|rows| rows.collect::<Result<Vec<_>, _>>())
        .ctx(|| "run integrity_check".into())?;
    messages.extend(rows.into_iter().filter(|m| m != "ok"));
    let mut stmt = conn
        .prepare("PRAGMA foreign_key_check")
        .ctx(|| "run foreign_key_check".into())?;
    let fk = stmt
        .query_map([], |r| {
            Ok(format!(
                "row {} of {} refers to a missing {}",
                r.get::<_, Option<i64>>(1)?.unwrap_or(-1),
                r.get::<_, String>(0)?,
                r.get::<_, String>(2)?
            ))
        })
        .and_then(|rows| rows.collect::<Result<Vec<_>, _>>())
        .ctx(|| "run foreign_key_check".into())?;
    messages.extend(fk);
    Ok(messages)
}

fn read_dir_sorted(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(out),
        Err(e) => {
            return Err(StoreError::Io {
                op: "list",
                path: dir.to_owned(),
                source: e,
            });
        }
    };
    for entry in entries {
        out.push(entry.map_err(io_err("list", dir))?.path());
    }
    out.sort();
    Ok(out)
}

/// Size and SHA-256 of a file, by reading it.
fn measure(path: &Path) -> Result<(u64, Sha256Hex)> {
    let mut file = File::open(path).map_err(io_err("open", path))?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 64 * 1024];
    let mut total = 0u64;
    loop {
        let n = file.read(&mut buf).map_err(io_err("read", path))?;
        if n == 0 {
            break;
        }
        total += n as u64;
        hasher.update(&buf[..n]);
    }
    Ok((total, Sha256Hex(hasher.finalize().into())))
}
