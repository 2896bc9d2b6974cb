//! The hub: broker, registry, clip store, HTTP API and web app.
