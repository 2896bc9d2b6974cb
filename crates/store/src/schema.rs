//! Numbered migrations. Each is applied once, in its own transaction, and recorded in
//! `schema_migrations`; a database that has a version this build does not know is refused
//! rather than guessed at. Never edit a released migration: add the next one.

use crate::error::{Result, SqlContext, StoreError};
use rusqlite::Connection;
use std::path::Path;

/// The migrations, in order; the version of `MIGRATIONS[i]` is `i + 1`.
pub(crate) const MIGRATIONS: &[&str] = &[
    MIGRATION_1,
    MIGRATION_2,
    include_str!("migrations/3_care.sql"),
    include_str!("migrations/4_doctor.sql"),
];

/// The newest schema version this build knows.
pub const SCHEMA_VERSION: i64 = MIGRATIONS.len() as i64;

const MIGRATION_1: &str = r#"
-- The single owner account (argon2id hash string made by the hub).
CREATE TABLE owner (
    id            INTEGER PRIMARY KEY CHECK (id = 1),
    name          TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    created_ms    INTEGER NOT NULL,
    updated_ms    INTEGER NOT NULL
);

-- Secrets are stored only as SHA-256 digests (32 bytes).
CREATE TABLE sessions (
    token_sha256 BLOB PRIMARY KEY CHECK (length(token_sha256) = 32),
    created_ms   INTEGER NOT NULL,
    expires_ms   INTEGER NOT NULL,
    last_seen_ms INTEGER NOT NULL
) WITHOUT ROWID;

CREATE TABLE api_tokens (
    id           INTEGER PRIMARY KEY,
    name         TEXT NOT NULL,
    token_sha256 BLOB NOT NULL UNIQUE CHECK (length(token_sha256) = 32),
    created_ms   INTEGER NOT NULL,
    last_used_ms INTEGER
);

CREATE TABLE pairing_attempts (
    id     INTEGER PRIMARY KEY,
    serial TEXT NOT NULL,
    ts_ms  INTEGER NOT NULL
);
CREATE INDEX pairing_attempts_serial_ts ON pairing_attempts (serial, ts_ms);

-- A pairing code is used up when its camera first reaches the hub.
CREATE TABLE pairing_codes_used (
    serial  TEXT PRIMARY KEY,
    used_ms INTEGER NOT NULL
) WITHOUT ROWID;

-- Devices are never deleted, only marked removed, so history keeps its references.
CREATE TABLE devices (
    id                 TEXT PRIMARY KEY,
    serial             TEXT NOT NULL,
    name               TEXT NOT NULL,
    profile            TEXT NOT NULL,
    token_sha256       BLOB CHECK (token_sha256 IS NULL OR length(token_sha256) = 32),
    created_ms         INTEGER NOT NULL,
    first_connected_ms INTEGER,
    removed_ms         INTEGER
);
CREATE UNIQUE INDEX devices_active_serial ON devices (serial) WHERE removed_ms IS NULL;

CREATE TABLE settings (
    device_id  TEXT PRIMARY KEY REFERENCES devices (id),
    version    INTEGER NOT NULL,
    doc        TEXT NOT NULL,
    updated_ms INTEGER NOT NULL
);

CREATE TABLE settings_history (
    device_id TEXT NOT NULL REFERENCES devices (id),
    version   INTEGER NOT NULL,
    doc       TEXT NOT NULL,
    ts_ms     INTEGER NOT NULL,
    PRIMARY KEY (device_id, version)
) WITHOUT ROWID;

-- Availability as computed by the hub (SPEC §4.2): the current value and its history.
CREATE TABLE availability (
    device_id    TEXT PRIMARY KEY REFERENCES devices (id),
    availability TEXT NOT NULL,
    reason       TEXT NOT NULL,
    since_ms     INTEGER NOT NULL,
    last_seen_ms INTEGER
);

CREATE TABLE availability_history (
    id           INTEGER PRIMARY KEY,
    device_id    TEXT NOT NULL REFERENCES devices (id),
    ts_ms        INTEGER NOT NULL,
    availability TEXT NOT NULL,
    reason       TEXT NOT NULL
);
CREATE INDEX availability_history_device_ts ON availability_history (device_id, ts_ms);

-- The last `state` message of each device, as received.
CREATE TABLE device_state (
    device_id   TEXT PRIMARY KEY REFERENCES devices (id),
    ts_ms       INTEGER NOT NULL,
    doc         TEXT NOT NULL,
    received_ms INTEGER NOT NULL
);

-- Telemetry at full resolution (kept 48 h, SPEC §7).
CREATE TABLE telemetry (
    device_id          TEXT NOT NULL,
    ts_ms              INTEGER NOT NULL,
    battery_resting_mv INTEGER,
    battery_loaded_mv  INTEGER,
    temperature_c      REAL,
    rssi_dbm           INTEGER,
    uptime_s           INTEGER NOT NULL,
    queue_bytes        INTEGER NOT NULL,
    reconnects         INTEGER NOT NULL
);
CREATE INDEX telemetry_device_ts ON telemetry (device_id, ts_ms);
CREATE INDEX telemetry_ts ON telemetry (ts_ms);

-- Roll-ups: 5-minute buckets (kept 30 days) and hourly ones (kept a year), one row per
-- metric. Rows merge (n, min, max, sum), so a late sample folds into an existing bucket.
CREATE TABLE telemetry_summary (
    device_id     TEXT NOT NULL,
    resolution_ms INTEGER NOT NULL,
    bucket_ms     INTEGER NOT NULL,
    metric        TEXT NOT NULL,
    n             INTEGER NOT NULL,
    min_v         REAL NOT NULL,
    max_v         REAL NOT NULL,
    sum_v         REAL NOT NULL,
    PRIMARY KEY (device_id, resolution_ms, bucket_ms, metric)
) WITHOUT ROWID;
CREATE INDEX telemetry_summary_res_bucket ON telemetry_summary (resolution_ms, bucket_ms);

-- Each (device, seq) once, whatever the redeliveries.
CREATE TABLE events (
    device_id   TEXT NOT NULL,
    seq         INTEGER NOT NULL,
    ts_ms       INTEGER NOT NULL,
    kind        TEXT NOT NULL,
    data        TEXT NOT NULL,
    received_ms INTEGER NOT NULL,
    PRIMARY KEY (device_id, seq)
);
CREATE INDEX events_ts ON events (ts_ms);

-- One row per clip the hub has heard of, by its video, its thumbnail or its metadata.
-- Invariant: video_sha256 IS NOT NULL => clips/<device>/<clip>.mp4 exists, complete,
-- with that size and digest; likewise thumb_* and <clip>.jpg. No device foreign key:
-- clips outlive a hub reset that forgets the cameras.
CREATE TABLE clips (
    device_id       TEXT NOT NULL,
    clip_id         TEXT NOT NULL,
    created_ms      INTEGER NOT NULL,
    sort_ts         INTEGER NOT NULL,
    video_bytes     INTEGER,
    video_sha256    TEXT,
    video_stored_ms INTEGER,
    thumb_bytes     INTEGER,
    thumb_sha256    TEXT,
    meta            TEXT,
    seen            INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (device_id, clip_id),
    CHECK ((video_bytes IS NULL) = (video_sha256 IS NULL)),
    CHECK ((thumb_bytes IS NULL) = (thumb_sha256 IS NULL))
);
CREATE INDEX clips_sort_ts ON clips (sort_ts);
CREATE INDEX clips_device_sort_ts ON clips (device_id, sort_ts);

-- Files whose rows are already gone and which are being unlinked: a crash between the
-- two steps is finished at the next open (or by fsck).
CREATE TABLE clip_garbage (
    id        INTEGER PRIMARY KEY,
    device_id TEXT NOT NULL,
    clip_id   TEXT NOT NULL,
    file_name TEXT NOT NULL,
    since_ms  INTEGER NOT NULL
);

CREATE TABLE commands (
    id         TEXT PRIMARY KEY,
    device_id  TEXT NOT NULL,
    name       TEXT NOT NULL,
    args       TEXT NOT NULL,
    created_ms INTEGER NOT NULL,
    expires_ms INTEGER,
    sent_ms    INTEGER,
    result_ms  INTEGER,
    ok         INTEGER,
    error      TEXT
);
CREATE INDEX commands_device_created ON commands (device_id, created_ms);

CREATE TABLE notices (
    id        INTEGER PRIMARY KEY,
    ts_ms     INTEGER NOT NULL,
    kind      TEXT NOT NULL,
    device_id TEXT,
    message   TEXT NOT NULL,
    data      TEXT NOT NULL,
    read      INTEGER NOT NULL DEFAULT 0
);

CREATE TABLE hub_state (
    id           INTEGER PRIMARY KEY CHECK (id = 1),
    mode         TEXT NOT NULL,
    home_cameras TEXT NOT NULL,
    updated_ms   INTEGER NOT NULL
);

CREATE TABLE config (
    key        TEXT PRIMARY KEY,
    value      TEXT NOT NULL,
    updated_ms INTEGER NOT NULL
) WITHOUT ROWID;
"#;

/// A running total of clip count and bytes, kept by triggers, so that a put need not
/// sum the whole index (measured: 10 ms more per put at 50,000 clips).
const MIGRATION_2: &str = r#"
CREATE TABLE clip_totals (
    id    INTEGER PRIMARY KEY CHECK (id = 1),
    clips INTEGER NOT NULL,
    bytes INTEGER NOT NULL
);
INSERT INTO clip_totals (id, clips, bytes)
    SELECT 1, COUNT(*), COALESCE(SUM(COALESCE(video_bytes, 0) + COALESCE(thumb_bytes, 0)), 0)
    FROM clips;

CREATE TRIGGER clip_totals_insert AFTER INSERT ON clips BEGIN
    UPDATE clip_totals SET clips = clips + 1,
        bytes = bytes + COALESCE(NEW.video_bytes, 0) + COALESCE(NEW.thumb_bytes, 0)
    WHERE id = 1;
END;

CREATE TRIGGER clip_totals_delete AFTER DELETE ON clips BEGIN
    UPDATE clip_totals SET clips = clips - 1,
        bytes = bytes - COALESCE(OLD.video_bytes, 0) - COALESCE(OLD.thumb_bytes, 0)
    WHERE id = 1;
END;

CREATE TRIGGER clip_totals_update AFTER UPDATE OF video_bytes, thumb_bytes ON clips BEGIN
    UPDATE clip_totals SET
        bytes = bytes + COALESCE(NEW.video_bytes, 0) + COALESCE(NEW.thumb_bytes, 0)
                      - COALESCE(OLD.video_bytes, 0) - COALESCE(OLD.thumb_bytes, 0)
    WHERE id = 1;
END;
"#;

/// Brings the database at `path` up to [`SCHEMA_VERSION`], or refuses a newer one.
pub(crate) fn migrate(conn: &mut Connection, path: &Path, now_ms: u64) -> Result<()> {
    conn.execute_batch(
        "CREATE TABLE IF NOT EXISTS schema_migrations (
             version    INTEGER PRIMARY KEY,
             applied_ms INTEGER NOT NULL
         )",
    )
    .ctx(|| "create the migrations table".into())?;
    loop {
        // IMMEDIATE: two processes opening a fresh database at once take turns.
        let tx = conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .ctx(|| "start a migration transaction".into())?;
        let current: i64 = tx
            .query_row(
                "SELECT COALESCE(MAX(version), 0) FROM schema_migrations",
                [],
                |r| r.get(0),
            )
            .ctx(|| "read the schema version".into())?;
        if current > SCHEMA_VERSION {
            return Err(StoreError::SchemaTooNew {
                path: path.to_owned(),
                found: current,
                supported: SCHEMA_VERSION,
            });
        }
        if current == SCHEMA_VERSION {
            return Ok(());
        }
        let version = current + 1;
        let migration_err = |source| StoreError::Migration {
            path: path.to_owned(),
            version,
            source,
        };
        tx.execute_batch(MIGRATIONS[(version - 1) as usize])
            .map_err(migration_err)?;
        tx.execute(
            "INSERT INTO schema_migrations (version, applied_ms) VALUES (?1, ?2)",
            rusqlite::params![version, now_ms as i64],
        )
        .map_err(migration_err)?;
        tx.commit().map_err(migration_err)?;
    }
}
