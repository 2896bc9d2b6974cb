//! Live mode's edge: fetch a camera's case from the hub over HTTP
//! (`GET /api/v1/cameras/{id}/case` with the owner's bearer token).
//!
//! A small HTTP/1.1 client on std's TCP: the doctor crate stays free of an async stack,
//! and the hub's `--insecure` plain-HTTP mode is what tests and local use run. HTTPS
//! with the hub's pinned certificate is not supported here yet.

use crate::case::{Case, CaseError};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub enum LiveError {
    #[error(
        "hub URL '{0}' is not supported: use http://host:port (https is not supported by the doctor yet)"
    )]
    Url(String),
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
}

/// `http://host:port[/prefix]` → (host:port, prefix without trailing slash).
fn split_url(url: &str) -> Result<(String, String), LiveError> {
    let rest = url
        .strip_prefix("http://")
        .ok_or_else(|| LiveError::Url(url.to_string()))?;
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], rest[i..].trim_end_matches('/')),
        None => (rest, ""),
    };
    if authority.is_empty() {
        return Err(LiveError::Url(url.to_string()));
    }
    let authority = if authority.contains(':') {
        authority.to_string()
    } else {
        format!("{authority}:80")
    };
    Ok((authority, path.to_string()))
}

/// Fetch and check the case the hub builds for `camera`.
pub fn fetch_case(hub_url: &str, camera: &str, token: Option<&str>) -> Result<Case, LiveError> {
    if camera.is_empty()
        || !camera
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        return Err(LiveError::CameraId(camera.to_string()));
    }
    let (addr, prefix) = split_url(hub_url)?;
    let path = format!("{prefix}/api/v1/cameras/{camera}/case");
    let connect = |source| LiveError::Connect {
        addr: addr.clone(),
        source,
    };
    let mut stream = TcpStream::connect(&addr).map_err(connect)?;
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .map_err(connect)?;
    let auth = token
        .map(|t| format!("Authorization: Bearer {t}\r\n"))
        .unwrap_or_default();
    let request = format!(
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nAccept: application/json\r\n{auth}Connection: close\r\n\r\n"
    );
    stream.write_all(request.as_bytes()).map_err(connect)?;
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).map_err(connect)?;
    let (status, body) = parse_response(&raw)?;
    if status != 200 {
        let mut body = body;
        body.truncate(200);
        return Err(LiveError::Status { status, path, body });
    }
    Ok(Case::from_json(&body)?)
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
    let chunked = head.lines().any(|l| {
        let l = l.to_ascii_lowercase();
        l.starts_with("transfer-encoding:") && l.contains("chunked")
    });
    let body = if chunked {
        dechunk(body)?
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

    #[test]
    fn urls_and_responses_parse() {
        assert_eq!(
            split_url("http://127.0.0.1:8080").unwrap(),
            ("127.0.0.1:8080".into(), "".into())
        );
        assert_eq!(
            split_url("http://hub/base/").unwrap(),
            ("hub:80".into(), "/base".into())
        );
        assert!(matches!(split_url("https://hub"), Err(LiveError::Url(_))));
        let raw = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\n{\"v\r\n4\r\n\":1}\r\n0\r\n\r\n";
        assert_eq!(parse_response(raw).unwrap(), (200, "{\"v\":1}".to_string()));
    }
}
