//! The store's errors. Each names what it was doing and on what (file, device, clip), so
//! that a log line is enough to act on.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("cannot open the database {path}: {source}")]
    Open {
        path: PathBuf,
        source: rusqlite::Error,
    },
    #[error(
        "the database {path} has schema version {found}, this build knows versions up to {supported}: \
         it was written by a newer watchlight; run that version (or restore a backup)"
    )]
    SchemaTooNew {
        path: PathBuf,
        found: i64,
        supported: i64,
    },
    #[error("migration {version} of {path} failed (nothing of it was applied): {source}")]
    Migration {
        path: PathBuf,
        version: i64,
        source: rusqlite::Error,
    },
    #[error("database error while trying to {context}: {source}")]
    Sql {
        context: String,
        source: rusqlite::Error,
    },
    #[error("cannot {op} {path}: {source}")]
    Io {
        op: &'static str,
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("reading the upload of {kind} {device}/{clip} failed: {source}")]
    Upload {
        kind: &'static str,
        device: String,
        clip: String,
        source: std::io::Error,
    },
    #[error("invalid device id {0:?}: 1 to 64 of A-Z a-z 0-9 - _ (and not \"hub\")")]
    InvalidDeviceId(String),
    #[error("invalid clip id {0:?}: 1 to 128 of A-Z a-z 0-9 - _")]
    InvalidClipId(String),
    #[error("invalid SHA-256 {0:?}: expected 64 hex digits")]
    InvalidDigest(String),
    #[error("no device {0} in the registry")]
    UnknownDevice(String),
    #[error("device {0} already exists (remove it first)")]
    DeviceExists(String),
    #[error("another device already has serial {0}")]
    SerialInUse(String),
    #[error("an owner account already exists")]
    OwnerExists,
    #[error("there is no owner account yet")]
    NoOwner,
    #[error("command id {0} already exists")]
    CommandExists(String),
    #[error("settings of {device} refused: {source}")]
    Settings {
        device: String,
        source: watchlight_protocol::settings::SettingsError,
    },
    #[error("stored {what} is not valid JSON (the database was edited or is corrupt): {source}")]
    CorruptJson {
        what: String,
        source: serde_json::Error,
    },
    #[error("stored {what} has an unknown value {value:?}")]
    CorruptValue { what: String, value: String },
}

impl StoreError {
    /// The disk (or the filesystem quota) is full: nothing of the write was kept, and the
    /// same write works again once there is room. Callers answer 507, keep the hub light
    /// and notice in memory, and must not acknowledge what they could not store.
    pub fn is_storage_full(&self) -> bool {
        match self {
            StoreError::Open { source, .. }
            | StoreError::Migration { source, .. }
            | StoreError::Sql { source, .. } => {
                source.sqlite_error_code() == Some(rusqlite::ErrorCode::DiskFull)
            }
            StoreError::Io { source, .. } => is_full_io(source),
            _ => false,
        }
    }
}

/// ENOSPC or EDQUOT.
pub(crate) fn is_full_io(e: &std::io::Error) -> bool {
    matches!(
        e.kind(),
        std::io::ErrorKind::StorageFull | std::io::ErrorKind::QuotaExceeded
    )
}

/// The error SQLite gives when its file cannot grow ("database or disk is full").
pub(crate) fn sqlite_full(context: String) -> StoreError {
    StoreError::Sql {
        context,
        source: rusqlite::Error::SqliteFailure(
            rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_FULL),
            Some("database or disk is full".into()),
        ),
    }
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// Adds "while trying to ..." context to SQLite errors.
pub(crate) trait SqlContext<T> {
    fn ctx(self, context: impl FnOnce() -> String) -> Result<T>;
}

impl<T> SqlContext<T> for std::result::Result<T, rusqlite::Error> {
    fn ctx(self, context: impl FnOnce() -> String) -> Result<T> {
        self.map_err(|source| StoreError::Sql {
            context: context(),
            source,
        })
    }
}

pub(crate) fn io_err(
    op: &'static str,
    path: impl Into<PathBuf>,
) -> impl FnOnce(std::io::Error) -> StoreError {
    let path = path.into();
    move |source| StoreError::Io { op, path, source }
}
