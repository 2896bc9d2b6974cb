//! The agent in-process with its real local HTTP endpoint, without a hub: the
//! provisioning contract (pairing code, rate limit, Wi-Fi refusal) and the lights it
//! shows on the way.

use serde_json::{Value, json};

mod common;

use common::Running;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn setup_refuses_wrong_codes_and_shows_a_refused_wifi_password() {
    let cam = Running::start("P1").await;
    cam.wait_light("red_slow_blink").await;

    let (status, body) = cam.provision("999999x", "right").await;
    assert_eq!(
        (status, body["error"].as_str()),
        (403, Some("pairing_code"))
    );

    let (status, _) = cam.provision(&cam.code.clone(), "wrong").await;
    assert_eq!(status, 202);
    cam.wait_light("red_solid").await;
    let s: Value = reqwest::get(format!("{}/provision/status", cam.url))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(s, json!({"state": "setup", "last_error": "wifi_rejected"}));

    // The same code works again; with the right password it joins (green blink).
    let (status, _) = cam.provision(&cam.code.clone(), "right").await;
    assert_eq!(status, 202);
    cam.wait_light("green_blink").await;
    assert_eq!(cam.status().await["state"], "joining");
    cam.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn more_than_five_pairing_tries_a_minute_are_refused() {
    let cam = Running::start("P2").await;
    cam.wait_light("red_slow_blink").await;
    for _ in 0..5 {
        assert_eq!(cam.provision("bad", "x").await.0, 403);
    }
    let (status, body) = cam.provision(&cam.code.clone(), "right").await;
    assert_eq!(status, 429, "{body}");
    cam.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_malformed_control_body_gets_a_clear_400() {
    let cam = Running::start("P3").await;
    let resp = reqwest::Client::new()
        .post(format!("{}/sim/link", cam.url))
        .body("{nope")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 400);
    let body: Value = resp.json().await.unwrap();
    assert!(
        body["error"].as_str().unwrap().contains("invalid JSON"),
        "{body}"
    );
    cam.stop().await;
}
