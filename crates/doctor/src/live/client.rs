//! Live mode's edge: talk to the hub's doctor API with the owner's bearer token —
//! `GET /api/v1/cameras/{id}/case`, `GET /api/v1/doctor/priors` and
//! `POST /api/v1/cameras/{id}/diagnosis/confirm`.
//!
//! The HTTP is ureq's, blocking and with rustls for `https://`: the doctor crate stays
//! free of an async stack, and a terminal tool makes one request at a time. The hub's
//! certificate is self-signed, so HTTPS trusts exactly the PEM the caller gives
//! (pinning, as cameras do; see `watchlight-broker`'s `tls` module). Plain `http://` is
//! for hubs started with `--insecure`. What is ours is telling the owner what went
//! wrong: a hub that did not answer from one that answered in a way we refuse.

use crate::case::{Case, CaseError};
use crate::ids::{ActionId, FaultId};
use crate::priors::{Priors, PriorsError};
use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;
use std::net::ToSocketAddrs;
use std::sync::Arc;
use std::time::Duration;
use ureq::tls::{RootCerts, TlsConfig, TlsProvider};

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
    /// For the connection: the TCP connection (the addresses the hub's name resolves to
    /// share it) and the TLS handshake. A host that is off or behind a dead router drops
    /// the connection attempt silently, and the system's own limit is minutes: the owner
    /// would think the doctor hung.
    pub connect: Duration,
    /// For each read and write once connected, the TLS handshake's included.
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

/// Tells "nothing answered" (refused, no route, silence, a connection closed before
/// any answer) from "something answered and we refuse it" (TLS failures such as a
/// certificate that is not the pinned one, a connection cut mid-answer). `answered`:
/// the answer's status line and headers had arrived.
fn classify(addr: &str, answered: bool, timeouts: Timeouts, e: ureq::Error) -> LiveError {
    use std::io::ErrorKind as K;
    const CHECK_CERT: &str = " (is --hub-cert this hub's hub-cert.pem?)";
    let unreachable = |cause: String| LiveError::HubUnreachable {
        addr: addr.to_string(),
        cause,
    };
    let failed = |source, hint| LiveError::Connect {
        addr: addr.to_string(),
        source,
        hint,
    };
    match e {
        ureq::Error::Timeout(which) if !answered => {
            let waited = match which {
                ureq::Timeout::Connect => timeouts.connect,
                _ => timeouts.answer,
            };
            unreachable(format!("no answer within {}", seconds(waited)))
        }
        ureq::Error::HostNotFound => unreachable("its name resolved to no address".into()),
        ureq::Error::Io(e) => match e.kind() {
            K::ConnectionRefused => {
                unreachable("connection refused: nothing listens on that port".into())
            }
            K::HostUnreachable => unreachable("no route to the host".into()),
            K::NetworkUnreachable => unreachable("no route to its network".into()),
            K::ConnectionReset | K::ConnectionAborted | K::BrokenPipe | K::UnexpectedEof
                if !answered =>
            {
                unreachable("the connection closed before the hub answered".into())
            }
            // rustls reports a refused certificate or a broken handshake as InvalidData.
            K::InvalidData => failed(e, CHECK_CERT),
            _ => failed(e, ""),
        },
        ureq::Error::Rustls(e) => failed(std::io::Error::new(K::InvalidData, e), CHECK_CERT),
        ureq::Error::Protocol(e) => LiveError::Protocol(e.to_string()),
        other => failed(other.into_io(), ""),
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
    /// host:port, for the connection and the error messages.
    authority: String,
    /// Path prefix without a trailing slash.
    prefix: String,
}

fn split_url(url: &str) -> Result<HubUrl, LiveError> {
    let bad = || LiveError::Url(url.to_string());
    let (tls, rest) = if let Some(rest) = url.strip_prefix("https://") {
        (true, rest)
    } else if let Some(rest) = url.strip_prefix("http://") {
        (false, rest)
    } else {
        return Err(bad());
    };
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], rest[i..].trim_end_matches('/')),
        None => (rest, ""),
    };
    if authority.is_empty() || authority.contains('@') {
        return Err(bad());
    }
    // "[::1]:8443", "host:8443", "host".
    let has_port = match authority.strip_prefix('[') {
        Some(v6) => v6.split_once(']').ok_or_else(bad)?.1.starts_with(':'),
        None => authority.contains(':'),
    };
    // The port is what follows the last ':' ("[::1]:8443" included).
    let port = authority.rsplit(':').next().unwrap_or_default();
    if has_port && port.parse::<u16>().is_err() {
        return Err(bad());
    }
    let authority = if has_port {
        authority.to_string()
    } else {
        format!("{authority}:{}", if tls { 443 } else { 80 })
    };
    Ok(HubUrl {
        tls,
        authority,
        prefix: path.to_string(),
    })
}

/// TLS that trusts exactly the certificate(s) in `cert_pem`.
fn pinned_tls(cert_pem: &str) -> Result<TlsConfig, LiveError> {
    let unusable = |e: &dyn std::fmt::Display| LiveError::Certificate(e.to_string());
    let mut roots = Vec::new();
    for cert in CertificateDer::pem_slice_iter(cert_pem.as_bytes()) {
        let cert = cert.map_err(|e| unusable(&e))?;
        // ureq leaves out a root rustls cannot use, and the hub would then be refused
        // for a reason the owner never hears: checked here, where it can be said.
        rustls::RootCertStore::empty()
            .add(cert.clone())
            .map_err(|e| unusable(&e))?;
        roots.push(ureq::tls::Certificate::from_der(&cert).to_owned());
    }
    if roots.is_empty() {
        return Err(LiveError::Certificate("no PEM certificate in it".into()));
    }
    Ok(TlsConfig::builder()
        .provider(TlsProvider::Rustls)
        .root_certs(RootCerts::from(roots))
        // An explicit provider: the binary links crates that enable other rustls
        // providers, and the process default is ambiguous then.
        .unversioned_rustls_crypto_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .build())
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
    tls: Option<TlsConfig>,
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
            (true, Some(pem)) => Some(pinned_tls(pem)?),
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
        let body = self.call(&format!("/api/v1/cameras/{camera}/case"), None)?;
        Ok(Case::from_json(&body)?)
    }

    /// The priors the hub learned from confirmed fixes.
    pub fn priors(&self) -> Result<Priors, LiveError> {
        let body = self.call("/api/v1/doctor/priors", None)?;
        Ok(Priors::from_json(&body, "the hub's /api/v1/doctor/priors")?)
    }

    /// Tell the hub that `action` fixed `camera`, whose trouble was `fault`.
    pub fn confirm(&self, camera: &str, fault: FaultId, action: ActionId) -> Result<(), LiveError> {
        check_camera_id(camera)?;
        let body = serde_json::json!({"fault": fault, "action": action}).to_string();
        self.call(
            &format!("/api/v1/cameras/{camera}/diagnosis/confirm"),
            Some(&body),
        )?;
        Ok(())
    }

    /// One request, a GET or the POST of `json`; the body of a 2xx answer, or an error
    /// naming the status.
    fn call(&self, path: &str, json: Option<&str>) -> Result<String, LiveError> {
        let path = format!("{}{path}", self.url.prefix);
        let scheme = if self.url.tls { "https" } else { "http" };
        let url = format!("{scheme}://{}{path}", self.url.authority);
        self.resolve()?;
        let fail = |answered, e| classify(&self.url.authority, answered, self.timeouts, e);
        let agent = self.agent();
        let answer = match json {
            None => self.headers(agent.get(&url)).call(),
            Some(json) => self
                .headers(agent.post(&url))
                .content_type("application/json")
                .send(json),
        };
        let mut answer = answer.map_err(|e| fail(false, e))?;
        let body = answer.body_mut().read_to_vec().map_err(|e| fail(true, e))?;
        let body = String::from_utf8_lossy(&body).into_owned();
        let status = answer.status();
        if !status.is_success() {
            return Err(LiveError::Status {
                status: status.as_u16(),
                path,
                body: body.chars().take(300).collect(),
            });
        }
        Ok(body)
    }

    fn agent(&self) -> ureq::Agent {
        let config = ureq::Agent::config_builder()
            .timeout_connect(Some(self.timeouts.connect))
            .timeout_per_read(Some(self.timeouts.answer))
            .timeout_per_write(Some(self.timeouts.answer))
            // Every answer but a 2xx is an error that names its status, a redirect's
            // too: following one would carry the owner's token elsewhere.
            .http_status_as_error(false)
            .max_redirects(0)
            // The hub is on the owner's network: a proxy from the environment, meant
            // for the internet, must not see the token.
            .proxy(None);
        match &self.tls {
            Some(tls) => config.tls_config(tls.clone()),
            None => config,
        }
        .build()
        .new_agent()
    }

    fn headers<B>(&self, request: ureq::RequestBuilder<B>) -> ureq::RequestBuilder<B> {
        let request = request.header("Accept", "application/json");
        match &self.token {
            Some(token) => request.header("Authorization", format!("Bearer {token}")),
            None => request,
        }
    }

    /// ureq reports a name that does not resolve as an I/O error like any other, and
    /// it is the hub not answering (a `hub.local` name does not resolve while the hub
    /// is off): looked up here first to say so.
    fn resolve(&self) -> Result<(), LiveError> {
        let unreachable = |cause| LiveError::HubUnreachable {
            addr: self.url.authority.clone(),
            cause,
        };
        let mut resolved = self
            .url
            .authority
            .to_socket_addrs()
            .map_err(|e| unreachable(format!("its name did not resolve ({e})")))?;
        match resolved.next() {
            Some(_) => Ok(()),
            None => Err(unreachable("its name resolved to no address".into())),
        }
    }
}

/// Fetch and check the case the hub builds for `camera` over plain HTTP (an
/// `--insecure` hub); [`HubClient`] does HTTPS too.
pub fn fetch_case(hub_url: &str, camera: &str, token: Option<&str>) -> Result<Case, LiveError> {
    HubClient::new(hub_url, None, token.map(str::to_string))?.case(camera)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};

    fn url(tls: bool, authority: &str, prefix: &str) -> HubUrl {
        HubUrl {
            tls,
            authority: authority.into(),
            prefix: prefix.into(),
        }
    }

    #[test]
    fn urls_parse() {
        assert_eq!(
            split_url("http://127.0.0.1:8080").unwrap(),
            url(false, "127.0.0.1:8080", "")
        );
        assert_eq!(
            split_url("http://hub/base/").unwrap(),
            url(false, "hub:80", "/base")
        );
        assert_eq!(
            split_url("https://[::1]:8443").unwrap(),
            url(true, "[::1]:8443", "")
        );
        assert_eq!(
            split_url("https://hub.local").unwrap(),
            url(true, "hub.local:443", "")
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

    /// A hub that answers one request with `raw`, then hangs up.
    fn answering(raw: &'static [u8]) -> (HubClient, std::thread::JoinHandle<()>) {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let server = std::thread::spawn(move || {
            let (mut socket, _) = listener.accept().unwrap();
            let mut request = Vec::new();
            let mut byte = [0];
            while !request.ends_with(b"\r\n\r\n") && socket.read(&mut byte).unwrap() == 1 {
                request.push(byte[0]);
            }
            socket.write_all(raw).unwrap();
        });
        let client = HubClient::new(&format!("http://127.0.0.1:{port}"), None, None)
            .unwrap()
            .with_timeouts(quick());
        (client, server)
    }

    #[test]
    fn responses_parse_chunked_sized_and_cut() {
        let (client, server) = answering(
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\n{\"v\r\n4\r\n\":1}\r\n0\r\n\r\n",
        );
        assert_eq!(client.call("/", None).unwrap(), "{\"v\":1}");
        server.join().unwrap();
        let (client, server) =
            answering(b"HTTP/1.1 400 Bad Request\r\ncontent-length: 2\r\n\r\n{}");
        let err = client.call("/p", None).unwrap_err();
        assert!(
            matches!(&err, LiveError::Status { status: 400, path, body } if path == "/p" && body == "{}"),
            "{err:?}"
        );
        server.join().unwrap();
        // Cut mid-answer: the hub answered, and the answer is refused.
        let (client, server) = answering(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n{}");
        let err = client.call("/", None).unwrap_err();
        assert!(matches!(err, LiveError::Connect { .. }), "{err:?}");
        server.join().unwrap();
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
        use ureq::Timeout;
        let t = Timeouts::default();
        let io = |kind| ureq::Error::Io(Error::from(kind));
        let cause = |answered, e| match classify("hub:1", answered, t, e) {
            LiveError::HubUnreachable { cause, .. } => Some(cause),
            _ => None,
        };
        // Nothing answered: the doctor may carry on without the hub.
        assert!(
            cause(false, io(K::ConnectionRefused))
                .unwrap()
                .contains("refused")
        );
        assert!(
            cause(false, io(K::HostUnreachable))
                .unwrap()
                .contains("no route")
        );
        assert!(
            cause(false, io(K::NetworkUnreachable))
                .unwrap()
                .contains("no route")
        );
        assert_eq!(
            cause(false, ureq::Error::Timeout(Timeout::Connect)).unwrap(),
            "no answer within 5 s"
        );
        // A TLS handshake (or a request) that nobody answers.
        assert_eq!(
            cause(false, ureq::Error::Timeout(Timeout::PerRead)).unwrap(),
            "no answer within 30 s"
        );
        assert!(
            cause(false, io(K::ConnectionReset))
                .unwrap()
                .contains("closed")
        );
        assert!(
            cause(false, io(K::UnexpectedEof))
                .unwrap()
                .contains("closed")
        );
        // Something answered: these stop the doctor.
        assert_eq!(cause(true, io(K::ConnectionReset)), None);
        assert_eq!(cause(true, ureq::Error::Timeout(Timeout::PerRead)), None);
        assert_eq!(cause(false, io(K::PermissionDenied)), None);
        let refused = || rustls::Error::InvalidCertificate(rustls::CertificateError::UnknownIssuer);
        for refused_certificate in [
            ureq::Error::Io(Error::new(K::InvalidData, refused())),
            ureq::Error::Rustls(refused()),
        ] {
            let err = classify("hub:1", false, t, refused_certificate);
            assert!(!err.is_unreachable(), "{err}");
            assert!(err.to_string().contains("--hub-cert"), "{err}");
        }
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
