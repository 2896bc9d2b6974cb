//! External-broker mode (`--mqtt-url`) against a private Mosquitto started by the test
//! from a generated configuration (password file and ACL patterns) on a free port.
//! The hub installs each camera's credential through the same sink the CLI's
//! `--mosquitto-passwd FILE --mosquitto-pid-file FILE` uses (the password file edited,
//! Mosquitto reloaded by SIGHUP): pairing lets the camera in, it comes online and gets
//! its clock set, a wrong token gets nothing through, its last will takes it offline,
//! it comes back, and forgetting it locks it out.

mod common;

use common::*;
use std::path::PathBuf;
use std::time::{Duration, Instant};
use watchlight_broker::external::{MosquittoSetup, MosquittoUser};
use watchlight_broker::testing::MosquittoProcess;
use watchlight_hub::{Hub, HubConfig, MqttMode};

/// 1.5 × the 5 s keepalive + 1 s (SPEC §10).
const SOCKET_CLOSED_BAR: Duration = Duration::from_millis(8_500);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pairing_and_availability_through_a_private_mosquitto() {
    let dir = tempfile::tempdir().unwrap();
    let data: PathBuf = dir.path().join("hub");
    std::fs::create_dir_all(&data).unwrap();
    let hub_token =
        watchlight_hub::load_or_create_token(&data.join(watchlight_hub::HUB_TOKEN_FILE)).unwrap();
    let setup = MosquittoSetup {
        home: "home".into(),
        listen: "127.0.0.1:0".parse().unwrap(),
        tls: None,
        users: vec![MosquittoUser::new("hub", &hub_token)],
        persistence_dir: None,
    };
    let (process, port) = MosquittoProcess::start(&dir.path().join("mosquitto"), &setup).unwrap();
    let files = process.files().clone();
    let mut config = HubConfig::new(&data);
    config.insecure = true;
    config.mqtt = MqttMode::External {
        url: format!("mqtt://127.0.0.1:{port}"),
    };
    config.external_credentials = Some(watchlight_hub::credentials::mosquitto_password_sink(
        files.password_file.clone(),
        Some(files.pid_file.clone()),
    ));
    let hub = Hub::start(config).await.unwrap();
    assert_eq!(hub.mqtt_url, format!("mqtt://127.0.0.1:{port}"));
    let t = TestHub::adopt(hub, dir).await;
    eventually(5, "hub connected to mosquitto", || async {
        t.get_json("/hub").await["upstream_up"] == true
    })
    .await;

    let (id, token) = pair(&t, "MQ1", "mini").await;
    let passwd = std::fs::read_to_string(&files.password_file).unwrap();
    assert!(passwd.contains(&format!("{id}:$7$")), "{passwd}");
    assert!(
        !passwd.contains(&token),
        "only a hash of the token is written"
    );
    // Mosquitto reloads on its next loop turn after SIGHUP: until then the camera's client
    // is refused and tries again, as a camera does, and its messages wait for the login.
    let mut dev = connect_device(&t, &id, &token).await;
    dev.say("online").await;
    let time = dev.expect("/cmd/time").await;
    assert!(time["args"]["now_ms"].as_u64().is_some(), "{time}");
    eventually(5, "online", || async {
        t.availability(&id).await == "online"
    })
    .await;

    // A wrong token is refused by Mosquitto: nothing reaches the hub (a client sends
    // nothing before its CONNACK).
    let url = t.hub.mqtt_url.strip_prefix("mqtt://").unwrap().to_string();
    let (host, port) = url.rsplit_once(':').unwrap();
    let mut opts = rumqttc::MqttOptions::new("cam-MQ1", host, port.parse().unwrap());
    opts.set_credentials("cam-MQ1", "0".repeat(64));
    let (intruder, mut intruder_loop) = rumqttc::AsyncClient::new(opts, 8);
    intruder
        .publish(
            "watchlight/v1/home/cam-MQ1/availability",
            rumqttc::QoS::AtLeastOnce,
            true,
            r#"{"v":1,"ts":1,"availability":"offline"}"#,
        )
        .await
        .unwrap();
    let refused = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            if let Err(e) = intruder_loop.poll().await {
                return e;
            }
        }
    })
    .await
    .expect("Mosquitto answers the login");
    assert!(
        matches!(refused, rumqttc::ConnectionError::ConnectionRefused(_)),
        "{refused:?}"
    );
    assert_eq!(t.availability(&id).await, "online");

    // The camera's process dies (its socket closes): offline by its last will.
    dev.task.abort();
    drop(dev);
    let died = Instant::now();
    eventually(10, "offline by last will", || async {
        t.availability(&id).await == "offline"
    })
    .await;
    let latency = died.elapsed();
    println!(
        "Mosquitto, socket closed -> offline at the hub after {} ms (bar {} ms)",
        latency.as_millis(),
        SOCKET_CLOSED_BAR.as_millis()
    );
    assert!(latency <= SOCKET_CLOSED_BAR, "{latency:?}");
    let history = t.get_json(&format!("/cameras/{id}/availability")).await;
    let last = history["history"].as_array().unwrap().last().unwrap();
    assert_eq!(last["reason"], "last_will", "{history}");

    // It comes back.
    let mut dev = connect_device(&t, &id, &token).await;
    dev.say("online").await;
    dev.expect("/cmd/time").await;
    eventually(5, "online again", || async {
        t.availability(&id).await == "online"
    })
    .await;
    dev.task.abort();
    drop(dev);

    // Forgotten: its line leaves the password file (Mosquitto refuses its next login).
    let r = t
        .http
        .delete(t.url(&format!("/cameras/{id}")))
        .header("cookie", &t.cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    let passwd = std::fs::read_to_string(&files.password_file).unwrap();
    assert!(!passwd.contains(&format!("{id}:")), "{passwd}");
    assert!(passwd.starts_with("hub:"), "the hub keeps its own user");
    drop(process);
    t.hub.shutdown().await;
}
