//! Prometheus metrics for `/metrics`: a small registry that renders the text exposition
//! format (version 0.0.4). Counters only go up; the device gauge is set from the hub's
//! availability table; ingest latency is a histogram with fixed buckets.
//!
//! The hub keeps one [`Metrics`] behind a mutex, calls the `record_*` methods where things
//! happen and serves [`Metrics::render`] with content type [`CONTENT_TYPE`].

use std::collections::BTreeMap;
use std::fmt::Write;

pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Upper bounds (seconds) of the ingest latency buckets: from a clip's end on the camera
/// to its acknowledgement by the hub.
pub const LATENCY_BUCKETS: [f64; 10] = [0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0];

#[derive(Debug, Clone, Default)]
struct Histogram {
    counts: [u64; LATENCY_BUCKETS.len()],
    count: u64,
    sum: f64,
}

/// The hub's metrics.
#[derive(Debug, Clone, Default)]
pub struct Metrics {
    devices_by_state: BTreeMap<String, u64>,
    messages_in: BTreeMap<String, u64>,
    messages_out: BTreeMap<String, u64>,
    dropped: BTreeMap<String, u64>,
    clip_bytes: u64,
    clips: u64,
    ingest_latency: Histogram,
    notifications_delivered: BTreeMap<String, u64>,
    notifications_failed: BTreeMap<String, u64>,
}

fn escape(label: &str) -> String {
    label
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

fn bump(map: &mut BTreeMap<String, u64>, key: &str, by: u64) {
    *map.entry(key.to_string()).or_default() += by;
}

fn float(v: f64) -> String {
    if v.is_infinite() {
        if v > 0.0 { "+Inf" } else { "-Inf" }.into()
    } else {
        format!("{v}")
    }
}

impl Metrics {
    pub fn new() -> Metrics {
        Metrics::default()
    }

    /// Sets how many devices are in each availability state (replaces the previous counts;
    /// states absent from `counts` read 0).
    pub fn set_devices<'a>(&mut self, counts: impl IntoIterator<Item = (&'a str, u64)>) {
        for v in self.devices_by_state.values_mut() {
            *v = 0;
        }
        for (state, n) in counts {
            self.devices_by_state.insert(state.to_string(), n);
        }
    }

    /// A message arrived on a device topic leaf (`state`, `telemetry`, `event`, ...).
    pub fn record_message_in(&mut self, topic: &str) {
        bump(&mut self.messages_in, topic, 1);
    }

    pub fn record_message_out(&mut self, topic: &str) {
        bump(&mut self.messages_out, topic, 1);
    }

    /// A payload was dropped; `reason` is `PayloadError::reason()` or the hub's own.
    pub fn record_dropped(&mut self, reason: &str) {
        bump(&mut self.dropped, reason, 1);
    }

    /// A clip was stored: its size and its ingest latency in seconds.
    pub fn record_clip(&mut self, bytes: u64, latency_s: f64) {
        self.clip_bytes += bytes;
        self.clips += 1;
        let h = &mut self.ingest_latency;
        for (i, bound) in LATENCY_BUCKETS.iter().enumerate() {
            if latency_s <= *bound {
                h.counts[i] += 1;
            }
        }
        h.count += 1;
        if latency_s.is_finite() {
            h.sum += latency_s;
        }
    }

    /// A clip was stored whose ingest latency is unknown (its metadata has not arrived):
    /// counted in the bytes and clips, not in the histogram.
    pub fn record_clip_bytes(&mut self, bytes: u64) {
        self.clip_bytes += bytes;
        self.clips += 1;
    }

    /// Replaces the dropped-payload counts with totals kept elsewhere (the hub counts
    /// them by reason as it drops them).
    pub fn set_dropped(&mut self, totals: impl IntoIterator<Item = (String, u64)>) {
        self.dropped = totals.into_iter().collect();
    }

    /// A notification delivery ended (webhook or MQTT), by kind.
    pub fn record_notification(&mut self, kind: &str, delivered: bool) {
        let map = if delivered {
            &mut self.notifications_delivered
        } else {
            &mut self.notifications_failed
        };
        bump(map, kind, 1);
    }

    /// The text exposition.
    pub fn render(&self) -> String {
        let mut s = String::new();
        family(
            &mut s,
            "watchlight_devices",
            "gauge",
            "Devices by availability state.",
            "state",
            &self.devices_by_state,
        );
        family(
            &mut s,
            "watchlight_mqtt_messages_received_total",
            "counter",
            "MQTT messages received from devices, by topic.",
            "topic",
            &self.messages_in,
        );
        family(
            &mut s,
            "watchlight_mqtt_messages_sent_total",
            "counter",
            "MQTT messages the hub published, by topic.",
            "topic",
            &self.messages_out,
        );
        family(
            &mut s,
            "watchlight_payloads_dropped_total",
            "counter",
            "Payloads dropped, by reason.",
            "reason",
            &self.dropped,
        );
        let _ = writeln!(
            s,
            "# HELP watchlight_clip_bytes_total Bytes of clips stored.\n# TYPE watchlight_clip_bytes_total counter\nwatchlight_clip_bytes_total {}",
            self.clip_bytes
        );
        let _ = writeln!(
            s,
            "# HELP watchlight_clips_total Clips stored.\n# TYPE watchlight_clips_total counter\nwatchlight_clips_total {}",
            self.clips
        );
        let name = "watchlight_clip_ingest_latency_seconds";
        let _ = writeln!(
            s,
            "# HELP {name} From a clip's end to its acknowledgement by the hub.\n# TYPE {name} histogram"
        );
        let h = &self.ingest_latency;
        for (bound, n) in LATENCY_BUCKETS.iter().zip(h.counts) {
            let _ = writeln!(s, "{name}_bucket{{le=\"{}\"}} {n}", float(*bound));
        }
        let _ = writeln!(s, "{name}_bucket{{le=\"+Inf\"}} {}", h.count);
        let _ = writeln!(s, "{name}_sum {}", float(h.sum));
        let _ = writeln!(s, "{name}_count {}", h.count);
        family(
            &mut s,
            "watchlight_notifications_delivered_total",
            "counter",
            "Notifications delivered, by kind.",
            "kind",
            &self.notifications_delivered,
        );
        family(
            &mut s,
            "watchlight_notification_failures_total",
            "counter",
            "Notifications that could not be delivered after all retries, by kind.",
            "kind",
            &self.notifications_failed,
        );
        s
    }
}

fn family(
    s: &mut String,
    name: &str,
    kind: &str,
    help: &str,
    label: &str,
    values: &BTreeMap<String, u64>,
) {
    let _ = writeln!(s, "# HELP {name} {help}\n# TYPE {name} {kind}");
    for (k, v) in values {
        let _ = writeln!(s, "{name}{{{label}=\"{}\"}} {v}", escape(k));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn label_values_are_escaped() {
        let mut m = Metrics::new();
        m.record_dropped("bad \"quote\"\nline\\");
        assert!(
            m.render().contains(r#"reason="bad \"quote\"\nline\\"} 1"#),
            "{}",
            m.render()
        );
    }
}
