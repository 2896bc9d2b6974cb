//! Connections that have not logged in yet: a silent one must not keep cameras out, and
//! one address may hold only so many of them, while logged-in cameras never count.

mod common;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use common::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use watchlight_broker::tls::{HubCertificate, pinned_client_config};
use watchlight_broker::{Broker, BrokerConfig, ConnectionLimits};

fn config(tls: Option<&HubCertificate>) -> BrokerConfig {
    BrokerConfig {
        listen: "127.0.0.1:0".parse().unwrap(),
        tls: tls.map(HubCertificate::identity),
        home: HOME.into(),
        hub_token: HUB_TOKEN.into(),
        persist_dir: None,
    }
}

/// A TCP connection from `local` (any 127.x address is loopback on Linux) that says nothing.
async fn silent(broker: SocketAddr, local: &str) -> TcpStream {
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.bind(format!("{local}:0").parse().unwrap()).unwrap();
    socket.connect(broker).await.unwrap()
}

/// Whether the broker closes `stream` within `within` (end of stream or a reset).
async fn closed_within(stream: &mut TcpStream, within: Duration) -> bool {
    let mut byte = [0u8; 1];
    matches!(
        tokio::time::timeout(within, stream.read(&mut byte)).await,
        Ok(Ok(0) | Err(_))
    )
}

/// A raw MQTT 3.1.1 CONNECT as the hub user from `local`; the open connection if the
/// broker answered "accepted".
async fn logged_in(broker: SocketAddr, local: &str, client_id: &str) -> Option<TcpStream> {
    let mut stream = silent(broker, local).await;
    let field = |s: &str| {
        let mut out = (s.len() as u16).to_be_bytes().to_vec();
        out.extend_from_slice(s.as_bytes());
        out
    };
    let mut body = field("MQTT");
    body.extend_from_slice(&[4, 0b1100_0010, 0, 60]);
    for s in [client_id, "hub", HUB_TOKEN] {
        body.extend(field(s));
    }
    let mut packet = vec![0x10, body.len() as u8];
    packet.extend(body);
    stream.write_all(&packet).await.ok()?;
    let mut connack = [0u8; 4];
    match tokio::time::timeout(Duration::from_secs(5), stream.read_exact(&mut connack)).await {
        Ok(Ok(_)) if connack[0] == 0x20 && connack[3] == 0 => Some(stream),
        _ => None,
    }
}

/// mqtt5's own listener did each TLS handshake inside its accept loop with no deadline:
/// one connection that never spoke kept every camera out for as long as it stayed open.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connection_that_never_speaks_keeps_no_camera_out_and_is_closed_in_time() {
    let dir = tempfile::tempdir().unwrap();
    let cert = HubCertificate::load_or_create(dir.path()).unwrap();
    let limits = ConnectionLimits {
        tls_handshake: Duration::from_millis(500),
        ..ConnectionLimits::default()
    };
    let inner = Broker::start_with_limits(config(Some(&cert)), limits)
        .await
        .unwrap();
    let addr = inner.local_addr();
    let mut quiet = silent(addr, "127.0.0.2").await;
    let broker = TestBroker {
        port: addr.port(),
        server: Server::Embedded(inner),
        tls: Some(pinned_client_config(&cert.cert_pem).unwrap()),
        refuses_forbidden_subscriptions: true,
        refuses_forbidden_wills: true,
    };
    let started = Instant::now();
    let mut login = Login::hub("hub-while-one-is-silent");
    login.host = "localhost".into();
    if let Err(e) = Client::connect(&broker, login).await {
        panic!("a silent connection kept the hub out: {e}");
    }
    assert!(
        started.elapsed() < limits.tls_handshake,
        "the login waited for the silent connection's deadline"
    );
    assert!(
        closed_within(&mut quiet, Duration::from_secs(5)).await,
        "a connection that never finished its TLS handshake stayed open"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_address_may_hold_only_so_many_connections_waiting_to_log_in() {
    let limits = ConnectionLimits {
        waiting_per_address: 4,
        ..ConnectionLimits::default()
    };
    let broker = Broker::start_with_limits(config(None), limits)
        .await
        .unwrap();
    let addr = broker.local_addr();

    let mut held = Vec::new();
    for _ in 0..limits.waiting_per_address {
        held.push(silent(addr, "127.0.0.2").await);
    }
    let mut one_more = silent(addr, "127.0.0.2").await;
    assert!(
        closed_within(&mut one_more, Duration::from_secs(5)).await,
        "a fifth connection waiting to log in from one address was kept"
    );
    for (i, quiet) in held.iter_mut().enumerate() {
        assert!(
            !closed_within(quiet, Duration::from_millis(50)).await,
            "waiting connection {i}, within the limit, was closed"
        );
    }

    // Another address is not held up by the first one's connections.
    assert!(
        logged_in(addr, "127.0.0.3", "hub-elsewhere")
            .await
            .is_some()
    );

    // Cameras that have logged in do not count: one address holds more of them than
    // the waiting limit.
    let mut sessions = Vec::new();
    for i in 0..limits.waiting_per_address * 2 {
        let session = logged_in(addr, "127.0.0.4", &format!("hub-{i}")).await;
        sessions.push(session.unwrap_or_else(|| panic!("login {i} from one address refused")));
    }

    // Once the silent ones go, their address may connect again.
    drop(held);
    let deadline = Instant::now() + Duration::from_secs(10);
    while logged_in(addr, "127.0.0.2", "hub-back").await.is_none() {
        assert!(
            Instant::now() < deadline,
            "the address stayed refused after its waiting connections closed"
        );
        tokio::time::sleep(Duration::from_millis(50)).await; // poll interval
    }
    broker.shutdown().await;
}
