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
use std::net::TcpStream;
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
    #[error("cannot reach the hub at {addr}: {source}")]
    Connect {
        addr: String,
        #[source]
        source: std::io::Error,
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
        Ok(HubClient { url, tls, token })
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
        let addr = self.url.authority.clone();
        let connect = |source| LiveError::Connect {
            addr: addr.clone(),
            source,
        };
        let tcp = TcpStream::connect(&self.url.authority).map_err(connect)?;
        tcp.set_read_timeout(Some(Duration::from_secs(30)))
            .map_err(connect)?;
        tcp.set_write_timeout(Some(Duration::from_secs(30)))
            .map_err(connect)?;
        let mut raw = Vec::new();
        match &self.tls {
            None => {
                let mut tcp = tcp;
                tcp.write_all(request).map_err(connect)?;
                tcp.read_to_end(&mut raw).map_err(connect)?;
            }
            Some(config) => {
                let name = ServerName::try_from(self.url.host.clone())
                    .map_err(|_| LiveError::Url(self.url.host.clone()))?;
                let conn = rustls::ClientConnection::new(config.clone(), name)
                    .map_err(|e| LiveError::Certificate(e.to_string()))?;
                let mut tls = rustls::StreamOwned::new(conn, tcp);
                tls.write_all(request).map_err(connect)?;
                tls.flush().map_err(connect)?;
                match tls.read_to_end(&mut raw) {
                    Ok(_) => {}
                    // A server that closes without TLS close_notify: the length checks
                    // in parse_response still catch a cut answer.
                    Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof && !raw.is_empty() => {}
                    Err(e) => return Err(connect(e)),
                }
            }
        }
        Ok(raw)
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
        for bad in ["ftp://hub", "hub:8080", "https://", "http://user@hub"] {
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
}
