//! The simulated camera's radio: every MQTT byte between the camera and the hub passes
//! through it, so the simulator can make the link go *silent* — packets dropped both
//! ways, sockets left open, no FIN or RST to tell anyone — which is how a camera whose
//! Wi-Fi dies looks to the hub (SPEC §4.2: the hub must still notice within 1.5
//! keepalives + 1 s, from the broker's keepalive alone).
//!
//! Each MQTT session gets its own relay: a one-connection listener on 127.0.0.1 that
//! connects onwards to the broker. While the radio forwards, a close on either side
//! closes the other (the camera's process dying still closes the hub's socket). While it
//! is silent nothing crosses either way and closes are not passed on either, so the
//! broker learns of it only from the missing keepalives. A connection attempted during
//! the silence never reaches the broker.
//!
//! TLS passes through untouched; the session verifies the hub's pinned certificate
//! for `127.0.0.1`, which every hub certificate names (`broker::tls`).

use std::net::SocketAddr;
use std::sync::Arc;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

/// How long a relay waits for its one session to connect.
const ACCEPT_WITHIN: std::time::Duration = std::time::Duration::from_secs(30);

/// The radio's switch, shared by every relay.
#[derive(Clone)]
pub struct SimRadio {
    silent: Arc<watch::Sender<bool>>,
}

impl Default for SimRadio {
    fn default() -> Self {
        SimRadio {
            silent: Arc::new(watch::channel(false).0),
        }
    }
}

impl SimRadio {
    pub fn new() -> SimRadio {
        SimRadio::default()
    }

    /// Silent (true): drop every packet from now on. False: forward again.
    pub fn set_silent(&self, silent: bool) {
        self.silent.send_replace(silent);
    }

    pub fn is_silent(&self) -> bool {
        *self.silent.borrow()
    }

    /// A relay to `upstream` (host, port) for one session; returns the local address
    /// the session connects to instead. Must run inside a tokio runtime.
    pub fn relay(&self, host: &str, port: u16) -> std::io::Result<SocketAddr> {
        let std_listener = std::net::TcpListener::bind(("127.0.0.1", 0))?;
        std_listener.set_nonblocking(true)?;
        let listener = TcpListener::from_std(std_listener)?;
        let local = listener.local_addr()?;
        let upstream = format!("{host}:{port}");
        let silent = self.silent.subscribe();
        tokio::spawn(async move {
            let Ok(Ok((camera, _))) = tokio::time::timeout(ACCEPT_WITHIN, listener.accept()).await
            else {
                return;
            };
            drop(listener);
            carry(camera, upstream, silent).await;
        });
        Ok(local)
    }
}

/// Carries one session's bytes until it ends.
async fn carry(camera: TcpStream, upstream: String, mut silent: watch::Receiver<bool>) {
    if *silent.borrow_and_update() {
        // A silent radio gets no connection through: the attempt hangs until the camera
        // gives up (or the radio forwards again, and the camera retries).
        mute(camera, silent).await;
        return;
    }
    let Ok(hub) = TcpStream::connect(&upstream).await else {
        return; // the camera sees its socket close: "could not reach the hub"
    };
    let _ = camera.set_nodelay(true);
    let _ = hub.set_nodelay(true);
    let (camera_read, camera_write) = camera.into_split();
    let (hub_read, hub_write) = hub.into_split();
    // Each direction ends on its own; a socket closes once both its halves are dropped.
    tokio::spawn(pipe(camera_read, hub_write, silent.clone()));
    tokio::spawn(pipe(hub_read, camera_write, silent));
}

/// Reads and drops what the camera sends until it closes or the radio forwards again.
async fn mute(mut camera: TcpStream, mut silent: watch::Receiver<bool>) {
    let mut sink = [0u8; 4096];
    loop {
        tokio::select! {
            changed = silent.changed() => {
                if changed.is_err() || !*silent.borrow_and_update() {
                    return;
                }
            }
            n = camera.read(&mut sink) => if matches!(n, Ok(0) | Err(_)) { return },
        }
    }
}

/// Copies `from` to `to`. While the radio is silent it stops reading: nothing crosses,
/// nothing is lost from the stream (TCP would retransmit after a short outage), and a
/// close on one side is not seen — its FIN is lost on the air too — so the other side
/// stays open until its own end gives up.
async fn pipe(mut from: OwnedReadHalf, mut to: OwnedWriteHalf, mut silent: watch::Receiver<bool>) {
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        while *silent.borrow_and_update() {
            if silent.changed().await.is_err() {
                return;
            }
        }
        let n = tokio::select! {
            n = from.read(&mut buf) => match n {
                Ok(0) | Err(_) => return,
                Ok(n) => n,
            },
            // Went silent while waiting: stop reading.
            _ = silent.changed() => continue,
        };
        if to.write_all(&buf[..n]).await.is_err() {
            return;
        }
    }
}
