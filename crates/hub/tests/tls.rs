//! TLS: the hub serves HTTPS and MQTTS with its self-signed certificate, hands the PEM
//! to the camera at pairing, and a client that pins it gets in while one that does
//! not is refused.

mod common;

use common::stand_in_camera;
use rumqttc::{AsyncClient, MqttOptions, QoS, TlsConfiguration, Transport};
use serde_json::{Value, json};
use std::time::Duration;
use watchlight_hub::{Hub, HubConfig};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn https_and_mqtts_with_the_pinned_certificate() {
    let dir = tempfile::tempdir().unwrap();
    let hub = Hub::start(HubConfig::new(dir.path())).await.unwrap();
    assert!(hub.http_url.starts_with("https://"), "{}", hub.http_url);
    assert!(hub.mqtt_url.starts_with("mqtts://"), "{}", hub.mqtt_url);
    let cert_pem = std::fs::read_to_string(dir.path().join("hub-cert.pem")).unwrap();
    let pinned = watchlight_broker::tls::pinned_client_config(&cert_pem).unwrap();
    let http = reqwest::Client::builder()
        .use_preconfigured_tls((*pinned).clone())
        .build()
        .unwrap();

    // A client that does not pin the certificate cannot talk to the hub.
    let unpinned_roots = rustls::RootCertStore::empty();
    let unpinned = rustls::ClientConfig::builder_with_provider(std::sync::Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(unpinned_roots)
    .with_no_client_auth();
    let stranger = reqwest::Client::builder()
        .use_preconfigured_tls(unpinned)
        .build()
        .unwrap();
    assert!(
        stranger
            .get(format!("{}/api/v1/hub", hub.http_url))
            .send()
            .await
            .is_err()
    );

    // Owner setup and login over HTTPS.
    let token = hub.setup_url.clone().unwrap();
    let token = token.split("token=").nth(1).unwrap();
    let base = format!("{}/api/v1", hub.http_url);
    let r = http
        .post(format!("{base}/setup"))
        .json(&json!({"token": token, "username": "owner", "password": common::PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let cookie = common::login(&http, &hub.http_url).await;
    let r = http
        .post(format!("{base}/login"))
        .json(&json!({"username": "owner", "password": common::PASSWORD}))
        .send()
        .await
        .unwrap();
    let set_cookie = r.headers()["set-cookie"].to_str().unwrap().to_string();
    assert!(set_cookie.contains("; Secure"), "HTTPS: {set_cookie}");

    // Pairing hands the camera the certificate and the TLS URLs.
    let (url, prov) = stand_in_camera("777").await;
    let r = http
        .post(format!("{base}/cameras"))
        .header("cookie", &cookie)
        .json(
            &json!({"serial": "TLS1", "pairing_code": "777", "profile": "mini",
                      "wifi": {"ssid": "s", "passphrase": "p"}, "provision_url": url}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 202);
    let sent = prov.lock().unwrap().received.clone().unwrap();
    assert_eq!(sent["hub"]["cert_pem"], json!(cert_pem));
    assert_eq!(sent["hub"]["http_url"], json!(hub.http_url));
    let device_token = sent["token"].as_str().unwrap().to_string();

    // The camera connects over MQTTS, pinning the PEM it was given.
    let addr = hub.mqtt_url.strip_prefix("mqtts://").unwrap();
    let (host, port) = addr.rsplit_once(':').unwrap();
    let mut opts = MqttOptions::new("cam-TLS1", host, port.parse().unwrap());
    opts.set_credentials("cam-TLS1", device_token);
    opts.set_transport(Transport::tls_with_config(TlsConfiguration::Rustls(
        watchlight_broker::tls::pinned_client_config(sent["hub"]["cert_pem"].as_str().unwrap())
            .unwrap(),
    )));
    let (client, mut ev) = AsyncClient::new(opts, 16);
    tokio::spawn(async move { while ev.poll().await.is_ok() {} });
    client
        .publish(
            "watchlight/v1/home/cam-TLS1/availability",
            QoS::AtLeastOnce,
            true,
            r#"{"v":1,"ts":1,"availability":"online"}"#,
        )
        .await
        .unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    loop {
        let cam: Value = http
            .get(format!("{base}/cameras/cam-TLS1"))
            .header("cookie", &cookie)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        if cam["availability"] == "online" && cam["paired"] == true {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "camera not online over TLS: {cam}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    hub.shutdown().await;
}
