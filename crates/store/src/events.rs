//! Events (each `(device, seq)` once), commands with their results and expiry, and
//! notices for the owner.

use crate::clips::{ClipMeta, merge_meta_tx};
use crate::devices::parse_json;
use crate::error::{Result, SqlContext, StoreError};
use crate::{Store, ms};
use rusqlite::{OptionalExtension, params};
use serde_json::{Map, Value};
use watchlight_protocol::EventKind;
use watchlight_protocol::messages::{CmdResultMsg, EventMsg};

/// How long a command for a sleeping camera waits (SPEC §4.2).
pub const COMMAND_EXPIRY_MS: u64 = 10 * 60 * 1000;

/// What [`Store::insert_event`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventInsert {
    Inserted,
    /// This `(device, seq)` was already stored: nothing changed.
    Duplicate,
}

#[derive(Debug, Clone, PartialEq)]
pub struct StoredEvent {
    pub device_id: String,
    pub seq: u64,
    pub ts_ms: u64,
    /// The kind as sent (kept even when this build does not know it).
    pub kind: String,
    pub data: Map<String, Value>,
    pub received_ms: u64,
}

impl StoredEvent {
    pub fn kind(&self) -> EventKind {
        serde_json::from_value(Value::String(self.kind.clone())).unwrap_or(EventKind::Unknown)
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct NewCommand {
    pub id: String,
    pub device_id: String,
    /// One of `protocol::messages::COMMANDS`.
    pub name: String,
    pub args: Map<String, Value>,
    /// Hub time after which it is void; `None`: never.
    pub expires_ms: Option<u64>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CommandStatus {
    /// Waiting for the camera (sent or not yet).
    Pending,
    Ok {
        at_ms: u64,
    },
    Failed {
        at_ms: u64,
        error: String,
    },
    /// No result came before `expires_ms`.
    Expired,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Command {
    pub id: String,
    pub device_id: String,
    pub name: String,
    pub args: Map<String, Value>,
    pub created_ms: u64,
    pub expires_ms: Option<u64>,
    pub sent_ms: Option<u64>,
    pub status: CommandStatus,
}

/// What [`Store::record_command_result`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CommandResultOutcome {
    Recorded,
    /// A result was already stored; the first one stands.
    Duplicate,
    /// No command with this id for this device.
    UnknownCommand,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Notice {
    pub id: i64,
    pub ts_ms: u64,
    /// A stable label, e.g. `clips_deleted_for_space`, `storage_full`.
    pub kind: String,
    pub device_id: Option<String>,
    pub message: String,
    pub data: Value,
    pub read: bool,
}

/// Notice kinds the store itself writes.
pub mod notice_kind {
    pub const CLIPS_DELETED_FOR_SPACE: &str = "clips_deleted_for_space";
    pub const STORAGE_FULL: &str = "storage_full";
}

impl Store {
    /// Stores an event once per `(device, seq)`. A `clip_recorded` event's `data` is also
    /// merged into the clip's row (in either order with the video upload); if it does not
    /// parse as clip metadata the event is still stored.
    pub fn insert_event(&self, device: &str, event: &EventMsg) -> Result<EventInsert> {
        self.check_room(|| format!("store event {device}#{}", event.seq))?;
        let now = self.now_ms();
        let data = serde_json::to_string(&event.data).expect("a JSON map serializes");
        let mut conn = self.conn();
        let tx = conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .ctx(|| "start a transaction".into())?;
        let n = tx
            .execute(
                "INSERT INTO events (device_id, seq, ts_ms, kind, data, received_ms)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT (device_id, seq) DO NOTHING",
                params![
                    device,
                    ms(event.seq),
                    ms(event.ts),
                    kind_str(event),
                    data,
                    ms(now)
                ],
            )
            .ctx(|| format!("store event {device}#{}", event.seq))?;
        if n == 0 {
            return Ok(EventInsert::Duplicate);
        }
        if event.event == EventKind::ClipRecorded
            && let Ok(meta) = serde_json::from_value::<ClipMeta>(Value::Object(event.data.clone()))
            && crate::check_clip_id(&meta.clip_id).is_ok()
        {
            merge_meta_tx(&tx, device, &meta, now)?;
        }
        tx.commit()
            .ctx(|| format!("commit event {device}#{}", event.seq))?;
        Ok(EventInsert::Inserted)
    }

    /// The highest `seq` stored for a device (where a camera's replay can resume).
    pub fn last_event_seq(&self, device: &str) -> Result<Option<u64>> {
        self.conn()
            .query_row(
                "SELECT MAX(seq) FROM events WHERE device_id = ?1",
                params![device],
                |r| r.get::<_, Option<i64>>(0),
            )
            .map(|v| v.map(|v| v as u64))
            .ctx(|| format!("read the last event of {device}"))
    }

    /// Events with `from_ms <= ts < to_ms`, of one device or all, newest first, at most `limit`.
    pub fn events(
        &self,
        device: Option<&str>,
        from_ms: u64,
        to_ms: u64,
        limit: usize,
    ) -> Result<Vec<StoredEvent>> {
        let conn = self.conn();
        // Two statements, not one `(?1 IS NULL OR device_id = ?1)`: with the OR, SQLite
        // walks the time index over every camera's events and drops the others' one by
        // one; a 10,000-camera hub spent 79 % of its CPU there listing one camera.
        let sql = if device.is_some() {
            "SELECT device_id, seq, ts_ms, kind, data, received_ms FROM events
             WHERE device_id = ?1 AND ts_ms >= ?2 AND ts_ms < ?3
             ORDER BY ts_ms DESC, seq DESC LIMIT ?4"
        } else {
            "SELECT device_id, seq, ts_ms, kind, data, received_ms FROM events
             WHERE ?1 IS NULL AND ts_ms >= ?2 AND ts_ms < ?3
             ORDER BY ts_ms DESC, seq DESC LIMIT ?4"
        };
        let mut stmt = conn.prepare_cached(sql).ctx(|| "list events".into())?;
        let rows = stmt
            .query_map(params![device, ms(from_ms), ms(to_ms), limit as i64], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, i64>(1)?,
                    r.get::<_, i64>(2)?,
                    r.get::<_, String>(3)?,
                    r.get::<_, String>(4)?,
                    r.get::<_, i64>(5)?,
                ))
            })
            .and_then(|rows| rows.collect::<Result<Vec<_>, _>>())
            .ctx(|| "list events".into())?;
        rows.into_iter()
            .map(|(device_id, seq, ts, kind, data, received)| {
                Ok(StoredEvent {
                    data: parse_json(&data, || format!("data of event {device_id}#{seq}"))?,
                    device_id,
                    seq: seq as u64,
                    ts_ms: ts as u64,
                    kind,
                    received_ms: received as u64,
                })
            })
            .collect()
    }

    /// Records a command before it is published.
    pub fn insert_command(&self, cmd: &NewCommand) -> Result<Command> {
        let now = self.now_ms();
        let args = serde_json::to_string(&cmd.args).expect("a JSON map serializes");
        let n = self
            .conn()
            .execute(
                "INSERT INTO commands (id, device_id, name, args, created_ms, expires_ms)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT (id) DO NOTHING",
                params![
                    cmd.id,
                    cmd.device_id,
                    cmd.name,
                    args,
                    ms(now),
                    cmd.expires_ms.map(ms)
                ],
            )
            .ctx(|| format!("store command {} for {}", cmd.id, cmd.device_id))?;
        if n == 0 {
            return Err(StoreError::CommandExists(cmd.id.clone()));
        }
        Ok(Command {
            id: cmd.id.clone(),
            device_id: cmd.device_id.clone(),
            name: cmd.name.clone(),
            args: cmd.args.clone(),
            created_ms: now,
            expires_ms: cmd.expires_ms,
            sent_ms: None,
            status: CommandStatus::Pending,
        })
    }

    /// Notes that a command was published (again) now.
    pub fn mark_command_sent(&self, id: &str) -> Result<()> {
        self.conn()
            .execute(
                "UPDATE commands SET sent_ms = ?2 WHERE id = ?1",
                params![id, ms(self.now_ms())],
            )
            .ctx(|| format!("mark command {id} sent"))?;
        Ok(())
    }

    /// Stores a camera's `cmd_result`; only the device the command was for may answer it.
    pub fn record_command_result(
        &self,
        device: &str,
        result: &CmdResultMsg,
    ) -> Result<CommandResultOutcome> {
        let conn = self.conn();
        let existing: Option<Option<i64>> = conn
            .query_row(
                "SELECT result_ms FROM commands WHERE id = ?1 AND device_id = ?2",
                params![result.id, device],
                |r| r.get(0),
            )
            .optional()
            .ctx(|| format!("look up command {}", result.id))?;
        match existing {
            None => Ok(CommandResultOutcome::UnknownCommand),
            Some(Some(_)) => Ok(CommandResultOutcome::Duplicate),
            Some(None) => {
                let n = conn
                    .execute(
                        "UPDATE commands SET result_ms = ?2, ok = ?3, error = ?4
                     WHERE id = ?1 AND result_ms IS NULL",
                        params![
                            result.id,
                            ms(self.now_ms()),
                            result.ok,
                            result.error.as_deref()
                        ],
                    )
                    .ctx(|| format!("store the result of command {}", result.id))?;
                // Another handle may have stored one between the read and the update.
                Ok(if n == 1 {
                    CommandResultOutcome::Recorded
                } else {
                    CommandResultOutcome::Duplicate
                })
            }
        }
    }

    pub fn command(&self, id: &str) -> Result<Option<Command>> {
        let now = self.now_ms();
        let conn = self.conn();
        let row = conn
            .query_row(
                &format!("SELECT {COMMAND_COLS} FROM commands WHERE id = ?1"),
                params![id],
                command_row,
            )
            .optional()
            .ctx(|| format!("read command {id}"))?;
        row.map(|r| r.into_command(now)).transpose()
    }

    /// Commands of a device that have no result and have not expired, oldest first:
    /// what to (re)send when a sleeping camera checks in.
    pub fn pending_commands(&self, device: &str) -> Result<Vec<Command>> {
        let now = self.now_ms();
        self.query_commands(
            &format!(
                "SELECT {COMMAND_COLS} FROM commands WHERE device_id = ?1 AND result_ms IS NULL
                 AND (expires_ms IS NULL OR expires_ms > ?2) ORDER BY created_ms, id"
            ),
            params![device, ms(now)],
            now,
        )
    }

    /// A device's commands, newest first, at most `limit`.
    pub fn commands(&self, device: &str, limit: usize) -> Result<Vec<Command>> {
        let now = self.now_ms();
        self.query_commands(
            &format!(
                "SELECT {COMMAND_COLS} FROM commands WHERE device_id = ?1
                 ORDER BY created_ms DESC, id DESC LIMIT ?2"
            ),
            params![device, limit as i64],
            now,
        )
    }

    fn query_commands(
        &self,
        sql: &str,
        params: impl rusqlite::Params,
        now: u64,
    ) -> Result<Vec<Command>> {
        let conn = self.conn();
        let mut stmt = conn.prepare(sql).ctx(|| "list commands".into())?;
        let rows = stmt
            .query_map(params, command_row)
            .and_then(|rows| rows.collect::<Result<Vec<_>, _>>())
            .ctx(|| "list commands".into())?;
        rows.into_iter().map(|r| r.into_command(now)).collect()
    }

    /// Adds a notice for the owner; returns its id.
    pub fn add_notice(
        &self,
        kind: &str,
        device: Option<&str>,
        message: &str,
        data: &Value,
    ) -> Result<i64> {
        let conn = self.conn();
        add_notice_conn(&conn, self.now_ms(), kind, device, message, data)
    }

    /// Notices, most recently updated first, at most `limit`; only unread ones if
    /// `unread_only`. (A notice that gathers repeats, such as clips deleted for space,
    /// moves up when it gains one.)
    pub fn notices(&self, limit: usize, unread_only: bool) -> Result<Vec<Notice>> {
        query_notices(
            &self.conn(),
            "SELECT id, ts_ms, kind, device_id, message, data, read FROM notices
             WHERE (?2 = 0 OR read = 0) ORDER BY ts_ms DESC, id DESC LIMIT ?1",
            params![limit as i64, unread_only],
            "list notices",
        )
    }

    pub fn mark_notice_read(&self, id: i64) -> Result<bool> {
        let n = self
            .conn()
            .execute("UPDATE notices SET read = 1 WHERE id = ?1", params![id])
            .ctx(|| format!("mark notice {id} read"))?;
        Ok(n > 0)
    }
}

pub(crate) fn add_notice_conn(
    conn: &rusqlite::Connection,
    now: u64,
    kind: &str,
    device: Option<&str>,
    message: &str,
    data: &Value,
) -> Result<i64> {
    conn.execute(
        "INSERT INTO notices (ts_ms, kind, device_id, message, data) VALUES (?1, ?2, ?3, ?4, ?5)",
        params![ms(now), kind, device, message, data.to_string()],
    )
    .ctx(|| format!("add a {kind} notice"))?;
    Ok(conn.last_insert_rowid())
}

/// Runs a query that selects `id, ts_ms, kind, device_id, message, data, read` from
/// `notices`, and reads its rows; `what` names the query in errors.
pub(crate) fn query_notices(
    conn: &rusqlite::Connection,
    sql: &str,
    params: impl rusqlite::Params,
    what: &str,
) -> Result<Vec<Notice>> {
    let mut stmt = conn.prepare(sql).ctx(|| what.into())?;
    let rows = stmt
        .query_map(params, |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, i64>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, Option<String>>(3)?,
                r.get::<_, String>(4)?,
                r.get::<_, String>(5)?,
                r.get::<_, bool>(6)?,
            ))
        })
        .and_then(|rows| rows.collect::<Result<Vec<_>, _>>())
        .ctx(|| what.into())?;
    rows.into_iter()
        .map(|(id, ts, kind, device_id, message, data, read)| {
            Ok(Notice {
                data: parse_json(&data, || format!("data of notice {id}"))?,
                id,
                ts_ms: ts as u64,
                kind,
                device_id,
                message,
                read,
            })
        })
        .collect()
}

fn kind_str(event: &EventMsg) -> String {
    // Unknown kinds deserialize to `Unknown`; keep what we can say about them.
    event.event.as_str().to_owned()
}

const COMMAND_COLS: &str =
    "id, device_id, name, args, created_ms, expires_ms, sent_ms, result_ms, ok, error";

struct CommandRow {
    id: String,
    device_id: String,
    name: String,
    args: String,
    created_ms: i64,
    expires_ms: Option<i64>,
    sent_ms: Option<i64>,
    result_ms: Option<i64>,
    ok: Option<bool>,
    error: Option<String>,
}

fn command_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<CommandRow> {
    Ok(CommandRow {
        id: r.get(0)?,
        device_id: r.get(1)?,
        name: r.get(2)?,
        args: r.get(3)?,
        created_ms: r.get(4)?,
        expires_ms: r.get(5)?,
        sent_ms: r.get(6)?,
        result_ms: r.get(7)?,
        ok: r.get(8)?,
        error: r.get(9)?,
    })
}

impl CommandRow {
    fn into_command(self, now: u64) -> Result<Command> {
        let expires_ms = self.expires_ms.map(|v| v as u64);
        let status = match (self.result_ms, self.ok) {
            (Some(at), Some(true)) => CommandStatus::Ok { at_ms: at as u64 },
            (Some(at), _) => CommandStatus::Failed {
                at_ms: at as u64,
                error: self.error.unwrap_or_default(),
            },
            (None, _) if expires_ms.is_some_and(|e| e <= now) => CommandStatus::Expired,
            (None, _) => CommandStatus::Pending,
        };
        Ok(Command {
            args: parse_json(&self.args, || format!("args of command {}", self.id))?,
            id: self.id,
            device_id: self.device_id,
            name: self.name,
            created_ms: self.created_ms as u64,
            expires_ms,
            sent_ms: self.sent_ms.map(|v| v as u64),
            status,
        })
    }
}
