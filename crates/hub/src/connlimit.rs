//! Holding the HTTP(S) server's connections to a budget: at most
//! [`PER_ADDRESS`] open at once from one source address and [`TOTAL`] in all, and
//! [`HEADER_READ_TIMEOUT`] for a request head. Without them a client that opens
//! connections and sends half a request head keeps each open indefinitely (3,000 from one
//! address held 3,023 files); with them one address gets [`PER_ADDRESS`], each for at
//! most the timeout.
//!
//! The budget is shared with the broker's: MQTT is one long connection per camera
//! (`watchlight_broker::MAX_CLIENTS`), HTTP is a browser's few, a camera's one upload at a
//! time and the live streams, so HTTP gets a small fixed share of the hub's descriptors.

use std::collections::HashMap;
use std::io;
use std::net::IpAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use axum_server::accept::Accept;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;

/// Connections one source address may hold open: a browser's six, its live streams, a
/// few cameras behind the same address uploading, with room to spare.
pub const PER_ADDRESS: usize = 64;
/// Connections in all.
pub const TOTAL: usize = 2_048;
/// How long a client may take to send a request head (each request on a connection).
pub const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);

/// The open connections, by source address.
#[derive(Debug, Clone)]
pub struct Budget {
    per_address: usize,
    total: usize,
    open: Arc<Mutex<Counts>>,
}

#[derive(Debug, Default)]
struct Counts {
    by_address: HashMap<IpAddr, usize>,
    total: usize,
    refused: u64,
}

impl Budget {
    pub fn new(per_address: usize, total: usize) -> Budget {
        Budget {
            per_address,
            total,
            open: Arc::default(),
        }
    }

    /// A slot for a new connection from `addr`, or `None` when over budget.
    pub fn admit(&self, addr: IpAddr) -> Option<Slot> {
        let mut counts = self.lock();
        let from_addr = counts.by_address.get(&addr).copied().unwrap_or(0);
        if from_addr >= self.per_address || counts.total >= self.total {
            counts.refused += 1;
            return None;
        }
        counts.by_address.insert(addr, from_addr + 1);
        counts.total += 1;
        Some(Slot {
            addr,
            open: self.open.clone(),
        })
    }

    /// Connections open now.
    pub fn open(&self) -> usize {
        self.lock().total
    }

    /// Connections refused since start.
    pub fn refused(&self) -> u64 {
        self.lock().refused
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Counts> {
        self.open.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// One admitted connection; dropping it frees the slot.
#[derive(Debug)]
pub struct Slot {
    addr: IpAddr,
    open: Arc<Mutex<Counts>>,
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut counts = self.open.lock().unwrap_or_else(|p| p.into_inner());
        counts.total = counts.total.saturating_sub(1);
        if let Some(n) = counts.by_address.get_mut(&self.addr) {
            *n -= 1;
            if *n == 0 {
                counts.by_address.remove(&self.addr);
            }
        }
    }
}

/// The acceptor: admits a TCP connection within the budget (else closes it at once) and
/// ties its slot to the stream's life. Put it under the TLS acceptor, so a refused
/// connection costs no handshake.
#[derive(Debug, Clone)]
pub struct Limited {
    pub budget: Budget,
}

impl<S: Send + 'static> Accept<TcpStream, S> for Limited {
    type Stream = Counted;
    type Service = S;
    type Future = std::future::Ready<io::Result<(Counted, S)>>;

    fn accept(&self, stream: TcpStream, service: S) -> Self::Future {
        let admitted = stream
            .peer_addr()
            .ok()
            .and_then(|peer| self.budget.admit(peer.ip()).map(|slot| (peer, slot)));
        std::future::ready(match admitted {
            Some((_, slot)) => Ok((
                Counted {
                    stream,
                    _slot: slot,
                },
                service,
            )),
            None => {
                tracing::debug!(peer = ?stream.peer_addr().ok(), "http connection refused: over the connection budget");
                Err(io::Error::other("over the connection budget"))
            }
        })
    }
}

/// A TCP stream holding its budget slot.
#[derive(Debug)]
pub struct Counted {
    stream: TcpStream,
    _slot: Slot,
}

impl AsyncRead for Counted {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_read(cx, buf)
    }
}

impl AsyncWrite for Counted {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().stream).poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().stream).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }
}

/// Serves `app` on `listener` (HTTPS with `tls`) within `budget`, with the request-head
/// timeout and each request's peer address (`ConnectInfo<SocketAddr>`) known to handlers.
pub async fn serve(
    listener: std::net::TcpListener,
    tls: Option<axum_server::tls_rustls::RustlsConfig>,
    app: axum::Router,
    handle: axum_server::Handle,
    budget: Budget,
) -> io::Result<()> {
    let limited = Limited { budget };
    let make = app.into_make_service_with_connect_info::<std::net::SocketAddr>();
    match tls {
        Some(tls) => {
            let acceptor = axum_server::tls_rustls::RustlsAcceptor::new(tls).acceptor(limited);
            let mut server = axum_server::from_tcp(listener)
                .acceptor(acceptor)
                .handle(handle);
            limit_head_time(server.http_builder());
            server.serve(make).await
        }
        None => {
            let mut server = axum_server::from_tcp(listener)
                .acceptor(limited)
                .handle(handle);
            limit_head_time(server.http_builder());
            server.serve(make).await
        }
    }
}

fn limit_head_time(
    builder: &mut hyper_util::server::conn::auto::Builder<hyper_util::rt::TokioExecutor>,
) {
    builder
        .http1()
        .timer(hyper_util::rt::TokioTimer::new())
        .header_read_timeout(HEADER_READ_TIMEOUT);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_per_address_and_in_all_are_returned_on_drop() {
        let budget = Budget::new(2, 3);
        let a: IpAddr = "10.0.0.1".parse().unwrap();
        let b: IpAddr = "10.0.0.2".parse().unwrap();
        let a1 = budget.admit(a).unwrap();
        let _a2 = budget.admit(a).unwrap();
        assert!(budget.admit(a).is_none(), "per address");
        let _b1 = budget.admit(b).unwrap();
        assert!(budget.admit(b).is_none(), "in all");
        assert_eq!(budget.open(), 3);
        drop(a1);
        assert!(budget.admit(a).is_some());
        assert_eq!(budget.refused(), 2);
    }
}
