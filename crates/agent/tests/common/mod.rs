//! An in-process camera agent with its real local HTTP endpoint and no hub, for the
//! agent's own tests. Each test file uses part of it.
#![allow(dead_code)]

use serde_json::{Value, json};
use std::time::Duration;
use tokio::sync::oneshot;
use watchlight_agent::config::SimAccessPoint;
use watchlight_agent::{Agent, AgentConfig};
use watchlight_protocol::ProfileId;

pub struct Running {
    pub url: String,
    pub code: String,
    stop: Option<oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<()>,
    dir: tempfile::TempDir,
}

impl Running {
    pub async fn start(serial: &str) -> Running {
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
            dir,
        }
    }

    pub async fn status(&self) -> Value {
        reqwest::get(format!("{}/sim/status", self.url))
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    pub async fn wait_light(&self, want: &str) {
        for _ in 0..200 {
            if self.status().await["light_id"] == want {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("never showed {want}: {}", self.status().await);
    }

    /// Provisions it for a hub where nothing listens: the camera stays joining.
    pub async fn provision(&self, code: &str, pass: &str) -> (u16, Value) {
        self.provision_to(code, pass, "mqtt://127.0.0.1:9").await
    }

    /// Provisions it for a broker at `mqtt_url` (HTTP goes nowhere).
    pub async fn provision_to(&self, code: &str, pass: &str, mqtt_url: &str) -> (u16, Value) {
        let body = json!({
            "v": 1, "pairing_code": code,
            "wifi": {"ssid": "home", "passphrase": pass},
            "home": "home", "device_id": "cam-P1", "token": "tok",
            "hub": {"mqtt_url": mqtt_url, "http_url": "http://127.0.0.1:9", "cert_pem": null}
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

    /// The camera's data folder.
    pub fn dir(&self) -> &std::path::Path {
        self.dir.path()
    }

    pub async fn stop(mut self) {
        let _ = self.stop.take().unwrap().send(());
        self.task.await.unwrap();
    }
}
