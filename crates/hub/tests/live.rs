//! Live view and snapshots at the hub over real HTTP and MQTT, with a test standing in
//! for the camera: the commands the hub sends, who may upload, the viewers' goodbyes
//! and a battery camera's cap on the hub's (manual) clock.

mod common;

use common::*;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use std::time::Duration;
use watchlight_hub::Hub;

/// A tiny but whole JPEG as far as the hub checks (start and end markers).
const JPEG: &[u8] = b"\xff\xd8\xff\xe0frame\xff\xd9";

async fn put_frame(t: &TestHub, device: &str, token: &str, captured_at: u64) -> u16 {
    t.http
        .put(t.url(&format!("/devices/{device}/live/frame")))
        .bearer_auth(token)
        .header("content-type", "image/jpeg")
        .header("x-captured-at", captured_at.to_string())
        .body(JPEG)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

async fn open_viewer(t: &TestHub, device: &str) -> reqwest::Response {
    let r = t.get(&format!("/cameras/{device}/live.mjpeg")).await;
    assert_eq!(r.status(), 200);
    assert_eq!(
        r.headers()["content-type"],
        "multipart/x-mixed-replace; boundary=wlframe"
    );
    r
}

/// A whole part at the front of `buf`: taken out, its `X-Captured-At` returned.
fn take_part(buf: &mut Vec<u8>) -> Option<u64> {
    let head_end = buf.windows(4).position(|w| w == b"\r\n\r\n")? + 4;
    let head = String::from_utf8_lossy(&buf[..head_end]).to_string();
    let header = |name: &str| {
        head.lines()
            .find_map(|l| l.strip_prefix(name))
            .map(|v| v.trim().to_string())
    };
    let len: usize = header("Content-Length:")?.parse().ok()?;
    if buf.len() < head_end + len + 2 {
        return None;
    }
    assert!(
        buf.starts_with(b"--wlframe\r\n"),
        "a part starts with the boundary"
    );
    assert_eq!(
        &buf[head_end..head_end + len],
        JPEG,
        "the frame the camera sent"
    );
    let at = header("X-Captured-At:")?.parse().ok();
    buf.drain(..head_end + len + 2);
    at
}

/// Reads until one whole part arrived; returns its `X-Captured-At`.
async fn next_captured_at(r: &mut reqwest::Response, buf: &mut Vec<u8>) -> Option<u64> {
    loop {
        if let Some(at) = take_part(buf) {
            return Some(at);
        }
        match tokio::time::timeout(Duration::from_secs(5), r.chunk()).await {
            Ok(Ok(Some(chunk))) => buf.extend_from_slice(&chunk),
            _ => return None,
        }
    }
}

async fn paired_online(t: &TestHub, serial: &str, profile: &str) -> (Device, String) {
    let (id, token) = pair(t, serial, profile).await;
    let dev = connect_device(t, &id, &token).await;
    dev.say("online").await;
    eventually(5, "paired", || async {
        t.get_json(&format!("/cameras/{id}")).await["paired"] == true
    })
    .await;
    (dev, token)
}

async fn live(t: &TestHub, id: &str) -> Value {
    t.get_json(&format!("/cameras/{id}/live")).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_viewers_one_live_start_the_last_goodbye_sends_live_stop_and_frames_are_refused() {
    let t = start_hub(None).await;
    let (mut dev, token) = paired_online(&t, "LV1", "mini").await;
    let id = dev.id.clone();
    assert_eq!(
        put_frame(&t, &id, &token, 1).await,
        410,
        "nobody watches yet"
    );

    let mut a = open_viewer(&t, &id).await;
    let start = dev.expect("/cmd/live_start").await;
    assert!(start["id"].is_string(), "{start}");
    let st = live(&t, &id).await;
    assert_eq!(
        (st["state"].as_str(), st["viewers"].as_u64()),
        (Some("starting"), Some(1)),
        "{st}"
    );
    let mut b = open_viewer(&t, &id).await;
    assert_eq!(live(&t, &id).await["viewers"], 2);

    assert_eq!(put_frame(&t, &id, &token, 1_000).await, 200);
    let (mut buf_a, mut buf_b) = (Vec::new(), Vec::new());
    assert_eq!(next_captured_at(&mut a, &mut buf_a).await, Some(1_000));
    assert_eq!(next_captured_at(&mut b, &mut buf_b).await, Some(1_000));
    let st = live(&t, &id).await;
    assert_eq!(st["state"], "streaming", "{st}");
    assert!(
        st["cap_s"].is_null() && st["ends_at_ms"].is_null(),
        "mains: {st}"
    );
    assert_eq!(
        t.post(&format!("/cameras/{id}/live/extend"), json!({}))
            .await
            .status(),
        409,
        "mains cameras have no cap"
    );

    // The first goodbye changes nothing; the last sends live_stop, and the hub refuses
    // frames from then on (the camera stops on that answer).
    drop(a);
    eventually(5, "one viewer left", || async {
        live(&t, &id).await["viewers"] == 1
    })
    .await;
    assert_eq!(put_frame(&t, &id, &token, 1_100).await, 200);
    assert_eq!(next_captured_at(&mut b, &mut buf_b).await, Some(1_100));
    drop(b);
    dev.expect("/cmd/live_stop").await;
    let st = live(&t, &id).await;
    assert_eq!(
        (st["state"].as_str(), st["viewers"].as_u64()),
        (Some("idle"), Some(0)),
        "{st}"
    );
    assert_eq!(put_frame(&t, &id, &token, 1_200).await, 410);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_viewer_that_leaves_before_the_first_frame_is_counted_gone() {
    let t = start_hub(None).await;
    let (mut dev, _token) = paired_online(&t, "LV2", "mini").await;
    let id = dev.id.clone();
    let viewer = open_viewer(&t, &id).await;
    dev.expect("/cmd/live_start").await;
    drop(viewer);
    // Nothing was ever written to it: the hub notices the closed connection anyway.
    dev.expect("/cmd/live_stop").await;
    assert_eq!(live(&t, &id).await["state"], "idle");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_device_uploads_only_for_itself_and_only_whole_jpegs_with_their_digest() {
    let t = start_hub(None).await;
    let (a, token_a) = paired_online(&t, "LV3", "mini").await;
    let (_b, token_b) = paired_online(&t, "LV4", "mini").await;
    let put = |device: &str, token: &str, body: &'static [u8], digest: String| {
        t.http
            .put(t.url(&format!("/devices/{device}/snapshot")))
            .bearer_auth(token.to_string())
            .header("content-type", "image/jpeg")
            .header("x-watchlight-sha256", digest)
            .header("x-taken-at", "1800000000000")
            .body(body)
            .send()
    };
    let sha = |b: &[u8]| hex::encode(Sha256::digest(b));
    let path = format!("/cameras/{}/snapshot", a.id);
    assert_eq!(t.get(&path).await.status(), 404);
    assert_eq!(
        put(&a.id, &token_b, JPEG, sha(JPEG))
            .await
            .unwrap()
            .status(),
        401
    );
    assert_eq!(
        put_frame(&t, &a.id, &token_b, 1).await,
        401,
        "nor live frames for another camera"
    );
    let r = put(&a.id, &token_a, JPEG, sha(b"other")).await.unwrap();
    assert_eq!(r.status(), 400);
    assert!(r.text().await.unwrap().contains("X-Watchlight-Sha256"));
    let html: &[u8] = b"<html>not a picture</html>";
    let r = put(&a.id, &token_a, html, sha(html)).await.unwrap();
    assert_eq!(r.status(), 400);
    assert!(r.text().await.unwrap().contains("JPEG"));
    assert_eq!(t.get(&path).await.status(), 404, "nothing kept");

    let r = put(&a.id, &token_a, JPEG, sha(JPEG)).await.unwrap();
    assert_eq!(r.status(), 201);
    let taken = r.json::<Value>().await.unwrap()["taken_at_ms"]
        .as_u64()
        .unwrap();
    let got = t.get(&path).await;
    assert_eq!(got.status(), 200);
    assert_eq!(got.headers()["x-taken-at"], taken.to_string().as_str());
    assert_eq!(got.bytes().await.unwrap().as_ref(), JPEG);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_battery_cameras_stream_closes_at_the_cap_on_the_hubs_clock_and_extend_moves_it() {
    const CAP_MS: u64 = 60_000;
    let start = 1_800_000_000_000;
    let (clock, shared) = shared_manual_clock(start);
    let dir = tempfile::tempdir().unwrap();
    let mut config = test_config(dir.path());
    config.clock = shared;
    config.live_cap_ms = CAP_MS;
    let t = TestHub::adopt(Hub::start(config).await.unwrap(), dir).await;
    let (mut dev, token) = paired_online(&t, "LV5", "indoor").await;
    let id = dev.id.clone();
    assert_eq!(live(&t, &id).await["cap_s"], 60);

    let mut viewer = open_viewer(&t, &id).await;
    dev.expect("/cmd/live_start").await;
    assert_eq!(put_frame(&t, &id, &token, start).await, 200);
    let mut buf = Vec::new();
    assert_eq!(next_captured_at(&mut viewer, &mut buf).await, Some(start));
    let st = live(&t, &id).await;
    assert_eq!(st["started_at_ms"], start, "{st}");
    assert_eq!(st["ends_at_ms"], start + CAP_MS, "{st}");

    clock.advance(CAP_MS - 1_000);
    let r = t
        .post(&format!("/cameras/{id}/live/extend"), json!({}))
        .await;
    assert_eq!(r.status(), 200);
    assert_eq!(
        r.json::<Value>().await.unwrap()["ends_at_ms"],
        start + 2 * CAP_MS
    );
    clock.advance(CAP_MS);
    // Past the first cap, inside the extension: still streaming.
    assert_eq!(
        put_frame(&t, &id, &token, start + 2 * CAP_MS - 1_000).await,
        200
    );
    assert_eq!(
        next_captured_at(&mut viewer, &mut buf).await,
        Some(start + 2 * CAP_MS - 1_000)
    );

    clock.advance(1_000);
    dev.expect("/cmd/live_stop").await;
    // The stream ends: the viewer's response closes.
    let closed = tokio::time::timeout(Duration::from_secs(5), async {
        while let Ok(Some(_)) = viewer.chunk().await {}
    })
    .await;
    assert!(
        closed.is_ok(),
        "the viewer's stream stayed open past the cap"
    );
    let st = live(&t, &id).await;
    assert_eq!(
        (st["state"].as_str(), st["viewers"].as_u64()),
        (Some("idle"), Some(0)),
        "{st}"
    );
    assert_eq!(put_frame(&t, &id, &token, start + 2 * CAP_MS).await, 410);
}
