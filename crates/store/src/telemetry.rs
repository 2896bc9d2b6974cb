//! Telemetry history at three resolutions (SPEC §7): every sample for 48 hours,
//! 5-minute summaries for 30 days, hourly summaries for a year. [`Store::compact`] rolls
//! older data up one level and deletes what has aged out of the last level.
//!
//! A sample is folded into exactly one summary: the roll-up and the delete of what it
//! rolled up happen in one transaction, and summaries merge (count, min, max, sum), so a
//! sample that arrives late (a camera back after days offline) joins its bucket.

use crate::error::{Result, SqlContext, StoreError};
use crate::{Store, ms};
use rusqlite::params;
use watchlight_protocol::messages::TelemetryMsg;

pub const FULL_RESOLUTION_KEPT_MS: u64 = 48 * 3600 * 1000;
pub const FIVE_MINUTE_KEPT_MS: u64 = 30 * 24 * 3600 * 1000;
pub const HOURLY_KEPT_MS: u64 = 365 * 24 * 3600 * 1000;
/// Events, availability history and finished commands are kept as long as hourly telemetry.
pub const HISTORY_KEPT_MS: u64 = HOURLY_KEPT_MS;
/// Notices the owner has read are kept this long.
pub const READ_NOTICES_KEPT_MS: u64 = 90 * 24 * 3600 * 1000;

/// A summary resolution.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Resolution {
    FiveMinutes,
    Hourly,
}

impl Resolution {
    pub fn bucket_ms(self) -> u64 {
        match self {
            Resolution::FiveMinutes => 5 * 60 * 1000,
            Resolution::Hourly => 3600 * 1000,
        }
    }
}

/// The numeric fields of [`TelemetryMsg`], as summarised.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Metric {
    BatteryRestingMv,
    BatteryLoadedMv,
    TemperatureC,
    RssiDbm,
    UptimeS,
    QueueBytes,
    Reconnects,
}

impl Metric {
    pub const ALL: [Metric; 7] = [
        Metric::BatteryRestingMv,
        Metric::BatteryLoadedMv,
        Metric::TemperatureC,
        Metric::RssiDbm,
        Metric::UptimeS,
        Metric::QueueBytes,
        Metric::Reconnects,
    ];

    /// Its name: the [`TelemetryMsg`] field and the telemetry column.
    pub fn as_str(self) -> &'static str {
        match self {
            Metric::BatteryRestingMv => "battery_resting_mv",
            Metric::BatteryLoadedMv => "battery_loaded_mv",
            Metric::TemperatureC => "temperature_c",
            Metric::RssiDbm => "rssi_dbm",
            Metric::UptimeS => "uptime_s",
            Metric::QueueBytes => "queue_bytes",
            Metric::Reconnects => "reconnects",
        }
    }

    fn parse(s: &str) -> Option<Metric> {
        Metric::ALL.into_iter().find(|m| m.as_str() == s)
    }
}

/// One metric over one bucket.
#[derive(Debug, Clone, PartialEq)]
pub struct TelemetrySummary {
    pub bucket_ms: u64,
    pub resolution: Resolution,
    pub metric: Metric,
    pub count: u64,
    pub min: f64,
    pub max: f64,
    pub mean: f64,
}

/// What one [`Store::compact`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CompactionReport {
    /// Full-resolution samples folded into 5-minute summaries and deleted.
    pub samples_rolled_up: u64,
    /// 5-minute summary rows folded into hourly ones and deleted.
    pub five_minute_rolled_up: u64,
    /// Hourly summary rows older than a year, deleted.
    pub hourly_deleted: u64,
    pub sessions_expired: u64,
    pub pairing_attempts_pruned: u64,
    /// Events, availability changes and commands older than [`HISTORY_KEPT_MS`].
    pub history_pruned: u64,
    /// Read notices older than [`READ_NOTICES_KEPT_MS`].
    pub notices_pruned: u64,
}

const MERGE: &str = "ON CONFLICT (device_id, resolution_ms, bucket_ms, metric) DO UPDATE SET
    n = n + excluded.n, min_v = MIN(min_v, excluded.min_v),
    max_v = MAX(max_v, excluded.max_v), sum_v = sum_v + excluded.sum_v";

impl Store {
    /// Stores one telemetry sample at full resolution.
    pub fn insert_telemetry(&self, device: &str, t: &TelemetryMsg) -> Result<()> {
        self.check_room(|| format!("store telemetry of {device}"))?;
        self.conn()
            .execute(
                "INSERT INTO telemetry (device_id, ts_ms, battery_resting_mv, battery_loaded_mv,
                     temperature_c, rssi_dbm, uptime_s, queue_bytes, reconnects)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
                params![
                    device,
                    ms(t.ts),
                    t.battery_resting_mv,
                    t.battery_loaded_mv,
                    t.temperature_c.map(f64::from),
                    t.rssi_dbm,
                    ms(t.uptime_s),
                    ms(t.queue_bytes),
                    t.reconnects
                ],
            )
            .ctx(|| format!("store telemetry of {device}"))?;
        Ok(())
    }

    /// Full-resolution samples with `from_ms <= ts < to_ms`, oldest first.
    pub fn telemetry(&self, device: &str, from_ms: u64, to_ms: u64) -> Result<Vec<TelemetryMsg>> {
        self.telemetry_rows(device, from_ms, to_ms, "ORDER BY ts_ms, rowid")
    }

    /// The newest sample with `from_ms <= ts < to_ms` (what a camera's card shows: one
    /// indexed row, however many the window holds).
    pub fn latest_telemetry(
        &self,
        device: &str,
        from_ms: u64,
        to_ms: u64,
    ) -> Result<Option<TelemetryMsg>> {
        let rows = self.telemetry_rows(
            device,
            from_ms,
            to_ms,
            "ORDER BY ts_ms DESC, rowid DESC LIMIT 1",
        )?;
        Ok(rows.into_iter().next())
    }

    fn telemetry_rows(
        &self,
        device: &str,
        from_ms: u64,
        to_ms: u64,
        order: &str,
    ) -> Result<Vec<TelemetryMsg>> {
        let conn = self.conn();
        let mut stmt = conn
            .prepare_cached(&format!(
                "SELECT ts_ms, battery_resting_mv, battery_loaded_mv, temperature_c, rssi_dbm,
                     uptime_s, queue_bytes, reconnects
                 FROM telemetry WHERE device_id = ?1 AND ts_ms >= ?2 AND ts_ms < ?3 {order}"
            ))
            .ctx(|| format!("read telemetry of {device}"))?;
        let rows = stmt
            .query_map(params![device, ms(from_ms), ms(to_ms)], |r| {
                Ok(TelemetryMsg {
                    v: watchlight_protocol::messages::VERSION,
                    ts: r.get::<_, i64>(0)? as u64,
                    battery_resting_mv: r.get(1)?,
                    battery_loaded_mv: r.get(2)?,
                    temperature_c: r.get::<_, Option<f64>>(3)?.map(|v| v as f32),
                    rssi_dbm: r.get(4)?,
                    uptime_s: r.get::<_, i64>(5)? as u64,
                    queue_bytes: r.get::<_, i64>(6)? as u64,
                    reconnects: r.get(7)?,
                })
            })
            .and_then(|rows| rows.collect::<Result<Vec<_>, _>>())
            .ctx(|| format!("read telemetry of {device}"))?;
        Ok(rows)
    }

    /// Summaries at `resolution` with `from_ms <= bucket < to_ms`, by bucket then metric.
    pub fn telemetry_summaries(
        &self,
        device: &str,
        resolution: Resolution,
        from_ms: u64,
        to_ms: u64,
    ) -> Result<Vec<TelemetrySummary>> {
        let conn = self.conn();
        let mut stmt = conn
            .prepare(
                "SELECT bucket_ms, metric, n, min_v, max_v, sum_v FROM telemetry_summary
                 WHERE device_id = ?1 AND resolution_ms = ?2 AND bucket_ms >= ?3 AND bucket_ms < ?4
                 ORDER BY bucket_ms, metric",
            )
            .ctx(|| format!("read telemetry summaries of {device}"))?;
        let rows = stmt
            .query_map(
                params![device, ms(resolution.bucket_ms()), ms(from_ms), ms(to_ms)],
                |r| {
                    Ok((
                        r.get::<_, i64>(0)?,
                        r.get::<_, String>(1)?,
                        r.get::<_, i64>(2)?,
                        r.get::<_, f64>(3)?,
                        r.get::<_, f64>(4)?,
                        r.get::<_, f64>(5)?,
                    ))
                },
            )
            .and_then(|rows| rows.collect::<Result<Vec<_>, _>>())
            .ctx(|| format!("read telemetry summaries of {device}"))?;
        rows.into_iter()
            .map(|(bucket, metric, n, min, max, sum)| {
                let metric = Metric::parse(&metric).ok_or_else(|| StoreError::CorruptValue {
                    what: "telemetry metric".into(),
                    value: metric.clone(),
                })?;
                Ok(TelemetrySummary {
                    bucket_ms: bucket as u64,
                    resolution,
                    metric,
                    count: n as u64,
                    min,
                    max,
                    mean: if n > 0 { sum / n as f64 } else { 0.0 },
                })
            })
            .collect()
    }

    /// Rolls telemetry up (older than 48 h into 5-minute summaries, 5-minute summaries
    /// older than 30 days into hourly ones), deletes hourly summaries older than a year,
    /// and prunes expired sessions, old pairing tries, history older than a year and read
    /// notices older than 90 days. Run it every few minutes.
    pub fn compact(&self, now_ms: u64) -> Result<CompactionReport> {
        let mut report = CompactionReport::default();
        let mut conn = self.conn();
        let tx = conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .ctx(|| "start a transaction".into())?;

        let raw_cutoff = now_ms.saturating_sub(FULL_RESOLUTION_KEPT_MS);
        let five = Resolution::FiveMinutes.bucket_ms();
        let union: String = Metric::ALL
            .iter()
            .map(|m| {
                format!(
                    "SELECT device_id, ts_ms, '{0}' AS metric, {0} AS v FROM telemetry
                     WHERE ts_ms < ?1 AND {0} IS NOT NULL",
                    m.as_str()
                )
            })
            .collect::<Vec<_>>()
            .join(" UNION ALL ");
        tx.execute(
            &format!(
                "INSERT INTO telemetry_summary (device_id, resolution_ms, bucket_ms, metric, n, min_v, max_v, sum_v)
                 SELECT device_id, ?2, (ts_ms / ?2) * ?2 AS b, metric, COUNT(*), MIN(v), MAX(v), SUM(v)
                 FROM ({union}) WHERE true GROUP BY device_id, b, metric {MERGE}"
            ),
            params![ms(raw_cutoff), ms(five)],
        )
        .ctx(|| "roll telemetry up into 5-minute summaries".into())?;
        report.samples_rolled_up = tx
            .execute(
                "DELETE FROM telemetry WHERE ts_ms < ?1",
                params![ms(raw_cutoff)],
            )
            .ctx(|| "delete rolled-up telemetry".into())? as u64;

        let hour = Resolution::Hourly.bucket_ms();
        // A 5-minute bucket rolls up once all of it is older than 30 days.
        let five_cutoff = now_ms.saturating_sub(FIVE_MINUTE_KEPT_MS);
        tx.execute(
            &format!(
                "INSERT INTO telemetry_summary (device_id, resolution_ms, bucket_ms, metric, n, min_v, max_v, sum_v)
                 SELECT device_id, ?3, (bucket_ms / ?3) * ?3 AS b, metric, SUM(n), MIN(min_v), MAX(max_v), SUM(sum_v)
                 FROM telemetry_summary WHERE resolution_ms = ?2 AND bucket_ms + ?2 <= ?1
                 GROUP BY device_id, b, metric {MERGE}"
            ),
            params![ms(five_cutoff), ms(five), ms(hour)],
        )
        .ctx(|| "roll 5-minute summaries up into hourly ones".into())?;
        report.five_minute_rolled_up =
            tx.execute(
                "DELETE FROM telemetry_summary WHERE resolution_ms = ?2 AND bucket_ms + ?2 <= ?1",
                params![ms(five_cutoff), ms(five)],
            )
            .ctx(|| "delete rolled-up 5-minute summaries".into())? as u64;

        let hour_cutoff = now_ms.saturating_sub(HOURLY_KEPT_MS);
        report.hourly_deleted =
            tx.execute(
                "DELETE FROM telemetry_summary WHERE resolution_ms = ?2 AND bucket_ms + ?2 <= ?1",
                params![ms(hour_cutoff), ms(hour)],
            )
            .ctx(|| "delete hourly summaries older than a year".into())? as u64;

        report.sessions_expired = tx
            .execute(
                "DELETE FROM sessions WHERE expires_ms <= ?1",
                params![ms(now_ms)],
            )
            .ctx(|| "delete expired sessions".into())? as u64;
        report.pairing_attempts_pruned =
            tx.execute(
                "DELETE FROM pairing_attempts WHERE ts_ms <= ?1",
                params![ms(now_ms.saturating_sub(crate::accounts::PAIRING_WINDOW_MS))],
            )
            .ctx(|| "prune old pairing tries".into())? as u64;
        let history_cutoff = ms(now_ms.saturating_sub(HISTORY_KEPT_MS));
        for (table, column) in [
            ("events", "ts_ms"),
            ("availability_history", "ts_ms"),
            ("commands", "created_ms"),
        ] {
            report.history_pruned += tx
                .execute(
                    &format!("DELETE FROM {table} WHERE {column} < ?1"),
                    params![history_cutoff],
                )
                .ctx(|| format!("prune old {table}"))? as u64;
        }
        report.notices_pruned = tx
            .execute(
                "DELETE FROM notices WHERE read = 1 AND ts_ms < ?1",
                params![ms(now_ms.saturating_sub(READ_NOTICES_KEPT_MS))],
            )
            .ctx(|| "prune read notices".into())? as u64;
        tx.commit().ctx(|| "commit compaction".into())?;
        Ok(report)
    }
}
