//! What only the external-Mosquitto mode needs: new devices applied by rewriting the
//! generated files and a reload, without restarting Mosquitto.

mod common;

use common::*;
use watchlight_broker::external::MosquittoSetup;
use watchlight_broker::testing::MosquittoProcess;
use watchlight_protocol::topics::DeviceTopic;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_device_paired_later_gets_in_after_a_reload() {
    let dir = tempfile::tempdir().unwrap();
    let setup = MosquittoSetup {
        home: HOME.into(),
        listen: "127.0.0.1:0".parse().unwrap(),
        tls: None,
        users: mosquitto_users(&[A]),
        persistence_dir: None,
    };
    let (mut process, port) = MosquittoProcess::start(dir.path(), &setup).unwrap();
    assert_eq!(process.port(), port);
    let broker = TestBroker {
        server: Server::MosquittoHeldByTest,
        port,
        tls: None,
        refuses_forbidden_subscriptions: false,
        refuses_forbidden_wills: false,
    };
    assert!(Client::connect(&broker, Login::device(B)).await.is_err());

    process.set_users(mosquitto_users(&[A, B])).unwrap();
    let mut hub = Client::connect(&broker, Login::hub("hub-observer"))
        .await
        .unwrap();
    assert!(hub.subscribe("watchlight/v1/#").await);
    let b = Client::connect(&broker, Login::device(B))
        .await
        .unwrap_or_else(|e| panic!("after reload: {e}\n{}", process.log()));
    let state = topics(B).topic(DeviceTopic::State);
    b.publish(&state, b"hello", false).await;
    assert_eq!(hub.until(&state).await.len(), 1);
    // The ACL applies to the new device as to the others.
    b.publish(&topics(A).topic(DeviceTopic::State), b"forged", false)
        .await;
    let marker = topics(B).topic(DeviceTopic::Telemetry);
    b.publish(&marker, b"marker", false).await;
    assert_eq!(hub.until(&marker).await.len(), 1);
}
