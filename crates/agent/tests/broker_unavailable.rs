//! A camera whose broker cannot take it (the hub's disk is full, it is restarting)
//! keeps its credentials however long that lasts: only a refusal of the credentials
//! counts toward the ten that send it back to setup (docs/contracts.md).

mod common;

use common::Running;
use serde_json::Value;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

/// Answers every CONNECT with CONNACK `code` and counts the attempts.
async fn refusing_broker(code: u8) -> (u16, Arc<AtomicUsize>) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let count = Arc::new(AtomicUsize::new(0));
    let seen = count.clone();
    tokio::spawn(async move {
        while let Ok((mut s, _)) = listener.accept().await {
            let mut buf = [0u8; 512];
            if s.read(&mut buf).await.unwrap_or(0) == 0 {
                continue;
            }
            seen.fetch_add(1, Ordering::SeqCst);
            let _ = s.write_all(&[0x20, 0x02, 0x00, code]).await;
        }
    });
    (port, count)
}

/// Provisions an in-process camera for a hub whose broker answers `code`, waits until the
/// broker has answered `attempts` connections, and returns the camera's status then and
/// whether its credentials file is still there.
async fn camera_against(code: u8, attempts: usize) -> (Value, bool) {
    let (port, count) = refusing_broker(code).await;
    let cam = Running::start("U1").await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while cam.status().await["state"] != "setup" {
        assert!(
            tokio::time::Instant::now() < deadline,
            "never reached setup"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let (status, _) = cam
        .provision_to(&cam.code, "right", &format!("mqtt://127.0.0.1:{port}"))
        .await;
    assert!((200..300).contains(&status), "provisioning: {status}");
    // A joining camera retries every second: bounded by the attempts it must make.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(6 + 3 * attempts as u64);
    while count.load(Ordering::SeqCst) < attempts {
        assert!(
            tokio::time::Instant::now() < deadline,
            "only {} connection attempts before the deadline",
            count.load(Ordering::SeqCst)
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // The camera has read the last answer once it is waiting to retry (or left for setup).
    tokio::time::sleep(Duration::from_millis(300)).await;
    let status = cam.status().await;
    let kept = cam.dir().join("credentials.json").exists();
    cam.stop().await;
    (status, kept)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_broker_that_cannot_take_the_camera_never_sends_it_back_to_setup() {
    // CONNACK 3, server unavailable: what the embedded broker answers when the hub's disk
    // is full. Fourteen answers are more than the ten refusals that would reset it.
    let (status, kept) = camera_against(3, 14).await;
    assert!(kept, "the camera forgot its credentials: {status}");
    assert_eq!(status["state"], "joining", "{status}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_refusals_of_the_credentials_send_it_back_to_setup() {
    // CONNACK 4, bad user name or password: the hub no longer knows this camera.
    let (status, kept) = camera_against(4, 10).await;
    assert!(!kept, "credentials kept after ten refusals: {status}");
    assert_eq!(status["state"], "setup", "{status}");
}
