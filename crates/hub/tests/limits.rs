//! Guessing and holding, from loopback with bounded loops: wrong owner passwords are
//! limited per source address, and connections that send half a request head are
//! capped per address and closed after the head timeout.

mod common;

use common::*;
use serde_json::json;
use std::net::IpAddr;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use watchlight_hub::connlimit::{HEADER_READ_TIMEOUT, PER_ADDRESS};

fn client_from(local: &str) -> reqwest::Client {
    reqwest::Client::builder()
        .local_address(local.parse::<IpAddr>().unwrap())
        .build()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_owner_passwords_are_limited_per_address() {
    let t = start_hub(None).await;
    let login = t.url("/login");
    let guesser = client_from("127.0.0.7");
    let limit = watchlight_broker::guesses::Limits::OWNER;
    let started = Instant::now();
    let (mut looked_at, mut refused) = (0, 0);
    for i in 0..200 {
        let r = guesser
            .post(&login)
            .json(&json!({"username": "owner", "password": format!("guess-{i}")}))
            .send()
            .await
            .unwrap();
        match r.status().as_u16() {
            401 => looked_at += 1,
            429 => {
                assert!(r.headers().contains_key("retry-after"));
                refused += 1;
            }
            other => panic!("guess {i}: {other}"),
        }
    }
    eprintln!(
        "200 wrong owner passwords from one address: {looked_at} checked, {refused} refused unchecked, in {:?}",
        started.elapsed()
    );
    assert_eq!(looked_at, limit.max_failures);
    // Even the right password is not looked at from there until the lockout ends...
    let r = guesser
        .post(&login)
        .json(&json!({"username": "owner", "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 429);
    // ...while the owner at another address logs in, and a camera at the guesser's
    // address with its own right token still reaches the broker.
    let r = client_from("127.0.0.8")
        .post(&login)
        .json(&json!({"username": "owner", "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let (id, token) = pair(&t, "SN-L1", "mini").await;
    let dev = connect_device(&t, &id, &token).await;
    dev.say("online").await;
    eventually(5, "the camera online", || async {
        t.availability(&id).await == "online"
    })
    .await;
    t.hub.shutdown().await;
}

/// Opens `n` connections from `local` that each send half a request head; returns, for
/// each, how long the hub kept it open (bounded by `give_up`).
async fn half_open(
    addr: std::net::SocketAddr,
    local: &str,
    n: usize,
    give_up: Duration,
) -> Vec<tokio::task::JoinHandle<Duration>> {
    let mut held = Vec::new();
    for _ in 0..n {
        let socket = tokio::net::TcpSocket::new_v4().unwrap();
        socket.bind(format!("{local}:0").parse().unwrap()).unwrap();
        let mut stream = socket.connect(addr).await.unwrap();
        let opened = Instant::now();
        // A refused connection may be closed before this write lands.
        let _ = stream
            .write_all(b"GET /api/v1/hub HTTP/1.1\r\nHost: hub\r\nX-Slow: ")
            .await;
        held.push(tokio::spawn(async move {
            let mut buf = [0u8; 256];
            loop {
                match tokio::time::timeout_at((opened + give_up).into(), stream.read(&mut buf))
                    .await
                {
                    Ok(Ok(0)) | Ok(Err(_)) | Err(_) => return opened.elapsed(),
                    Ok(Ok(_)) => continue,
                }
            }
        }));
    }
    held
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn half_sent_request_heads_are_capped_per_address_and_timed_out() {
    let t = start_hub(None).await;
    let addr = t.hub.http_addr;
    const N: usize = 200;
    let give_up = HEADER_READ_TIMEOUT + Duration::from_secs(10);
    let started = Instant::now();
    let held = half_open(addr, "127.0.0.9", N, give_up).await;

    // While they are held, another address is served.
    let r = client_from("127.0.0.10")
        .get(t.url("/hub"))
        .header("cookie", &t.cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);

    let mut lifetimes = Vec::new();
    for h in held {
        lifetimes.push(h.await.unwrap());
    }
    let promptly = lifetimes
        .iter()
        .filter(|d| **d < Duration::from_secs(2))
        .count();
    let longest = lifetimes.iter().max().copied().unwrap_or_default();
    eprintln!(
        "{N} half-open connections from one address: {} held, {promptly} closed within 2 s, \
         the longest held {longest:?} (head timeout {HEADER_READ_TIMEOUT:?}), all gone after {:?}",
        N - promptly,
        started.elapsed()
    );
    assert!(
        N - promptly <= PER_ADDRESS,
        "{} held from one address",
        N - promptly
    );
    assert!(
        longest < give_up,
        "a half-open connection was still open after {give_up:?}"
    );
    t.hub.shutdown().await;
}
