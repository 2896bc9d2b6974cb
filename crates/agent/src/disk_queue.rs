//! The offline queue's folder: where the camera's [`OfflineQueue`] keeps its items, so
//! that they survive a kill -9 at any moment (the queue's rules are the camera crate's).
//!
//! One file per item, `<seq>.item` (20 digits, so names sort in order), written as a
//! temporary file, fsynced, renamed into place and the folder fsynced. A crash leaves
//! either the whole item or only a `*.tmp` that opening deletes. `next_seq` holds the
//! next sequence number, written the same way.

use std::fs::{self, File};
use std::io::{Read, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use watchlight_camera::queue::{OfflineQueue, QueueError, QueueStore};

const SEQ_FILE: &str = "next_seq";

/// The queue kept in a folder.
pub type DiskQueue = OfflineQueue<DiskStore>;

/// Opens (creating if needed) the queue kept in `dir` with a budget of `budget_bytes`.
pub fn open(dir: impl AsRef<Path>, budget_bytes: u64) -> Result<DiskQueue, QueueError> {
    OfflineQueue::open(DiskStore::open(dir)?, budget_bytes)
}

/// A folder of item files.
#[derive(Debug)]
pub struct DiskStore {
    dir: PathBuf,
    /// Fault injection: fail (as if killed) after this many more durable steps.
    crash_after: Option<u32>,
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> QueueError + '_ {
    move |source| QueueError::Io {
        path: path.to_path_buf(),
        source,
    }
}

fn item_name(seq: u64) -> String {
    format!("{seq:020}.item")
}

impl DiskStore {
    /// Opens (creating if needed) the folder `dir` and deletes what a crash left half
    /// written.
    pub fn open(dir: impl AsRef<Path>) -> Result<DiskStore, QueueError> {
        let dir = dir.as_ref().to_path_buf();
        // Clips of the home and their events: the camera user's alone (0700, files 0600).
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&dir)
            .map_err(io_err(&dir))?;
        fs::set_permissions(&dir, fs::Permissions::from_mode(0o700)).map_err(io_err(&dir))?;
        for entry in fs::read_dir(&dir).map_err(io_err(&dir))? {
            let entry = entry.map_err(io_err(&dir))?;
            if entry.file_name().to_string_lossy().ends_with(".tmp") {
                let path = entry.path();
                fs::remove_file(&path).map_err(io_err(&path))?;
            }
        }
        Ok(DiskStore {
            dir,
            crash_after: None,
        })
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Tests only: fail as if the process were killed after `steps` more durable steps
    /// (file writes, renames, deletions), leaving what a real kill would. The queue must
    /// then be dropped and opened again, as after a real crash.
    #[doc(hidden)]
    pub fn inject_crash_after(&mut self, steps: u32) {
        self.crash_after = Some(steps);
    }

    fn step(&mut self) -> Result<(), QueueError> {
        match self.crash_after {
            Some(0) => Err(QueueError::InjectedCrash),
            Some(n) => {
                self.crash_after = Some(n - 1);
                Ok(())
            }
            None => Ok(()),
        }
    }

    /// Temporary file, fsync, rename, fsync of the folder. A crash injected half-way
    /// through the data leaves a partial temporary file, as a real one would.
    fn write_atomic(&mut self, path: &Path, parts: &[&[u8]]) -> Result<(), QueueError> {
        let tmp = path.with_extension("tmp");
        let mut file = fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&tmp)
            .map_err(io_err(&tmp))?;
        for part in parts {
            if self.crash_after == Some(0) {
                file.write_all(&part[..part.len() / 2])
                    .map_err(io_err(&tmp))?;
                return Err(QueueError::InjectedCrash);
            }
            file.write_all(part).map_err(io_err(&tmp))?;
        }
        self.step()?;
        file.sync_all().map_err(io_err(&tmp))?;
        drop(file);
        self.step()?;
        fs::rename(&tmp, path).map_err(io_err(path))?;
        self.sync_dir()
    }

    fn sync_dir(&self) -> Result<(), QueueError> {
        File::open(&self.dir)
            .and_then(|d| d.sync_all())
            .map_err(io_err(&self.dir))
    }
}

impl QueueStore for DiskStore {
    fn items(&mut self) -> Result<Vec<(u64, u64)>, QueueError> {
        let mut items = Vec::new();
        for entry in fs::read_dir(&self.dir).map_err(io_err(&self.dir))? {
            let entry = entry.map_err(io_err(&self.dir))?;
            let name = entry.file_name().to_string_lossy().into_owned();
            let Some(seq) = name
                .strip_suffix(".item")
                .and_then(|s| s.parse::<u64>().ok())
            else {
                continue;
            };
            let path = entry.path();
            let size = entry.metadata().map_err(io_err(&path))?.len();
            items.push((seq, size));
        }
        Ok(items)
    }

    fn read(&self, seq: u64, limit: Option<usize>) -> Result<Vec<u8>, QueueError> {
        let path = self.dir.join(item_name(seq));
        let file = File::open(&path).map_err(io_err(&path))?;
        let mut bytes = Vec::new();
        match limit {
            Some(n) => file.take(n as u64).read_to_end(&mut bytes),
            None => (&file).read_to_end(&mut bytes),
        }
        .map_err(io_err(&path))?;
        Ok(bytes)
    }

    fn write(&mut self, seq: u64, parts: &[&[u8]]) -> Result<(), QueueError> {
        let path = self.dir.join(item_name(seq));
        self.write_atomic(&path, parts)
    }

    fn remove(&mut self, seq: u64) -> Result<(), QueueError> {
        self.step()?;
        let path = self.dir.join(item_name(seq));
        match fs::remove_file(&path) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(io_err(&path)(e)),
        }
        self.sync_dir()
    }

    fn next_seq(&mut self) -> Result<Option<u64>, QueueError> {
        let path = self.dir.join(SEQ_FILE);
        let text = match fs::read_to_string(&path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(io_err(&path)(e)),
        };
        let seq = text
            .trim()
            .parse::<u64>()
            .map_err(|e| QueueError::Corrupt {
                item: path.display().to_string(),
                reason: format!("next_seq is not a number: {e}"),
            })?;
        Ok(Some(seq))
    }

    fn set_next_seq(&mut self, seq: u64) -> Result<(), QueueError> {
        let text = seq.to_string();
        self.write_atomic(&self.dir.join(SEQ_FILE), &[text.as_bytes()])
    }

    fn name(&self, seq: u64) -> String {
        self.dir.join(item_name(seq)).display().to_string()
    }
}
