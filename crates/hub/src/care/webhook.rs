//! Webhook POSTs: the I/O edge of [`watchlight_care::notify::Delivery`], which decides
//! what to send, signed how, and when to try again.

use crate::clock::Clock;
use std::time::Duration;
use watchlight_care::notify::{
    Attempt, DELIVERY_HEADER, Delivery, DeliveryState, SIGNATURE_HEADER,
};

/// Performs webhook POSTs (the I/O edge of [`Delivery`]).
#[derive(Debug, Clone)]
pub struct WebhookSender {
    client: reqwest::Client,
}

impl Default for WebhookSender {
    fn default() -> Self {
        WebhookSender::new(Duration::from_secs(10))
    }
}

impl WebhookSender {
    pub fn new(timeout: Duration) -> WebhookSender {
        // Other crates in the binary enable reqwest's rustls with no default crypto
        // provider; without one installed, building the client panics. Idempotent.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let client = reqwest::Client::builder()
            .timeout(timeout)
            .build()
            .expect("a plain HTTP client always builds");
        WebhookSender { client }
    }

    /// One POST of the delivery's body with its signature.
    pub async fn attempt(&self, d: &Delivery) -> Attempt {
        let sent = self
            .client
            .post(&d.url)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header(SIGNATURE_HEADER, &d.signature)
            .header(DELIVERY_HEADER, d.notification_id.to_string())
            .body(d.body.clone())
            .send()
            .await;
        match sent {
            Ok(resp) => Attempt::Status(resp.status().as_u16()),
            Err(e) => Attempt::Transport(e.to_string()),
        }
    }

    /// Delivers with retries, waiting between attempts on the hub's clock; returns the
    /// final state.
    pub async fn deliver(&self, d: &mut Delivery, clock: &dyn Clock) -> DeliveryState {
        loop {
            match d.state.clone() {
                DeliveryState::Pending { due_ms } => {
                    crate::clock::sleep_until(clock, due_ms).await;
                    let outcome = self.attempt(d).await;
                    d.record(clock.now_ms(), outcome);
                }
                done => return done,
            }
        }
    }
}
