//! Starting and stopping the hub: data folder, store, certificate, embedded broker,
//! the hub's own MQTT session, the background loops (`loops`) and the HTTP(S) server.

use crate::clock::SharedClock;
use crate::credentials::CredentialSink;
use crate::netwatch::{NetWatch, NetworkProbe};
use crate::secrets::new_token;
use crate::state::{HubState, Shared, StateParts};
use crate::system_network::SystemNetwork;
use rumqttc::{AsyncClient, MqttOptions, TlsConfiguration, Transport};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use watchlight_broker::tls::HubCertificate;
use watchlight_broker::{Broker, BrokerConfig};
use watchlight_store::Store;

/// The hub's own MQTT token, kept in the data folder (mode 0600).
pub const HUB_TOKEN_FILE: &str = "hub-mqtt.token";
/// How long the one-time setup link works.
pub const SETUP_LINK_MS: u64 = 30 * 60 * 1000;

#[derive(Debug, Clone)]
pub enum MqttMode {
    /// Run the embedded broker on this address.
    Embedded { listen: SocketAddr },
    /// Use an external broker (`mqtt://` or `mqtts://`); its credentials are managed
    /// outside the hub.
    External { url: String },
}

#[derive(Clone)]
pub struct HubConfig {
    pub data_dir: PathBuf,
    pub http_addr: SocketAddr,
    pub mqtt: MqttMode,
    pub home: String,
    /// Plain TCP and HTTP: tests only.
    pub insecure: bool,
    pub clock: SharedClock,
    /// With an external broker: who installs device credentials there.
    pub external_credentials: Option<Arc<dyn CredentialSink>>,
    /// Where the hub looks at its own network: the machine's, or a simulation.
    pub network: Arc<dyn NetworkProbe>,
    /// How often it looks (and once at start).
    pub network_every: Duration,
    /// Free disk space the hub keeps by deleting the oldest clips (`storage`).
    pub storage_reserve_bytes: u64,
    /// A battery camera's live view session cap (SPEC §9).
    pub live_cap_ms: u64,
}

impl HubConfig {
    /// Ephemeral ports on localhost, embedded broker, home `home`, system clock.
    pub fn new(data_dir: impl Into<PathBuf>) -> HubConfig {
        HubConfig {
            data_dir: data_dir.into(),
            http_addr: "127.0.0.1:0".parse().expect("valid"),
            mqtt: MqttMode::Embedded {
                listen: "127.0.0.1:0".parse().expect("valid"),
            },
            home: "home".into(),
            insecure: false,
            clock: Arc::new(crate::clock::SystemClock),
            external_credentials: None,
            network: Arc::new(SystemNetwork),
            network_every: crate::netwatch::SAMPLE_EVERY,
            storage_reserve_bytes: crate::storage::DEFAULT_RESERVE_BYTES,
            live_cap_ms: crate::live_view::DEFAULT_CAP_MS,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum HubError {
    #[error("home id {0:?} cannot be a topic level: use letters, digits, '-' and '_'")]
    InvalidHome(String),
    #[error("data folder {path}: {source}")]
    DataDir {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(transparent)]
    Store(#[from] watchlight_store::StoreError),
    #[error(transparent)]
    Broker(#[from] watchlight_broker::BrokerError),
    #[error("cannot listen for HTTP on {addr}: {error}")]
    Http {
        addr: SocketAddr,
        error: std::io::Error,
    },
    #[error("TLS for HTTPS: {0}")]
    Tls(String),
    #[error("--mqtt-url {0:?} must look like mqtt://host:port or mqtts://host:port")]
    MqttUrl(String),
    #[error("hub reset: {0}")]
    Reset(String),
}

/// A running hub.
pub struct HubHandle {
    pub http_url: String,
    pub mqtt_url: String,
    /// Where HTTP and the embedded broker actually listen (a restart reuses them).
    pub http_addr: SocketAddr,
    pub mqtt_addr: Option<SocketAddr>,
    /// The one-time link to create the owner, when there is none yet.
    pub setup_url: Option<String>,
    pub state: Shared,
    shutdown: watch::Sender<bool>,
    broker: Option<Broker>,
    http: axum_server::Handle,
    tasks: Vec<JoinHandle<()>>,
}

pub struct Hub;

impl Hub {
    pub async fn start(config: HubConfig) -> Result<HubHandle, HubError> {
        if !watchlight_protocol::topics::is_valid_id(&config.home) {
            return Err(HubError::InvalidHome(config.home));
        }
        // Both listeners are checked before anything is written, so a start that cannot
        // serve leaves no database or certificate behind.
        let listener = bind_http(config.http_addr)?;
        if let MqttMode::Embedded { listen } = &config.mqtt {
            Broker::check_listen(*listen)?;
        }
        let folder = open_data_folder(&config)?;
        let link = start_or_reach_broker(&config, &folder).await?;
        let mqtt_url = link.url();
        let (mqtt, eventloop) = hub_mqtt_session(&link, &folder)?;
        let http_addr = listener.local_addr().map_err(|error| HubError::Http {
            addr: config.http_addr,
            error,
        })?;
        let http_url = http_url(http_addr, folder.cert.is_some());
        let state = build_state(
            &config,
            folder.store,
            folder.cert.as_ref(),
            &link,
            mqtt,
            &mqtt_url,
            &http_url,
        )?;
        restore_devices(&state).await?;
        let setup_url = open_setup_link(&state, &http_url)?;
        let (shutdown, shutdown_rx) = watch::channel(false);
        let mut tasks = crate::loops::spawn(
            &state,
            eventloop,
            config.network.clone(),
            config.network_every,
            &shutdown_rx,
        );
        let (http, server) = serve_http(listener, folder.cert.as_ref(), state.clone()).await?;
        tasks.push(server);
        tracing::info!(%http_url, %mqtt_url, home = %config.home, "hub running");
        Ok(HubHandle {
            http_url,
            mqtt_url,
            http_addr,
            mqtt_addr: link.broker.as_ref().map(Broker::local_addr),
            setup_url,
            state,
            shutdown,
            broker: link.broker,
            http,
            tasks,
        })
    }
}

/// What a start reads from (or first creates in) the data folder.
struct DataFolder {
    store: Store,
    /// `None` when insecure.
    cert: Option<HubCertificate>,
    /// The hub's own MQTT password ([`HUB_TOKEN_FILE`]).
    hub_token: String,
}

/// Creates the data folder (the hub user's alone), opens the store, removes what a crash
/// left unfinished, and loads or creates the certificate and the hub's MQTT token.
fn open_data_folder(config: &HubConfig) -> Result<DataFolder, HubError> {
    let dir = &config.data_dir;
    // Everything the hub and its broker create is the hub user's alone (folders
    // 0700, files 0600): the process's umask covers files made by mqtt5 and SQLite.
    rustix::process::umask(rustix::fs::Mode::from_raw_mode(0o077));
    watchlight_store::private::create_private_dir(dir).map_err(|source| HubError::DataDir {
        path: dir.clone(),
        source,
    })?;
    watchlight_broker::tls::install_ring_provider();
    let store = Store::open(dir, config.clock.clone())?;
    // Nothing uploads before we serve: any temp file now is a crash's leftover.
    let strays = remove_stray_uploads(dir);
    if strays > 0 {
        tracing::info!(strays, "removed uploads a crash left unfinished");
    }
    let cert = if config.insecure {
        None
    } else {
        Some(HubCertificate::load_or_create(dir)?)
    };
    let hub_token = load_or_create_token(&dir.join(HUB_TOKEN_FILE))?;
    Ok(DataFolder {
        store,
        cert,
        hub_token,
    })
}

/// The broker the hub and its cameras talk to.
struct BrokerLink {
    /// The embedded broker; `None` with an external one.
    broker: Option<Broker>,
    host: String,
    port: u16,
    tls: bool,
}

impl BrokerLink {
    /// What cameras are told to connect to.
    fn url(&self) -> String {
        format!(
            "{}://{}:{}",
            if self.tls { "mqtts" } else { "mqtt" },
            self.host,
            self.port
        )
    }
}

/// Starts the embedded broker (with the hub's certificate and token), or reads where the
/// external one is.
async fn start_or_reach_broker(
    config: &HubConfig,
    folder: &DataFolder,
) -> Result<BrokerLink, HubError> {
    match &config.mqtt {
        MqttMode::Embedded { listen } => {
            let broker = Broker::start(BrokerConfig {
                listen: *listen,
                tls: folder.cert.as_ref().map(HubCertificate::identity),
                home: config.home.clone(),
                hub_token: folder.hub_token.clone(),
                // Retained messages and sessions in memory: the hub's store is the
                // truth and re-sends what a restarted broker lacks (settings and Home
                // Assistant's documents at start; cameras announce themselves on
                // connect). On disk, each retained message cost an fsync in the broker's
                // path: pairing 1,000 cameras took 20.8 s against 1.6 s in memory, and
                // their first events came 27-38 s late against 9.5 s (README,
                // "Performance").
                persist_dir: None,
            })
            .await?;
            let addr = broker.local_addr();
            Ok(BrokerLink {
                broker: Some(broker),
                host: reachable_host(addr),
                port: addr.port(),
                tls: folder.cert.is_some(),
            })
        }
        MqttMode::External { url } => {
            let (tls, host, port) = parse_mqtt_url(url)?;
            Ok(BrokerLink {
                broker: None,
                host,
                port,
                tls,
            })
        }
    }
}

/// The hub's own MQTT session (it connects once its event loop is polled).
fn hub_mqtt_session(
    link: &BrokerLink,
    folder: &DataFolder,
) -> Result<(AsyncClient, rumqttc::EventLoop), HubError> {
    let mut opts = MqttOptions::new("watchlight-hub", link.host.clone(), link.port);
    opts.set_credentials("hub", folder.hub_token.clone());
    opts.set_keep_alive(Duration::from_secs(5));
    opts.set_clean_session(false);
    // Oversized payloads must reach us to be counted, not kill the connection.
    opts.set_max_packet_size(2 * 1024 * 1024, 2 * 1024 * 1024);
    if link.tls {
        let pem = folder
            .cert
            .as_ref()
            .map(|c| c.cert_pem.clone())
            .ok_or_else(|| HubError::Tls("mqtts:// needs the hub certificate".into()))?;
        let tls = watchlight_broker::tls::pinned_client_config(&pem)?;
        opts.set_transport(Transport::tls_with_config(TlsConfiguration::Rustls(tls)));
    }
    Ok(AsyncClient::new(opts, 1024))
}

/// The hub's URL for cameras and the owner, from where HTTP listens.
fn http_url(addr: SocketAddr, https: bool) -> String {
    format!(
        "{}://{}:{}",
        if https { "https" } else { "http" },
        reachable_host(addr),
        addr.port()
    )
}

/// The hub's shared state at start: nothing tracked yet, the owner services and the
/// network memory loaded from the store.
fn build_state(
    config: &HubConfig,
    store: Store,
    cert: Option<&HubCertificate>,
    link: &BrokerLink,
    mqtt: AsyncClient,
    mqtt_url: &str,
    http_url: &str,
) -> Result<Shared, HubError> {
    let care = crate::care::Care::load(&store, &config.home)?;
    let netwatch = NetWatch::resume(load_network_memory(&store));
    Ok(Arc::new(HubState::new(StateParts {
        home: config.home.clone(),
        data_dir: config.data_dir.clone(),
        clock: config.clock.clone(),
        store,
        mqtt,
        broker_devices: link.broker.as_ref().map(|b| b.devices().clone()),
        credential_sink: config.external_credentials.clone(),
        mqtt_url: mqtt_url.to_string(),
        http_url: http_url.to_string(),
        cert_pem: cert.map(|c| c.cert_pem.clone()),
        care,
        netwatch,
        storage_reserve_bytes: config.storage_reserve_bytes,
        live_cap_ms: config.live_cap_ms,
    })))
}

/// With no owner yet, opens the one-time link to create one (for [`SETUP_LINK_MS`]);
/// only its token's digest is kept.
fn open_setup_link(hub: &HubState, http_url: &str) -> Result<Option<String>, HubError> {
    if hub.store.owner()?.is_some() {
        return Ok(None);
    }
    let token = new_token();
    hub.open_setup_link(&token, hub.now() + SETUP_LINK_MS);
    Ok(Some(format!("{http_url}/setup?token={token}")))
}

/// Serves the API and the web app on `listener` (HTTPS with the hub's certificate, when
/// there is one) within the connection budget; the handle stops it.
async fn serve_http(
    listener: std::net::TcpListener,
    cert: Option<&HubCertificate>,
    hub: Shared,
) -> Result<(axum_server::Handle, JoinHandle<()>), HubError> {
    let app = crate::api::router(hub);
    let handle = axum_server::Handle::new();
    let server_handle = handle.clone();
    let tls = match cert {
        Some(c) => Some(
            axum_server::tls_rustls::RustlsConfig::from_pem(
                c.cert_pem.clone().into_bytes(),
                c.key_pem.clone().into_bytes(),
            )
            .await
            .map_err(|e| HubError::Tls(e.to_string()))?,
        ),
        None => None,
    };
    let budget =
        crate::connlimit::Budget::new(crate::connlimit::PER_ADDRESS, crate::connlimit::TOTAL);
    let server = tokio::spawn(async move {
        if let Err(e) = crate::connlimit::serve(listener, tls, app, server_handle, budget).await {
            tracing::error!("http server stopped: {e}");
        }
    });
    Ok((handle, server))
}

/// The HTTP listener, bound before anything else so its URL is known to pairing.
fn bind_http(addr: SocketAddr) -> Result<std::net::TcpListener, HubError> {
    let http = |error| HubError::Http { addr, error };
    let listener = std::net::TcpListener::bind(addr).map_err(http)?;
    listener.set_nonblocking(true).map_err(http)?;
    Ok(listener)
}

impl HubHandle {
    /// Resolves once the reset button was held for the reset time and released.
    pub async fn reset_requested(&self) {
        self.state.button.reset_requested().await;
    }

    /// Stops serving, closes the hub's MQTT session and the broker.
    pub async fn shutdown(mut self) {
        let _ = self.shutdown.send(true);
        self.http
            .graceful_shutdown(Some(Duration::from_millis(500)));
        let _ = self.state.mqtt.disconnect().await;
        for t in self.tasks.drain(..) {
            let _ = tokio::time::timeout(Duration::from_secs(2), t).await;
        }
        if let Some(b) = self.broker.take() {
            b.shutdown().await;
        }
    }
}

/// How [`serve`] ended.
#[derive(Debug)]
pub enum Stopped {
    /// SIGINT or SIGTERM.
    Signal,
}

/// Runs a hub until SIGINT or SIGTERM on its own async runtime; `ready` sees it each
/// time it listens (the CLI prints its URLs there). A reset by the hub's button (held
/// 10 s, released) stops the hub, resets its data folder as `watchlight hub reset` does
/// (`admin::reset`: cameras and owner forgotten, clips kept, database backed up), tells
/// `on_reset`, and starts it again on the same addresses with a new setup link.
pub fn serve(
    mut config: HubConfig,
    ready: impl Fn(&HubHandle),
    on_reset: impl Fn(&crate::admin::ResetReport),
) -> Result<Stopped, HubError> {
    let rt = tokio::runtime::Runtime::new().map_err(|source| HubError::DataDir {
        path: config.data_dir.clone(),
        source,
    })?;
    rt.block_on(async move {
        let mut term =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
        loop {
            let hub = Hub::start(config.clone()).await?;
            ready(&hub);
            let reset = tokio::select! {
                _ = tokio::signal::ctrl_c() => false,
                _ = async { match term.as_mut() { Some(t) => { t.recv().await; } None => std::future::pending().await } } => false,
                _ = hub.reset_requested() => true,
            };
            config.http_addr = hub.http_addr;
            if let (MqttMode::Embedded { listen }, Some(addr)) = (&mut config.mqtt, hub.mqtt_addr) {
                *listen = addr;
            }
            if !reset {
                tracing::info!("stopping the hub");
                hub.shutdown().await;
                return Ok(Stopped::Signal);
            }
            tracing::warn!("reset button: forgetting every camera and the owner");
            hub.shutdown().await;
            let report = crate::admin::reset(&config.data_dir, false)
                .map_err(|e| HubError::Reset(e.to_string()))?;
            on_reset(&report);
        }
    })
}

/// A host cameras can use for `addr`: the loopback address when listening on all.
fn reachable_host(addr: SocketAddr) -> String {
    if addr.ip().is_unspecified() {
        "127.0.0.1".into()
    } else {
        addr.ip().to_string()
    }
}

/// `(tls, host, port)` of a broker address; the parsing is `protocol::mqtt_url`'s.
fn parse_mqtt_url(url: &str) -> Result<(bool, String, u16), HubError> {
    let u = watchlight_protocol::mqtt_url::MqttUrl::parse(url)
        .map_err(|_| HubError::MqttUrl(url.to_string()))?;
    Ok((u.tls, u.host, u.port))
}

/// Removes `clips/<device>/.tmp-*`, the partial uploads a crash leaves behind (the
/// store writes uploads there and renames them only once complete and checked).
/// Cheaper than a full fsck at every start. Returns how many it removed.
fn remove_stray_uploads(data_dir: &Path) -> usize {
    let clips = data_dir.join(watchlight_store::CLIPS_DIR);
    let mut removed = 0;
    for device in std::fs::read_dir(&clips).into_iter().flatten().flatten() {
        if !device.path().is_dir() {
            continue;
        }
        for f in std::fs::read_dir(device.path())
            .into_iter()
            .flatten()
            .flatten()
        {
            let name = f.file_name();
            if name.to_string_lossy().starts_with(".tmp-") && std::fs::remove_file(f.path()).is_ok()
            {
                removed += 1;
            }
        }
    }
    removed
}

/// Reads the token in `path`, or makes one (mode 0600).
pub fn load_or_create_token(path: &Path) -> Result<String, HubError> {
    let io = |source| HubError::DataDir {
        path: path.to_path_buf(),
        source,
    };
    match std::fs::read_to_string(path) {
        Ok(t) if t.trim().len() >= 32 => return Ok(t.trim().to_string()),
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(io(e)),
    }
    let token = new_token();
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let tmp = path.with_extension("tmp");
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&tmp)
        .map_err(io)?;
    f.write_all(token.as_bytes()).map_err(io)?;
    f.sync_all().map_err(io)?;
    std::fs::rename(&tmp, path).map_err(io)?;
    Ok(token)
}

/// At start: let every known camera back in, resume tracking its availability from
/// what was recorded, and publish its settings again (retained).
async fn restore_devices(hub: &Shared) -> Result<(), HubError> {
    let now = hub.now();
    if let Some(sink) = &hub.credential_sink {
        let known: Vec<String> = hub
            .store
            .devices()?
            .into_iter()
            .filter(|d| d.removed_ms.is_none())
            .map(|d| d.id)
            .collect();
        sink.retain(&known);
    }
    for d in hub.store.devices()? {
        if d.removed_ms.is_some() {
            continue;
        }
        if let (Some(devices), Some(token)) = (&hub.broker_devices, &d.token) {
            devices.insert(d.id.clone(), token.0)?;
        }
        let settings = hub.store.settings(&d.id)?;
        let known = hub.store.availability(&d.id)?.map(|a| a.availability);
        hub.track_availability(&d.id, HubState::liveness(&settings, &d), known, now);
        hub.publish_settings(&d.id, &settings).await;
    }
    Ok(())
}

/// What the hub remembered of its network; a value it cannot read is forgotten (and
/// said), not fatal: the next sample starts afresh.
fn load_network_memory(store: &Store) -> crate::netwatch::Memory {
    let key = crate::netwatch::MEMORY_KEY;
    match store.config_get(key) {
        Ok(None) => Default::default(),
        Ok(Some(json)) => serde_json::from_str(&json).unwrap_or_else(|e| {
            tracing::warn!("forgetting the unreadable config {key:?} ({e}): {json}");
            Default::default()
        }),
        Err(e) => {
            tracing::warn!("could not read the hub's network memory: {e}");
            Default::default()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mqtt_urls() {
        assert_eq!(
            parse_mqtt_url("mqtt://127.0.0.1:1883").unwrap(),
            (false, "127.0.0.1".into(), 1883)
        );
        assert_eq!(
            parse_mqtt_url("mqtts://hub.local:8883/").unwrap(),
            (true, "hub.local".into(), 8883)
        );
        for bad in ["http://x:1", "mqtt://x", "mqtt://:1", "mqtt://x:y"] {
            assert!(parse_mqtt_url(bad).is_err(), "{bad}");
        }
    }
}
