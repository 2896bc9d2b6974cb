//! How fast the hub learns that a mains camera is gone (SPEC §5): its last will
//! `offline` must reach a hub-side subscriber within 1.5 keepalives + 1 s = 8.5 s for a
//! 5 s keepalive, both when the camera's process dies (the socket closes) and when its
//! link goes silent (packets dropped, socket left open). The camera talks to the broker
//! through a TCP proxy in this test, which can forward, fall silent, or cut both sockets.
//!
//! Mosquitto 2.0 cannot meet that bound for a silent link: it sweeps keepalives only
//! once every 6 s, on whole-second clocks (`keepalive__check` in its `keepalive.c`), so it
//! notices a silent client between 1.5 keepalives and 1.5 keepalives + 7 s after its last
//! packet. Its test holds it to that looser bound ([`MOSQUITTO_SILENT_BOUND`]); the
//! external-broker mode is documented as slower to notice a silent link.
//!
//! Each test prints its measured latency (`cargo test -p watchlight-broker --test
//! last_will -- --nocapture`).

mod common;

use std::time::{Duration, Instant};

use common::*;
use rumqttc::{LastWill, QoS};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use watchlight_protocol::messages::{Availability, AvailabilityMsg, decode, encode};
use watchlight_protocol::topics::DeviceTopic;

const KEEPALIVE: Duration = Duration::from_secs(5);
/// 1.5 × keepalive + 1 s.
const BOUND: Duration = Duration::from_millis(8_500);
/// Mosquitto 2.0: 1.5 keepalives on whole-second clocks (up to 9 s), + one 6 s sweep, + 1 s.
const MOSQUITTO_SILENT_BOUND: Duration = Duration::from_millis(16_000);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Link {
    Forward,
    /// Stop moving bytes either way but keep both sockets open: a dead Wi-Fi link.
    Silent,
    /// Close both sockets: what the kernel does when the camera's process dies.
    Cut,
}

/// A one-connection-at-a-time TCP proxy whose link the test controls.
struct Proxy {
    port: u16,
    link: watch::Sender<Link>,
}

impl Proxy {
    async fn start(upstream_port: u16) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let (link, _) = watch::channel(Link::Forward);
        let control = link.clone();
        tokio::spawn(async move {
            while let Ok((downstream, _)) = listener.accept().await {
                let upstream = TcpStream::connect(("127.0.0.1", upstream_port))
                    .await
                    .unwrap();
                let (down_read, down_write) = downstream.into_split();
                let (up_read, up_write) = upstream.into_split();
                tokio::spawn(pipe(down_read, up_write, control.subscribe()));
                tokio::spawn(pipe(up_read, down_write, control.subscribe()));
            }
        });
        Proxy { port, link }
    }

    fn set(&self, link: Link) {
        self.link.send_replace(link);
    }
}

async fn pipe(
    mut from: tokio::net::tcp::OwnedReadHalf,
    mut to: tokio::net::tcp::OwnedWriteHalf,
    mut link: watch::Receiver<Link>,
) {
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        tokio::select! {
            read = from.read(&mut buf) => match read {
                Ok(0) | Err(_) => return,
                Ok(n) => {
                    if *link.borrow() != Link::Forward || to.write_all(&buf[..n]).await.is_err() {
                        break;
                    }
                }
            },
            changed = link.changed() => {
                if changed.is_err() || *link.borrow() != Link::Forward {
                    break;
                }
            }
        }
    }
    // Silent: hold both halves (sockets stay open, nothing moves) until cut or test end.
    let _ = link.wait_for(|l| *l == Link::Cut).await;
    drop((from, to));
}

fn offline_will() -> Vec<u8> {
    encode(&AvailabilityMsg {
        v: 1,
        ts: 0,
        availability: Availability::Offline,
    })
}

/// Connects a mains camera through a proxy, breaks the link the given way, and returns
/// how long the hub waited for `offline`.
async fn offline_latency(broker: &TestBroker, fault: Link, bound: Duration) -> Duration {
    let availability = topics(A).topic(DeviceTopic::Availability);
    let mut hub = Client::connect(broker, Login::hub("hub-observer"))
        .await
        .unwrap();
    assert!(hub.subscribe(&format!("{}/#", topics(A).prefix())).await);

    let proxy = Proxy::start(broker.port).await;
    let mut login = Login::device(A);
    login.port = Some(proxy.port);
    login.keep_alive = KEEPALIVE;
    login.clean_session = false;
    login.will = Some(LastWill::new(
        availability.clone(),
        offline_will(),
        QoS::AtLeastOnce,
        true,
    ));
    let camera = Client::connect(broker, login)
        .await
        .expect("camera connects");
    let online = encode(&AvailabilityMsg {
        v: 1,
        ts: 1,
        availability: Availability::Online,
    });
    camera.publish(&availability, &online, true).await;
    hub.until(&availability).await;
    // Fresh activity just before the fault, so the broker's keepalive clock has just
    // restarted: the worst case for a silent link.
    let state = topics(A).topic(DeviceTopic::State);
    camera.publish(&state, b"{}", true).await;
    hub.until(&state).await;

    let fault_at = Instant::now();
    proxy.set(fault);
    let deadline = fault_at + bound;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let Some(msg) = hub.next(left).await else {
            panic!("{}: no offline within {bound:?}", broker.name());
        };
        if msg.topic == availability {
            let parsed: AvailabilityMsg = decode(&msg.payload).expect("a valid will");
            if parsed.availability == Availability::Offline {
                let latency = fault_at.elapsed();
                proxy.set(Link::Cut);
                drop(camera);
                return latency;
            }
        }
    }
}

async fn check(broker: TestBroker, fault: Link, bound: Duration) {
    let latency = offline_latency(&broker, fault, bound).await;
    println!(
        "last-will latency, {} broker, {}: {:.1} ms (bound {} ms)",
        broker.name(),
        match fault {
            Link::Cut => "socket closed",
            _ => "link silent",
        },
        latency.as_secs_f64() * 1000.0,
        bound.as_millis()
    );
    assert!(
        latency <= bound,
        "{}: offline after {latency:?}",
        broker.name()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn embedded_socket_closed() {
    check(embedded().await, Link::Cut, BOUND).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn embedded_link_silent() {
    check(embedded().await, Link::Silent, BOUND).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mosquitto_socket_closed() {
    check(mosquitto(), Link::Cut, BOUND).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mosquitto_link_silent() {
    check(mosquitto(), Link::Silent, MOSQUITTO_SILENT_BOUND).await;
}
