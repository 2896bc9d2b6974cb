//! Live mode's edge: talk to the hub's doctor API with the owner's bearer token —
//! `GET /api/v1/cameras/{id}/case`, `GET /api/v1/doctor/priors` and
//! `POST /api/v1/cameras/{id}/diagnosis/confirm`.
//!
//! A small HTTP/1.1 client on std's TCP, with rustls for `https://`: the doctor crate
//! stays free of an async stack, and a terminal tool makes one request at a time. The
//! hub's certificate is self-signed, so HTTPS trusts exactly the PEM the caller gives
//! (pinning, as cameras do; see `watchlight-broker`'s `tls` module). Plain `http://` is
//! for hubs started with `--insecure`.

use crate::case::{Case, CaseError};
use crate::ids::{ActionId, FaultId};
use crate::priors::{Priors, PriorsError};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::sync::Arc;
use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub enum LiveError {
    #[error(
        "hub URL '{0}' is not supported: use https://host:port (or http://host:port for an --insecure hub)"
    )]
    Url(String),
    #[error(
        "hub URL '{0}' is https: give the hub's certificate to pin with --hub-cert FILE \
         (hub-cert.pem in the hub's data folder)"
    )]
    NeedCertificate(String),
    #[error("the hub certificate to pin is not usable: {0}")]
    Certificate(String),
    #[error("camera id '{0}' is not a valid id")]
    CameraId(String),
    /// Nothing answered: the hub is off, the network between is down, or it stays silent.
    /// The one error a caller may carry on from (the owner runs the doctor for exactly
    /// this trouble); every other variant means something answered in a way we refuse.
    #[error("the hub at {addr} did not answer: {cause}")]
    HubUnreachable {
        addr: String,
        /// In words, for the owner: "connection refused: nothing listens there", ...
        cause: String,
    },
    /// Something answered and the exchange failed: a TLS session refused (most often a
    /// certificate that is not the pinned one), a connection cut mid-answer.
    #[error("the connection to the hub at {addr} failed: {source}{hint}")]
    Connect {
        addr: String,
        #[source]
        source: std::io::Error,
        /// What to check, when the failure suggests it ("" otherwise).
        hint: &'static str,
    },
    #[error("the hub's answer is not HTTP: {0}")]
    Protocol(String),
    #[error("the hub answered {status} for {path}: {body}")]
    Status {
        status: u16,
        path: String,
        body: String,
    },
    #[error("the hub's case for this camera is not valid: {0}")]
    Case(#[from] CaseError),
    #[error("the hub's learned priors are not valid: {0}")]
    Priors(#[from] PriorsError),
}

impl LiveError {
    /// Whether nothing answered (see [`LiveError::HubUnreachable`]).
    pub fn is_unreachable(&self) -> bool {
        matches!(self, LiveError::HubUnreachable { .. })
    }
}

/// How long the client waits before it counts the hub silent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeouts {
    /// For the TCP connection (per address the hub's name resolves to). A host that is
    /// off or behind a dead router drops the connection attempt silently, and the
    /// system's own limit is minutes: the owner would think the doctor hung.
    pub connect: Duration,
    /// For each read and write once connected, the TLS handshake included.
    pub answer: Duration,
}

impl Default for Timeouts {
    fn default() -> Timeouts {
        Timeouts {
            connect: Duration::from_secs(5),
            answer: Duration::from_secs(30),
        }
    }
}

/// Where in a request an I/O error happened: it decides what the error means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stage {
    /// Opening the TCP connection.
    Connect,
    /// Sending the request or reading the answer; `answered` once any byte of the
    /// answer arrived.
    Exchange { answered: bool },
}

/// Tells "nothing answered" (refused, no route, silence, a connection closed before
/// any answer) from "something answered and we refuse it" (TLS failures such as a
/// certificate that is not the pinned one, a connection cut mid-answer).
fn classify(addr: &str, stage: Stage, timeouts: Timeouts, e: std::io::Error) -> LiveError {
    use std::io::ErrorKind as K;
    let unreachable = |cause: String| LiveError::HubUnreachable {
        addr: addr.to_string(),
        cause,
    };
    let answered = matches!(stage, Stage::Exchange { answered: true });
    match e.kind() {
        K::ConnectionRefused => {
            unreachable("connection refused: nothing listens on that port".into())
        }
        K::HostUnreachable => unreachable("no route to the host".into()),
        K::NetworkUnreachable => unreachable("no route to its network".into()),
        // A read timeout is WouldBlock on Unix, TimedOut elsewhere.
        K::TimedOut | K::WouldBlock if !answered => {
            let waited = match stage {
                Stage::Connect => timeouts.connect,
                Stage::Exchange { .. } => timeouts.answer,
            };
            unreachable(format!("no answer within {}", seconds(waited)))
        }
        K::ConnectionReset | K::ConnectionAborted | K::BrokenPipe | K::UnexpectedEof
            if !answered =>
        {
            unreachable("the connection closed before the hub answered".into())
        }
        // rustls reports a refused certificate or a broken handshake as InvalidData.
        K::InvalidData => LiveError::Connect {
            addr: addr.to_string(),
            source: e,
            hint: " (is --hub-cert this hub's hub-cert.pem?)",
        },
        _ => LiveError::Connect {
            addr: addr.to_string(),
            source: e,
            hint: "",
        },
    }
}

fn seconds(d: Duration) -> String {
    if d.subsec_millis() == 0 {
        format!("{} s", d.as_secs())
    } else {
        format!("{:.1} s", d.as_secs_f64())
    }
}

/// `scheme://host:port[/prefix]`, split.
#[derive(Debug, Clone, PartialEq, Eq)]
struct HubUrl {
    tls: bool,
    /// host:port, for the TCP connection and the Host header.
    authority: String,
    /// The host alone (no brackets), for TLS server name checks.
    host: String,
    /// Path prefix without a trailing slash.
    prefix: String,
}

fn split_url(url: &str) -> Result<HubUrl, LiveError> {
    let (tls, rest) = if let Some(rest) = url.strip_prefix("https://") {
        (true, rest)
    } else if let Some(rest) = url.strip_prefix("http://") {
        (false, rest)
    } else {
        return Err(LiveError::Url(url.to_string()));
    };
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], rest[i..].trim_end_matches('/')),
        None => (rest, ""),
    };
    if authority.is_empty() || authority.contains('@') {
        return Err(LiveError::Url(url.to_string()));
    }
    // "[::1]:8443", "host:8443", "host".
    let (host, has_port) = match authority.strip_prefix('[') {
        Some(v6) => {
            let (h, after) = v6
                .split_once(']')
                .ok_or_else(|| LiveError::Url(url.to_string()))?;
            (h.to_string(), after.starts_with(':'))
        }
        None => match authority.split_once(':') {
            Some((h, _)) => (h.to_string(), true),
            None => (authority.to_string(), false),
        },
    };
    if has_port {
        // The port is what follows the last ':' ("[::1]:8443" included).
        let port = authority.rsplit(':').next().unwrap_or_default();
        if port.parse::<u16>().is_err() {
            return Err(LiveError::Url(url.to_string()));
        }
    }
    let authority = if has_port {
        authority.to_string()
    } else {
        format!("{authority}:{}", if tls { 443 } else { 80 })
    };
    Ok(HubUrl {
        tls,
        authority,
        host,
        prefix: path.to_string(),
    })
}

/// A TLS client config that trusts exactly the certificate(s) in `cert_pem`.
pub fn pinned_tls_config(cert_pem: &str) -> Result<Arc<rustls::ClientConfig>, LiveError> {
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(cert_pem.as_bytes()) {
        let cert = cert.map_err(|e| LiveError::Certificate(e.to_string()))?;
        roots
            .add(cert)
            .map_err(|e| LiveError::Certificate(e.to_string()))?;
    }
    if roots.is_empty() {
        return Err(LiveError::Certificate("no PEM certificate in it".into()));
    }
    // An explicit provider: the binary links crates that enable other rustls providers,
    // and the process default is ambiguous then.
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .map_err(|e| LiveError::Certificate(e.to_string()))?
    .with_root_certificates(roots)
    .with_no_client_auth();
    Ok(Arc::new(config))
}

fn check_camera_id(camera: &str) -> Result<(), LiveError> {
    let ok = !camera.is_empty()
        && camera.len() <= 64
        && camera
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if ok {
        Ok(())
    } else {
        Err(LiveError::CameraId(camera.chars().take(80).collect()))
    }
}

/// The hub's doctor API, one request per connection.
pub struct HubClient {
    url: HubUrl,
    tls: Option<Arc<rustls::ClientConfig>>,
    token: Option<String>,
    timeouts: Timeouts,
}

impl std::fmt::Debug for HubClient {
    // The token is a secret: never in logs or error output.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HubClient")
            .field("url", &self.url)
            .field("token", &self.token.as_ref().map(|_| "[hidden]"))
            .finish_non_exhaustive()
    }
}

impl HubClient {
    /// A client for `hub_url`; `https://` needs the hub's certificate PEM to pin.
    pub fn new(
        hub_url: &str,
        cert_pem: Option<&str>,
        token: Option<String>,
    ) -> Result<HubClient, LiveError> {
        let url = split_url(hub_url)?;
        let tls = match (url.tls, cert_pem) {
            (true, Some(pem)) => Some(pinned_tls_config(pem)?),
            (true, None) => return Err(LiveError::NeedCertificate(hub_url.to_string())),
            (false, _) => None,
        };
        Ok(HubClient {
            url,
            tls,
            token,
            timeouts: Timeouts::default(),
        })
    }

    /// The same client with other [`Timeouts`] (tests wait less than an owner would).
    pub fn with_timeouts(mut self, timeouts: Timeouts) -> HubClient {
        self.timeouts = timeouts;
        self
    }

    /// Fetch and check the case the hub builds for `camera`.
    pub fn case(&self, camera: &str) -> Result<Case, LiveError> {
        check_camera_id(camera)?;
        let body = self.call("GET", &format!("/api/v1/cameras/{camera}/case"), None)?;
        Ok(Case::from_json(&body)?)
    }

    /// The priors the hub learned from confirmed fixes.
    pub fn priors(&self) -> Result<Priors, LiveError> {
        let body = self.call("GET", "/api/v1/doctor/priors", None)?;
        Ok(Priors::from_json(&body, "the hub's /api/v1/doctor/priors")?)
    }

    /// Tell the hub that `action` fixed `camera`, whose trouble was `fault`.
    pub fn confirm(&self, camera: &str, fault: FaultId, action: ActionId) -> Result<(), LiveError> {
        check_camera_id(camera)?;
        let body = serde_json::json!({"fault": fault, "action": action}).to_string();
        self.call(
            "POST",
            &format!("/api/v1/cameras/{camera}/diagnosis/confirm"),
            Some(&body),
        )?;
        Ok(())
    }

    /// One request; the body of a 2xx answer, or an error naming the status.
    fn call(&self, method: &str, path: &str, body: Option<&str>) -> Result<String, LiveError> {
        let path = format!("{}{path}", self.url.prefix);
        let auth = self
            .token
            .as_ref()
            .map(|t| format!("Authorization: Bearer {t}\r\n"))
            .unwrap_or_default();
        let content = body
            .map(|b| {
                format!(
                    "Content-Type: application/json\r\nContent-Length: {}\r\n",
                    b.len()
                )
            })
            .unwrap_or_default();
        let request = format!(
            "{method} {path} HTTP/1.1\r\nHost: {}\r\nAccept: application/json\r\n{auth}{content}Connection: close\r\n\r\n{}",
            self.url.authority,
            body.unwrap_or("")
        );
        let raw = self.exchange(request.as_bytes())?;
        let (status, body) = parse_response(&raw)?;
        if !(200..300).contains(&status) {
            let mut body = body;
            body.truncate(300);
            return Err(LiveError::Status { status, path, body });
        }
        Ok(body)
    }

    /// Sends `request` and reads the whole answer (the server closes: `Connection: close`).
    fn exchange(&self, request: &[u8]) -> Result<Vec<u8>, LiveError> {
        let addr = self.url.authority.as_str();
        let timeouts = self.timeouts;
        let tcp = self.connect()?;
        let setup = |e| LiveError::Connect {
            addr: addr.to_string(),
            source: e,
            hint: "",
        };
        tcp.set_read_timeout(Some(timeouts.answer)).map_err(setup)?;
        tcp.set_write_timeout(Some(timeouts.answer))
            .map_err(setup)?;
        let mut raw = Vec::new();
        let result = match &self.tls {
            None => {
                let mut tcp = tcp;
                tcp.write_all(request)
                    .and_then(|()| tcp.read_to_end(&mut raw).map(drop))
            }
            Some(config) => {
                let name = ServerName::try_from(self.url.host.clone())
                    .map_err(|_| LiveError::Url(self.url.host.clone()))?;
                let conn = rustls::ClientConnection::new(config.clone(), name)
                    .map_err(|e| LiveError::Certificate(e.to_string()))?;
                let mut tls = rustls::StreamOwned::new(conn, tcp);
                match tls
                    .write_all(request)
                    .and_then(|()| tls.flush())
                    .and_then(|()| tls.read_to_end(&mut raw).map(drop))
                {
                    // A server that closes without TLS close_notify: the length checks
                    // in parse_response still catch a cut answer.
                    Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof && !raw.is_empty() => {
                        Ok(())
                    }
                    other => other,
                }
            }
        };
        let answered = !raw.is_empty();
        result.map_err(|e| classify(addr, Stage::Exchange { answered }, timeouts, e))?;
        if raw.is_empty() {
            let closed = std::io::Error::from(std::io::ErrorKind::UnexpectedEof);
            return Err(classify(
                addr,
                Stage::Exchange { answered },
                timeouts,
                closed,
            ));
        }
        Ok(raw)
    }

    /// A TCP connection to the first of the hub's addresses that takes one, each tried
    /// for [`Timeouts::connect`].
    fn connect(&self) -> Result<TcpStream, LiveError> {
        let addr = self.url.authority.as_str();
        let unreachable = |cause: String| LiveError::HubUnreachable {
            addr: addr.to_string(),
            cause,
        };
        let resolved: Vec<SocketAddr> = addr
            .to_socket_addrs()
            .map_err(|e| unreachable(format!("its name did not resolve ({e})")))?
            .collect();
        let mut last = None;
        for socket in &resolved {
            match TcpStream::connect_timeout(socket, self.timeouts.connect) {
                Ok(tcp) => return Ok(tcp),
                Err(e) => last = Some(e),
            }
        }
        Err(match last {
            Some(e) => classify(addr, Stage::Connect, self.timeouts, e),
            None => unreachable("its name resolved to no address".into()),
        })
    }
}

/// Fetch and check the case the hub builds for `camera` over plain HTTP (an
/// `--insecure` hub); [`HubClient`] does HTTPS too.
pub fn fetch_case(hub_url: &str, camera: &str, token: Option<&str>) -> Result<Case, LiveError> {
    HubClient::new(hub_url, None, token.map(str::to_string))?.case(camera)
}

fn parse_response(raw: &[u8]) -> Result<(u16, String), LiveError> {
    let text = String::from_utf8_lossy(raw);
    let (head, body) = text
        .split_once("\r\n\r\n")
        .ok_or_else(|| LiveError::Protocol("no end of headers".into()))?;
    let status_line = head.lines().next().unwrap_or_default();
    let status: u16 = status_line
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| LiveError::Protocol(format!("bad status line '{status_line}'")))?;
    let header = |name: &str| {
        head.lines().skip(1).find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.trim()
                .eq_ignore_ascii_case(name)
                .then(|| v.trim().to_ascii_lowercase())
        })
    };
    let body = if header("transfer-encoding").is_some_and(|v| v.contains("chunked")) {
        dechunk(body)?
    } else if let Some(len) = header("content-length") {
        let len: usize = len
            .parse()
            .map_err(|_| LiveError::Protocol(format!("bad content-length '{len}'")))?;
        if body.len() < len {
            return Err(LiveError::Protocol(format!(
                "answer cut short: {} of {len} bytes",
                body.len()
            )));
        }
        body[..len].to_string()
    } else {
        body.to_string()
    };
    Ok((status, body))
}

fn dechunk(mut body: &str) -> Result<String, LiveError> {
    let mut out = String::new();
    loop {
        let (size_line, rest) = body
            .split_once("\r\n")
            .ok_or_else(|| LiveError::Protocol("truncated chunk".into()))?;
        let size = usize::from_str_radix(size_line.split(';').next().unwrap_or("").trim(), 16)
            .map_err(|_| LiveError::Protocol(format!("bad chunk size '{size_line}'")))?;
        if size == 0 {
            return Ok(out);
        }
        if rest.len() < size {
            return Err(LiveError::Protocol("truncated chunk".into()));
        }
        out.push_str(&rest[..size]);
        body = rest[size..].trim_start_matches("\r\n");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(tls: bool, authority: &str, host: &str, prefix: &str) -> HubUrl {
        HubUrl {
            tls,
            authority: authority.into(),
            host: host.into(),
            prefix: prefix.into(),
        }
    }

    #[test]
    fn urls_parse() {
        assert_eq!(
            split_url("http://127.0.0.1:8080").unwrap(),
            url(false, "127.0.0.1:8080", "127.0.0.1", "")
        );
        assert_eq!(
            split_url("http://hub/base/").unwrap(),
            url(false, "hub:80", "hub", "/base")
        );
        assert_eq!(
            split_url("https://[::1]:8443").unwrap(),
            url(true, "[::1]:8443", "::1", "")
        );
        assert_eq!(
            split_url("https://hub.local").unwrap(),
            url(true, "hub.local:443", "hub.local", "")
        );
        for bad in [
            "ftp://hub",
            "hub:8080",
            "https://",
            "http://user@hub",
            "http://hub:port",
            "http://hub:70000",
            "https://[::1]:x",
        ] {
            assert!(matches!(split_url(bad), Err(LiveError::Url(_))), "{bad}");
        }
    }

    #[test]
    fn https_needs_a_usable_certificate_and_the_token_stays_hidden() {
        let err = HubClient::new("https://127.0.0.1:1", None, None).unwrap_err();
        assert!(err.to_string().contains("--hub-cert"), "{err}");
        let err = HubClient::new("https://127.0.0.1:1", Some("not a pem"), None).unwrap_err();
        assert!(matches!(err, LiveError::Certificate(_)), "{err}");
        let client =
            HubClient::new("http://127.0.0.1:1", None, Some("s3cret-token".into())).unwrap();
        assert!(!format!("{client:?}").contains("s3cret"));
        let err = client.case("cam-1").unwrap_err();
        assert!(!err.to_string().contains("s3cret"), "{err}");
        assert!(matches!(client.case("../etc"), Err(LiveError::CameraId(_))));
    }

    #[test]
    fn responses_parse_chunked_sized_and_cut() {
        let raw = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\n{\"v\r\n4\r\n\":1}\r\n0\r\n\r\n";
        assert_eq!(parse_response(raw).unwrap(), (200, "{\"v\":1}".to_string()));
        let raw = b"HTTP/1.1 400 Bad Request\r\ncontent-length: 2\r\n\r\n{}";
        assert_eq!(parse_response(raw).unwrap(), (400, "{}".to_string()));
        let raw = b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n{}";
        assert!(matches!(parse_response(raw), Err(LiveError::Protocol(_))));
    }

    fn quick() -> Timeouts {
        Timeouts {
            connect: Duration::from_millis(500),
            answer: Duration::from_millis(300),
        }
    }

    #[test]
    fn silence_is_told_apart_from_an_answer_we_refuse() {
        use std::io::{Error, ErrorKind as K};
        let t = Timeouts::default();
        let before = Stage::Exchange { answered: false };
        let during = Stage::Exchange { answered: true };
        let cause = |stage, kind| match classify("hub:1", stage, t, Error::from(kind)) {
            LiveError::HubUnreachable { cause, .. } => Some(cause),
            _ => None,
        };
        // Nothing answered: the doctor may carry on without the hub.
        assert!(
            cause(Stage::Connect, K::ConnectionRefused)
                .unwrap()
                .contains("refused")
        );
        assert!(
            cause(Stage::Connect, K::HostUnreachable)
                .unwrap()
                .contains("no route")
        );
        assert!(
            cause(Stage::Connect, K::NetworkUnreachable)
                .unwrap()
                .contains("no route")
        );
        assert_eq!(
            cause(Stage::Connect, K::TimedOut).unwrap(),
            "no answer within 5 s"
        );
        // A TLS handshake (or a request) that nobody answers.
        assert_eq!(
            cause(before, K::WouldBlock).unwrap(),
            "no answer within 30 s"
        );
        assert!(
            cause(before, K::ConnectionReset)
                .unwrap()
                .contains("closed")
        );
        assert!(cause(before, K::UnexpectedEof).unwrap().contains("closed"));
        // Something answered: these stop the doctor.
        assert_eq!(cause(during, K::ConnectionReset), None);
        assert_eq!(cause(during, K::WouldBlock), None);
        assert_eq!(cause(before, K::PermissionDenied), None);
        let refused_certificate = Error::new(
            K::InvalidData,
            rustls::Error::InvalidCertificate(rustls::CertificateError::UnknownIssuer),
        );
        let err = classify("hub:1", before, t, refused_certificate);
        assert!(!err.is_unreachable(), "{err}");
        assert!(err.to_string().contains("--hub-cert"), "{err}");
        let status = LiveError::Status {
            status: 401,
            path: "/api/v1/doctor/priors".into(),
            body: String::new(),
        };
        assert!(!status.is_unreachable());
    }

    #[test]
    fn a_closed_port_is_a_hub_that_did_not_answer() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        drop(listener);
        let client = HubClient::new(&format!("http://127.0.0.1:{port}"), None, None)
            .unwrap()
            .with_timeouts(quick());
        let err = client.case("cam-1").unwrap_err();
        assert!(err.is_unreachable(), "{err:?}");
        assert!(err.to_string().contains("refused"), "{err}");
        assert!(
            err.to_string().contains(&format!("127.0.0.1:{port}")),
            "{err}"
        );
    }

    /// A listener that takes connections and never says a word (a hung hub, or a
    /// port forwarded to nothing); `close` hangs up at once instead.
    fn silent_listener(close: bool) -> (u16, std::thread::JoinHandle<()>) {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let handle = std::thread::spawn(move || {
            let (mut socket, _) = listener.accept().unwrap();
            if !close {
                // Hold the connection until the client gives up and hangs up.
                let _ = socket.set_read_timeout(Some(Duration::from_secs(5)));
                let mut sink = Vec::new();
                let _ = socket.read_to_end(&mut sink);
            }
        });
        (port, handle)
    }

    #[test]
    fn a_hub_that_stays_silent_or_hangs_up_did_not_answer() {
        for (tls, close) in [(false, false), (true, false), (false, true), (true, true)] {
            let (port, server) = silent_listener(close);
            let scheme = if tls { "https" } else { "http" };
            let client = HubClient::new(
                &format!("{scheme}://127.0.0.1:{port}"),
                Some(PINNED_PEM),
                None,
            )
            .unwrap()
            .with_timeouts(quick());
            let err = client.priors().unwrap_err();
            let want = if close {
                "closed"
            } else {
                "no answer within 0.3 s"
            };
            assert!(err.is_unreachable(), "{scheme}, close {close}: {err:?}");
            assert!(err.to_string().contains(want), "{scheme}: {err}");
            drop(client);
            server.join().unwrap();
        }
    }

    #[test]
    fn a_hub_with_another_certificate_answered_and_is_refused() {
        let certs: Vec<CertificateDer<'static>> =
            CertificateDer::pem_slice_iter(OTHER_PEM.as_bytes())
                .collect::<Result<_, _>>()
                .unwrap();
        let key = rustls::pki_types::PrivateKeyDer::from_pem_slice(OTHER_KEY.as_bytes()).unwrap();
        let config = rustls::ServerConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .unwrap();
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let server = std::thread::spawn(move || {
            let (mut socket, _) = listener.accept().unwrap();
            let _ = socket.set_read_timeout(Some(Duration::from_secs(5)));
            let mut conn = rustls::ServerConnection::new(Arc::new(config)).unwrap();
            // The client refuses the certificate: the handshake ends in its alert.
            while conn.is_handshaking() {
                if conn.complete_io(&mut socket).is_err() {
                    break;
                }
            }
        });
        let client = HubClient::new(&format!("https://127.0.0.1:{port}"), Some(PINNED_PEM), None)
            .unwrap()
            .with_timeouts(quick());
        let err = client.case("cam-1").unwrap_err();
        assert!(!err.is_unreachable(), "{err:?}");
        assert!(err.to_string().contains("--hub-cert"), "{err}");
        server.join().unwrap();
    }

    // Throwaway self-signed certificates made for these tests only (openssl req -x509,
    // P-256, valid until 2126): the one the client pins, and another with its key for a
    // server that is not the pinned hub.
    const PINNED_PEM: &str = "-----BEGIN CERTIFICATE-----
MIIBqjCCAVGgAwIBAgIUYWktY3AtYK/AjzFO9o4URCoIhAswCgYIKoZIzj0EAwIw
HDEaMBgGA1UEAwwRd2F0Y2hsaWdodCB0ZXN0IGEwIBcNMjYxMjA1MTgyODQ3WhgP
MjEyNjExMTExODI4NDdaMBwxGjAYBgNVBAMMEXdhdGNobGlnaHQgdGVzdCBhMFkw
EwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEEBACewaB+JxbN1qSxHFTtBQmTNR5EcIN
t6nYblq0S2o1PiE2avEqOcXfW6HbzdLnNBGGb9IcS5voOPCB83PUHqNvMG0wHQYD
VR0OBBYEFEWj5M6yKiZzngB4fNeW0zoNqbxMMB8GA1UdIwQYMBaAFEWj5M6yKiZz
ngB4fNeW0zoNqbxMMA8GA1UdEwEB/wQFMAMBAf8wGgYDVR0RBBMwEYIJbG9jYWxo
b3N0hwR/AAABMAoGCCqGSM49BAMCA0cAMEQCIE5qzG0OME6TyvbuX2bT3bm7CwkM
+sFGPhYa//OKjqTeAiBdwU+hKFr5jGOREG2Vi/kDMP0aNV+MEs3k/WTTe0iLNw==
-----END CERTIFICATE-----
";
    const OTHER_PEM: &str = "-----BEGIN CERTIFICATE-----
MIIBqjCCAVGgAwIBAgIUIrYzH1Bc6pRAI7zHANfZ1R3INaIwCgYIKoZIzj0EAwIw
HDEaMBgGA1UEAwwRd2F0Y2hsaWdodCB0ZXN0IGIwIBcNMjYxMjA1MTgyODQ3WhgP
MjEyNjExMTExODI4NDdaMBwxGjAYBgNVBAMMEXdhdGNobGlnaHQgdGVzdCBiMFkw
EwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEq25lE/rzW8w6MRk3eVf+QsDlJ2J9P/w7
2ausoWOl6ZldiAgXtajpcboo/6iopIvVMTgrYiW+UM0XPdtzlIzTraNvMG0wHQYD
VR0OBBYEFEqNU5EEaaf8AC25QHKkCq2nCWk4MB8GA1UdIwQYMBaAFEqNU5EEaaf8
AC25QHKkCq2nCWk4MA8GA1UdEwEB/wQFMAMBAf8wGgYDVR0RBBMwEYIJbG9jYWxo
b3N0hwR/AAABMAoGCCqGSM49BAMCA0cAMEQCIHYHttuFp4xnb6RZowyxAzAkxlSx
03iJpIWuqnUx6vsHAiA+2Kkxwfr5/VzAicCEv+6TD0mxHhZ9M22s71SWbiC0hw==
-----END CERTIFICATE-----
";
    const OTHER_KEY: &str = "-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgqonpU6MPU94De75i
plIz/8kvZ0QQaEQ1c/MCbaWAbGahRANCAASrbmUT+vNbzDoxGTd5V/5CwOUnYn0/
/DvZq6yhY6XpmV2ICBe1qOlxuij/qKiki9UxOCtiJb5QzRc923OUjNOt
-----END PRIVATE KEY-----
";
}
