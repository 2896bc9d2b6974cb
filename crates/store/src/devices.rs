//! Devices, their versioned settings, their availability as the hub computes it (SPEC
//! §4.2) and their last reported state.

use crate::error::{Result, SqlContext, StoreError};
use crate::{Store, TokenDigest, check_device_id, ms};
use rusqlite::{OptionalExtension, Transaction, params};
use watchlight_protocol::messages::{Availability, StateMsg};
use watchlight_protocol::{ProfileId, Settings, SettingsPatch};

/// A device as the registry knows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Device {
    pub id: String,
    pub serial: String,
    pub name: String,
    pub profile: ProfileId,
    /// SHA-256 of its MQTT/HTTP token; `None` once removed.
    pub token: Option<TokenDigest>,
    pub created_ms: u64,
    /// When it first reached the broker with its token.
    pub first_connected_ms: Option<u64>,
    pub removed_ms: Option<u64>,
}

/// What [`Store::create_device`] needs.
#[derive(Debug, Clone)]
pub struct NewDevice {
    pub id: String,
    pub serial: String,
    pub name: String,
    pub profile: ProfileId,
    pub token: TokenDigest,
}

/// The hub's current view of a device's availability.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AvailabilityRecord {
    pub availability: Availability,
    /// Why (e.g. `last_will`, `checkin_missed`, `connected`, `sleeping`).
    pub reason: String,
    pub since_ms: u64,
    pub last_seen_ms: Option<u64>,
}

/// One row of availability history.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AvailabilityChange {
    pub ts_ms: u64,
    pub availability: Availability,
    pub reason: String,
}

/// A device's last `state` message.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredState {
    pub state: StateMsg,
    pub received_ms: u64,
}

const DEVICE_COLS: &str =
    "id, serial, name, profile, token_sha256, created_ms, first_connected_ms, removed_ms";

impl Store {
    /// Adds a device with version 1 of its settings (defaults, named). A removed device
    /// with the same id is brought back (re-pairing a camera keeps its history).
    pub fn create_device(&self, new: &NewDevice) -> Result<Device> {
        check_device_id(&new.id)?;
        let now = self.now_ms();
        let mut conn = self.conn();
        let tx = conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .ctx(|| "start a transaction".into())?;
        if let Some(existing) = device_tx(&tx, &new.id)?
            && existing.removed_ms.is_none()
        {
            return Err(StoreError::DeviceExists(new.id.clone()));
        }
        let serial_taken: bool = tx
            .query_row(
                "SELECT 1 FROM devices WHERE serial = ?1 AND removed_ms IS NULL AND id <> ?2",
                params![new.serial, new.id],
                |_| Ok(()),
            )
            .optional()
            .ctx(|| format!("check serial {}", new.serial))?
            .is_some();
        if serial_taken {
            return Err(StoreError::SerialInUse(new.serial.clone()));
        }
        tx.execute(
            "INSERT INTO devices (id, serial, name, profile, token_sha256, created_ms)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)
             ON CONFLICT (id) DO UPDATE SET serial = ?2, name = ?3, profile = ?4,
                 token_sha256 = ?5, created_ms = ?6, first_connected_ms = NULL, removed_ms = NULL",
            params![
                new.id,
                new.serial,
                new.name,
                new.profile.as_str(),
                &new.token.0[..],
                ms(now)
            ],
        )
        .ctx(|| format!("create device {}", new.id))?;
        let previous_version: u64 = tx
            .query_row(
                "SELECT version FROM settings WHERE device_id = ?1",
                params![new.id],
                |r| r.get::<_, i64>(0),
            )
            .optional()
            .ctx(|| format!("read settings of {}", new.id))?
            .unwrap_or(0) as u64;
        let settings = Settings {
            version: previous_version + 1,
            name: new.name.clone(),
            ..Settings::default()
        };
        write_settings(&tx, &new.id, &settings, now)?;
        let device =
            device_tx(&tx, &new.id)?.ok_or_else(|| StoreError::UnknownDevice(new.id.clone()))?;
        tx.commit().ctx(|| format!("commit device {}", new.id))?;
        Ok(device)
    }

    /// A device by id, removed or not.
    pub fn device(&self, id: &str) -> Result<Option<Device>> {
        let mut conn = self.conn();
        let tx = conn.transaction().ctx(|| "start a transaction".into())?;
        device_tx(&tx, id)
    }

    /// The active device with this serial.
    pub fn device_by_serial(&self, serial: &str) -> Result<Option<Device>> {
        self.conn()
            .query_row(
                &format!(
                    "SELECT {DEVICE_COLS} FROM devices WHERE serial = ?1 AND removed_ms IS NULL"
                ),
                params![serial],
                device_row,
            )
            .optional()
            .ctx(|| format!("look up serial {serial}"))?
            .transpose()
    }

    /// Active (not removed) devices, by id.
    pub fn devices(&self) -> Result<Vec<Device>> {
        let conn = self.conn();
        let mut stmt = conn
            .prepare(&format!(
                "SELECT {DEVICE_COLS} FROM devices WHERE removed_ms IS NULL ORDER BY id"
            ))
            .ctx(|| "list devices".into())?;
        let rows = stmt
            .query_map([], device_row)
            .and_then(|rows| rows.collect::<Result<Vec<_>, _>>())
            .ctx(|| "list devices".into())?;
        rows.into_iter().collect()
    }

    /// Replaces a device's token (a pairing retry issues a fresh one).
    pub fn set_device_token(&self, id: &str, token: &TokenDigest) -> Result<()> {
        let n = self
            .conn()
            .execute(
                "UPDATE devices SET token_sha256 = ?2 WHERE id = ?1 AND removed_ms IS NULL",
                params![id, &token.0[..]],
            )
            .ctx(|| format!("set the token of {id}"))?;
        if n == 0 {
            return Err(StoreError::UnknownDevice(id.to_owned()));
        }
        Ok(())
    }

    /// Records the first time a device reached the broker. Returns true only that first time.
    pub fn mark_device_connected(&self, id: &str) -> Result<bool> {
        let n = self
            .conn()
            .execute(
                "UPDATE devices SET first_connected_ms = ?2
                 WHERE id = ?1 AND removed_ms IS NULL AND first_connected_ms IS NULL",
                params![id, ms(self.now_ms())],
            )
            .ctx(|| format!("mark {id} connected"))?;
        Ok(n > 0)
    }

    /// Marks a device removed and forgets its token; its history and clips stay.
    pub fn remove_device(&self, id: &str) -> Result<bool> {
        let n = self
            .conn()
            .execute(
                "UPDATE devices SET removed_ms = ?2, token_sha256 = NULL
                 WHERE id = ?1 AND removed_ms IS NULL",
                params![id, ms(self.now_ms())],
            )
            .ctx(|| format!("remove device {id}"))?;
        Ok(n > 0)
    }

    /// The device's current settings document.
    pub fn settings(&self, device: &str) -> Result<Settings> {
        let mut conn = self.conn();
        let tx = conn.transaction().ctx(|| "start a transaction".into())?;
        read_settings(&tx, device)
    }

    /// Applies `patch`, bumps the version by one and keeps the old one in history.
    /// An invalid patch changes nothing and says which field is wrong.
    pub fn update_settings(&self, device: &str, patch: &SettingsPatch) -> Result<Settings> {
        self.check_room(|| format!("store the settings of {device}"))?;
        let now = self.now_ms();
        let mut conn = self.conn();
        let tx = conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .ctx(|| "start a transaction".into())?;
        let current = read_settings(&tx, device)?;
        let mut next = current
            .patched(patch)
            .map_err(|source| StoreError::Settings {
                device: device.to_owned(),
                source,
            })?;
        next.version = current.version + 1;
        write_settings(&tx, device, &next, now)?;
        if patch.name.is_some() {
            tx.execute(
                "UPDATE devices SET name = ?2 WHERE id = ?1",
                params![device, next.name],
            )
            .ctx(|| format!("rename {device}"))?;
        }
        tx.commit().ctx(|| format!("commit settings of {device}"))?;
        Ok(next)
    }

    /// A past version of a device's settings.
    pub fn settings_version(&self, device: &str, version: u64) -> Result<Option<Settings>> {
        let doc: Option<String> = self
            .conn()
            .query_row(
                "SELECT doc FROM settings_history WHERE device_id = ?1 AND version = ?2",
                params![device, ms(version)],
                |r| r.get(0),
            )
            .optional()
            .ctx(|| format!("read settings v{version} of {device}"))?;
        doc.map(|d| parse_json(&d, || format!("settings v{version} of {device}")))
            .transpose()
    }

    /// Sets the hub's view of a device's availability. History gets a row only when the
    /// value changes; returns whether it did.
    pub fn set_availability(
        &self,
        device: &str,
        availability: Availability,
        reason: &str,
    ) -> Result<bool> {
        self.check_room(|| format!("store the availability of {device}"))?;
        let now = self.now_ms();
        let mut conn = self.conn();
        let tx = conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .ctx(|| "start a transaction".into())?;
        let current: Option<String> = tx
            .query_row(
                "SELECT availability FROM availability WHERE device_id = ?1",
                params![device],
                |r| r.get(0),
            )
            .optional()
            .ctx(|| format!("read availability of {device}"))?;
        if current.as_deref() == Some(availability.as_str()) {
            return Ok(false);
        }
        let last_seen = (availability == Availability::Online).then(|| ms(now));
        tx.execute(
            "INSERT INTO availability (device_id, availability, reason, since_ms, last_seen_ms)
             VALUES (?1, ?2, ?3, ?4, ?5)
             ON CONFLICT (device_id) DO UPDATE SET availability = ?2, reason = ?3,
                 since_ms = ?4, last_seen_ms = COALESCE(?5, last_seen_ms)",
            params![device, availability.as_str(), reason, ms(now), last_seen],
        )
        .map_err(|e| unknown_device_or(e, device, "set availability"))?;
        tx.execute(
            "INSERT INTO availability_history (device_id, ts_ms, availability, reason)
             VALUES (?1, ?2, ?3, ?4)",
            params![device, ms(now), availability.as_str(), reason],
        )
        .ctx(|| format!("record availability of {device}"))?;
        tx.commit()
            .ctx(|| format!("commit availability of {device}"))?;
        Ok(true)
    }

    /// Notes that the device was heard from now (check-in deadlines survive a hub restart).
    pub fn note_seen(&self, device: &str) -> Result<()> {
        self.conn()
            .execute(
                "UPDATE availability SET last_seen_ms = ?2 WHERE device_id = ?1",
                params![device, ms(self.now_ms())],
            )
            .ctx(|| format!("note {device} seen"))?;
        Ok(())
    }

    pub fn availability(&self, device: &str) -> Result<Option<AvailabilityRecord>> {
        let row: Option<(String, String, i64, Option<i64>)> = self
            .conn()
            .query_row(
                "SELECT availability, reason, since_ms, last_seen_ms FROM availability WHERE device_id = ?1",
                params![device],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
            )
            .optional()
            .ctx(|| format!("read availability of {device}"))?;
        row.map(|(a, reason, since, seen)| {
            Ok(AvailabilityRecord {
                availability: parse_availability(&a)?,
                reason,
                since_ms: since as u64,
                last_seen_ms: seen.map(|v| v as u64),
            })
        })
        .transpose()
    }

    /// Availability changes of a device with `from_ms <= ts < to_ms`, oldest first.
    pub fn availability_history(
        &self,
        device: &str,
        from_ms: u64,
        to_ms: u64,
    ) -> Result<Vec<AvailabilityChange>> {
        let conn = self.conn();
        let mut stmt = conn
            .prepare(
                "SELECT ts_ms, availability, reason FROM availability_history
                 WHERE device_id = ?1 AND ts_ms >= ?2 AND ts_ms < ?3 ORDER BY ts_ms, id",
            )
            .ctx(|| format!("read availability history of {device}"))?;
        let rows = stmt
            .query_map(params![device, ms(from_ms), ms(to_ms)], |r| {
                Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?, r.get(2)?))
            })
            .and_then(|rows| rows.collect::<Result<Vec<_>, _>>())
            .ctx(|| format!("read availability history of {device}"))?;
        rows.into_iter()
            .map(|(ts, a, reason)| {
                Ok(AvailabilityChange {
                    ts_ms: ts as u64,
                    availability: parse_availability(&a)?,
                    reason,
                })
            })
            .collect()
    }

    /// Keeps a device's latest `state` message (an older `ts` does not replace a newer one).
    pub fn set_device_state(&self, device: &str, state: &StateMsg) -> Result<()> {
        self.check_room(|| format!("store the state of {device}"))?;
        let doc = serde_json::to_string(state).expect("StateMsg serializes");
        self.conn()
            .execute(
                "INSERT INTO device_state (device_id, ts_ms, doc, received_ms) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (device_id) DO UPDATE SET ts_ms = ?2, doc = ?3, received_ms = ?4
                 WHERE ?2 >= device_state.ts_ms",
                params![device, ms(state.ts), doc, ms(self.now_ms())],
            )
            .map_err(|e| unknown_device_or(e, device, "store state"))?;
        Ok(())
    }

    pub fn device_state(&self, device: &str) -> Result<Option<StoredState>> {
        let row: Option<(String, i64)> = self
            .conn()
            .query_row(
                "SELECT doc, received_ms FROM device_state WHERE device_id = ?1",
                params![device],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()
            .ctx(|| format!("read state of {device}"))?;
        row.map(|(doc, received)| {
            Ok(StoredState {
                state: parse_json(&doc, || format!("state of {device}"))?,
                received_ms: received as u64,
            })
        })
        .transpose()
    }
}

fn device_tx(tx: &Transaction<'_>, id: &str) -> Result<Option<Device>> {
    tx.query_row(
        &format!("SELECT {DEVICE_COLS} FROM devices WHERE id = ?1"),
        params![id],
        device_row,
    )
    .optional()
    .ctx(|| format!("read device {id}"))?
    .transpose()
}

fn device_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Result<Device>> {
    let id: String = r.get(0)?;
    let profile: String = r.get(3)?;
    let token: Option<Vec<u8>> = r.get(4)?;
    let device = Device {
        serial: r.get(1)?,
        name: r.get(2)?,
        profile: match profile.parse() {
            Ok(p) => p,
            Err(_) => {
                return Ok(Err(StoreError::CorruptValue {
                    what: format!("profile of {id}"),
                    value: profile,
                }));
            }
        },
        token: token.and_then(TokenDigest::from_blob),
        created_ms: r.get::<_, i64>(5)? as u64,
        first_connected_ms: r.get::<_, Option<i64>>(6)?.map(|v| v as u64),
        removed_ms: r.get::<_, Option<i64>>(7)?.map(|v| v as u64),
        id,
    };
    Ok(Ok(device))
}

fn read_settings(tx: &Transaction<'_>, device: &str) -> Result<Settings> {
    let doc: Option<String> = tx
        .query_row(
            "SELECT doc FROM settings WHERE device_id = ?1",
            params![device],
            |r| r.get(0),
        )
        .optional()
        .ctx(|| format!("read settings of {device}"))?;
    match doc {
        Some(d) => parse_json(&d, || format!("settings of {device}")),
        None => Err(StoreError::UnknownDevice(device.to_owned())),
    }
}

fn write_settings(tx: &Transaction<'_>, device: &str, s: &Settings, now: u64) -> Result<()> {
    let doc = serde_json::to_string(s).expect("Settings serializes");
    tx.execute(
        "INSERT INTO settings (device_id, version, doc, updated_ms) VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT (device_id) DO UPDATE SET version = ?2, doc = ?3, updated_ms = ?4",
        params![device, ms(s.version), doc, ms(now)],
    )
    .ctx(|| format!("write settings of {device}"))?;
    tx.execute(
        "INSERT OR REPLACE INTO settings_history (device_id, version, doc, ts_ms) VALUES (?1, ?2, ?3, ?4)",
        params![device, ms(s.version), doc, ms(now)],
    )
    .ctx(|| format!("keep settings history of {device}"))?;
    Ok(())
}

pub(crate) fn parse_json<T: serde::de::DeserializeOwned>(
    doc: &str,
    what: impl FnOnce() -> String,
) -> Result<T> {
    serde_json::from_str(doc).map_err(|source| StoreError::CorruptJson {
        what: what(),
        source,
    })
}

fn parse_availability(s: &str) -> Result<Availability> {
    match s {
        "online" => Ok(Availability::Online),
        "offline" => Ok(Availability::Offline),
        "sleeping" => Ok(Availability::Sleeping),
        other => Err(StoreError::CorruptValue {
            what: "availability".into(),
            value: other.into(),
        }),
    }
}

/// A foreign-key failure on a device column means "no such device".
pub(crate) fn unknown_device_or(e: rusqlite::Error, device: &str, what: &str) -> StoreError {
    if let rusqlite::Error::SqliteFailure(f, _) = &e
        && f.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_FOREIGNKEY
    {
        return StoreError::UnknownDevice(device.to_owned());
    }
    StoreError::Sql {
        context: format!("{what} of {device}"),
        source: e,
    }
}
