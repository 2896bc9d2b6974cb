//! Shared test helpers: a store in a fresh folder on a manual clock.
#![allow(dead_code)]

use std::sync::Arc;
use watchlight_protocol::ProfileId;
use watchlight_store::{ManualClock, NewDevice, Sha256Hex, Store, TokenDigest};

/// 2026-01-01T00:00:00Z in hub ms: a realistic, round starting time.
pub const T0: u64 = 1_767_225_600_000;

pub struct Fixture {
    pub dir: tempfile::TempDir,
    pub clock: Arc<ManualClock>,
    pub store: Store,
}

pub fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::new(T0);
    let store = Store::open(dir.path(), clock.clone()).unwrap();
    Fixture { dir, clock, store }
}

impl Fixture {
    /// Another handle on the same folder and clock (a second process, say).
    pub fn reopen(&self) -> Store {
        Store::open(self.dir.path(), self.clock.clone()).unwrap()
    }

    pub fn add_device(&self, serial: &str) -> String {
        let id = format!("cam-{serial}");
        self.store
            .create_device(&NewDevice {
                id: id.clone(),
                serial: serial.into(),
                name: format!("Camera {serial}"),
                profile: ProfileId::Indoor,
                token: TokenDigest::of_token(&format!("token-{serial}")),
            })
            .unwrap();
        id
    }

    pub fn clip_path(&self, device: &str, clip: &str, ext: &str) -> std::path::PathBuf {
        self.dir
            .path()
            .join("clips")
            .join(device)
            .join(format!("{clip}.{ext}"))
    }

    /// Every file under clips/, relative, sorted.
    pub fn files(&self) -> Vec<String> {
        let mut out = Vec::new();
        let root = self.dir.path().join("clips");
        for d in std::fs::read_dir(&root).unwrap() {
            let d = d.unwrap().path();
            for f in std::fs::read_dir(&d).unwrap() {
                let f = f.unwrap().path();
                out.push(
                    f.strip_prefix(&root)
                        .unwrap()
                        .to_string_lossy()
                        .into_owned(),
                );
            }
        }
        out.sort();
        out
    }
}

pub fn sha(bytes: &[u8]) -> String {
    Sha256Hex::of(bytes).to_string()
}

/// Deterministic bytes standing in for a clip body.
pub fn body(seed: u8, len: usize) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed))
        .collect()
}

/// Writes a file the way the hub does (mode 0600): what a crash of a hub leaves.
pub fn write_as_hub(path: impl AsRef<std::path::Path>, data: impl AsRef<[u8]>) {
    use std::os::unix::fs::PermissionsExt;
    let path = path.as_ref();
    std::fs::write(path, data).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).unwrap();
}

/// Makes a folder the way the hub does (mode 0700).
pub fn mkdir_as_hub(path: impl AsRef<std::path::Path>) {
    watchlight_store::private::create_private_dir(path.as_ref()).unwrap();
}
