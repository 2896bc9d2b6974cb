//! The hub's data folder is private to the hub's user: folders 0700, files 0600 (the
//! database holds the owner's password hash, the folder holds the TLS key and device
//! clips). [`open_to_others`] finds what is not; fsck reports it and `--repair`
//! restricts it ([`restrict`]).

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

/// Mode of the data folder and every folder in it.
pub const DIR_MODE: u32 = 0o700;
/// Mode of every file in it.
pub const FILE_MODE: u32 = 0o600;

/// Every folder or file under (and including) `root` that its group or others may use,
/// with its mode. Symbolic links are not followed (their own mode means nothing).
pub fn open_to_others(root: &Path) -> Vec<(PathBuf, u32)> {
    let mut found = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(path) = stack.pop() {
        let Ok(meta) = std::fs::symlink_metadata(&path) else {
            continue; // gone meanwhile (a live hub deletes temp files)
        };
        if meta.file_type().is_symlink() {
            continue;
        }
        let mode = meta.permissions().mode() & 0o7777;
        if mode & 0o077 != 0 {
            found.push((path.clone(), mode));
        }
        if meta.is_dir()
            && let Ok(entries) = std::fs::read_dir(&path)
        {
            stack.extend(entries.flatten().map(|e| e.path()));
        }
    }
    found.sort();
    found
}

/// Gives `path` its private mode (0700 for a folder, 0600 for a file); `Ok(false)` if it
/// is gone or a symbolic link.
pub fn restrict(path: &Path) -> std::io::Result<bool> {
    let meta = match std::fs::symlink_metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(false),
        Err(e) => return Err(e),
    };
    if meta.file_type().is_symlink() {
        return Ok(false);
    }
    let mode = if meta.is_dir() { DIR_MODE } else { FILE_MODE };
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))?;
    Ok(true)
}

/// Creates `dir` (and its parents) and makes it private: what the hub does with its data
/// folder at every start.
pub fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(DIR_MODE)
        .create(dir)?;
    restrict(dir).map(|_| ())
}

use std::os::unix::fs::DirBuilderExt;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_and_restricts_what_others_can_read() {
        let root = tempfile::tempdir().unwrap();
        let data = root.path().join("data");
        create_private_dir(&data.join("clips/cam-1")).unwrap();
        std::fs::set_permissions(&data, std::fs::Permissions::from_mode(0o755)).unwrap();
        let clip = data.join("clips/cam-1/c.mp4");
        std::fs::write(&clip, b"x").unwrap();
        std::fs::set_permissions(&clip, std::fs::Permissions::from_mode(0o644)).unwrap();
        let secret = data.join("key");
        std::fs::write(&secret, b"k").unwrap();
        std::fs::set_permissions(&secret, std::fs::Permissions::from_mode(0o600)).unwrap();
        std::os::unix::fs::symlink("/etc/passwd", data.join("link")).unwrap();

        let found = open_to_others(&data);
        assert_eq!(found, vec![(data.clone(), 0o755), (clip.clone(), 0o644)]);
        for (path, _) in &found {
            assert!(restrict(path).unwrap());
        }
        assert!(open_to_others(&data).is_empty());
        assert!(!restrict(&data.join("link")).unwrap());
        assert!(!restrict(&data.join("gone")).unwrap());
    }
}
