//! One MQTT connection to the hub. The agent makes a new [`Session`] for every
//! connection attempt (the camera core decides when, with backoff), so nothing here
//! reconnects by itself. What the event loop sees comes back to the agent as
//! [`SessionEvent`]s tagged with the session's number, so events of a connection that
//! was cut are told apart from those of the next one.
//!
//! Publish acknowledgements: every publish goes through [`Session::publish`] with an
//! optional tag; rumqttc reports outgoing publishes in the order they were requested,
//! which maps each packet id to its tag, and a PUBACK then names the tag. The offline
//! queue deletes an event only once its tag is acknowledged.

use rumqttc::{
    AsyncClient, ConnectionError, Event, LastWill, MqttOptions, Outgoing, Packet, QoS,
    TlsConfiguration, Transport,
};
use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

#[derive(Debug)]
pub enum SessionEvent {
    Connected {
        session: u64,
    },
    /// The broker refused the credentials (the hub does not know this token); see
    /// [`refuses_credentials`].
    Refused {
        session: u64,
        reason: String,
    },
    /// The connection failed or closed.
    Closed {
        session: u64,
        reason: String,
    },
    Message {
        session: u64,
        topic: String,
        payload: Vec<u8>,
    },
    Acked {
        session: u64,
        tag: u64,
    },
}

#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    #[error("hub MQTT URL '{0}' is not mqtt://host:port or mqtts://host:port")]
    BadUrl(String),
    #[error("the hub at {0} has no TLS and --insecure was not given")]
    NotSecure(String),
    #[error("pinned hub certificate: {0}")]
    Certificate(String),
    #[error("simulated radio: {0}")]
    Radio(String),
}

/// How to reach the broker.
#[derive(Clone)]
pub struct SessionConfig {
    pub url: String,
    pub client_id: String,
    pub username: String,
    pub password: String,
    pub keepalive_s: u64,
    /// Topic and payload of the last will (mains cameras).
    pub last_will: Option<(String, Vec<u8>)>,
    /// The pinned certificate for `mqtts://`.
    pub tls: Option<Arc<rustls::ClientConfig>>,
    pub allow_plain: bool,
    /// The simulated radio the bytes travel through (`None`: straight to the broker).
    pub radio: Option<crate::radio::SimRadio>,
}

pub struct Session {
    pub id: u64,
    client: AsyncClient,
    tags: Arc<Mutex<VecDeque<Option<u64>>>>,
    task: JoinHandle<()>,
}

impl Session {
    pub fn start(
        id: u64,
        config: &SessionConfig,
        events: mpsc::UnboundedSender<SessionEvent>,
    ) -> Result<Session, SessionError> {
        let (secure, host, port) = parse_mqtt_url(&config.url)?;
        if !secure && !config.allow_plain {
            return Err(SessionError::NotSecure(config.url.clone()));
        }
        let (host, port) = match &config.radio {
            Some(radio) => {
                let relay = radio
                    .relay(&host, port)
                    .map_err(|e| SessionError::Radio(e.to_string()))?;
                (relay.ip().to_string(), relay.port())
            }
            None => (host, port),
        };
        let mut options = MqttOptions::new(&config.client_id, host, port);
        options.set_credentials(&config.username, &config.password);
        options.set_keep_alive(Duration::from_secs(config.keepalive_s.max(1)));
        options.set_clean_session(false);
        options.set_max_packet_size(128 * 1024, 128 * 1024);
        if let Some((topic, payload)) = &config.last_will {
            options.set_last_will(LastWill::new(
                topic.clone(),
                payload.clone(),
                QoS::AtLeastOnce,
                true,
            ));
        }
        if secure {
            let tls = config
                .tls
                .clone()
                .ok_or_else(|| SessionError::Certificate("no certificate to pin".into()))?;
            options.set_transport(Transport::tls_with_config(TlsConfiguration::Rustls(tls)));
        }
        let (client, mut eventloop) = AsyncClient::new(options, 64);
        let tags: Arc<Mutex<VecDeque<Option<u64>>>> = Arc::default();
        let loop_tags = tags.clone();
        let task = tokio::spawn(async move {
            let mut by_pkid: HashMap<u16, u64> = HashMap::new();
            loop {
                match eventloop.poll().await {
                    Ok(Event::Incoming(Packet::ConnAck(_))) => {
                        let _ = events.send(SessionEvent::Connected { session: id });
                    }
                    Ok(Event::Incoming(Packet::Publish(p))) => {
                        let _ = events.send(SessionEvent::Message {
                            session: id,
                            topic: p.topic,
                            payload: p.payload.to_vec(),
                        });
                    }
                    Ok(Event::Incoming(Packet::PubAck(ack))) => {
                        if let Some(tag) = by_pkid.remove(&ack.pkid) {
                            let _ = events.send(SessionEvent::Acked { session: id, tag });
                        }
                    }
                    Ok(Event::Outgoing(Outgoing::Publish(pkid))) => {
                        let tag = loop_tags
                            .lock()
                            .unwrap_or_else(|p| p.into_inner())
                            .pop_front();
                        if let Some(Some(tag)) = tag
                            && pkid != 0
                        {
                            by_pkid.insert(pkid, tag);
                        }
                    }
                    Ok(_) => {}
                    Err(ConnectionError::ConnectionRefused(code)) => {
                        let reason = format!("{code:?}");
                        let event = if refuses_credentials(code) {
                            SessionEvent::Refused {
                                session: id,
                                reason,
                            }
                        } else {
                            SessionEvent::Closed {
                                session: id,
                                reason: format!("the broker cannot take the camera now ({reason})"),
                            }
                        };
                        let _ = events.send(event);
                        return;
                    }
                    Err(e) => {
                        let _ = events.send(SessionEvent::Closed {
                            session: id,
                            reason: e.to_string(),
                        });
                        return;
                    }
                }
            }
        });
        Ok(Session {
            id,
            client,
            tags,
            task,
        })
    }

    /// Queues a publish without waiting; `tag` comes back in [`SessionEvent::Acked`]
    /// (QoS 1 only). Returns false when the client's queue is full.
    pub fn publish(
        &self,
        topic: String,
        qos: QoS,
        retain: bool,
        payload: Vec<u8>,
        tag: Option<u64>,
    ) -> bool {
        let mut tags = self.tags.lock().unwrap_or_else(|p| p.into_inner());
        tags.push_back(tag.filter(|_| qos != QoS::AtMostOnce));
        match self.client.try_publish(topic, qos, retain, payload) {
            Ok(()) => true,
            Err(_) => {
                tags.pop_back();
                false
            }
        }
    }

    pub fn subscribe(&self, filter: String) -> bool {
        self.client.try_subscribe(filter, QoS::AtLeastOnce).is_ok()
    }

    /// A clean goodbye (no last will); the event loop then reports `Closed`.
    pub fn disconnect(&self) {
        let _ = self.client.try_disconnect();
    }

    /// The link died: drop the socket at once, as a camera losing Wi-Fi does (the broker
    /// sees the connection break and publishes the last will).
    pub fn abort(self) {
        self.task.abort();
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Whether a CONNACK refusal is about the camera's credentials: only these count toward
/// the ten refusals that send a camera back to setup. A broker that is unavailable (full
/// disk, restarting) or refuses the protocol is a transient failure retried with backoff
/// however long it lasts, so a camera never forgets its credentials over it.
pub fn refuses_credentials(code: rumqttc::ConnectReturnCode) -> bool {
    use rumqttc::ConnectReturnCode as C;
    matches!(code, C::BadUserNamePassword | C::NotAuthorized)
}

/// `(tls, host, port)` of a broker address; the parsing is `protocol::mqtt_url`'s.
pub fn parse_mqtt_url(url: &str) -> Result<(bool, String, u16), SessionError> {
    let u = watchlight_protocol::mqtt_url::MqttUrl::parse(url)
        .map_err(|_| SessionError::BadUrl(url.to_string()))?;
    Ok((u.tls, u.host, u.port))
}

/// A TLS client config that trusts exactly `cert_pem`: the camera pins the certificate
/// it received at provisioning.
pub fn pinned_tls(cert_pem: &str) -> Result<Arc<rustls::ClientConfig>, SessionError> {
    use rustls::pki_types::CertificateDer;
    use rustls::pki_types::pem::PemObject;
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(cert_pem.as_bytes()) {
        let cert = cert.map_err(|e| SessionError::Certificate(e.to_string()))?;
        roots
            .add(cert)
            .map_err(|e| SessionError::Certificate(e.to_string()))?;
    }
    if roots.is_empty() {
        return Err(SessionError::Certificate("no PEM certificate given".into()));
    }
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .map_err(|e| SessionError::Certificate(e.to_string()))?
    .with_root_certificates(roots)
    .with_no_client_auth();
    Ok(Arc::new(config))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mqtt_urls_parse_and_bad_ones_are_named() {
        assert_eq!(
            parse_mqtt_url("mqtts://127.0.0.1:8883").unwrap(),
            (true, "127.0.0.1".into(), 8883)
        );
        assert_eq!(
            parse_mqtt_url("mqtt://localhost:1883/").unwrap(),
            (false, "localhost".into(), 1883)
        );
        for bad in ["http://x:1", "mqtt://x", "mqtt://:1", "mqtt://x:port"] {
            let err = parse_mqtt_url(bad).unwrap_err().to_string();
            assert!(err.contains(bad), "{err}");
        }
    }

    /// A stand-in broker that answers every CONNECT with `code` (a CONNACK return code)
    /// and counts the attempts: enough to see how the session reads a refusal.
    async fn refusing_broker(code: u8) -> (u16, Arc<std::sync::atomic::AtomicUsize>) {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let count = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let seen = count.clone();
        tokio::spawn(async move {
            while let Ok((mut s, _)) = listener.accept().await {
                let mut buf = [0u8; 512];
                if s.read(&mut buf).await.unwrap_or(0) == 0 {
                    continue;
                }
                seen.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                let _ = s.write_all(&[0x20, 0x02, 0x00, code]).await;
            }
        });
        (port, count)
    }

    async fn first_event(code: u8) -> SessionEvent {
        let (port, _) = refusing_broker(code).await;
        let config = SessionConfig {
            url: format!("mqtt://127.0.0.1:{port}"),
            client_id: "cam-1".into(),
            username: "cam-1".into(),
            password: "token".into(),
            keepalive_s: 5,
            last_will: None,
            tls: None,
            allow_plain: true,
            radio: None,
        };
        let (tx, mut rx) = mpsc::unbounded_channel();
        let _session = Session::start(1, &config, tx).unwrap();
        tokio::time::timeout(Duration::from_secs(10), rx.recv())
            .await
            .expect("the session reports within 10 s")
            .unwrap()
    }

    #[tokio::test]
    async fn only_a_refusal_of_the_credentials_is_a_refusal() {
        // 4 bad user name or password, 5 not authorized: the token is not known.
        for code in [4, 5] {
            let event = first_event(code).await;
            assert!(
                matches!(event, SessionEvent::Refused { .. }),
                "{code}: {event:?}"
            );
        }
        // 3 server unavailable (the hub's disk is full, the broker restarts), 1 protocol
        // version, 2 client id: the connection failed, the credentials may be right.
        for code in [3, 1, 2] {
            let event = first_event(code).await;
            let SessionEvent::Closed { reason, .. } = event else {
                panic!("{code}: {event:?}");
            };
            assert!(reason.contains("cannot take the camera now"), "{reason}");
        }
    }

    #[test]
    fn pinning_nothing_is_refused() {
        assert!(pinned_tls("").is_err());
        assert!(
            pinned_tls("-----BEGIN CERTIFICATE-----\nnope\n-----END CERTIFICATE-----\n").is_err()
        );
    }
}
