//! Each camera's latest snapshot: one JPEG file per camera under `<data>/snapshots/`,
//! replaced atomically (temp file, fsync, rename), so a reader sees the old picture or
//! the new one, never half of one. When it was taken is the file's modification time
//! (set to the camera's capture time before the rename): the file stays a plain JPEG.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Largest snapshot a camera may upload.
pub const MAX_SNAPSHOT_BYTES: usize = 4 * 1024 * 1024;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Snapshot {
    pub jpeg: Vec<u8>,
    /// When the camera captured it (hub ms).
    pub taken_at_ms: u64,
}

/// Whether `bytes` look like one whole JPEG (start and end markers).
pub fn is_jpeg(bytes: &[u8]) -> bool {
    bytes.len() >= 4 && bytes.starts_with(&[0xff, 0xd8]) && bytes.ends_with(&[0xff, 0xd9])
}

fn dir(data_dir: &Path) -> PathBuf {
    data_dir.join("snapshots")
}

/// `device` must be a valid device id (it names the file).
fn path(data_dir: &Path, device: &str) -> PathBuf {
    dir(data_dir).join(format!("{device}.jpg"))
}

/// Keeps `jpeg` as `device`'s latest snapshot.
pub fn save(data_dir: &Path, device: &str, jpeg: &[u8], taken_at_ms: u64) -> std::io::Result<()> {
    let dir = dir(data_dir);
    std::fs::create_dir_all(&dir)?;
    // A dot name that no snapshot has, unique among concurrent uploads.
    let tmp = dir.join(format!(
        ".{device}.{}.tmp",
        &crate::secrets::new_token()[..16]
    ));
    let written = (|| {
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&tmp)?;
        file.write_all(jpeg)?;
        file.set_modified(UNIX_EPOCH + Duration::from_millis(taken_at_ms))?;
        file.sync_all()?;
        std::fs::rename(&tmp, path(data_dir, device))
    })();
    if written.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    written?;
    std::fs::File::open(&dir)?.sync_all()
}

/// `device`'s latest snapshot, if it has one.
pub fn load(data_dir: &Path, device: &str) -> std::io::Result<Option<Snapshot>> {
    let path = path(data_dir, device);
    let jpeg = match std::fs::read(&path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e),
    };
    let taken_at_ms = std::fs::metadata(&path)?
        .modified()?
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0);
    Ok(Some(Snapshot { jpeg, taken_at_ms }))
}

/// Forgets `device`'s snapshot (a forgotten camera).
pub fn remove(data_dir: &Path, device: &str) {
    let _ = std::fs::remove_file(path(data_dir, device));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_snapshot_is_replaced_whole_and_keeps_when_it_was_taken() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(load(dir.path(), "cam-a").unwrap(), None);
        let first = b"\xff\xd8first\xff\xd9".to_vec();
        save(dir.path(), "cam-a", &first, 1_765_000_000_123).unwrap();
        let got = load(dir.path(), "cam-a").unwrap().unwrap();
        assert_eq!(got.jpeg, first);
        assert_eq!(got.taken_at_ms, 1_765_000_000_123);
        let second = b"\xff\xd8second\xff\xd9".to_vec();
        save(dir.path(), "cam-a", &second, 1_765_000_001_000).unwrap();
        let got = load(dir.path(), "cam-a").unwrap().unwrap();
        assert_eq!((got.jpeg, got.taken_at_ms), (second, 1_765_000_001_000));
        let names: Vec<_> = std::fs::read_dir(dir.path().join("snapshots"))
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, ["cam-a.jpg"], "no temp file left behind");
        remove(dir.path(), "cam-a");
        assert_eq!(load(dir.path(), "cam-a").unwrap(), None);
    }

    #[test]
    fn only_whole_jpegs_pass() {
        assert!(is_jpeg(b"\xff\xd8\x00\xff\xd9"));
        assert!(!is_jpeg(b"\xff\xd8\x00\x00"), "cut short");
        assert!(!is_jpeg(b"<html>"));
        assert!(!is_jpeg(b""));
    }
}
