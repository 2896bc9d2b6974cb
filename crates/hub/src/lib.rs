//! The hub: MQTT ingestion, device registry, clip store and HTTP API.
//!
//! Decisions are sans-IO ([`availability`], [`hub_light`], [`netwatch`], [`ranges`])
//! and driven by an injected [`clock::Clock`]; the runtime ([`Hub::start`]) wires them
//! to the embedded broker (`watchlight-broker`), the store (`watchlight-store`), the
//! machine's network and the HTTP server.

pub mod admin;
pub mod api;
pub mod availability;
pub mod care;
pub mod clock;
pub mod connlimit;
pub mod credentials;
pub mod doctor_case;
pub mod held;
pub mod hub_light;
mod ingest;
pub mod live_view;
mod loops;
pub mod netwatch;
pub mod ranges;
pub mod reset_button;
pub mod runtime;
pub mod secrets;
pub mod snapshot;
pub mod state;
pub mod storage;
pub mod system_network;

pub use credentials::{CredentialSink, register_device_credential, unregister_device_credential};
pub use runtime::{
    HUB_TOKEN_FILE, Hub, HubConfig, HubError, HubHandle, MqttMode, load_or_create_token,
};

/// Re-exported so the binary needs no direct dependency on the store.
pub use watchlight_store;

/// Runs a hub until SIGINT or SIGTERM on its own async runtime; `ready` sees it once
/// it listens (the CLI prints its URLs there).
pub fn serve_until_signal(
    config: HubConfig,
    ready: impl FnOnce(&HubHandle),
) -> Result<(), HubError> {
    let rt = tokio::runtime::Runtime::new().map_err(|source| HubError::DataDir {
        path: config.data_dir.clone(),
        source,
    })?;
    rt.block_on(async move {
        let hub = Hub::start(config).await?;
        ready(&hub);
        let mut term =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = async { match term.as_mut() { Some(t) => { t.recv().await; } None => std::future::pending().await } } => {}
        }
        tracing::info!("stopping the hub");
        hub.shutdown().await;
        Ok(())
    })
}
