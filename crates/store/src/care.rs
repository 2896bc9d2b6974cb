//! What the owner services keep: the notification feed, webhooks, the arming
//! schedule, monthly reports and the doctor's findings. Tables in `migrations/3_care.sql`.
//!
//! Documents are JSON values: their shapes belong to `watchlight-care`, which the store
//! does not depend on; the hub's care wiring converts.

use crate::devices::parse_json;
use crate::error::{Result, SqlContext};
use crate::events::{Notice, query_notices};
use crate::{Store, ms};
use rusqlite::{OptionalExtension, params};
use serde_json::Value;

/// One notice of the feed. `doc` is the notification as it was sent, with `id` set to
/// the row's id.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredNotification {
    pub id: i64,
    pub at_ms: u64,
    pub kind: String,
    pub camera: Option<String>,
    pub doc: Value,
}

/// A webhook the owner added.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookRow {
    pub id: i64,
    pub url: String,
    /// The HMAC key; shown to the owner once, at creation.
    pub secret: String,
    /// Notification kinds it takes; empty means all.
    pub kinds: Vec<String>,
    pub created_ms: u64,
}

/// Why a report was made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReportTrigger {
    /// The local month turned.
    Monthly,
    /// The owner asked for it.
    OnDemand,
}

impl ReportTrigger {
    pub fn as_str(self) -> &'static str {
        match self {
            ReportTrigger::Monthly => "monthly",
            ReportTrigger::OnDemand => "on_demand",
        }
    }
}

/// A stored monthly report (`doc` is the `HealthReport` JSON).
#[derive(Debug, Clone, PartialEq)]
pub struct StoredReport {
    pub id: i64,
    pub month: String,
    pub from_ms: u64,
    pub to_ms: u64,
    pub generated_ms: u64,
    pub trigger: String,
    pub doc: Value,
}

/// A finding the doctor reported about a camera.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FindingRow {
    pub id: i64,
    pub at_ms: u64,
    pub camera: String,
    pub condition: String,
    pub summary: String,
}

/// One battery reading for the forecast: the mean over its hour.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BatteryReading {
    pub at_ms: u64,
    pub resting_mv: u32,
    pub loaded_mv: u32,
    pub temp_c: Option<f64>,
}

const HOUR_MS: u64 = 3_600_000;

impl Store {
    /// Adds a notice to the feed; returns its id (the notification id).
    pub fn add_care_notification(
        &self,
        at_ms: u64,
        kind: &str,
        camera: Option<&str>,
        doc: &Value,
    ) -> Result<i64> {
        self.check_room(|| format!("store a {kind} notification"))?;
        let conn = self.conn();
        conn.execute(
            "INSERT INTO care_notifications (at_ms, kind, camera, doc) VALUES (?1, ?2, ?3, ?4)",
            params![ms(at_ms), kind, camera, doc.to_string()],
        )
        .ctx(|| format!("store a {kind} notification"))?;
        Ok(conn.last_insert_rowid())
    }

    /// The feed, newest first: at most `limit` notices with an id below `before` (all
    /// when `None`).
    pub fn care_notifications(
        &self,
        before: Option<i64>,
        limit: usize,
    ) -> Result<Vec<StoredNotification>> {
        let conn = self.conn();
        let mut stmt = conn
            .prepare(
                "SELECT id, at_ms, kind, camera, doc FROM care_notifications
                 WHERE ?1 IS NULL OR id < ?1 ORDER BY id DESC LIMIT ?2",
            )
            .ctx(|| "list notifications".into())?;
        let rows = stmt
            .query_map(params![before, limit as i64], |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, i64>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, Option<String>>(3)?,
                    r.get::<_, String>(4)?,
                ))
            })
            .and_then(|rows| rows.collect::<Result<Vec<_>, _>>())
            .ctx(|| "list notifications".into())?;
        rows.into_iter()
            .map(|(id, at, kind, camera, doc)| {
                let mut doc: Value = parse_json(&doc, || format!("notification {id}"))?;
                if let Some(o) = doc.as_object_mut() {
                    o.insert("id".into(), Value::from(id));
                }
                Ok(StoredNotification {
                    id,
                    at_ms: at as u64,
                    kind,
                    camera,
                    doc,
                })
            })
            .collect()
    }

    /// Adds a webhook; the caller made the secret.
    pub fn add_webhook(&self, url: &str, secret: &str, kinds: &[String]) -> Result<WebhookRow> {
        let now = self.now_ms();
        let conn = self.conn();
        let kinds_doc = serde_json::to_string(kinds).expect("strings serialize");
        conn.execute(
            "INSERT INTO care_webhooks (url, secret, kinds, created_ms) VALUES (?1, ?2, ?3, ?4)",
            params![url, secret, kinds_doc, ms(now)],
        )
        .ctx(|| "add a webhook".into())?;
        Ok(WebhookRow {
            id: conn.last_insert_rowid(),
            url: url.into(),
            secret: secret.into(),
            kinds: kinds.to_vec(),
            created_ms: now,
        })
    }

    pub fn webhooks(&self) -> Result<Vec<WebhookRow>> {
        let conn = self.conn();
        let mut stmt = conn
            .prepare("SELECT id, url, secret, kinds, created_ms FROM care_webhooks ORDER BY id")
            .ctx(|| "list webhooks".into())?;
        let rows = stmt
            .query_map([], |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, String>(3)?,
                    r.get::<_, i64>(4)?,
                ))
            })
            .and_then(|rows| rows.collect::<Result<Vec<_>, _>>())
            .ctx(|| "list webhooks".into())?;
        rows.into_iter()
            .map(|(id, url, secret, kinds, created)| {
                Ok(WebhookRow {
                    kinds: parse_json(&kinds, || format!("kinds of webhook {id}"))?,
                    id,
                    url,
                    secret,
                    created_ms: created as u64,
                })
            })
            .collect()
    }

    /// Returns whether it existed.
    pub fn delete_webhook(&self, id: i64) -> Result<bool> {
        let n = self
            .conn()
            .execute("DELETE FROM care_webhooks WHERE id = ?1", params![id])
            .ctx(|| format!("delete webhook {id}"))?;
        Ok(n > 0)
    }

    /// The arming schedule document, if the owner set one.
    pub fn arming_schedule(&self) -> Result<Option<Value>> {
        let doc: Option<String> = self
            .conn()
            .query_row("SELECT doc FROM care_schedule WHERE id = 1", [], |r| {
                r.get(0)
            })
            .optional()
            .ctx(|| "read the arming schedule".into())?;
        doc.map(|d| parse_json(&d, || "arming schedule".into()))
            .transpose()
    }

    pub fn set_arming_schedule(&self, doc: &Value) -> Result<()> {
        self.conn()
            .execute(
                "INSERT INTO care_schedule (id, doc, updated_ms) VALUES (1, ?1, ?2)
                 ON CONFLICT (id) DO UPDATE SET doc = ?1, updated_ms = ?2",
                params![doc.to_string(), ms(self.now_ms())],
            )
            .ctx(|| "write the arming schedule".into())?;
        Ok(())
    }

    /// Stores a report; returns its id.
    pub fn add_report(
        &self,
        month: &str,
        from_ms: u64,
        to_ms: u64,
        generated_ms: u64,
        trigger: ReportTrigger,
        doc: &Value,
    ) -> Result<i64> {
        let conn = self.conn();
        conn.execute(
            "INSERT INTO care_reports (month, from_ms, to_ms, generated_ms, trigger, doc)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![
                month,
                ms(from_ms),
                ms(to_ms),
                ms(generated_ms),
                trigger.as_str(),
                doc.to_string()
            ],
        )
        .ctx(|| format!("store the report for {month}"))?;
        Ok(conn.last_insert_rowid())
    }

    /// Reports, newest first, without their documents (`doc` is `null`).
    pub fn reports(&self) -> Result<Vec<StoredReport>> {
        self.query_reports(
            "SELECT id, month, from_ms, to_ms, generated_ms, trigger, 'null' FROM care_reports
             ORDER BY generated_ms DESC, id DESC",
            params![],
        )
    }

    pub fn report(&self, id: i64) -> Result<Option<StoredReport>> {
        Ok(self
            .query_reports(
                "SELECT id, month, from_ms, to_ms, generated_ms, trigger, doc FROM care_reports
                 WHERE id = ?1",
                params![id],
            )?
            .pop())
    }

    fn query_reports(&self, sql: &str, p: impl rusqlite::Params) -> Result<Vec<StoredReport>> {
        let conn = self.conn();
        let mut stmt = conn.prepare(sql).ctx(|| "list reports".into())?;
        let rows = stmt
            .query_map(p, |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, i64>(2)?,
                    r.get::<_, i64>(3)?,
                    r.get::<_, i64>(4)?,
                    r.get::<_, String>(5)?,
                    r.get::<_, String>(6)?,
                ))
            })
            .and_then(|rows| rows.collect::<Result<Vec<_>, _>>())
            .ctx(|| "list reports".into())?;
        rows.into_iter()
            .map(|(id, month, from, to, generated, trigger, doc)| {
                Ok(StoredReport {
                    doc: parse_json(&doc, || format!("report {id}"))?,
                    id,
                    month,
                    from_ms: from as u64,
                    to_ms: to as u64,
                    generated_ms: generated as u64,
                    trigger,
                })
            })
            .collect()
    }

    /// When the last month-boundary report was made, if ever.
    pub fn last_monthly_report_ms(&self) -> Result<Option<u64>> {
        let v: Option<i64> = self
            .conn()
            .query_row(
                "SELECT MAX(generated_ms) FROM care_reports WHERE trigger = 'monthly'",
                [],
                |r| r.get(0),
            )
            .ctx(|| "read the last report time".into())?;
        Ok(v.map(|v| v as u64))
    }

    /// When this database was created (its first migration): months before it need no
    /// report.
    pub fn created_ms(&self) -> Result<u64> {
        let v: Option<i64> = self
            .conn()
            .query_row("SELECT MIN(applied_ms) FROM schema_migrations", [], |r| {
                r.get(0)
            })
            .ctx(|| "read the database's creation time".into())?;
        Ok(v.unwrap_or(0).max(0) as u64)
    }

    pub fn add_finding(
        &self,
        at_ms: u64,
        camera: &str,
        condition: &str,
        summary: &str,
    ) -> Result<i64> {
        let conn = self.conn();
        conn.execute(
            "INSERT INTO care_findings (at_ms, camera, condition, summary) VALUES (?1, ?2, ?3, ?4)",
            params![ms(at_ms), camera, condition, summary],
        )
        .ctx(|| format!("store a finding about {camera}"))?;
        Ok(conn.last_insert_rowid())
    }

    /// Findings with `from_ms <= at < to_ms`, of one camera or all, oldest first.
    pub fn findings(
        &self,
        camera: Option<&str>,
        from_ms: u64,
        to_ms: u64,
    ) -> Result<Vec<FindingRow>> {
        let conn = self.conn();
        let mut stmt = conn
            .prepare(
                "SELECT id, at_ms, camera, condition, summary FROM care_findings
                 WHERE (?1 IS NULL OR camera = ?1) AND at_ms >= ?2 AND at_ms < ?3
                 ORDER BY at_ms, id",
            )
            .ctx(|| "list findings".into())?;
        stmt.query_map(params![camera, ms(from_ms), ms(to_ms)], |r| {
            Ok(FindingRow {
                id: r.get(0)?,
                at_ms: r.get::<_, i64>(1)? as u64,
                camera: r.get(2)?,
                condition: r.get(3)?,
                summary: r.get(4)?,
            })
        })
        .and_then(|rows| rows.collect::<Result<Vec<_>, _>>())
        .ctx(|| "list findings".into())
    }

    /// Notices with an id above `after`, oldest first (the storage notices the store
    /// writes, for the notification router).
    pub fn notices_after(&self, after: i64) -> Result<Vec<Notice>> {
        query_notices(
            &self.conn(),
            "SELECT id, ts_ms, kind, device_id, message, data, read FROM notices
             WHERE id > ?1 ORDER BY id LIMIT 1000",
            params![after],
            "list new notices",
        )
    }

    /// The highest notice id so far (0 when none).
    pub fn last_notice_id(&self) -> Result<i64> {
        self.conn()
            .query_row("SELECT COALESCE(MAX(id), 0) FROM notices", [], |r| r.get(0))
            .ctx(|| "read the last notice id".into())
    }

    /// Battery readings of `device` with `from_ms <= t < to_ms`, one per hour (the mean
    /// of that hour), oldest first, from the full-resolution telemetry and, for older
    /// hours, the 5-minute and hourly summaries. Only hours with both voltages count.
    pub fn battery_readings(
        &self,
        device: &str,
        from_ms: u64,
        to_ms: u64,
    ) -> Result<Vec<BatteryReading>> {
        let conn = self.conn();
        // Each source gives (hour, n, sum resting, sum loaded, sum temp, n temp); the
        // summaries are merged by weight.
        let sql = format!(
            "SELECT hour, SUM(nr), SUM(sr), SUM(nl), SUM(sl), SUM(nt), SUM(st) FROM (
                 SELECT (ts_ms / {HOUR_MS}) * {HOUR_MS} AS hour,
                     COUNT(battery_resting_mv) AS nr, SUM(battery_resting_mv) AS sr,
                     COUNT(battery_loaded_mv) AS nl, SUM(battery_loaded_mv) AS sl,
                     COUNT(temperature_c) AS nt, SUM(temperature_c) AS st
                 FROM telemetry WHERE device_id = ?1 AND ts_ms >= ?2 AND ts_ms < ?3
                 GROUP BY hour
                 UNION ALL
                 SELECT (bucket_ms / {HOUR_MS}) * {HOUR_MS} AS hour,
                     SUM(CASE WHEN metric = 'battery_resting_mv' THEN n END),
                     SUM(CASE WHEN metric = 'battery_resting_mv' THEN sum_v END),
                     SUM(CASE WHEN metric = 'battery_loaded_mv' THEN n END),
                     SUM(CASE WHEN metric = 'battery_loaded_mv' THEN sum_v END),
                     SUM(CASE WHEN metric = 'temperature_c' THEN n END),
                     SUM(CASE WHEN metric = 'temperature_c' THEN sum_v END)
                 FROM telemetry_summary WHERE device_id = ?1 AND bucket_ms >= ?2 AND bucket_ms < ?3
                 GROUP BY hour
             ) GROUP BY hour ORDER BY hour"
        );
        let mut stmt = conn
            .prepare(&sql)
            .ctx(|| format!("read battery history of {device}"))?;
        let rows = stmt
            .query_map(params![device, ms(from_ms), ms(to_ms)], |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, Option<i64>>(1)?,
                    r.get::<_, Option<f64>>(2)?,
                    r.get::<_, Option<i64>>(3)?,
                    r.get::<_, Option<f64>>(4)?,
                    r.get::<_, Option<i64>>(5)?,
                    r.get::<_, Option<f64>>(6)?,
                ))
            })
            .and_then(|rows| rows.collect::<Result<Vec<_>, _>>())
            .ctx(|| format!("read battery history of {device}"))?;
        let mean = |n: Option<i64>, s: Option<f64>| match (n, s) {
            (Some(n), Some(s)) if n > 0 => Some(s / n as f64),
            _ => None,
        };
        Ok(rows
            .into_iter()
            .filter_map(|(hour, nr, sr, nl, sl, nt, st)| {
                Some(BatteryReading {
                    at_ms: hour as u64,
                    resting_mv: mean(nr, sr)?.round() as u32,
                    loaded_mv: mean(nl, sl)?.round() as u32,
                    temp_c: mean(nt, st),
                })
            })
            .collect())
    }

    /// The last availability change before `before_ms` (the state a period starts in).
    pub fn availability_before(
        &self,
        device: &str,
        before_ms: u64,
    ) -> Result<Option<(u64, String)>> {
        self.conn()
            .query_row(
                "SELECT ts_ms, availability FROM availability_history
                 WHERE device_id = ?1 AND ts_ms < ?2 ORDER BY ts_ms DESC, id DESC LIMIT 1",
                params![device, ms(before_ms)],
                |r| Ok((r.get::<_, i64>(0)? as u64, r.get::<_, String>(1)?)),
            )
            .optional()
            .ctx(|| format!("read availability of {device}"))
    }
}
