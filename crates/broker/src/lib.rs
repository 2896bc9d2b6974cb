//! Watchlight's MQTT broker: the hub embeds it by default (SPEC §5).
//!
//! Built on `mqtt5` (pinned, see `../shared/STACK-FACTS.md`): its one auth-provider hook
//! covers login, publish, subscribe and last wills, it keeps retained messages consistent,
//! can persist them, and shuts down cleanly. This crate adds Watchlight's permissions
//! ([`acl`]), the device credentials the hub changes at runtime ([`DeviceRegistry`]), the
//! hub's self-signed certificate ([`tls`]), and the external-Mosquitto mode ([`external`],
//! with a private-Mosquitto fixture for tests in [`testing`]).
//!
//! ```no_run
//! # async fn demo() -> Result<(), watchlight_broker::BrokerError> {
//! use watchlight_broker::{Broker, BrokerConfig, TlsIdentity, token_sha256, tls::HubCertificate};
//!
//! let cert = HubCertificate::load_or_create("/var/lib/watchlight".as_ref())?;
//! let broker = Broker::start(BrokerConfig {
//!     listen: "0.0.0.0:8883".parse().unwrap(),
//!     tls: Some(cert.identity()),      // None only with --insecure
//!     home: "home".into(),
//!     hub_token: "the hub's own token".into(),
//!     persist_dir: Some("/var/lib/watchlight/mqtt".into()),
//! })
//! .await?;
//! println!("mqtt on {}", broker.local_addr());
//! // At startup and at pairing: let a camera in with its token's SHA-256.
//! broker.devices().insert("cam-123", token_sha256("64 hex chars..."))?;
//! broker.devices().remove("cam-123");
//! broker.shutdown().await;
//! # Ok(()) }
//! ```

pub mod acl;
mod auth;
pub mod external;
pub mod passwd;
mod registry;
pub mod testing;
pub mod tls;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use mqtt5::broker::config::{
    AuthConfig, BrokerConfig as Mqtt5Config, StorageBackend, StorageConfig, TlsConfig,
};
use mqtt5::broker::{BrokerShutdownHandle, MqttBroker};
use tokio::task::JoinHandle;

pub use registry::{DeviceRegistry, token_sha256};

/// Largest MQTT packet accepted. Above the 64 KiB payload limit of SPEC §5 on purpose: the
/// hub must see oversized messages to count and log them; the broker only stops abuse.
pub const MAX_PACKET_BYTES: usize = 1024 * 1024;

/// Connections accepted at once: SPEC's 10,000 cameras, the hub's own sessions and room
/// for reconnections that overlap a not-yet-expired old connection.
pub const MAX_CLIENTS: usize = 20_000;

#[derive(Debug, thiserror::Error)]
pub enum BrokerError {
    #[error("device id {0:?} cannot be an MQTT user: use letters, digits, '-' and '_' (not 'hub')")]
    InvalidDeviceId(String),
    #[error("home id {0:?} cannot be a topic level: use letters, digits, '-' and '_'")]
    InvalidHomeId(String),
    #[error("the hub token is empty")]
    EmptyHubToken,
    #[error("MQTT broker could not start on {listen}: {source}")]
    Start {
        listen: SocketAddr,
        #[source]
        source: mqtt5::MqttError,
    },
    #[error("{what} {path}: {source}")]
    Io {
        what: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("certificate: {0}")]
    Certificate(String),
    #[error("{0}")]
    Mosquitto(String),
}

/// The certificate and key the broker presents, PEM-encoded.
#[derive(Clone)]
pub struct TlsIdentity {
    pub cert_pem: String,
    pub key_pem: String,
}

impl std::fmt::Debug for TlsIdentity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsIdentity")
            .field("cert_pem", &self.cert_pem)
            .field("key_pem", &"[REDACTED]")
            .finish()
    }
}

/// How to start the embedded broker.
#[derive(Clone)]
pub struct BrokerConfig {
    /// Where to listen; port 0 picks a free one (see [`Broker::local_addr`]).
    pub listen: SocketAddr,
    /// TLS identity. `None` means plain TCP: pass it only for `--insecure`.
    pub tls: Option<TlsIdentity>,
    /// The home id: devices may use only `watchlight/v1/{home}/{their id}/...`.
    pub home: String,
    /// The hub's own token: user `hub` may do everything under `watchlight/v1/#` and
    /// `homeassistant/#`. Kept only as a SHA-256 once the broker starts.
    pub hub_token: String,
    /// Where to keep retained messages and sessions across restarts; `None` keeps them in
    /// memory only. Device credentials are never persisted here: the hub re-registers its
    /// devices from its database at startup.
    pub persist_dir: Option<PathBuf>,
}

impl std::fmt::Debug for BrokerConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BrokerConfig")
            .field("listen", &self.listen)
            .field("tls", &self.tls.is_some())
            .field("home", &self.home)
            .field("hub_token", &"[REDACTED]")
            .field("persist_dir", &self.persist_dir)
            .finish()
    }
}

/// A running embedded broker. Dropping it stops it too, but [`Broker::shutdown`] waits
/// until it has.
pub struct Broker {
    local_addr: SocketAddr,
    tls: bool,
    devices: DeviceRegistry,
    shutdown: BrokerShutdownHandle,
    task: Option<JoinHandle<()>>,
    /// Holds the PEM files mqtt5 reads and the empty password file of its fallback provider.
    _private_dir: tempfile::TempDir,
}

impl std::fmt::Debug for Broker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Broker")
            .field("local_addr", &self.local_addr)
            .field("tls", &self.tls)
            .field("devices", &self.devices)
            .finish()
    }
}

impl Broker {
    /// Binds, starts serving, and returns once the broker accepts connections.
    pub async fn start(config: BrokerConfig) -> Result<Broker, BrokerError> {
        if !watchlight_protocol::topics::is_valid_id(&config.home) {
            return Err(BrokerError::InvalidHomeId(config.home));
        }
        if config.hub_token.is_empty() {
            return Err(BrokerError::EmptyHubToken);
        }
        let private_dir = tempfile::Builder::new()
            .prefix("watchlight-broker-")
            .tempdir()
            .map_err(|source| BrokerError::Io {
                what: "creating a private folder in",
                path: std::env::temp_dir(),
                source,
            })?;
        let mqtt5_config = mqtt5_config(&config, private_dir.path())?;
        let listen = config.listen;
        let devices = DeviceRegistry::new();
        let provider = Arc::new(auth::WatchlightAuth {
            home: config.home.clone(),
            hub_token_sha256: token_sha256(&config.hub_token),
            devices: devices.clone(),
        });
        let mut broker = MqttBroker::with_config(mqtt5_config)
            .await
            .map_err(|source| BrokerError::Start { listen, source })?
            .with_auth_provider(provider);
        let local_addr = if config.tls.is_some() {
            broker.tls_local_addr()
        } else {
            broker.local_addr()
        }
        .ok_or_else(|| BrokerError::Start {
            listen,
            source: mqtt5::MqttError::Configuration("no listener was bound".into()),
        })?;
        let shutdown = broker.shutdown_handle();
        let mut ready = broker.ready_receiver();
        let task = tokio::spawn(async move {
            if let Err(e) = broker.run().await {
                tracing::error!("mqtt broker stopped: {e}");
            }
        });
        // `ready` flips once the accept loops run; if `run` fails first, the sender drops.
        while !*ready.borrow_and_update() {
            if ready.changed().await.is_err() {
                return Err(BrokerError::Start {
                    listen,
                    source: mqtt5::MqttError::Configuration("broker stopped while starting".into()),
                });
            }
        }
        tracing::info!(%local_addr, tls = config.tls.is_some(), home = %config.home, "mqtt broker ready");
        Ok(Broker {
            local_addr,
            tls: config.tls.is_some(),
            devices,
            shutdown,
            task: Some(task),
            _private_dir: private_dir,
        })
    }

    /// The address it really listens on (useful with port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Whether clients must speak TLS to it.
    pub fn is_tls(&self) -> bool {
        self.tls
    }

    /// The credentials it accepts; change them at any time.
    pub fn devices(&self) -> &DeviceRegistry {
        &self.devices
    }

    /// Stops accepting, closes every connection and waits until the broker has stopped.
    /// Clients see a closed connection; last wills of devices still connected are published
    /// to no one, since the hub's own subscription closes too.
    pub async fn shutdown(mut self) {
        self.shutdown.shutdown();
        if let Some(task) = self.task.take() {
            // Bounded: a client that never reads must not hold the hub's exit hostage.
            if tokio::time::timeout(Duration::from_secs(5), task)
                .await
                .is_err()
            {
                tracing::warn!("mqtt broker did not stop within 5 s");
            }
        }
    }
}

impl Drop for Broker {
    fn drop(&mut self) {
        self.shutdown.shutdown();
    }
}

/// The mqtt5 configuration. Its own auth is set to deny everyone (no anonymous access, an
/// empty password file) so that if our provider were ever not installed the broker would
/// be closed, not open; `Broker::start` then installs ours.
fn mqtt5_config(
    config: &BrokerConfig,
    private_dir: &std::path::Path,
) -> Result<Mqtt5Config, BrokerError> {
    let write_private = |name: &str, contents: &str| -> Result<PathBuf, BrokerError> {
        let path = private_dir.join(name);
        std::fs::write(&path, contents).map_err(|source| BrokerError::Io {
            what: "writing",
            path: path.clone(),
            source,
        })?;
        Ok(path)
    };
    let empty_passwords = write_private("no-users.passwd", "")?;
    let auth = AuthConfig::new()
        .with_allow_anonymous(false)
        .with_password_file(empty_passwords);
    let storage = match &config.persist_dir {
        Some(dir) => StorageConfig {
            backend: StorageBackend::File,
            base_dir: dir.clone(),
            enable_persistence: true,
            ..StorageConfig::default()
        },
        None => StorageConfig {
            backend: StorageBackend::Memory,
            enable_persistence: true,
            ..StorageConfig::default()
        },
    };
    let mut mqtt5 = Mqtt5Config::default()
        .with_auth(auth)
        .with_storage(storage)
        .with_sys_topics_enabled(false)
        .with_max_packet_size(MAX_PACKET_BYTES)
        .with_max_clients(MAX_CLIENTS);
    match &config.tls {
        Some(identity) => {
            tls::install_ring_provider();
            let cert = write_private("hub-cert.pem", &identity.cert_pem)?;
            let key = write_private("hub-key.pem", &identity.key_pem)?;
            mqtt5.bind_addresses = Vec::new();
            mqtt5 = mqtt5.with_tls(TlsConfig::new(cert, key).with_bind_address(config.listen));
        }
        None => mqtt5.bind_addresses = vec![config.listen],
    }
    Ok(mqtt5)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn bad_config_is_refused_by_name() {
        let base = BrokerConfig {
            listen: "127.0.0.1:0".parse().unwrap(),
            tls: None,
            home: "home".into(),
            hub_token: "t".into(),
            persist_dir: None,
        };
        let err = Broker::start(BrokerConfig {
            home: "a/b".into(),
            ..base.clone()
        })
        .await
        .unwrap_err();
        assert!(matches!(err, BrokerError::InvalidHomeId(_)), "{err}");
        let err = Broker::start(BrokerConfig {
            hub_token: String::new(),
            ..base.clone()
        })
        .await
        .unwrap_err();
        assert!(matches!(err, BrokerError::EmptyHubToken), "{err}");
    }

    /// STACK-FACTS pitfall: with anonymous access on, forgetting to install our provider
    /// leaves mqtt5 open. Our base configuration must refuse everyone on its own.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn without_our_provider_the_broker_is_closed_not_open() {
        let private = tempfile::tempdir().unwrap();
        let config = BrokerConfig {
            listen: "127.0.0.1:0".parse().unwrap(),
            tls: None,
            home: "home".into(),
            hub_token: "hub-token".into(),
            persist_dir: None,
        };
        let mut broker = MqttBroker::with_config(mqtt5_config(&config, private.path()).unwrap())
            .await
            .unwrap();
        let addr = broker.local_addr().unwrap();
        let stop = broker.shutdown_handle();
        let mut ready = broker.ready_receiver();
        let task = tokio::spawn(async move { broker.run().await });
        ready.wait_for(|r| *r).await.unwrap();
        for credentials in [None, Some(("hub", "hub-token")), Some(("cam-1", "x"))] {
            let mut options = rumqttc::MqttOptions::new("probe", "127.0.0.1", addr.port());
            if let Some((user, password)) = credentials {
                options.set_credentials(user, password);
            }
            let (_client, mut eventloop) = rumqttc::AsyncClient::new(options, 8);
            let outcome = tokio::time::timeout(Duration::from_secs(5), eventloop.poll())
                .await
                .expect("an answer");
            assert!(
                !matches!(
                    outcome,
                    Ok(rumqttc::Event::Incoming(rumqttc::Packet::ConnAck(_)))
                ),
                "{credentials:?} let in: {outcome:?}"
            );
        }
        stop.shutdown();
        task.await.unwrap().unwrap();
    }

    #[test]
    fn debug_output_hides_secrets() {
        let config = BrokerConfig {
            listen: "127.0.0.1:0".parse().unwrap(),
            tls: Some(TlsIdentity {
                cert_pem: "CERT".into(),
                key_pem: "SECRET-KEY".into(),
            }),
            home: "home".into(),
            hub_token: "SECRET-TOKEN".into(),
            persist_dir: None,
        };
        let shown = format!("{config:?} {:?}", config.tls);
        assert!(!shown.contains("SECRET"), "{shown}");
    }
}
