//! The hub with its disk full (the store's disk-full path injected): events are not
//! acknowledged until stored, so the camera keeps them and none is lost; uploads get
//! 507; the owner is told (live stream, light, doctor) though the database cannot be
//! written; the owner can still log in; and all resumes when there is room.

mod common;

use common::*;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use std::time::Duration;

fn event(seq: u64, kind: &str) -> String {
    json!({"v": 1, "ts": 1_800_000_000_000u64 + seq, "seq": seq, "event": kind}).to_string()
}

/// Waits (bounded) for the hub's acknowledgement of `seq`; other messages are skipped.
async fn acked(dev: &mut Device, seq: u64, within: Duration) -> bool {
    let deadline = tokio::time::Instant::now() + within;
    loop {
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        match tokio::time::timeout(left, dev.messages.recv()).await {
            Ok(Some((topic, payload))) if topic.ends_with("/cmd/ack") => {
                let ack: Value = serde_json::from_slice(&payload).unwrap();
                if ack["seq"] == seq {
                    return true;
                }
            }
            Ok(Some(_)) => continue,
            _ => return false,
        }
    }
}

async fn stored_seqs(t: &TestHub, device: &str) -> Vec<u64> {
    let mut seqs: Vec<u64> = t
        .hub
        .state
        .store()
        .events(Some(device), 0, u64::MAX / 2, 1000)
        .unwrap()
        .iter()
        .map(|e| e.seq)
        .collect();
    seqs.sort();
    seqs
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_disk_loses_no_event_refuses_uploads_with_507_and_says_so() {
    let t = start_hub(None).await;
    let (id, token) = pair(&t, "FD1", "mini").await;
    let mut dev = connect_device(&t, &id, &token).await;
    dev.say("online").await;
    for seq in 1..=5 {
        dev.publish("event", event(seq, "motion_start")).await;
        assert!(
            acked(&mut dev, seq, Duration::from_secs(5)).await,
            "seq {seq}"
        );
    }
    let mut live = t.hub.state.subscribe_live();

    t.hub.state.store().inject_disk_full(true);
    // Seq 6 and 7 (motion_start, motion_end) cannot be stored: not acknowledged.
    dev.publish("event", event(6, "motion_start")).await;
    dev.publish("event", event(7, "motion_end")).await;
    eventually(5, "the hub knows its storage is full", || async {
        t.hub.state.storage_full().is_some_and(|f| f.refused >= 2)
    })
    .await;
    assert!(
        !acked(&mut dev, 6, Duration::from_millis(500)).await,
        "an event the hub could not store was acknowledged"
    );
    assert_eq!(stored_seqs(&t, &id).await, vec![1, 2, 3, 4, 5]);

    // Told, though the database cannot take the notification.
    let mut told = (false, false, false);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while told != (true, true, true) && tokio::time::Instant::now() < deadline {
        let Ok(Ok(rec)) = tokio::time::timeout(Duration::from_secs(1), live.recv()).await else {
            continue;
        };
        match rec["type"].as_str() {
            Some("storage_full") => told.0 = true,
            Some("hub_light") if rec["data"]["id"] == "blue_solid_red_blink" => told.1 = true,
            Some("notification") if rec["data"]["kind"] == "storage" => told.2 = true,
            _ => {}
        }
    }
    assert_eq!(
        told,
        (true, true, true),
        "storage_full, hub light, notification"
    );

    // Uploads: 507, nothing kept.
    let video = vec![7u8; 50_000];
    let clip = format!("{id}-1800000000006-1");
    let r = t
        .http
        .put(t.url(&format!("/devices/{id}/clips/{clip}")))
        .header("connection", "close")
        .bearer_auth(&token)
        .header("content-type", "video/mp4")
        .header("x-watchlight-sha256", hex(&video))
        .body(video.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 507, "{}", r.text().await.unwrap());
    assert!(t.hub.state.store().clip(&id, &clip).unwrap().is_none());

    // The owner logs in all the same, and sees the hub light and the doctor sees it.
    let http = reqwest::Client::new();
    let cookie = login(&http, &t.hub.http_url).await;
    let hub: Value = http
        .get(t.url("/hub"))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(hub["light"]["id"], "blue_solid_red_blink", "{hub}");
    assert!(
        hub["storage_full"]["refused"].as_u64().unwrap() >= 3,
        "{hub}"
    );
    let device = t.hub.state.store().device(&id).unwrap().unwrap();
    let case =
        watchlight_hub::doctor_case::case_now(&t.hub.state, &device, t.hub.state.now()).unwrap();
    assert_eq!(case.telemetry.hub_storage_free_pct, Some(0.0));

    // Room again: the camera sends 6 and 7 again; stored once each, no gap.
    t.hub.state.store().inject_disk_full(false);
    dev.publish("event", event(6, "motion_start")).await;
    assert!(acked(&mut dev, 6, Duration::from_secs(5)).await);
    dev.publish("event", event(7, "motion_end")).await;
    assert!(acked(&mut dev, 7, Duration::from_secs(5)).await);
    assert_eq!(stored_seqs(&t, &id).await, vec![1, 2, 3, 4, 5, 6, 7]);
    assert!(t.hub.state.storage_full().is_none());
    let hub = t.get_json("/hub").await;
    assert_eq!(hub["light"]["id"], "blue_solid_green_solid", "{hub}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_duplicate_and_an_unreadable_event_are_acknowledged_so_the_queue_moves_on() {
    let t = start_hub(None).await;
    let (id, token) = pair(&t, "FD2", "mini").await;
    let mut dev = connect_device(&t, &id, &token).await;
    dev.publish("event", event(1, "motion_start")).await;
    assert!(acked(&mut dev, 1, Duration::from_secs(5)).await);
    // Sent again (the ack was lost): acknowledged again, stored once.
    dev.publish("event", event(1, "motion_start")).await;
    assert!(acked(&mut dev, 1, Duration::from_secs(5)).await);
    // An event the hub can never store: dropped, counted, and acknowledged.
    dev.publish(
        "event",
        json!({"v": 1, "ts": 1, "seq": 2, "event": 42}).to_string(),
    )
    .await;
    assert!(acked(&mut dev, 2, Duration::from_secs(5)).await);
    assert_eq!(stored_seqs(&t, &id).await, vec![1]);
}

fn hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}
