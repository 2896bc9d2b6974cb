//! Notifications end to end: the router's output delivered by the real sender over real
//! HTTP to a local receiver on an ephemeral port, which checks signatures and fails the
//! first attempt of one notice with a 500.

use axum::Router as HttpRouter;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};
use watchlight_care::notify::{
    CareEvent, DELIVERY_HEADER, Delivery, DeliveryState, Notification, NotificationKind,
    RetryPolicy, Router, RouterConfig, SIGNATURE_HEADER, Webhook, verify,
};
use watchlight_hub::care::webhook::WebhookSender;
use watchlight_hub::clock::Clock;

const SECRET: &str = "per-webhook-secret";

#[derive(Default)]
struct Receiver {
    /// Every request: (delivery id, status returned, parsed body).
    requests: Vec<(u64, u16, serde_json::Value)>,
    /// Delivery ids whose first attempt gets a 500.
    fail_first: BTreeSet<u64>,
    bad_signatures: u32,
}

type Shared = Arc<Mutex<Receiver>>;

async fn hook(State(rx): State<Shared>, headers: HeaderMap, body: Bytes) -> StatusCode {
    let mut rx = rx.lock().unwrap();
    let sig = headers
        .get(SIGNATURE_HEADER)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if !verify(SECRET.as_bytes(), &body, sig) {
        rx.bad_signatures += 1;
        return StatusCode::UNAUTHORIZED;
    }
    let id: u64 = headers
        .get(DELIVERY_HEADER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let status = if rx.fail_first.remove(&id) {
        StatusCode::INTERNAL_SERVER_ERROR
    } else {
        StatusCode::NO_CONTENT
    };
    let json = serde_json::from_slice(&body).unwrap_or(serde_json::Value::Null);
    rx.requests.push((id, status.as_u16(), json));
    status
}

async fn start_receiver(rx: Shared) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let app = HttpRouter::new().route("/hook", post(hook)).with_state(rx);
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    format!("http://{addr}/hook")
}

async fn deliver_all(url: &str, notices: &[Notification]) -> Vec<DeliveryState> {
    let hook = Webhook {
        url: url.into(),
        secret: SECRET.into(),
        kinds: BTreeSet::new(),
    };
    let policy = RetryPolicy {
        max_attempts: 4,
        first_delay_ms: 20,
        max_delay_ms: 200,
    };
    let sender = WebhookSender::default();
    let clock = watchlight_hub::clock::SystemClock;
    let mut states = Vec::new();
    for n in notices {
        let mut d = Delivery::new(&hook, n, policy, clock.now_ms());
        states.push(sender.deliver(&mut d, &clock).await);
    }
    states
}

fn cameras() -> Vec<String> {
    (1..=4).map(|i| format!("cam{i}")).collect()
}

#[tokio::test]
async fn each_notification_type_arrives_once_and_a_500_is_retried() {
    let rx: Shared = Arc::default();
    let url = start_receiver(rx.clone()).await;
    let mut router = Router::new(RouterConfig::new("home1"), cameras());
    let min = 60_000;
    let mut notices = Vec::new();
    let events = [
        (
            0,
            CareEvent::Motion {
                camera: "cam1".into(),
                clip_id: "clip-1".into(),
                thumbnail_url: "/api/clips/clip-1/thumbnail.jpg".into(),
            },
        ),
        (
            min,
            CareEvent::BatteryLow {
                camera: "cam2".into(),
                percent: 9.0,
            },
        ),
        (
            2 * min,
            CareEvent::BatteryForecast {
                camera: "cam2".into(),
                days_left: 11.0,
                summary: "about 11 days left".into(),
            },
        ),
        (
            3 * min,
            CareEvent::Storage {
                used_bytes: 95,
                budget_bytes: 100,
                message: "Clip storage is 95 % full".into(),
            },
        ),
        (
            4 * min,
            CareEvent::DoctorFinding {
                camera: "cam3".into(),
                condition: "wifi_weak".into(),
                summary: "cam3's Wi-Fi signal is weak (-82 dBm)".into(),
            },
        ),
        (
            5 * min,
            CareEvent::CameraOffline {
                camera: "cam4".into(),
            },
        ),
    ];
    for (at, e) in events {
        notices.extend(router.handle(at, e));
    }
    notices.extend(router.poll(router.next_deadline().unwrap()));
    notices.extend(router.handle(
        10 * min,
        CareEvent::CameraOnline {
            camera: "cam4".into(),
        },
    ));
    let kinds: Vec<NotificationKind> = notices.iter().map(|n| n.kind).collect();
    assert_eq!(kinds.len(), 7, "{kinds:?}");

    let storage_id = notices
        .iter()
        .find(|n| n.kind == NotificationKind::Storage)
        .unwrap()
        .id;
    rx.lock().unwrap().fail_first.insert(storage_id);
    let states = deliver_all(&url, &notices).await;
    assert!(
        states
            .iter()
            .all(|s| matches!(s, DeliveryState::Delivered { .. })),
        "{states:?}"
    );

    let rx = rx.lock().unwrap();
    assert_eq!(rx.bad_signatures, 0);
    let mut accepted: BTreeMap<String, u32> = BTreeMap::new();
    for (_, status, body) in rx.requests.iter().filter(|r| r.1 == 204) {
        assert_eq!(*status, 204);
        *accepted
            .entry(body["kind"].as_str().unwrap().to_string())
            .or_default() += 1;
    }
    for kind in [
        "motion",
        "battery_low",
        "battery_forecast",
        "storage",
        "doctor_finding",
        "camera_offline",
        "camera_online",
    ] {
        assert_eq!(accepted.get(kind), Some(&1), "{kind}: {accepted:?}");
    }
    let storage_attempts: Vec<u16> = rx
        .requests
        .iter()
        .filter(|r| r.0 == storage_id)
        .map(|r| r.1)
        .collect();
    assert_eq!(storage_attempts, [500, 204]);
    let motion = rx
        .requests
        .iter()
        .find(|r| r.2["kind"] == "motion")
        .unwrap();
    assert_eq!(motion.2["thumbnail_url"], "/api/clips/clip-1/thumbnail.jpg");
}

#[tokio::test]
async fn a_home_wide_outage_reaches_the_webhook_as_one_notice() {
    let rx: Shared = Arc::default();
    let url = start_receiver(rx.clone()).await;
    let mut router = Router::new(RouterConfig::new("home1"), cameras());
    let mut notices = Vec::new();
    for (i, cam) in cameras().into_iter().enumerate() {
        notices.extend(router.handle(i as u64 * 2_000, CareEvent::CameraOffline { camera: cam }));
    }
    notices.extend(router.poll(3_600_000));
    for (i, cam) in cameras().into_iter().enumerate() {
        notices.extend(router.handle(
            3_600_000 + i as u64 * 1_000,
            CareEvent::CameraOnline { camera: cam },
        ));
    }
    notices.extend(router.poll(7_200_000));
    deliver_all(&url, &notices).await;
    let rx = rx.lock().unwrap();
    let kinds: Vec<&str> = rx
        .requests
        .iter()
        .map(|r| r.2["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["network_down", "network_back"]);
}

#[tokio::test]
async fn an_unreachable_webhook_fails_after_its_retries() {
    // A port nothing listens on: bind, learn the port, close.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut router = Router::new(RouterConfig::new("home1"), cameras());
    let n = router.handle(
        0,
        CareEvent::Storage {
            used_bytes: 1,
            budget_bytes: 1,
            message: "full".into(),
        },
    );
    let states = deliver_all(&format!("http://127.0.0.1:{port}/hook"), &n).await;
    assert!(
        matches!(&states[0], DeliveryState::Failed { attempts: 4, .. }),
        "{states:?}"
    );
}
