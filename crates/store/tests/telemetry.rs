//! Telemetry compaction across the 48-hour, 30-day and one-year boundaries, on a
//! simulated clock.

mod common;

use common::{T0, fixture};
use watchlight_protocol::messages::TelemetryMsg;
use watchlight_store::*;

const MIN: u64 = 60_000;
const HOUR: u64 = 60 * MIN;
const DAY: u64 = 24 * HOUR;

fn sample(ts: u64, mv: u32) -> TelemetryMsg {
    TelemetryMsg {
        v: 1,
        ts,
        battery_resting_mv: Some(mv),
        rssi_dbm: Some(-60),
        uptime_s: (ts - T0) / 1000,
        ..Default::default()
    }
}

fn summary_of(s: &[TelemetrySummary], bucket: u64, metric: Metric) -> &TelemetrySummary {
    s.iter()
        .find(|x| x.bucket_ms == bucket && x.metric == metric)
        .unwrap_or_else(|| panic!("no {metric:?} summary at {bucket}"))
}

#[test]
fn samples_older_than_48_hours_become_five_minute_summaries() {
    let f = fixture();
    let dev = "cam-A1";
    // One sample a minute for 50 hours: voltage 4000 + minute index within its 5-minute bucket.
    for m in 0..50 * 60 {
        f.store
            .insert_telemetry(dev, &sample(T0 + m * MIN, 4000 + (m % 5) as u32))
            .unwrap();
    }
    f.store
        .insert_telemetry("cam-B2", &sample(T0, 3000))
        .unwrap();
    let now = T0 + 50 * HOUR;
    let r = f.store.compact(now).unwrap();
    // Everything before now - 48 h = T0 + 2 h: 120 samples of A1 and 1 of B2.
    assert_eq!(r.samples_rolled_up, 121);
    let raw = f.store.telemetry(dev, 0, u64::MAX).unwrap();
    assert_eq!(raw.len(), 48 * 60);
    assert_eq!(
        raw[0].ts,
        T0 + 2 * HOUR,
        "full resolution kept for exactly 48 hours"
    );

    let s = f
        .store
        .telemetry_summaries(dev, Resolution::FiveMinutes, 0, u64::MAX)
        .unwrap();
    // 24 buckets of the metrics that had values (resting mV, RSSI, uptime, and the
    // always-present queue bytes and reconnects); temperature was never sent.
    let buckets: std::collections::BTreeSet<_> = s.iter().map(|x| x.bucket_ms).collect();
    assert_eq!(buckets.len(), 24);
    let first = summary_of(&s, T0, Metric::BatteryRestingMv);
    assert_eq!(
        (first.count, first.min, first.max, first.mean),
        (5, 4000.0, 4004.0, 4002.0)
    );
    assert!(
        s.iter().all(|x| x.metric != Metric::TemperatureC),
        "absent values are not zeros"
    );
    assert_eq!(summary_of(&s, T0, Metric::QueueBytes).max, 0.0);

    // Compacting again changes nothing; a late sample joins its existing bucket.
    assert_eq!(f.store.compact(now).unwrap().samples_rolled_up, 0);
    f.store
        .insert_telemetry(dev, &sample(T0 + 30_000, 3900))
        .unwrap();
    f.store.compact(now).unwrap();
    let s = f
        .store
        .telemetry_summaries(dev, Resolution::FiveMinutes, T0, T0 + 1)
        .unwrap();
    let first = summary_of(&s, T0, Metric::BatteryRestingMv);
    assert_eq!((first.count, first.min, first.max), (6, 3900.0, 4004.0));
}

#[test]
fn five_minute_summaries_older_than_30_days_become_hourly_and_hourly_ones_last_a_year() {
    let f = fixture();
    let dev = "cam-A1";
    // Two hours of samples, every 5 minutes, voltage rising by 1 each time.
    for i in 0..24u64 {
        f.store
            .insert_telemetry(dev, &sample(T0 + i * 5 * MIN, 4000 + i as u32))
            .unwrap();
    }
    f.store.compact(T0 + 3 * DAY).unwrap();
    assert_eq!(
        f.store
            .telemetry_summaries(dev, Resolution::FiveMinutes, 0, u64::MAX)
            .unwrap()
            .len(),
        24 * 5
    );
    // Just before the first hour's last bucket is 30 days old: nothing rolls up yet.
    let first_hour_done = T0 + HOUR + 30 * DAY;
    let r = f.store.compact(first_hour_done - 1).unwrap();
    assert_eq!(
        r.five_minute_rolled_up,
        11 * 5,
        "11 of the first hour's 12 buckets"
    );
    let r = f.store.compact(first_hour_done).unwrap();
    assert_eq!(r.five_minute_rolled_up, 5);
    let hourly = f
        .store
        .telemetry_summaries(dev, Resolution::Hourly, 0, u64::MAX)
        .unwrap();
    let h0 = summary_of(&hourly, T0, Metric::BatteryRestingMv);
    assert_eq!(
        (h0.count, h0.min, h0.max, h0.mean),
        (12, 4000.0, 4011.0, 4005.5)
    );
    assert_eq!(
        f.store
            .telemetry_summaries(dev, Resolution::FiveMinutes, 0, u64::MAX)
            .unwrap()
            .len(),
        12 * 5,
        "the second hour is still at 5-minute resolution"
    );

    f.store.compact(T0 + 2 * HOUR + 30 * DAY).unwrap();
    let hourly = f
        .store
        .telemetry_summaries(dev, Resolution::Hourly, 0, u64::MAX)
        .unwrap();
    assert_eq!(
        summary_of(&hourly, T0 + HOUR, Metric::BatteryRestingMv).mean,
        4017.5
    );

    // A year after its end an hourly summary is deleted.
    let r = f.store.compact(T0 + HOUR + 365 * DAY - 1).unwrap();
    assert_eq!(r.hourly_deleted, 0);
    let r = f.store.compact(T0 + HOUR + 365 * DAY).unwrap();
    assert_eq!(r.hourly_deleted, 5);
    let left = f
        .store
        .telemetry_summaries(dev, Resolution::Hourly, 0, u64::MAX)
        .unwrap();
    assert!(left.iter().all(|x| x.bucket_ms == T0 + HOUR));
}

#[test]
fn compaction_also_prunes_expired_sessions_and_old_pairing_tries() {
    let f = fixture();
    f.store
        .create_session(&TokenDigest::of_token("a"), 1_000)
        .unwrap();
    f.store
        .create_session(&TokenDigest::of_token("b"), 100_000)
        .unwrap();
    f.store.pairing_attempt("S1").unwrap();
    let r = f.store.compact(T0 + 60_000).unwrap();
    assert_eq!((r.sessions_expired, r.pairing_attempts_pruned), (1, 1));
}

#[test]
fn compaction_prunes_year_old_history_and_old_read_notices() {
    let f = fixture();
    let dev = f.add_device("A1");
    let ev = |seq: u64, ts: u64| watchlight_protocol::messages::EventMsg {
        v: 1,
        ts,
        seq,
        event: watchlight_protocol::EventKind::Button,
        data: Default::default(),
    };
    f.store.insert_event(&dev, &ev(1, T0)).unwrap();
    f.store.insert_event(&dev, &ev(2, T0 + DAY)).unwrap();
    let read = f
        .store
        .add_notice("test", None, "old, read", &serde_json::json!({}))
        .unwrap();
    f.store.mark_notice_read(read).unwrap();
    f.store
        .add_notice("test", None, "old, unread", &serde_json::json!({}))
        .unwrap();

    let r = f.store.compact(T0 + HISTORY_KEPT_MS + 1).unwrap();
    assert_eq!((r.history_pruned, r.notices_pruned), (1, 1));
    let left = f.store.events(Some(&dev), 0, u64::MAX, 10).unwrap();
    assert_eq!(left.iter().map(|e| e.seq).collect::<Vec<_>>(), vec![2]);
    let notices = f.store.notices(10, false).unwrap();
    assert_eq!(notices.len(), 1, "an unread notice is never pruned");
    assert_eq!(notices[0].message, "old, unread");
}

#[test]
fn the_latest_sample_is_the_newest_in_the_window_and_the_last_stored_on_a_tie() {
    let f = fixture();
    let dev = "cam-A1";
    assert!(
        f.store
            .latest_telemetry(dev, 0, u64::MAX)
            .unwrap()
            .is_none()
    );
    for (m, mv) in [(0, 3900), (2, 3800), (1, 3850), (2, 3790)] {
        f.store
            .insert_telemetry(dev, &sample(T0 + m * MIN, mv))
            .unwrap();
    }
    f.store
        .insert_telemetry("cam-B2", &sample(T0 + 5 * MIN, 3000))
        .unwrap();
    let latest = f.store.latest_telemetry(dev, 0, u64::MAX).unwrap().unwrap();
    assert_eq!(
        (latest.ts, latest.battery_resting_mv),
        (T0 + 2 * MIN, Some(3790))
    );
    // The same sample as the last of the full list, which the card read before.
    let all = f.store.telemetry(dev, 0, u64::MAX).unwrap();
    assert_eq!(all.last(), Some(&latest));
    let before = f
        .store
        .latest_telemetry(dev, 0, T0 + 2 * MIN)
        .unwrap()
        .unwrap();
    assert_eq!(before.battery_resting_mv, Some(3850));
}
