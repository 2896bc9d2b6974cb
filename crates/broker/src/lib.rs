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
mod front;
pub mod guesses;
pub mod passwd;
mod registry;
pub mod testing;
pub mod tls;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use mqtt5::broker::auth::AuthProvider;
use mqtt5::broker::config::{
    AuthConfig, BrokerConfig as Mqtt5Config, StorageBackend, StorageConfig,
};
use mqtt5::broker::tls_acceptor::TlsAcceptorConfig;
use mqtt5::broker::{BrokerShutdownHandle, MqttBroker};
use tokio::sync::{broadcast, mpsc};
use tokio::task::JoinHandle;

pub use front::ConnectionLimits;
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
    #[error("MQTT broker could not start on {listen}: {error}")]
    Start {
        listen: SocketAddr,
        error: mqtt5::MqttError,
    },
    /// The address is taken (or not ours): said plainly, before the broker tries it,
    /// because the broker itself only says that it ended up with no listener.
    #[error("MQTT broker cannot listen on {listen}: {error}")]
    Listen {
        listen: SocketAddr,
        error: std::io::Error,
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

/// Where the certificate and key the broker presents are kept (PEM files in the hub's data
/// folder, the key mode 0600). mqtt5 reads them from these paths; the key is never copied
/// anywhere else, since whoever reads it can impersonate the hub to cameras that pin it.
#[derive(Debug, Clone)]
pub struct TlsIdentity {
    pub cert_path: PathBuf,
    pub key_path: PathBuf,
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
    /// Stops our accept loop and every connection it handed to mqtt5.
    front_shutdown: broadcast::Sender<()>,
    /// Closed once the accept loop and every connection it accepted have ended.
    front_closed: mpsc::Receiver<()>,
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
    /// Whether the broker can listen on `listen` (free, and an address of this machine).
    /// The hub asks before it creates anything in its data folder.
    pub fn check_listen(listen: SocketAddr) -> Result<(), BrokerError> {
        std::net::TcpListener::bind(listen)
            .map(drop)
            .map_err(|error| BrokerError::Listen { listen, error })
    }

    pub async fn start(config: BrokerConfig) -> Result<Broker, BrokerError> {
        Broker::start_with_limits(config, ConnectionLimits::default()).await
    }

    /// [`Broker::start`] with other bounds on connections that have not logged in.
    pub async fn start_with_limits(
        config: BrokerConfig,
        limits: ConnectionLimits,
    ) -> Result<Broker, BrokerError> {
        if !watchlight_protocol::topics::is_valid_id(&config.home) {
            return Err(BrokerError::InvalidHomeId(config.home));
        }
        if config.hub_token.is_empty() {
            return Err(BrokerError::EmptyHubToken);
        }
        let listen = config.listen;
        let listener = tokio::net::TcpListener::bind(listen)
            .await
            .map_err(|error| BrokerError::Listen { listen, error })?;
        let start_error = |error| BrokerError::Start { listen, error };
        let tls = match &config.tls {
            Some(identity) => {
                tls::install_ring_provider();
                let chain = TlsAcceptorConfig::load_cert_chain_from_file(&identity.cert_path)
                    .await
                    .map_err(start_error)?;
                let key = TlsAcceptorConfig::load_private_key_from_file(&identity.key_path)
                    .await
                    .map_err(start_error)?;
                Some(
                    TlsAcceptorConfig::new(chain, key)
                        .build_acceptor()
                        .map_err(start_error)?,
                )
            }
            None => None,
        };
        let mqtt5_config = mqtt5_config(&config);
        let devices = DeviceRegistry::new();
        let waiting = Arc::new(std::sync::Mutex::new(front::WaitingLogins::new(limits)));
        let provider = Arc::new(auth::WatchlightAuth {
            home: config.home.clone(),
            hub_token_sha256: token_sha256(&config.hub_token),
            devices: devices.clone(),
            guesses: std::sync::Mutex::new(guesses::GuessLimiter::new(guesses::Limits::MQTT)),
            started: std::time::Instant::now(),
            waiting: Arc::clone(&waiting),
        });
        let guessing = guesses::Limits::MQTT;
        tracing::info!(
            max_failures = guessing.max_failures,
            window_secs = guessing.window_ms / 1000,
            lockout_secs = guessing.lockout_ms / 1000,
            per = "source address",
            "Authentication rate limiting enabled"
        );
        let mut broker = MqttBroker::with_config(mqtt5_config.clone())
            .await
            .map_err(start_error)?
            .with_auth_provider(provider.clone());
        let parts = front::HandlerParts {
            config: Arc::new(mqtt5_config),
            router: broker.router(),
            auth: provider as Arc<dyn AuthProvider>,
            storage: broker.storage(),
            stats: broker.stats(),
            resources: broker.resource_monitor(),
        };
        let shutdown = broker.shutdown_handle();
        let mut ready = broker.ready_receiver();
        let task = tokio::spawn(async move {
            if let Err(e) = broker.run().await {
                tracing::error!("mqtt broker stopped: {e}");
            }
        });
        // `ready` flips once mqtt5's own tasks run; if `run` fails first, the sender drops.
        while !*ready.borrow_and_update() {
            if ready.changed().await.is_err() {
                return Err(start_error(mqtt5::MqttError::Configuration(
                    "broker stopped while starting".into(),
                )));
            }
        }
        let local_addr = listener
            .local_addr()
            .map_err(|error| BrokerError::Listen { listen, error })?;
        let (front_shutdown, _) = broadcast::channel(1);
        let (open, front_closed) = mpsc::channel(1);
        let front = front::Front {
            listener,
            tls,
            limits,
            waiting,
            parts,
            shutdown: front_shutdown.clone(),
            open,
        };
        tokio::spawn(front.run());
        tracing::info!(%local_addr, tls = config.tls.is_some(), home = %config.home, "mqtt broker ready");
        Ok(Broker {
            local_addr,
            tls: config.tls.is_some(),
            devices,
            shutdown,
            task: Some(task),
            front_shutdown,
            front_closed,
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
        // Our connections first, so that mqtt5 stores their sessions as it stops.
        let _ = self.front_shutdown.send(());
        if tokio::time::timeout(Duration::from_secs(5), self.front_closed.recv())
            .await
            .is_err()
        {
            tracing::warn!("mqtt connections did not close within 5 s");
        }
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
        let _ = self.front_shutdown.send(());
        self.shutdown.shutdown();
    }
}

/// The password file of mqtt5's fallback provider: always empty, and nothing to write.
const NO_USERS: &str = "/dev/null";

/// The mqtt5 configuration. Its own auth is set to deny everyone (no anonymous access, an
/// empty password file) so that if our provider were ever not installed the broker would
/// be closed, not open; `Broker::start` then installs ours. mqtt5's own guessing limit is
/// off: it belongs to the provider we replace, and ours ([`guesses`]) is the one in force.
fn mqtt5_config(config: &BrokerConfig) -> Mqtt5Config {
    let mut auth = AuthConfig::new()
        .with_allow_anonymous(false)
        .with_password_file(PathBuf::from(NO_USERS));
    auth.rate_limit.enabled = false;
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
    // Cameras connect through our own listener ([`front`]); mqtt5 insists on one of its
    // own, which stays on loopback, unadvertised, behind the same credentials.
    mqtt5.bind_addresses = vec![SocketAddr::from(([127, 0, 0, 1], 0))];
    mqtt5
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
        let config = BrokerConfig {
            listen: "127.0.0.1:0".parse().unwrap(),
            tls: None,
            home: "home".into(),
            hub_token: "hub-token".into(),
            persist_dir: None,
        };
        let mut broker = MqttBroker::with_config(mqtt5_config(&config))
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
            tls: None,
            home: "home".into(),
            hub_token: "SECRET-TOKEN".into(),
            persist_dir: None,
        };
        let shown = format!("{config:?}");
        assert!(!shown.contains("SECRET"), "{shown}");
    }
}
