//! SPEC §5's permissions, over real TCP with rumqttc clients, against the embedded broker
//! and against a private Mosquitto running our generated configuration: the same suite.

mod common;

use std::time::Duration;

use common::*;
use rumqttc::{LastWill, QoS};
use watchlight_protocol::topics::DeviceTopic;

/// Runs each scenario against both brokers.
macro_rules! on_both_brokers {
    ($($scenario:ident),* $(,)?) => {
        mod embedded {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $scenario() {
                    super::$scenario(&super::embedded().await).await;
                }
            )*
        }
        mod mosquitto {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $scenario() {
                    super::$scenario(&super::mosquitto()).await;
                }
            )*
        }
    };
}

on_both_brokers!(
    allowed_traffic_flows,
    forbidden_publishes_never_arrive,
    forbidden_subscriptions_receive_nothing,
    a_last_will_on_another_devices_topic_is_refused,
    wrong_and_missing_credentials_are_refused,
);

/// A hub-side observer of everything under `watchlight/v1/#`.
async fn observer(broker: &TestBroker) -> Client {
    let mut hub = Client::connect(broker, Login::hub("hub-observer"))
        .await
        .expect("hub connects");
    assert!(hub.subscribe("watchlight/v1/#").await, "hub may read all");
    hub
}

/// Device → hub state (retained), hub → device settings (retained) and commands.
async fn allowed_traffic_flows(broker: &TestBroker) {
    let mut hub = observer(broker).await;
    let mut a = Client::connect(broker, Login::device(A))
        .await
        .expect("a registered device connects");
    for t in DeviceTopic::ALL {
        a.publish(&topics(A).topic(t), t.as_str().as_bytes(), t.retained())
            .await;
    }
    let marker = topics(A).topic(DeviceTopic::CmdResult);
    let got = hub.until(&marker).await;
    let topics_seen: Vec<&str> = got.iter().map(|r| r.topic.as_str()).collect();
    let expected: Vec<String> = DeviceTopic::ALL
        .iter()
        .map(|t| topics(A).topic(*t))
        .collect();
    assert_eq!(topics_seen, expected, "{}", broker.name());

    // Settings are retained: a device that subscribes after they were written gets them.
    let hub_writer = Client::connect(broker, Login::hub("hub-writer"))
        .await
        .unwrap();
    hub_writer
        .publish(&topics(A).settings(), br#"{"v":1,"version":3}"#, true)
        .await;
    // The hub sees its own write, so the broker has stored it before the device subscribes.
    hub.until(&topics(A).settings()).await;
    assert!(a.subscribe(&topics(A).settings()).await, "own settings");
    let settings = a
        .next(Duration::from_secs(5))
        .await
        .expect("retained settings");
    assert_eq!(settings.topic, topics(A).settings());
    assert!(settings.retain);
    assert_eq!(settings.payload, br#"{"v":1,"version":3}"#);

    assert!(a.subscribe(&topics(A).cmd_filter()).await, "own cmd/#");
    hub_writer
        .publish(&topics(A).cmd("reboot"), br#"{"v":1,"id":"c1"}"#, false)
        .await;
    let cmd = a.next(Duration::from_secs(5)).await.expect("command");
    assert_eq!(cmd.topic, topics(A).cmd("reboot"));
}

/// A device writing to another device's topics, to its own `settings` or `cmd`, or to the
/// hub's: nothing reaches anyone.
async fn forbidden_publishes_never_arrive(broker: &TestBroker) {
    let mut hub = observer(broker).await;
    let mut b = Client::connect(broker, Login::device(B)).await.unwrap();
    assert!(b.subscribe(&topics(B).settings()).await);
    assert!(b.subscribe(&topics(B).cmd_filter()).await);
    let a = Client::connect(broker, Login::device(A)).await.unwrap();

    let forbidden = [
        topics(B).topic(DeviceTopic::State),
        topics(B).topic(DeviceTopic::Availability),
        topics(B).topic(DeviceTopic::Event),
        topics(B).settings(),
        topics(B).cmd("factory_reset"),
        topics(A).settings(),
        topics(A).cmd("reboot"),
        topics(A).hub_availability(),
        format!("{}/state/extra", topics(A).prefix()),
        "homeassistant/binary_sensor/cam-b/config".to_string(),
        "elsewhere/topic".to_string(),
    ];
    for topic in &forbidden {
        a.publish(topic, b"forged", true).await;
    }
    // A's own telemetry, published last: when the hub has it, A's earlier publishes have
    // all been routed (or dropped).
    let marker = topics(A).topic(DeviceTopic::Telemetry);
    a.publish(&marker, b"marker", false).await;
    let got = hub.until(&marker).await;
    assert_eq!(
        got.len(),
        1,
        "{}: forged messages arrived: {got:?}",
        broker.name()
    );

    // B saw nothing either; the hub writes B's settings to prove B is listening.
    let hub_writer = Client::connect(broker, Login::hub("hub-writer"))
        .await
        .unwrap();
    hub_writer
        .publish(&topics(B).settings(), b"genuine", true)
        .await;
    let first = b
        .next(Duration::from_secs(5))
        .await
        .expect("genuine settings");
    assert_eq!(
        first.payload,
        b"genuine",
        "{}: B got {first:?}",
        broker.name()
    );
    assert_eq!(b.next(Duration::from_millis(300)).await, None);

    // Nothing forged was retained either.
    let mut late = Client::connect(broker, Login::hub("hub-late"))
        .await
        .unwrap();
    assert!(late.subscribe("watchlight/v1/#").await);
    assert!(late.subscribe("homeassistant/#").await);
    while let Some(r) = late.next(Duration::from_millis(500)).await {
        assert_ne!(r.payload, b"forged", "{}: retained {r:?}", broker.name());
    }
}

/// `#`, `watchlight/v1/+/+/state`, another device's subtree: refused by the embedded
/// broker; Mosquitto grants them but delivers nothing. Either way nothing arrives.
async fn forbidden_subscriptions_receive_nothing(broker: &TestBroker) {
    let b = Client::connect(broker, Login::device(B)).await.unwrap();
    b.publish(&topics(B).topic(DeviceTopic::State), b"b-state", true)
        .await;
    let mut hub = observer(broker).await;
    // B's retained state is stored once the hub can read it back.
    let b_state = topics(B).topic(DeviceTopic::State);
    let seen = hub.until(&b_state).await;
    assert_eq!(seen.last().unwrap().payload, b"b-state");

    let mut a = Client::connect(broker, Login::device(A)).await.unwrap();
    for filter in [
        "#".to_string(),
        "watchlight/v1/#".to_string(),
        "watchlight/v1/+/+/state".to_string(),
        format!("{}/#", topics(B).prefix()),
        topics(B).settings(),
        topics(B).cmd_filter(),
        topics(B).topic(DeviceTopic::State),
        format!("{}/#", topics(A).prefix()),
        "$SYS/#".to_string(),
    ] {
        let granted = a.subscribe(&filter).await;
        if broker.refuses_forbidden_subscriptions {
            assert!(!granted, "embedded broker granted {filter}");
        }
    }
    assert!(a.subscribe(&topics(A).cmd_filter()).await);

    // Fresh traffic for B, then a command for A as the marker.
    b.publish(&b_state, b"b-state-2", true).await;
    hub.until(&b_state).await;
    let hub_writer = Client::connect(broker, Login::hub("hub-writer"))
        .await
        .unwrap();
    hub_writer
        .publish(&topics(B).settings(), b"for-b", true)
        .await;
    hub_writer
        .publish(&topics(B).cmd("identify"), b"for-b", false)
        .await;
    let marker = topics(A).cmd("identify");
    hub_writer.publish(&marker, b"for-a", false).await;
    let got = a.until(&marker).await;
    assert_eq!(
        got.iter().map(|r| r.topic.as_str()).collect::<Vec<_>>(),
        vec![marker.as_str()],
        "{}: A received foreign messages",
        broker.name()
    );
}

/// A last will aimed at another device's availability would let A mark B offline. The
/// embedded broker refuses such a CONNECT; Mosquitto 2.0 accepts it but never publishes
/// the will. Either way nothing arrives; a will on A's own availability does.
async fn a_last_will_on_another_devices_topic_is_refused(broker: &TestBroker) {
    let mut hub = observer(broker).await;
    let mut forbidden = vec![
        topics(B).topic(DeviceTopic::Availability),
        topics(B).topic(DeviceTopic::State),
        topics(A).settings(),
        "elsewhere".to_string(),
    ];
    if broker.refuses_forbidden_wills {
        // Only availability may carry a will. Mosquitto's ACL cannot say that, and a will
        // on a topic A may write anyway gives A nothing it does not already have.
        forbidden.push(topics(A).topic(DeviceTopic::State));
    }
    for topic in forbidden {
        let mut login = Login::device(A);
        login.will = Some(LastWill::new(
            topic.clone(),
            "forged",
            QoS::AtLeastOnce,
            true,
        ));
        match Client::connect(broker, login).await {
            Err(_) => {}
            Ok(client) => {
                assert!(
                    !broker.refuses_forbidden_wills,
                    "{}: will on {topic} accepted",
                    broker.name()
                );
                drop(client); // no DISCONNECT: a will would fire now
            }
        }
    }
    // A forged will must never arrive, and Mosquitto accepts such a login but publishes
    // nothing: there is no event to await, so a wrong will gets time to fire first.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let mut login = Login::device(A);
    let own = topics(A).topic(DeviceTopic::Availability);
    login.will = Some(LastWill::new(
        own.clone(),
        "offline",
        QoS::AtLeastOnce,
        true,
    ));
    let a = Client::connect(broker, login)
        .await
        .expect("own will allowed");
    drop(a);
    let got = hub.until(&own).await;
    assert_eq!(
        got.len(),
        1,
        "{}: only A's own will: {got:?}",
        broker.name()
    );
    assert_eq!(got[0].payload, b"offline");
    // Nor was a forged will retained anywhere.
    let mut late = Client::connect(broker, Login::hub("hub-late"))
        .await
        .unwrap();
    assert!(late.subscribe("watchlight/v1/#").await);
    while let Some(r) = late.next(Duration::from_millis(500)).await {
        assert_ne!(r.payload, b"forged", "{}: retained {r:?}", broker.name());
    }
}

async fn wrong_and_missing_credentials_are_refused(broker: &TestBroker) {
    let mut wrong_token = Login::device(A);
    wrong_token.password = Some(token(B));
    let mut unknown_device = Login::device("cam-unknown");
    unknown_device.password = Some(token("cam-unknown"));
    let mut hub_wrong = Login::hub("hub-x");
    hub_wrong.password = Some(token(A));
    let mut no_password = Login::device(A);
    no_password.password = None;
    for (what, login) in [
        ("another device's token", wrong_token),
        ("an unknown device", unknown_device),
        ("the hub with a device token", hub_wrong),
        ("anonymous", Login::anonymous("anon")),
        ("no password", no_password),
    ] {
        let result = Client::connect(broker, login).await;
        let why = result.err().unwrap_or_else(|| {
            panic!("{}: {what} was let in", broker.name());
        });
        assert!(
            why.contains("refused") || why.contains("I/O"),
            "{}: {what}: {why}",
            broker.name()
        );
    }
}
