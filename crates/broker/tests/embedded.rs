//! What only the embedded broker does: runtime credentials, client ids tied to device
//! ids, TLS with a pinned certificate, persistence and clean shutdown.

mod common;

use std::time::{Duration, Instant};

use common::*;
use watchlight_broker::tls::{HubCertificate, pinned_client_config};
use watchlight_broker::{Broker, BrokerConfig, token_sha256};
use watchlight_protocol::topics::DeviceTopic;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_device_must_use_its_own_id_as_client_id() {
    let broker = embedded().await;
    let mut hijack = Login::device(A);
    hijack.client_id = B.into();
    let why = Client::connect(&broker, hijack)
        .await
        .err()
        .expect("refused");
    assert!(why.contains("BadClientId"), "{why}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn devices_added_and_removed_at_runtime() {
    let broker = embedded().await;
    let Server::Embedded(inner) = &broker.server else {
        unreachable!()
    };
    let new = "cam-new";
    assert!(Client::connect(&broker, Login::device(new)).await.is_err());
    inner
        .devices()
        .insert(new, token_sha256(&token(new)))
        .unwrap();
    let mut hub = Client::connect(&broker, Login::hub("hub-observer"))
        .await
        .unwrap();
    assert!(hub.subscribe("watchlight/v1/#").await);
    let mut device = Client::connect(&broker, Login::device(new))
        .await
        .expect("paired device connects");
    let state = topics(new).topic(DeviceTopic::State);
    device.publish(&state, b"before", false).await;
    assert_eq!(hub.until(&state).await.len(), 1);

    // Removed (e.g. factory reset): its open session may no longer publish or subscribe,
    // and it cannot log in again.
    assert!(inner.devices().remove(new));
    device.publish(&state, b"after-removal", false).await;
    assert!(!device.subscribe(&topics(new).cmd_filter()).await);
    let marker = topics(A).topic(DeviceTopic::State);
    let a = Client::connect(&broker, Login::device(A)).await.unwrap();
    a.publish(&marker, b"marker", false).await;
    let got = hub.until(&marker).await;
    assert_eq!(got.len(), 1, "removed device still published: {got:?}");
    assert!(Client::connect(&broker, Login::device(new)).await.is_err());
}

/// A broker over TLS with the hub's certificate made (or read) in `dir`.
async fn tls_broker(dir: &std::path::Path) -> (HubCertificate, Broker) {
    let cert = HubCertificate::load_or_create(dir).unwrap();
    let broker = Broker::start(BrokerConfig {
        listen: "127.0.0.1:0".parse().unwrap(),
        tls: Some(cert.identity()),
        home: HOME.into(),
        hub_token: HUB_TOKEN.into(),
        persist_dir: None,
    })
    .await
    .unwrap();
    (cert, broker)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_with_the_pinned_certificate_connects_and_any_other_fails() {
    let dir = tempfile::tempdir().unwrap();
    let (cert, inner) = tls_broker(dir.path()).await;
    assert!(inner.is_tls());
    inner.devices().insert(A, token_sha256(&token(A))).unwrap();
    let port = inner.local_addr().port();
    let mut broker = TestBroker {
        server: Server::Embedded(inner),
        port,
        tls: Some(pinned_client_config(&cert.cert_pem).unwrap()),
        refuses_forbidden_subscriptions: true,
        refuses_forbidden_wills: true,
    };

    // Pinned, by name and by address: it works end to end.
    for host in ["localhost", "127.0.0.1"] {
        let mut login = Login::hub(&format!("hub-{host}"));
        login.host = host.into();
        let mut hub = Client::connect(&broker, login)
            .await
            .unwrap_or_else(|e| panic!("pinned TLS via {host}: {e}"));
        assert!(hub.subscribe("watchlight/v1/#").await);
        let mut login = Login::device(A);
        login.host = host.into();
        let a = Client::connect(&broker, login).await.unwrap();
        let state = topics(A).topic(DeviceTopic::State);
        a.publish(&state, b"over tls", false).await;
        assert_eq!(hub.until(&state).await.last().unwrap().payload, b"over tls");
    }

    // A client that trusts another hub's certificate refuses this one.
    let other_dir = tempfile::tempdir().unwrap();
    let other = HubCertificate::load_or_create(other_dir.path()).unwrap();
    broker.tls = Some(pinned_client_config(&other.cert_pem).unwrap());
    let mut login = Login::device(A);
    login.host = "localhost".into();
    let why = Client::connect(&broker, login)
        .await
        .err()
        .expect("refused");
    assert!(why.contains("TLS") || why.contains("certificate"), "{why}");

    // Plain MQTT to the TLS port gets nowhere.
    broker.tls = None;
    assert!(Client::connect(&broker, Login::device(A)).await.is_err());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retained_messages_survive_a_restart_with_a_persist_dir() {
    let data = tempfile::tempdir().unwrap();
    let config = BrokerConfig {
        listen: "127.0.0.1:0".parse().unwrap(),
        tls: None,
        home: HOME.into(),
        hub_token: HUB_TOKEN.into(),
        persist_dir: Some(data.path().join("mqtt")),
    };
    let settings = topics(A).settings();
    {
        let inner = Broker::start(config.clone()).await.unwrap();
        let broker = wrap(inner);
        let mut hub = Client::connect(&broker, Login::hub("hub")).await.unwrap();
        assert!(hub.subscribe(&settings).await);
        hub.publish(&settings, b"version 7", true).await;
        hub.until(&settings).await;
        let Server::Embedded(inner) = broker.server else {
            unreachable!()
        };
        inner.shutdown().await;
    }
    let inner = Broker::start(config).await.unwrap();
    // Credentials are not persisted: the hub registers its devices again.
    assert!(inner.devices().is_empty());
    inner.devices().insert(A, token_sha256(&token(A))).unwrap();
    let broker = wrap(inner);
    let mut a = Client::connect(&broker, Login::device(A)).await.unwrap();
    assert!(a.subscribe(&settings).await);
    let got = a.next(Duration::from_secs(5)).await.expect("retained");
    assert_eq!(got.payload, b"version 7");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_closes_connections_and_the_port_promptly() {
    let broker = embedded().await;
    let mut a = Client::connect(&broker, Login::device(A)).await.unwrap();
    let Server::Embedded(inner) = broker.server else {
        unreachable!()
    };
    let addr = inner.local_addr();
    let started = Instant::now();
    inner.shutdown().await;
    let took = started.elapsed();
    assert!(
        a.closed(Duration::from_secs(2)).await.is_some(),
        "client still connected after shutdown"
    );
    assert!(tokio::net::TcpStream::connect(addr).await.is_err());
    eprintln!("shutdown took {took:?}");
}

fn wrap(inner: Broker) -> TestBroker {
    TestBroker {
        port: inner.local_addr().port(),
        server: Server::Embedded(inner),
        tls: None,
        refuses_forbidden_subscriptions: true,
        refuses_forbidden_wills: true,
    }
}

/// Cameras pin the hub's certificate: whoever reads its key can impersonate the hub. The
/// broker reads the key where the hub keeps it (0600 in the data folder) and copies it
/// nowhere, in particular not into the system's shared temp folder.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_tls_key_stays_in_the_data_folder() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let (cert, inner) = tls_broker(dir.path()).await;
    let mode = std::fs::metadata(&cert.key_path)
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600, "{}", cert.key_path.display());

    let key_line = cert.key_pem.lines().nth(1).expect("a PEM body line");
    let mut copies = Vec::new();
    let mut folders = vec![std::env::temp_dir()];
    // Two levels: the temp folder and the folders in it (where the old copy lived).
    for depth in 0..2 {
        let mut next = Vec::new();
        for folder in folders {
            let Ok(entries) = std::fs::read_dir(&folder) else {
                continue;
            };
            for entry in entries.flatten() {
                let path = entry.path();
                let Ok(meta) = std::fs::symlink_metadata(&path) else {
                    continue;
                };
                if path == dir.path() {
                    continue; // the data folder itself (a temp folder in this test)
                }
                if meta.is_dir() && depth == 0 {
                    next.push(path);
                } else if meta.is_file()
                    && meta.len() < 64 * 1024
                    && std::fs::read_to_string(&path).is_ok_and(|t| t.contains(key_line))
                {
                    copies.push(path);
                }
            }
        }
        folders = next;
    }
    assert!(copies.is_empty(), "the hub's key was copied to {copies:?}");
    inner.shutdown().await;
}

/// One raw MQTT 3.1.1 CONNECT from `local` (any 127.x address is loopback on Linux);
/// returns the CONNACK return code, or `None` if the broker closed without one.
async fn raw_connect(
    broker: std::net::SocketAddr,
    local: &str,
    client_id: &str,
    user: &str,
    password: &str,
) -> Option<u8> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.bind(format!("{local}:0").parse().unwrap()).unwrap();
    let mut stream = socket.connect(broker).await.unwrap();
    let field = |s: &str| {
        let mut out = (s.len() as u16).to_be_bytes().to_vec();
        out.extend_from_slice(s.as_bytes());
        out
    };
    let mut body = field("MQTT");
    body.extend_from_slice(&[4, 0b1100_0010, 0, 30]);
    for s in [client_id, user, password] {
        body.extend(field(s));
    }
    let mut packet = vec![0x10, body.len() as u8];
    packet.extend(body);
    stream.write_all(&packet).await.unwrap();
    let mut connack = [0u8; 4];
    match tokio::time::timeout(Duration::from_secs(5), stream.read_exact(&mut connack)).await {
        Ok(Ok(_)) if connack[0] == 0x20 => Some(connack[3]),
        _ => None,
    }
}

/// Wrong passwords from one address are limited (unlimited, the broker takes ~13/s without
/// end), while a camera at another address with the right token still gets in, and the
/// guesser gets no answer on its credentials, even right ones, until the lockout ends.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_passwords_from_one_address_are_limited_per_address() {
    let broker = embedded().await;
    let Server::Embedded(inner) = &broker.server else {
        unreachable!()
    };
    let addr = inner.local_addr();
    const BAD_CREDENTIALS: u8 = 4;
    const SERVER_UNAVAILABLE: u8 = 3;
    let limit = watchlight_broker::guesses::Limits::MQTT;
    let started = Instant::now();
    let mut looked_at = 0;
    for i in 0..200 {
        let code = raw_connect(addr, "127.0.0.3", A, A, &format!("guess-{i}")).await;
        match code {
            Some(BAD_CREDENTIALS) => looked_at += 1,
            Some(SERVER_UNAVAILABLE) => {}
            other => panic!("guess {i}: {other:?}"),
        }
    }
    let took = started.elapsed();
    eprintln!(
        "200 wrong MQTT passwords from one address: {looked_at} looked at, {} refused unseen, in {took:?}",
        200 - looked_at
    );
    assert_eq!(looked_at, limit.max_failures);
    // Locked out: even the right token from that address is not looked at.
    assert_eq!(
        raw_connect(addr, "127.0.0.3", A, A, &token(A)).await,
        Some(SERVER_UNAVAILABLE)
    );
    // The camera itself, at its own address, is not locked out by someone guessing its name.
    assert_eq!(
        raw_connect(addr, "127.0.0.4", A, A, &token(A)).await,
        Some(0)
    );
    let camera = Client::connect(&broker, Login::device(B)).await;
    assert!(camera.is_ok(), "{:?}", camera.err());
}
