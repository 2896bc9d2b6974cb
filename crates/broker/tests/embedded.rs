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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_with_the_pinned_certificate_connects_and_any_other_fails() {
    let dir = tempfile::tempdir().unwrap();
    let cert = HubCertificate::load_or_create(dir.path()).unwrap();
    let inner = Broker::start(BrokerConfig {
        listen: "127.0.0.1:0".parse().unwrap(),
        tls: Some(cert.identity()),
        home: HOME.into(),
        hub_token: HUB_TOKEN.into(),
        persist_dir: None,
    })
    .await
    .unwrap();
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
