//! The agent in-process with its real local HTTP endpoint, without a hub: the
//! provisioning contract (pairing code, rate limit, Wi-Fi refusal) and the lights it
//! shows on the way.

use serde_json::{Value, json};
use std::time::Duration;
use tokio::sync::oneshot;
use watchlight_agent::config::SimAccessPoint;
use watchlight_agent::{Agent, AgentConfig};
use watchlight_protocol::ProfileId;

struct Running {
    url: String,
    code: String,
    stop: Option<oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<()>,
    _dir: tempfile::TempDir,
}

impl Running {
    async fn start(serial: &str) -> Running {
        let dir = tempfile::tempdir().unwrap();
        let mut config = AgentConfig::new(ProfileId::Mini, serial, dir.path());
        config.access_point = Some(SimAccessPoint {
            ssid: "home".into(),
            passphrase: "right".into(),
        });
        config.insecure = true;
        config.print_lights = false;
        let (ready_tx, ready_rx) = oneshot::channel();
        let (stop_tx, stop_rx) = oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            Agent::run(
                config,
                |r| {
                    let _ = ready_tx.send((r.local_url.clone(), r.pairing_code.clone()));
                },
                async {
                    let _ = stop_rx.await;
                },
            )
            .await
            .unwrap();
        });
        let (url, code) = ready_rx.await.unwrap();
        Running {
            url,
            code,
            stop: Some(stop_tx),
            task,
            _dir: dir,
        }
    }

    async fn status(&self) -> Value {
        reqwest::get(format!("{}/sim/status", self.url))
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    async fn wait_light(&self, want: &str) {
        for _ in 0..200 {
            if self.status().await["light_id"] == want {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("never showed {want}: {}", self.status().await);
    }

    async fn provision(&self, code: &str, pass: &str) -> (u16, Value) {
        let body = json!({
            "v": 1, "pairing_code": code,
            "wifi": {"ssid": "home", "passphrase": pass},
            "home": "home", "device_id": "cam-P1", "token": "tok",
            // Nothing listens here: the camera stays joining.
            "hub": {"mqtt_url": "mqtt://127.0.0.1:9", "http_url": "http://127.0.0.1:9", "cert_pem": null}
        });
        let resp = reqwest::Client::new()
            .post(format!("{}/provision", self.url))
            .json(&body)
            .send()
            .await
            .unwrap();
        let status = resp.status().as_u16();
        (status, resp.json().await.unwrap_or(Value::Null))
    }

    async fn stop(mut self) {
        let _ = self.stop.take().unwrap().send(());
        self.task.await.unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn setup_refuses_wrong_codes_and_shows_a_refused_wifi_password() {
    let cam = Running::start("P1").await;
    cam.wait_light("red_slow_blink").await;

    let (status, body) = cam.provision("999999x", "right").await;
    assert_eq!(
        (status, body["error"].as_str()),
        (403, Some("pairing_code"))
    );

    let (status, _) = cam.provision(&cam.code.clone(), "wrong").await;
    assert_eq!(status, 202);
    cam.wait_light("red_solid").await;
    let s: Value = reqwest::get(format!("{}/provision/status", cam.url))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(s, json!({"state": "setup", "last_error": "wifi_rejected"}));

    // The same code works again; with the right password it joins (green blink).
    let (status, _) = cam.provision(&cam.code.clone(), "right").await;
    assert_eq!(status, 202);
    cam.wait_light("green_blink").await;
    assert_eq!(cam.status().await["state"], "joining");
    cam.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn more_than_five_pairing_tries_a_minute_are_refused() {
    let cam = Running::start("P2").await;
    cam.wait_light("red_slow_blink").await;
    for _ in 0..5 {
        assert_eq!(cam.provision("bad", "x").await.0, 403);
    }
    let (status, body) = cam.provision(&cam.code.clone(), "right").await;
    assert_eq!(status, 429, "{body}");
    cam.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_malformed_control_body_gets_a_clear_400() {
    let cam = Running::start("P3").await;
    let resp = reqwest::Client::new()
        .post(format!("{}/sim/link", cam.url))
        .body("{nope")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 400);
    let body: Value = resp.json().await.unwrap();
    assert!(
        body["error"].as_str().unwrap().contains("invalid JSON"),
        "{body}"
    );
    cam.stop().await;
}
