//! The door cameras knock on: our own accept loop in front of mqtt5's client handler.
//!
//! Why not mqtt5's own listener: mqtt5 0.49 performs each TLS handshake inside its accept
//! loop, with no deadline, so one TCP connection that never speaks stops every camera of
//! the home from connecting until it goes away; and nothing bounds the connections that
//! have not logged in yet. Here each connection is its own task, the TLS handshake has a
//! deadline (mqtt5 then gives the CONNECT its own 10 s), and connections that have not
//! sent CONNECT yet are capped per source address and in total. A camera that has logged
//! in no longer counts, so cameras behind one address are never refused for being many.
//!
//! mqtt5 still binds one plain listener on loopback (it will not run without one); the
//! hub never advertises it, and it asks for the same credentials.

use std::collections::{HashMap, HashSet};
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use mqtt5::broker::auth::AuthProvider;
use mqtt5::broker::client_handler::ClientHandler;
use mqtt5::broker::config::BrokerConfig as Mqtt5Config;
use mqtt5::broker::router::MessageRouter;
use mqtt5::broker::sys_topics::BrokerStats;
use mqtt5::broker::tls_acceptor::accept_tls_connection;
use mqtt5::broker::transport::BrokerTransport;
use mqtt5::broker::{DynamicStorage, ResourceMonitor};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{broadcast, mpsc};
use tracing::{debug, warn};

/// How many connections may wait for their login, and for how long the TLS handshake.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnectionLimits {
    /// Connections from one address that have not sent CONNECT yet.
    pub waiting_per_address: usize,
    /// Connections from all addresses that have not sent CONNECT yet: with the HTTP
    /// server's budget, what keeps file descriptors for the cameras that do log in.
    pub waiting_total: usize,
    /// From accept to the end of the TLS handshake.
    pub tls_handshake: Duration,
}

impl Default for ConnectionLimits {
    fn default() -> Self {
        ConnectionLimits {
            // As the HTTP server's per-address budget: a home's cameras each have their
            // own address, and a reconnecting camera needs one.
            waiting_per_address: 64,
            waiting_total: 2_048,
            // A camera on a poor link finishes a handshake in well under a second.
            tls_handshake: Duration::from_secs(10),
        }
    }
}

/// Connections that have not logged in yet, by source address (sans-IO).
#[derive(Debug)]
pub(crate) struct WaitingLogins {
    limits: ConnectionLimits,
    waiting: HashSet<SocketAddr>,
    per_address: HashMap<IpAddr, usize>,
}

impl WaitingLogins {
    pub(crate) fn new(limits: ConnectionLimits) -> Self {
        WaitingLogins {
            limits,
            waiting: HashSet::new(),
            per_address: HashMap::new(),
        }
    }

    /// Whether a new connection from `peer` may wait for its login; if so it now counts.
    pub(crate) fn admit(&mut self, peer: SocketAddr) -> bool {
        let from_here = self.per_address.get(&peer.ip()).copied().unwrap_or(0);
        if from_here >= self.limits.waiting_per_address
            || self.waiting.len() >= self.limits.waiting_total
            || !self.waiting.insert(peer)
        {
            return false;
        }
        *self.per_address.entry(peer.ip()).or_default() += 1;
        true
    }

    /// `peer` sent its CONNECT (or went away): it no longer counts. Idempotent.
    pub(crate) fn done(&mut self, peer: SocketAddr) {
        if !self.waiting.remove(&peer) {
            return;
        }
        if let Some(n) = self.per_address.get_mut(&peer.ip()) {
            *n -= 1;
            if *n == 0 {
                self.per_address.remove(&peer.ip());
            }
        }
    }

    #[cfg(test)]
    fn count(&self) -> usize {
        self.waiting.len()
    }
}

pub(crate) type SharedWaiting = Arc<Mutex<WaitingLogins>>;

pub(crate) fn lock(waiting: &SharedWaiting) -> std::sync::MutexGuard<'_, WaitingLogins> {
    waiting.lock().unwrap_or_else(|p| p.into_inner())
}

/// What each connection's mqtt5 handler shares with the broker.
#[derive(Clone)]
pub(crate) struct HandlerParts {
    pub config: Arc<Mqtt5Config>,
    pub router: Arc<MessageRouter>,
    pub auth: Arc<dyn AuthProvider>,
    pub storage: Option<Arc<DynamicStorage>>,
    pub stats: Arc<BrokerStats>,
    pub resources: Arc<ResourceMonitor>,
}

pub(crate) struct Front {
    pub listener: TcpListener,
    pub tls: Option<tokio_rustls::TlsAcceptor>,
    pub limits: ConnectionLimits,
    pub waiting: SharedWaiting,
    pub parts: HandlerParts,
    pub shutdown: broadcast::Sender<()>,
    /// Held by the loop and by every connection: the broker waits for it to close.
    pub open: mpsc::Sender<()>,
}

impl Front {
    /// Accepts until the broker shuts down.
    pub(crate) async fn run(self) {
        let mut stop = self.shutdown.subscribe();
        loop {
            let accepted = tokio::select! {
                accepted = self.listener.accept() => accepted,
                _ = stop.recv() => return,
            };
            let (stream, peer) = match accepted {
                Ok(pair) => pair,
                Err(e) => {
                    // Out of file descriptors, mostly: give closing connections a moment
                    // rather than spinning on the same error.
                    warn!("mqtt accept failed: {e}");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            };
            if !lock(&self.waiting).admit(peer) {
                debug!(%peer, "mqtt connection refused: too many connections waiting to log in");
                continue;
            }
            let _ = stream.set_nodelay(true);
            let connection = Connection {
                peer,
                tls: self.tls.clone(),
                limits: self.limits,
                waiting: Arc::clone(&self.waiting),
                parts: self.parts.clone(),
                shutdown: self.shutdown.subscribe(),
                _open: self.open.clone(),
            };
            tokio::spawn(connection.serve(stream));
        }
    }
}

struct Connection {
    peer: SocketAddr,
    tls: Option<tokio_rustls::TlsAcceptor>,
    limits: ConnectionLimits,
    waiting: SharedWaiting,
    parts: HandlerParts,
    shutdown: broadcast::Receiver<()>,
    _open: mpsc::Sender<()>,
}

impl Connection {
    async fn serve(self, stream: TcpStream) {
        let peer = self.peer;
        let transport = match &self.tls {
            None => Some(BrokerTransport::tcp(stream)),
            Some(acceptor) => {
                let handshake = accept_tls_connection(acceptor, stream, peer);
                match tokio::time::timeout(self.limits.tls_handshake, handshake).await {
                    Ok(Ok(tls)) => Some(BrokerTransport::tls(tls)),
                    Ok(Err(e)) => {
                        debug!(%peer, "mqtt TLS handshake failed: {e}");
                        None
                    }
                    Err(_) => {
                        debug!(%peer, "mqtt TLS handshake not finished in time; closed");
                        None
                    }
                }
            }
        };
        if let Some(transport) = transport {
            let p = self.parts;
            let handler = ClientHandler::new(
                transport,
                peer,
                p.config,
                p.router,
                p.auth,
                p.storage,
                p.stats,
                p.resources,
                self.shutdown,
            );
            if let Err(e) = handler.run().await
                && !e.is_normal_disconnect()
            {
                debug!(%peer, "mqtt client ended: {e}");
            }
        }
        lock(&self.waiting).done(peer);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(s: &str) -> SocketAddr {
        s.parse().unwrap()
    }

    #[test]
    fn a_source_may_keep_only_so_many_connections_waiting_to_log_in() {
        let limits = ConnectionLimits {
            waiting_per_address: 2,
            waiting_total: 10,
            ..ConnectionLimits::default()
        };
        let mut w = WaitingLogins::new(limits);
        assert!(w.admit(addr("10.0.0.5:1000")));
        assert!(w.admit(addr("10.0.0.5:1001")));
        assert!(!w.admit(addr("10.0.0.5:1002")), "a third from one address");
        assert!(
            w.admit(addr("10.0.0.6:1000")),
            "another address is not held up"
        );
        // A login frees the place: a camera that logged in no longer counts.
        w.done(addr("10.0.0.5:1000"));
        w.done(addr("10.0.0.5:1000"));
        assert_eq!(w.count(), 2, "done twice counts once");
        assert!(w.admit(addr("10.0.0.5:1002")));
    }

    #[test]
    fn all_sources_together_may_keep_only_so_many_waiting() {
        let limits = ConnectionLimits {
            waiting_per_address: 10,
            waiting_total: 3,
            ..ConnectionLimits::default()
        };
        let mut w = WaitingLogins::new(limits);
        for i in 0..3 {
            assert!(w.admit(addr(&format!("10.0.0.{i}:1"))));
        }
        assert!(!w.admit(addr("10.0.0.9:1")));
        w.done(addr("10.0.0.1:1"));
        assert!(w.admit(addr("10.0.0.9:1")));
    }
}
