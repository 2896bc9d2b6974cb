//! The hub's storage: a SQLite registry and a folder of clip files.
//!
//! A synchronous library; the hub calls it from blocking tasks. One [`Store`] is
//! `Send + Sync` and serialises its own writes; several `Store`s (threads or processes)
//! may open the same folder, SQLite's WAL mode and `BEGIN IMMEDIATE` keep them consistent.
//!
//! On disk, under the data folder (see `docs/storage.md` for the invariants):
//!
//! ```text
//! watchlight.db (+ -wal, -shm)     the registry
//! clips/<device_id>/<clip_id>.mp4  clip videos, complete and digest-checked
//! clips/<device_id>/<clip_id>.jpg  thumbnails
//! clips/<device_id>/.tmp-*         uploads in progress (removed by fsck after a crash)
//! quarantine/<device_id>/...       files fsck found corrupt, kept for a human
//! ```
//!
//! Time: every method that stamps a row reads the injected [`Clock`]; the periodic jobs
//! ([`Store::compact`], [`Store::retention`]) take `now` explicitly so tests drive them.

mod accounts;
mod care;
mod clips;
mod clock;
mod config;
mod devices;
mod digest;
mod doctor;
mod error;
mod events;
mod fsck;
pub mod private;
mod schema;
mod telemetry;

pub use accounts::{
    ApiToken, Owner, PAIRING_TRIES_PER_WINDOW, PAIRING_WINDOW_MS, PairingAttempt, Session,
};
pub use care::{
    BatteryReading, FindingRow, ReportTrigger, StoredNotification, StoredReport, WebhookRow,
};
pub use clips::{
    ClipInfo, ClipKind, ClipMeta, DeletedClip, DeletionReason, OpenedFile, PutOutcome,
    RetentionReport, StoredFile,
};
pub use clock::{Clock, ManualClock, SystemClock};
pub use config::{ArmMode, Arming, RetentionPolicy};
pub use devices::{AvailabilityChange, AvailabilityRecord, Device, NewDevice, StoredState};
pub use digest::{Sha256Hex, TokenDigest};
pub use doctor::{DoctorConfirmation, PriorCount};
pub use error::{Result, StoreError};
pub use events::{
    COMMAND_EXPIRY_MS, Command, CommandResultOutcome, CommandStatus, EventInsert, NewCommand,
    Notice, StoredEvent, notice_kind,
};
pub use fsck::{FsckFinding, FsckReport};
pub use schema::SCHEMA_VERSION;
pub use telemetry::{
    CompactionReport, FIVE_MINUTE_KEPT_MS, FULL_RESOLUTION_KEPT_MS, HISTORY_KEPT_MS,
    HOURLY_KEPT_MS, Metric, READ_NOTICES_KEPT_MS, Resolution, TelemetrySummary,
};

use error::{SqlContext, io_err};
use rusqlite::Connection;
use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

/// The database file's name inside the data folder.
pub const DB_FILE: &str = "watchlight.db";
/// The clips folder's name inside the data folder.
pub const CLIPS_DIR: &str = "clips";
/// Where fsck moves files whose content does not match the registry.
pub const QUARANTINE_DIR: &str = "quarantine";

/// Limits that are not owner settings.
#[derive(Debug, Clone)]
pub struct StoreOptions {
    /// Largest clip video accepted (bigger uploads get [`PutOutcome::TooLarge`]).
    pub max_clip_bytes: u64,
    /// Largest thumbnail accepted.
    pub max_thumbnail_bytes: u64,
    /// How long a writer waits for another process's write lock.
    pub busy_timeout: Duration,
}

impl Default for StoreOptions {
    fn default() -> Self {
        StoreOptions {
            max_clip_bytes: 256 * 1024 * 1024,
            max_thumbnail_bytes: 4 * 1024 * 1024,
            busy_timeout: Duration::from_secs(5),
        }
    }
}

/// The hub's registry and clip files. See the crate documentation.
pub struct Store {
    conn: Mutex<Connection>,
    data_dir: PathBuf,
    clock: Arc<dyn Clock>,
    options: StoreOptions,
    /// Fault injection ([`Store::inject_disk_full`]).
    disk_full: AtomicBool,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("data_dir", &self.data_dir)
            .finish_non_exhaustive()
    }
}

impl Store {
    /// Opens (creating if needed) the store in `data_dir`, applies pending migrations and
    /// finishes any clip deletion a crash interrupted.
    pub fn open(data_dir: impl AsRef<Path>, clock: Arc<dyn Clock>) -> Result<Store> {
        Store::open_with(data_dir, clock, StoreOptions::default())
    }

    /// [`Store::open`] with explicit limits.
    pub fn open_with(
        data_dir: impl AsRef<Path>,
        clock: Arc<dyn Clock>,
        options: StoreOptions,
    ) -> Result<Store> {
        let data_dir = data_dir.as_ref().to_owned();
        let clips_dir = data_dir.join(CLIPS_DIR);
        // The folder holds the owner's password hash and the home's clips: 0700, whatever
        // mode an older hub (or whoever made it) gave it.
        private::create_private_dir(&data_dir).map_err(io_err("create", &data_dir))?;
        if !clips_dir.is_dir() {
            private::create_private_dir(&clips_dir).map_err(io_err("create", &clips_dir))?;
            clips::sync_dir(&data_dir)?;
        }
        let path = data_dir.join(DB_FILE);
        let open_err = |source| StoreError::Open {
            path: path.clone(),
            source,
        };
        let mut conn = Connection::open(&path).map_err(open_err)?;
        // It holds the owner's password hash: readable by the hub's user only. SQLite
        // gives the -wal and -shm files the database file's mode.
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))
                .map_err(io_err("restrict permissions of", &path))?;
        }
        conn.busy_timeout(options.busy_timeout).map_err(open_err)?;
        // WAL: readers never block the writer; NORMAL is durable at each checkpoint and
        // never corrupt (a power cut may lose the last transactions, never half of one).
        let mode: String = conn
            .query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))
            .map_err(open_err)?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(open_err(rusqlite::Error::InvalidParameterName(format!(
                "journal_mode is {mode}, WAL is required"
            ))));
        }
        conn.execute_batch("PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON;")
            .map_err(open_err)?;
        schema::migrate(&mut conn, &path, clock.now_ms())?;
        let store = Store {
            conn: Mutex::new(conn),
            data_dir,
            clock,
            options,
            disk_full: AtomicBool::new(false),
        };
        store.collect_garbage()?;
        Ok(store)
    }

    /// The data folder this store lives in.
    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }

    /// The database file.
    pub fn db_path(&self) -> PathBuf {
        self.data_dir.join(DB_FILE)
    }

    /// The schema version of the open database.
    pub fn schema_version(&self) -> Result<i64> {
        self.conn()
            .query_row("SELECT MAX(version) FROM schema_migrations", [], |r| {
                r.get(0)
            })
            .ctx(|| "read the schema version".into())
    }

    /// Hub time now, from the injected clock.
    pub fn now_ms(&self) -> u64 {
        self.clock.now_ms()
    }

    fn conn(&self) -> MutexGuard<'_, Connection> {
        // A panic while holding the lock cannot leave a transaction open (rusqlite rolls
        // back on drop), so the connection is still usable.
        self.conn.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Fault injection for tests of a full disk: while set, the writes a full disk stops
    /// first fail exactly as they do then (SQLite's "database or disk is full", ENOSPC
    /// for clip bytes): events, clip files and their rows, notices and notifications,
    /// owner sessions, device state, availability, telemetry, settings and config.
    /// Reads and deletions go on. Never set outside tests.
    pub fn inject_disk_full(&self, full: bool) {
        self.disk_full.store(full, Ordering::Relaxed);
    }

    /// Fails as a full disk would while [`Store::inject_disk_full`] is set.
    pub(crate) fn check_room(&self, what: impl FnOnce() -> String) -> Result<()> {
        if self.disk_full.load(Ordering::Relaxed) {
            Err(error::sqlite_full(what()))
        } else {
            Ok(())
        }
    }

    fn disk_full_injected(&self) -> bool {
        self.disk_full.load(Ordering::Relaxed)
    }

    /// Temp files this process is writing now (any handle): fsck leaves them alone.
    fn in_flight_set(&self) -> MutexGuard<'static, HashSet<PathBuf>> {
        IN_FLIGHT_SET.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn clips_dir(&self) -> PathBuf {
        self.data_dir.join(CLIPS_DIR)
    }
}

static IN_FLIGHT_SET: std::sync::LazyLock<Mutex<HashSet<PathBuf>>> =
    std::sync::LazyLock::new(|| Mutex::new(HashSet::new()));

/// Checks a device id before it becomes part of a path or a topic.
pub(crate) fn check_device_id(id: &str) -> Result<()> {
    if watchlight_protocol::topics::is_valid_id(id) {
        Ok(())
    } else {
        Err(StoreError::InvalidDeviceId(id.chars().take(80).collect()))
    }
}

/// Checks a clip id before it becomes part of a file name (no dots, so no `..`).
pub(crate) fn check_clip_id(id: &str) -> Result<()> {
    if watchlight_protocol::messages::is_safe_id(id) {
        Ok(())
    } else {
        Err(StoreError::InvalidClipId(id.chars().take(80).collect()))
    }
}

pub(crate) fn ms(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}
