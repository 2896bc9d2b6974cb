//! What the doctor keeps: learned priors from confirmed fixes.
//! Tables in `migrations/4_doctor.sql`.
//!
//! The store keeps the doctor's ids as text and does not interpret them: the hub checks
//! them against the doctor's vocabulary before they get here, and reads them back
//! through it. A confirmation and the count it moves are written in one transaction, so
//! the learned priors always equal the sum of the confirmations behind them.

use crate::error::{Result, SqlContext};
use crate::{Store, check_device_id, ms};
use rusqlite::params;

/// An owner's confirmation that `action` fixed `fault` on a camera.
#[derive(Debug, Clone, PartialEq)]
pub struct DoctorConfirmation {
    pub device_id: String,
    /// The camera's profile id (the priors are per profile).
    pub profile: String,
    pub fault: String,
    pub action: String,
    /// Pseudo-count added to the fault's prior for the profile (1 for one confirmation).
    pub weight: f64,
    /// Hub time; set by the store on insert.
    pub ts_ms: u64,
}

/// One learned pseudo-count.
#[derive(Debug, Clone, PartialEq)]
pub struct PriorCount {
    pub profile: String,
    pub fault: String,
    pub count: f64,
}

impl Store {
    /// Records a confirmation and adds its weight to the fault's count for the profile.
    /// Returns the confirmation as stored (with its time).
    pub fn record_doctor_confirmation(&self, c: &DoctorConfirmation) -> Result<DoctorConfirmation> {
        check_device_id(&c.device_id)?;
        let now = self.now_ms();
        let mut conn = self.conn();
        let tx = conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .ctx(|| "start a transaction".into())?;
        tx.execute(
            "INSERT INTO doctor_confirmations (device_id, profile, fault, action, weight, ts_ms)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![c.device_id, c.profile, c.fault, c.action, c.weight, ms(now)],
        )
        .ctx(|| format!("record the doctor confirmation for {}", c.device_id))?;
        tx.execute(
            "INSERT INTO doctor_prior_counts (profile, fault, count, updated_ms)
             VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (profile, fault) DO UPDATE SET count = count + ?3, updated_ms = ?4",
            params![c.profile, c.fault, c.weight, ms(now)],
        )
        .ctx(|| format!("update the learned prior of {} ({})", c.fault, c.profile))?;
        tx.commit()
            .ctx(|| format!("commit the doctor confirmation for {}", c.device_id))?;
        Ok(DoctorConfirmation {
            ts_ms: now,
            ..c.clone()
        })
    }

    /// Every learned pseudo-count, by profile then fault.
    pub fn doctor_prior_counts(&self) -> Result<Vec<PriorCount>> {
        let conn = self.conn();
        let mut stmt = conn
            .prepare(
                "SELECT profile, fault, count FROM doctor_prior_counts ORDER BY profile, fault",
            )
            .ctx(|| "read the learned priors".into())?;
        stmt.query_map([], |r| {
            Ok(PriorCount {
                profile: r.get(0)?,
                fault: r.get(1)?,
                count: r.get(2)?,
            })
        })
        .and_then(|rows| rows.collect::<Result<Vec<_>, _>>())
        .ctx(|| "read the learned priors".into())
    }

    /// A camera's confirmations, newest first, at most `limit`.
    pub fn doctor_confirmations(
        &self,
        device: &str,
        limit: usize,
    ) -> Result<Vec<DoctorConfirmation>> {
        let conn = self.conn();
        let mut stmt = conn
            .prepare(
                "SELECT device_id, profile, fault, action, weight, ts_ms FROM doctor_confirmations
                 WHERE device_id = ?1 ORDER BY ts_ms DESC, id DESC LIMIT ?2",
            )
            .ctx(|| format!("read the doctor confirmations of {device}"))?;
        stmt.query_map(
            params![device, i64::try_from(limit).unwrap_or(i64::MAX)],
            |r| {
                Ok(DoctorConfirmation {
                    device_id: r.get(0)?,
                    profile: r.get(1)?,
                    fault: r.get(2)?,
                    action: r.get(3)?,
                    weight: r.get(4)?,
                    ts_ms: r.get::<_, i64>(5)? as u64,
                })
            },
        )
        .and_then(|rows| rows.collect::<Result<Vec<_>, _>>())
        .ctx(|| format!("read the doctor confirmations of {device}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ManualClock;

    fn confirmation(fault: &str, weight: f64) -> DoctorConfirmation {
        DoctorConfirmation {
            device_id: "cam-1".into(),
            profile: "outdoor".into(),
            fault: fault.into(),
            action: "replace_batteries".into(),
            weight,
            ts_ms: 0,
        }
    }

    #[test]
    fn confirmations_add_up_and_survive_reopening() {
        let dir = tempfile::tempdir().unwrap();
        let clock = ManualClock::new(1_000);
        {
            let store = Store::open(dir.path(), clock.clone()).unwrap();
            let stored = store
                .record_doctor_confirmation(&confirmation("battery_dead", 1.0))
                .unwrap();
            assert_eq!(stored.ts_ms, 1_000);
            clock.advance(500);
            store
                .record_doctor_confirmation(&confirmation("battery_dead", 0.5))
                .unwrap();
        }
        let store = Store::open(dir.path(), ManualClock::new(9_000)).unwrap();
        assert_eq!(
            store.doctor_prior_counts().unwrap(),
            vec![PriorCount {
                profile: "outdoor".into(),
                fault: "battery_dead".into(),
                count: 1.5,
            }]
        );
        let history = store.doctor_confirmations("cam-1", 10).unwrap();
        assert_eq!(history.len(), 2);
        assert_eq!((history[0].ts_ms, history[0].weight), (1_500, 0.5));
        assert!(store.doctor_confirmations("cam-2", 10).unwrap().is_empty());
    }

    #[test]
    fn a_negative_weight_is_refused_and_changes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path(), ManualClock::new(1)).unwrap();
        assert!(
            store
                .record_doctor_confirmation(&confirmation("battery_dead", -1.0))
                .is_err()
        );
        assert!(store.doctor_prior_counts().unwrap().is_empty());
        assert!(store.doctor_confirmations("cam-1", 10).unwrap().is_empty());
    }
}
