//! What the simulator watches while the fleet runs: the hub's live stream (as an open
//! dashboard gets it), events probed in the API as they are made, and the hub
//! process's CPU and memory.

use crate::camera::{Shared, str_field};
use crate::hubproc::{self, Api};
use serde_json::Value;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;
use tokio::sync::mpsc;
use tokio::time::Instant;

/// An availability change the hub announced on its live stream.
#[derive(Debug, Clone)]
pub struct Seen {
    pub at: Instant,
    pub camera: usize,
    pub availability: String,
}

/// What the live stream delivered.
#[derive(Default)]
pub struct Stream {
    pub availability: Mutex<Vec<Seen>>,
    /// `lagged` notices: the hub's broadcast outran this reader.
    pub lagged: AtomicU64,
    /// Times the stream was (re)opened.
    pub opened: AtomicU64,
}

impl Stream {
    /// When the hub first said `want` for `camera` at or after `from`.
    pub fn first(&self, camera: usize, want: &str, from: Instant) -> Option<Instant> {
        self.availability
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .find(|s| s.camera == camera && s.at >= from && s.availability == want)
            .map(|s| s.at)
    }
}

/// Follows `GET /api/v1/events/stream` for as long as the run goes, reopening it when
/// the hub restarts.
pub async fn follow_stream(
    api: Arc<RwLock<Api>>,
    ids: Arc<HashMap<String, usize>>,
    shared: Arc<Shared>,
    stream: Arc<Stream>,
) {
    loop {
        let a = api.read().unwrap_or_else(|p| p.into_inner()).clone();
        let resp = a
            .stream_client
            .get(format!("{}/api/v1/events/stream", a.base))
            .bearer_auth(a.token())
            .send()
            .await;
        let Ok(mut resp) = resp else {
            tokio::time::sleep(Duration::from_millis(200)).await;
            continue;
        };
        if !resp.status().is_success() {
            tokio::time::sleep(Duration::from_millis(200)).await;
            continue;
        }
        stream.opened.fetch_add(1, Ordering::Relaxed);
        let mut buf: Vec<u8> = Vec::new();
        while let Ok(Some(chunk)) = resp.chunk().await {
            let now = Instant::now();
            buf.extend_from_slice(&chunk);
            while let Some(end) = find_blank_line(&buf) {
                let block: Vec<u8> = buf.drain(..end.1).collect();
                on_block(&block[..end.0], now, &ids, &shared, &stream);
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// `(end of block, end of separator)` of the first SSE block in `buf`.
fn find_blank_line(buf: &[u8]) -> Option<(usize, usize)> {
    buf.windows(2)
        .position(|w| w == b"\n\n")
        .map(|i| (i, i + 2))
}

fn on_block(
    block: &[u8],
    now: Instant,
    ids: &HashMap<String, usize>,
    shared: &Shared,
    stream: &Stream,
) {
    let text = String::from_utf8_lossy(block);
    let mut kind = "message";
    let mut data = String::new();
    for line in text.lines() {
        if let Some(k) = line.strip_prefix("event:") {
            kind = k.trim();
        } else if let Some(d) = line.strip_prefix("data:") {
            data.push_str(d.trim_start());
        }
    }
    if kind == "lagged" {
        stream.lagged.fetch_add(1, Ordering::Relaxed);
        return;
    }
    if kind != "event" && kind != "availability" {
        return;
    }
    let Ok(v) = serde_json::from_str::<Value>(&data) else {
        return;
    };
    let Some(&camera) = str_field(&v, "device").and_then(|d| ids.get(d)) else {
        return;
    };
    let body = v.get("data").cloned().unwrap_or(Value::Null);
    if kind == "event" {
        if let Some(seq) = body.get("seq").and_then(Value::as_u64) {
            let mut ledger = shared.ledger.lock().unwrap_or_else(|p| p.into_inner());
            if let Some(r) = ledger.events.get_mut(&(camera, seq)) {
                r.sse_count += 1;
                if r.sse_at.is_none() {
                    r.sse_at = Some(now);
                    r.sse_wall_ms = Some(crate::shared::wall_ms());
                    r.hub_emit_wall_ms = v.get("ts").and_then(Value::as_u64);
                }
            }
        }
    } else if let Some(a) = str_field(&body, "availability") {
        stream
            .availability
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(Seen {
                at: now,
                camera,
                availability: a.to_string(),
            });
    }
}

/// Polls the API for a share of the events as they are made (at most `per_s` a
/// second), each every 20 ms until it is listed, to time event-to-API.
pub async fn probe_api(
    api: Arc<RwLock<Api>>,
    device_ids: Arc<Vec<String>>,
    shared: Arc<Shared>,
    mut rx: mpsc::UnboundedReceiver<(usize, u64)>,
    per_s: f64,
) {
    if per_s <= 0.0 {
        while rx.recv().await.is_some() {}
        return;
    }
    let gap = Duration::from_secs_f64(1.0 / per_s);
    let mut next_ok = Instant::now();
    while let Some((camera, seq)) = rx.recv().await {
        let now = Instant::now();
        if now < next_ok {
            continue;
        }
        next_ok = now + gap;
        let api = api.read().unwrap_or_else(|p| p.into_inner()).clone();
        let device = device_ids[camera].clone();
        let shared = shared.clone();
        tokio::spawn(async move {
            let deadline = Instant::now() + Duration::from_secs(10);
            while Instant::now() < deadline {
                if let Ok(v) = api.get(&format!("/api/v1/cameras/{device}/events")).await {
                    let listed = v.get("events").and_then(Value::as_array).is_some_and(|es| {
                        es.iter()
                            .any(|e| e.get("seq").and_then(Value::as_u64) == Some(seq))
                    });
                    if listed {
                        let mut ledger = shared.ledger.lock().unwrap_or_else(|p| p.into_inner());
                        if let Some(r) = ledger.events.get_mut(&(camera, seq)) {
                            r.api_at.get_or_insert(Instant::now());
                        }
                        return;
                    }
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        });
    }
}

/// A process's (the hub's, the broker's) CPU seconds over all its lives and its highest
/// peak RSS.
#[derive(Default)]
pub struct ProcessCost {
    pub pid: AtomicU32,
    inner: Mutex<CostInner>,
}

#[derive(Default)]
struct CostInner {
    /// CPU of lives that ended, and the last sample of the current one.
    finished_cpu_s: f64,
    current: Option<(u32, hubproc::ProcSample)>,
    peak_rss_kib: u64,
}

impl ProcessCost {
    pub fn sample(&self) {
        let pid = self.pid.load(Ordering::Relaxed);
        let Some(s) = hubproc::sample(pid) else {
            return;
        };
        let mut c = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((old, last)) = c.current
            && old != pid
        {
            c.finished_cpu_s += last.cpu_s;
        }
        c.peak_rss_kib = c.peak_rss_kib.max(s.peak_rss_kib);
        c.current = Some((pid, s));
    }

    /// `(cpu seconds, peak RSS KiB, RSS KiB now)`.
    pub fn totals(&self) -> (f64, u64, u64) {
        let c = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        let (cur_cpu, rss) = c.current.map_or((0.0, 0), |(_, s)| (s.cpu_s, s.rss_kib));
        (c.finished_cpu_s + cur_cpu, c.peak_rss_kib, rss)
    }
}

/// Samples the hub every 250 ms (a killed hub's last quarter second is not counted).
pub async fn sample_process(cost: Arc<ProcessCost>) {
    loop {
        cost.sample();
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sse_blocks_are_split_on_blank_lines() {
        let buf = b"event: event\ndata: {}\n\nevent: x";
        assert_eq!(find_blank_line(buf), Some((21, 23)));
        assert_eq!(find_blank_line(b"event: x\ndata: 1"), None);
    }
}
